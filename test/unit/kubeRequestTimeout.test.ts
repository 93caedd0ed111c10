// withRequestTimeout (activities/kube/requestTimeout.ts): an API request nobody answers is given up after the
// timeout, an answered one is untouched, and the credentials of the wrapped configuration still go out.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withRequestTimeout } from '../../activities/kube/requestTimeout.js';

let server: Server;
let kc: KubeConfig;
const seen: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  // Answers /api/v1/nodes; holds every other request unanswered (a hung connection).
  server = createServer((req, res) => {
    seen.push(req.headers);
    if (req.url?.startsWith('/api/v1/nodes')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: '7' }, items: [] }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true },
    ],
    users: [{ name: 'u', token: 'tok-123' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('withRequestTimeout', () => {
  it('gives up a request that is never answered after the timeout', async () => {
    const core = withRequestTimeout(kc, 300).makeApiClient(CoreV1Api);
    const t0 = Date.now();
    await expect(core.listNamespace()).rejects.toThrow();
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(5_000);
  });

  it('leaves an answered request alone and still sends the credentials', async () => {
    seen.length = 0;
    const core = withRequestTimeout(kc, 300).makeApiClient(CoreV1Api);
    const list = await core.listNode();
    expect(list.metadata?.resourceVersion).toBe('7');
    expect(seen[0]?.authorization).toBe('Bearer tok-123');
  });

  it('does not change the configuration it wraps', async () => {
    withRequestTimeout(kc, 300);
    const core = kc.makeApiClient(CoreV1Api);
    const pending = core.listNamespace().then(
      () => 'answered',
      () => 'failed',
    );
    const outcome = await Promise.race([pending, new Promise((r) => setTimeout(() => r('still waiting'), 800))]);
    expect(outcome).toBe('still waiting');
  });
});
