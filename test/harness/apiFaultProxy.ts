// An HTTPS reverse proxy in front of the test API server that injects transient failures into a client's traffic:
// a fraction of requests answered `429 Too Many Requests` with Retry-After (without reaching the API server, as its
// priority-and-fairness limiter would), and a fraction answered `500` *after* the API server processed them (the
// client cannot tell whether its write happened — the demanding case for idempotency). The choice is a seeded
// pseudo-random sequence, so a run's fault pattern depends only on the seed and the order of requests.
// Watches (`?watch=true`, and `/watch/` paths) and other streaming requests pass through untouched.
//
//   const proxy = await startApiFaultProxy({ target: stack.kubeServer, targetCaPath: stack.kubeCaPath, workDir,
//                                            seed: 42, rate429: 0.025, rate500: 0.025 });
//   await proxy.writeKubeconfig(path, stack.kubeToken);   // give this kubeconfig to the client under test
//   ... proxy.stats() ...
//   await proxy.stop();
import { readFileSync } from 'node:fs';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeKubeconfig } from './kube.js';
import { createPki } from './pki.js';

export interface ApiFaultProxyOptions {
  /** The API server, `https://127.0.0.1:<port>`. */
  target: string;
  /** CA that signed the API server's serving certificate. */
  targetCaPath: string;
  /** Holds the proxy's own throw-away PKI. */
  workDir: string;
  /** Seed of the fault sequence (default 1). */
  seed?: number;
  /** Fraction of non-watch requests answered 429 (default 0.025). */
  rate429?: number;
  /** Fraction of non-watch requests answered 500 after the API server handled them (default 0.025). */
  rate500?: number;
  /** Retry-After of the 429 answers, seconds (default 1). */
  retryAfterSeconds?: number;
}

export interface InjectedFault {
  status: 429 | 500;
  method: string;
  /** Path without the query. */
  path: string;
}

export interface ApiFaultStats {
  /** Non-watch requests seen (faulted or not). */
  requests: number;
  /** Watch requests passed through. */
  watches: number;
  injected429: number;
  injected500: number;
  /** Requests whose forwarding failed (API server unreachable): answered 502. */
  upstreamErrors: number;
}

export interface ApiFaultProxy {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** CA of the proxy's serving certificate (put into the client's kubeconfig). */
  caPath: string;
  /** Writes a kubeconfig that reaches the API server through this proxy with `token`. */
  writeKubeconfig(path: string, token: string): Promise<void>;
  stats(): ApiFaultStats;
  /** Every injected fault, in order. */
  faults(): readonly InjectedFault[];
  /** Pause (false) or resume (true) the random injection; counting continues. */
  setEnabled(enabled: boolean): void;
  /**
   * A targeted fault (independent of the random ones): the next request with this method whose path contains
   * `pathIncludes` gets `status` (500: after the API server processed it). Resolves when it has been injected.
   */
  injectOnce(rule: { method: string; pathIncludes: string; status: 429 | 500 }): Promise<InjectedFault>;
  stop(): Promise<void>;
}

/** mulberry32: a tiny, well-distributed 32-bit PRNG; deterministic for a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Watches and other long-lived streams, which are never faulted. */
export function isStreaming(method: string, url: URL): boolean {
  if (method !== 'GET') return false;
  const watch = url.searchParams.get('watch');
  return watch === 'true' || watch === '1' || url.pathname.includes('/watch/') || url.searchParams.has('follow');
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);

function endToEnd(headers: IncomingMessage['headers']): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

/** A Kubernetes `Status` answer, as the API server would send it. */
function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

export async function startApiFaultProxy(opts: ApiFaultProxyOptions): Promise<ApiFaultProxy> {
  const target = new URL(opts.target);
  const pki = await createPki(join(opts.workDir, 'api-fault-proxy-pki'));
  const agent = new Agent({ ca: readFileSync(opts.targetCaPath), keepAlive: true });
  const random = seededRandom(opts.seed ?? 1);
  const rate429 = opts.rate429 ?? 0.025;
  const rate500 = opts.rate500 ?? 0.025;
  const retryAfter = opts.retryAfterSeconds ?? 1;
  const stats: ApiFaultStats = { requests: 0, watches: 0, injected429: 0, injected500: 0, upstreamErrors: 0 };
  const injected: InjectedFault[] = [];
  let enabled = true;
  const once: Array<{ method: string; pathIncludes: string; status: 429 | 500; done: (f: InjectedFault) => void }> = [];

  const answer = (
    res: ServerResponse,
    code: number,
    reason: string,
    message: string,
    extra: OutgoingHttpHeaders = {},
  ) => {
    const body = statusBody(code, reason, message);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra });
    res.end(body);
  };

  const server: Server = createServer(
    { key: readFileSync(pki.servingKey), cert: readFileSync(pki.servingCert) },
    (req, res) => {
      const method = req.method ?? 'GET';
      const url = new URL(req.url ?? '/', target);
      const streaming = isStreaming(method, url);
      let fault: 429 | 500 | undefined;
      let onInjected: ((f: InjectedFault) => void) | undefined;
      if (streaming) stats.watches += 1;
      else {
        stats.requests += 1;
        // One draw per request whether or not injection is on, so pausing does not shift the later sequence.
        const r = random();
        if (enabled) fault = r < rate429 ? 429 : r < rate429 + rate500 ? 500 : undefined;
        const targeted = once.findIndex((o) => o.method === method && url.pathname.includes(o.pathIncludes));
        if (targeted >= 0) {
          const [rule] = once.splice(targeted, 1);
          fault = rule!.status;
          onInjected = rule!.done;
        }
      }
      const record = (f: InjectedFault) => {
        injected.push(f);
        onInjected?.(f);
      };
      if (fault === 429) {
        stats.injected429 += 1;
        record({ status: 429, method, path: url.pathname });
        req.resume();
        answer(
          res,
          429,
          'TooManyRequests',
          'injected by the API fault proxy: too many requests, please try again later',
          {
            'retry-after': String(retryAfter),
          },
        );
        return;
      }
      const upstream = request({
        host: target.hostname,
        port: target.port,
        method,
        path: `${url.pathname}${url.search}`,
        headers: { ...endToEnd(req.headers), host: target.host },
        agent,
      });
      res.once('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      upstream.on('response', (up) => {
        if (fault === 500) {
          // The API server did the work; the client is told it failed.
          up.resume();
          up.once('end', () => {
            stats.injected500 += 1;
            record({ status: 500, method, path: url.pathname });
            answer(
              res,
              500,
              'InternalError',
              'injected by the API fault proxy: an error on the server prevented the answer',
            );
          });
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.statusMessage, endToEnd(up.headers));
        if (streaming) res.flushHeaders();
        up.pipe(res);
      });
      upstream.on('error', (err) => {
        stats.upstreamErrors += 1;
        if (!res.headersSent) answer(res, 502, 'BadGateway', `API fault proxy: upstream error: ${err.message}`);
        else res.destroy();
      });
      req.pipe(upstream);
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    caPath: pki.caCert,
    writeKubeconfig: (path, token) => writeKubeconfig(path, { server: url, caPath: pki.caCert, token }),
    stats: () => ({ ...stats }),
    faults: () => injected,
    setEnabled: (on) => {
      enabled = on;
    },
    injectOnce: (rule) => new Promise<InjectedFault>((done) => once.push({ ...rule, done })),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          agent.destroy();
          resolve();
        });
        server.closeAllConnections(); // open watches never end by themselves
      }),
  };
}
