// Kubeconfig writing/loading and a raw HTTPS request helper for the test API server.
// The raw helper exists because @kubernetes/client-node's generic KubernetesObjectApi re-serialises bodies through
// its typed models, which silently drops wire-format keys such as `x-kubernetes-preserve-unknown-fields` from raw
// YAML (CRDs); health probes and server-side apply of raw manifests therefore go over plain HTTPS.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

export interface KubeconfigSpec {
  server: string;
  caPath: string;
  token: string;
  /** Default namespace of the context. */
  namespace?: string;
}

/** Writes a self-contained kubeconfig (CA inlined as data) that `KubeConfig.loadFromFile` and kubectl accept. */
export async function writeKubeconfig(path: string, spec: KubeconfigSpec): Promise<void> {
  const caData = readFileSync(spec.caPath).toString('base64');
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'aim-test', cluster: { server: spec.server, 'certificate-authority-data': caData } }],
    users: [{ name: 'aim-test-admin', user: { token: spec.token } }],
    contexts: [
      {
        name: 'aim-test',
        context: { cluster: 'aim-test', user: 'aim-test-admin', namespace: spec.namespace ?? 'default' },
      },
    ],
    'current-context': 'aim-test',
    preferences: {},
  };
  await writeFile(path, stringify(doc), { mode: 0o600 });
}

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

export interface KubeResponse {
  status: number;
  /** Lower-case names, as Node gives them (e.g. `warning` for API-server warnings). */
  headers: IncomingHttpHeaders;
  body: string;
  /** The body as received, for binary answers (e.g. a pprof profile). */
  bytes: Buffer;
}

export interface KubeRequestOptions {
  method: string;
  /** Path and query, e.g. `/readyz` or `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x?force=true`. */
  path: string;
  body?: string;
  contentType?: string;
  /** Accept header; default `application/json` (e.g. `application/json;as=Table;v=v1;g=meta.k8s.io` for tables). */
  accept?: string;
  timeoutMs?: number;
  /** Aborts the request (it then rejects). */
  signal?: AbortSignal;
}

/** One HTTPS request to the current cluster of `kc`, authenticated as its current user. Never throws on HTTP status. */
export async function kubeRequest(kc: KubeConfig, opts: KubeRequestOptions): Promise<KubeResponse> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(opts.path, cluster.server);
  const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json' };
  if (opts.body !== undefined) {
    headers['Content-Type'] = opts.contentType ?? 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(opts.body));
  }
  const reqOpts: RequestOptions = {
    method: opts.method,
    headers,
    timeout: opts.timeoutMs ?? 10_000,
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  await kc.applyToHTTPSOptions(reqOpts);
  return new Promise<KubeResponse>((resolve, reject) => {
    const req = request(url, reqOpts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: bytes.toString('utf8'), bytes });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${opts.method} ${url.pathname} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
