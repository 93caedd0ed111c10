// The API fault proxy itself (test/harness/apiFaultProxy.ts), against the real test API server: what it injects,
// that a 500 comes after the write, that watches pass through, and that a seed fixes the fault sequence.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApiFaultProxy, type ApiFaultProxyOptions } from '../harness/apiFaultProxy.js';
import { kubeRequest, loadKubeConfig } from '../harness/kube.js';

const work = mkdtempSync(join(tmpdir(), 'aim-api-fault-proxy-'));
const ns = `fault-proxy-${randomBytes(3).toString('hex')}`;
let direct: KubeConfig;

beforeAll(async () => {
  direct = loadKubeConfig(inject('kubeconfigPath'));
  await direct.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
});

afterAll(async () => {
  await direct
    ?.makeApiClient(CoreV1Api)
    .deleteNamespace({ name: ns })
    .catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

/** A proxy with these rates and a kubeconfig through it; stopped by the caller. */
async function proxied(opts: Partial<ApiFaultProxyOptions>) {
  const stack = inject('stack');
  const proxy = await startApiFaultProxy({
    target: stack.kubeServer,
    targetCaPath: stack.kubeCaPath,
    workDir: mkdtempSync(join(work, 'p-')),
    ...opts,
  });
  const path = join(work, `kubeconfig-${randomBytes(3).toString('hex')}`);
  await proxy.writeKubeconfig(path, stack.kubeToken);
  return { proxy, kc: loadKubeConfig(path) };
}

/** POSTs a new ConfigMap through `kc`; its name and the answer. */
async function createConfigMap(kc: KubeConfig, data?: Record<string, string>) {
  const name = `cm-${randomBytes(3).toString('hex')}`;
  const res = await kubeRequest(kc, {
    method: 'POST',
    path: `/api/v1/namespaces/${ns}/configmaps`,
    body: JSON.stringify({ metadata: { name }, ...(data ? { data } : {}) }),
  });
  return { name, res };
}

describe('API fault proxy', () => {
  it('answers 429 with Retry-After without forwarding, and counts it', async () => {
    const { proxy, kc } = await proxied({ rate429: 1, rate500: 0, retryAfterSeconds: 3 });
    try {
      const name = `cm-${randomBytes(3).toString('hex')}`;
      const res = await kubeRequest(kc, {
        method: 'POST',
        path: `/api/v1/namespaces/${ns}/configmaps`,
        body: JSON.stringify({ metadata: { name } }),
      });
      expect(res.status).toBe(429);
      expect(res.headers['retry-after']).toBe('3');
      expect(JSON.parse(res.body)).toMatchObject({ kind: 'Status', reason: 'TooManyRequests', code: 429 });
      expect(proxy.stats()).toMatchObject({ requests: 1, injected429: 1, injected500: 0 });
      const direct404 = await kubeRequest(direct, {
        method: 'GET',
        path: `/api/v1/namespaces/${ns}/configmaps/${name}`,
      });
      expect(direct404.status).toBe(404); // never reached the API server
    } finally {
      await proxy.stop();
    }
  });

  it('answers 500 after the API server did the write', async () => {
    const { proxy, kc } = await proxied({ rate429: 0, rate500: 1 });
    try {
      const name = `cm-${randomBytes(3).toString('hex')}`;
      const res = await kubeRequest(kc, {
        method: 'POST',
        path: `/api/v1/namespaces/${ns}/configmaps`,
        body: JSON.stringify({ metadata: { name } }),
      });
      expect(res.status).toBe(500);
      const stored = await kubeRequest(direct, { method: 'GET', path: `/api/v1/namespaces/${ns}/configmaps/${name}` });
      expect(stored.status).toBe(200);
      expect(proxy.faults()).toEqual([{ status: 500, method: 'POST', path: `/api/v1/namespaces/${ns}/configmaps` }]);
    } finally {
      await proxy.stop();
    }
  });

  it('passes watches through untouched, even at a 100 % fault rate', async () => {
    const { proxy, kc } = await proxied({ rate429: 1, rate500: 0 });
    try {
      // A watch that ends by itself: the server closes it after timeoutSeconds, having sent the namespace's ADDED.
      const res = await kubeRequest(kc, {
        method: 'GET',
        path: `/api/v1/namespaces?watch=true&fieldSelector=metadata.name%3D${ns}&timeoutSeconds=1`,
        timeoutMs: 15_000,
      });
      expect(res.status).toBe(200);
      expect(res.body).toContain('"type":"ADDED"');
      expect(proxy.stats()).toMatchObject({ watches: 1, requests: 0, injected429: 0 });
    } finally {
      await proxy.stop();
    }
  });

  it('a seed fixes which requests fail; a targeted fault hits the request it names', async () => {
    const pattern = async (seed: number): Promise<number[]> => {
      const { proxy, kc } = await proxied({ seed, rate429: 0.25, rate500: 0.25 });
      try {
        const out: number[] = [];
        for (let i = 0; i < 24; i++) out.push((await kubeRequest(kc, { method: 'GET', path: '/version' })).status);
        return out;
      } finally {
        await proxy.stop();
      }
    };
    const a = await pattern(7);
    expect(await pattern(7)).toEqual(a);
    expect(await pattern(8)).not.toEqual(a);
    expect(new Set(a)).toEqual(new Set([200, 429, 500]));

    const { proxy, kc } = await proxied({ rate429: 0, rate500: 0 });
    try {
      const hit = proxy.injectOnce({ method: 'GET', pathIncludes: '/api/v1/namespaces/', status: 429 });
      expect((await kubeRequest(kc, { method: 'GET', path: '/version' })).status).toBe(200);
      expect((await kubeRequest(kc, { method: 'GET', path: `/api/v1/namespaces/${ns}` })).status).toBe(429);
      expect((await kubeRequest(kc, { method: 'GET', path: `/api/v1/namespaces/${ns}` })).status).toBe(200);
      expect(await hit).toEqual({ status: 429, method: 'GET', path: `/api/v1/namespaces/${ns}` });
    } finally {
      await proxy.stop();
    }
  });

  it('answers 503 with Retry-After and 409 on an update without forwarding', async () => {
    const { proxy, kc } = await proxied({ rate429: 0, rate500: 0, rate503: 1, retryAfterSeconds: 2 });
    try {
      const { name, res } = await createConfigMap(kc);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(JSON.parse(res.body)).toMatchObject({ reason: 'ServiceUnavailable', code: 503 });
      expect(
        (await kubeRequest(direct, { method: 'GET', path: `/api/v1/namespaces/${ns}/configmaps/${name}` })).status,
      ).toBe(404);
    } finally {
      await proxy.stop();
    }
    const conflict = await proxied({ rate429: 0, rate500: 0, rate409: 1 });
    try {
      const path = `/api/v1/namespaces/${ns}/configmaps`;
      // 409 is for updates only: the create passes.
      const { name, res: created } = await createConfigMap(conflict.kc, { a: '1' });
      expect(created.status).toBe(201);
      const obj = JSON.parse(created.body);
      obj.data = { a: '2' };
      const res = await kubeRequest(conflict.kc, { method: 'PUT', path: `${path}/${name}`, body: JSON.stringify(obj) });
      expect(res.status).toBe(409);
      expect(JSON.parse(res.body)).toMatchObject({ reason: 'Conflict', code: 409 });
      const stored = await kubeRequest(direct, { method: 'GET', path: `${path}/${name}` });
      expect(JSON.parse(stored.body).data).toEqual({ a: '1' });
      expect(conflict.proxy.stats()).toMatchObject({ injected409: 1 });
    } finally {
      await conflict.proxy.stop();
    }
  });

  it('resets the connection after the API server did the write; holds a hung request until the client gives up', async () => {
    const { proxy, kc } = await proxied({ rate429: 0, rate500: 0 });
    try {
      const name = `cm-${randomBytes(3).toString('hex')}`;
      const path = `/api/v1/namespaces/${ns}/configmaps`;
      const reset = proxy.injectOnce({ method: 'POST', pathIncludes: path, status: 'reset' });
      await expect(
        kubeRequest(kc, { method: 'POST', path, body: JSON.stringify({ metadata: { name } }) }),
      ).rejects.toMatchObject({ code: 'ECONNRESET' });
      await reset;
      expect((await kubeRequest(direct, { method: 'GET', path: `${path}/${name}` })).status).toBe(200);

      const hang = proxy.injectOnce({ method: 'GET', pathIncludes: path, status: 'hang' });
      const t0 = Date.now();
      await expect(kubeRequest(kc, { method: 'GET', path, timeoutMs: 800 })).rejects.toThrow(/timed out/);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
      await hang;
      await new Promise((r) => setTimeout(r, 200));
      expect(proxy.stats()).toMatchObject({ resets: 1, hangs: 1, hangsAbandoned: 1 });
    } finally {
      await proxy.stop();
    }
  });

  it('holds the answer to a write while the write is already stored; reads are not held', async () => {
    const { proxy, kc } = await proxied({ rate429: 0, rate500: 0, writeAnswerDelayMs: 1500 });
    try {
      const name = `cm-${randomBytes(3).toString('hex')}`;
      const path = `/api/v1/namespaces/${ns}/configmaps`;
      const t0 = Date.now();
      const created = kubeRequest(kc, { method: 'POST', path, body: JSON.stringify({ metadata: { name } }) });
      // The API server has stored it while its author still waits for the answer.
      let storedAtMs = 0;
      for (let i = 0; i < 100 && !storedAtMs; i++) {
        if ((await kubeRequest(direct, { method: 'GET', path: `${path}/${name}` })).status === 200)
          storedAtMs = Date.now();
        else await new Promise((r) => setTimeout(r, 20));
      }
      const res = await created;
      const answeredAtMs = Date.now();
      expect(res.status).toBe(201);
      expect(storedAtMs).toBeGreaterThan(0);
      expect(answeredAtMs - t0).toBeGreaterThanOrEqual(1500);
      expect(answeredAtMs - storedAtMs).toBeGreaterThan(500);
      const r0 = Date.now();
      const read = await kubeRequest(kc, { method: 'GET', path: `${path}/${name}` });
      expect(read.status).toBe(200);
      expect(Date.now() - r0).toBeLessThan(1500);
    } finally {
      await proxy.stop();
    }
  });

  it('answers watches 410 Gone, as the HTTP status and as an ERROR event, and no other request', async () => {
    const { proxy, kc } = await proxied({ rate429: 0, rate500: 0, rateWatchGone: 1 });
    try {
      const watch = `/api/v1/namespaces?watch=true&fieldSelector=metadata.name%3D${ns}&timeoutSeconds=1`;
      const first = await kubeRequest(kc, { method: 'GET', path: watch, timeoutMs: 15_000 });
      const second = await kubeRequest(kc, { method: 'GET', path: watch, timeoutMs: 15_000 });
      expect(first.status).toBe(410);
      expect(JSON.parse(first.body)).toMatchObject({ reason: 'Expired', code: 410 });
      expect(second.status).toBe(200);
      expect(JSON.parse(second.body)).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
      expect((await kubeRequest(kc, { method: 'GET', path: `/api/v1/namespaces/${ns}` })).status).toBe(200);
      expect(proxy.stats()).toMatchObject({ watches: 2, watchGone: 2, requests: 1 });
    } finally {
      await proxy.stop();
    }
  });
});
