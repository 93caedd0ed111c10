/**
 * Preloaded into the worker and the bridge by the benches (`node --import <this> cli.js worker`): logs every
 * Kubernetes API request the process sends with its own identity, for the fleet bench to count reads (GET, LIST,
 * WATCH) and writes per process. The API server's `/metrics` has no user label, so the count is taken on the client
 * side, from Node's HTTP client diagnostics channel, as test/harness/apiRequests.ts `recordRequestsOf(token)` does
 * for the in-process worker of the tests: a request counts when its response head arrives (a watch as soon as it is
 * accepted), and only if it carries the bearer token of the process's kubeconfig (`KUBECONFIG`). The token itself is
 * never written anywhere.
 *
 * One line per request, tab-separated: epoch ms, method, `apply` when the body is a server-side apply patch (else
 * `-`), status, path with query. Lines are buffered and appended every 250 ms (and on exit), so the process under
 * measurement does no synchronous I/O per request. Nothing is logged unless `AIM_BENCH_REQUEST_LOG` names the file.
 */
import { subscribe } from 'node:diagnostics_channel';
import { appendFile } from 'node:fs/promises';
import { appendFileSync, readFileSync } from 'node:fs';
import type { ClientRequest, IncomingMessage } from 'node:http';

const logFile = process.env.AIM_BENCH_REQUEST_LOG;

/** The bearer token of the kubeconfig (client-node's exportConfig writes JSON; `token:` lines otherwise). */
function kubeconfigToken(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const text = readFileSync(path, 'utf8');
  try {
    const kc = JSON.parse(text) as { users?: Array<{ user?: { token?: string } }> };
    return kc.users?.find((u) => u.user?.token)?.user?.token;
  } catch {
    return /^\s*token:\s*(\S+)\s*$/m.exec(text)?.[1];
  }
}

if (logFile) {
  const token = kubeconfigToken(process.env.KUBECONFIG);
  const expected = token ? `Bearer ${token}` : undefined;
  let buffer: string[] = [];
  const flush = async () => {
    if (buffer.length === 0) return;
    const lines = buffer.join('');
    buffer = [];
    await appendFile(logFile, lines).catch(() => undefined);
  };
  const timer = setInterval(() => void flush(), 250);
  timer.unref();
  process.on('exit', () => {
    if (buffer.length) appendFileSync(logFile, buffer.join(''));
  });
  subscribe('http.client.response.finish', (message) => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    const auth = request.getHeader('authorization');
    if (expected === undefined || (Array.isArray(auth) ? auth[0] : auth) !== expected) return;
    const type = String(request.getHeader('content-type') ?? '');
    const apply = type.startsWith('application/apply-patch') ? 'apply' : '-';
    buffer.push(`${Date.now()}\t${request.method}\t${apply}\t${response.statusCode ?? 0}\t${request.path}\n`);
  });
}
