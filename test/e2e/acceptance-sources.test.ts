/* eslint-disable @typescript-eslint/no-explicit-any -- objects are asserted field by field */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { DEFAULT_TIMING, type LifecycleTiming } from '../../domain/timing.js';
import { example, exampleSecret, type Manifest } from '../cases/examples.js';
import { contentBuffer, deterministicBytes, GATED_REPO, modelFiles, PRIVATE_REPO } from '../harness/fixtures.js';
import {
  condition,
  customSource,
  EXAMPLE_BUCKET,
  putTinyModel,
  startAcceptance,
  useHub,
  useSecret,
  SCENARIO,
  type AcceptanceFixture,
} from '../harness/scenarios.js';

/**
 * Acceptance, spec section 10, scenarios 5, 7, 8 and 11: what the source and its endpoint do to a service — model
 * identity per endpoint, typed probe failures, a stalled download that resumes, and a token-only Hugging Face repo.
 * Manifests come from examples/ and are applied with `kubectl apply --server-side`; the bridge does the rest.
 */
let e2e: AcceptanceFixture;
const WEIGHTS = deterministicBytes('e2e-sources/weights', 2 * 1024 * 1024);
const WRONG_SECRET_VALUE = 'wrong-secret-value-e2e';
/**
 * Production clocks, except that the first re-probe of an AuthFailed/GatedModel cache comes after 30 minutes instead
 * of 1: "stays put" below then holds for as long as the file runs, whatever the machine's load, instead of racing the
 * 1-minute re-probe. The re-probe itself, and the recovery it brings, are test/e2e/reasons-sources.test.ts.
 */
const NO_REPROBE_WITHIN_FILE: LifecycleTiming = {
  ...DEFAULT_TIMING,
  backoffBaseSeconds: DEFAULT_TIMING.backoffMaxSeconds,
};

beforeAll(async () => {
  e2e = await startAcceptance({ hub: true, proxy: true, timing: NO_REPROBE_WITHIN_FILE });
  for (const prefix of ['qwen-fail', 'qwen-ep', 'qwen-stall'])
    await putTinyModel(e2e.s3, EXAMPLE_BUCKET, prefix, WEIGHTS);
  const wrong = exampleSecret('secret-s3-credentials.yaml', {
    'access-key': 'nobody',
    'secret-key': WRONG_SECRET_VALUE,
  });
  wrong.metadata.name = 's3-wrong';
  await e2e.apply(wrong);
}, 240_000);

afterAll(async () => {
  await e2e?.stop();
});

function hfService(name: string, repo: string, token: boolean): Manifest {
  const m = example('aimservice-custom-hf.yaml');
  m.metadata.name = name;
  useHub(customSource(m), e2e.hub!.endpoint, repo, token);
  return m;
}

const cacheOf = async (s: any) =>
  e2e.orch.objects.get<any>(RESOURCES.AIMModelCache, s.status.caches[0].name, e2e.namespace);

describe('7 probe failures: typed, before any volume, no retry storm', SCENARIO, () => {
  const cases = [
    {
      what: 'wrong S3 keys',
      reason: 'AuthFailed',
      cacheCondition: 'AuthValid',
      manifest: () => {
        const m = e2e.s3Service('bad-keys', { prefix: 'qwen-fail' });
        useSecret(customSource(m), 's3-wrong');
        return m;
      },
    },
    {
      what: 'a missing bucket',
      reason: 'SourceNotFound',
      cacheCondition: 'SourcesValid',
      manifest: () => {
        const m = e2e.s3Service('no-bucket', { prefix: 'qwen-fail' });
        customSource(m).sourceUri = 's3://no-such-bucket/qwen2-0.5b';
        return m;
      },
    },
    {
      what: 'a gated Hugging Face repo without a token',
      reason: 'GatedModel',
      cacheCondition: 'AuthValid',
      manifest: () => {
        const m = hfService('gated', GATED_REPO, false);
        // A failed probe never attaches to a Shared cache; Dedicated keeps the outcome about this service alone.
        m.spec.caching = { mode: 'Dedicated' };
        return m;
      },
    },
    {
      what: 'a missing Hugging Face repo',
      reason: 'SourceNotFound',
      cacheCondition: 'SourcesValid',
      manifest: () => {
        const m = hfService('no-repo', 'fixtures/no-such-repo', true);
        m.spec.caching = { mode: 'Dedicated' };
        return m;
      },
    },
  ];
  const failed = new Map<string, any>();

  beforeAll(async () => {
    for (const c of cases) await e2e.apply(c.manifest());
  });

  it.each(cases.map((c) => [c.what, c] as const))('%s', async (_what, c) => {
    const name = c.manifest().metadata.name;
    const s = await e2e.service(name, (x) => x.status?.status === 'Failed');
    expect(condition(s, 'CacheReady')).toMatchObject({ status: 'False', reason: c.reason });
    const cache = await cacheOf(s);
    expect(cache.status.status).toBe('Failed');
    expect(condition(cache, c.cacheCondition)).toMatchObject({ status: 'False', reason: c.reason });
    expect(cache.status.persistentVolumeClaim).toBeUndefined();
    expect(await e2e.pvcsOf(cache.metadata.name)).toEqual([]);
    expect((await e2e.jobsOf(cache.metadata.name)).map((j) => j.metadata!.name)).toEqual([
      `${cache.metadata.name}-probe-1`,
    ]);
    expect(await e2e.eventFor(cache.metadata.name, c.reason)).toMatchObject({ type: 'Warning' });
    const shown = JSON.stringify([s.status, cache.status, await e2e.eventsFor(cache.metadata.name)]);
    expect(shown).not.toContain(WRONG_SECRET_VALUE);
    expect(shown).not.toContain(e2e.hub!.token);
    if (c.reason === 'GatedModel') {
      expect(condition(cache, 'AuthValid').message).toContain(`${e2e.hub!.endpoint}/${GATED_REPO}`);
      expect(condition(cache, 'AuthValid').message).toContain('HF_TOKEN');
    }
    failed.set(cache.metadata.name, cache);
  });

  it('stays put after failing: still one probe Job per cache, no new attempt', async () => {
    expect(failed.size).toBe(cases.length);
    await new Promise((r) => setTimeout(r, 5_000));
    for (const [name, before] of failed) {
      expect((await e2e.jobsOf(name)).map((j) => j.metadata!.name)).toEqual([`${name}-probe-1`]);
      const now = await e2e.orch.objects.get<any>(RESOURCES.AIMModelCache, name, e2e.namespace);
      expect(now.status.probeAttempt).toBe(1);
      expect(now.status.status).toBe('Failed');
      expect(now.status.conditions).toEqual(before.status.conditions);
    }
  });
});

describe('5 the same sources behind a different AWS_ENDPOINT_URL', SCENARIO, () => {
  it('give two distinct auto-created models', async () => {
    await e2e.apply(e2e.s3Service('ep-direct', { prefix: 'qwen-ep' }));
    await e2e.apply(e2e.s3Service('ep-proxied', { prefix: 'qwen-ep', endpoint: e2e.proxy!.url }));
    const a = await e2e.service('ep-direct', (s) => s.status?.resolvedModel?.name);
    const b = await e2e.service('ep-proxied', (s) => s.status?.resolvedModel?.name);
    expect(a.status.resolvedModel.name).not.toBe(b.status.resolvedModel.name);
    const models = await Promise.all(
      [a, b].map((s) => e2e.orch.objects.get<any>(RESOURCES.AIMModel, s.status.resolvedModel.name, e2e.namespace)),
    );
    expect(models.map((m) => m.spec.modelSources[0].env)).toEqual([
      [{ name: 'AWS_ENDPOINT_URL', value: e2e.s3.endpoint }],
      [{ name: 'AWS_ENDPOINT_URL', value: e2e.proxy!.url }],
    ]);
    expect(models.map((m) => m.spec.modelSources[0].sourceUri)).toEqual(['s3://models/qwen-ep', 's3://models/qwen-ep']);
    const identities = models.map((m) => m.metadata.labels['aim.silogen.ai/custom-identity']);
    expect(identities[0]).not.toBe(identities[1]);
    expect(models.map((m) => m.metadata.ownerReferences.map((o: any) => o.name))).toEqual([
      ['ep-direct'],
      ['ep-proxied'],
    ]);
    // Not needed further: out of the way of the next scenarios.
    for (const name of ['ep-direct', 'ep-proxied'])
      await e2e.orch.objects.delete(RESOURCES.AIMService, name, e2e.namespace);
    for (const name of ['ep-direct', 'ep-proxied']) await e2e.gone(RESOURCES.AIMService, name);
  });
});

describe('8 a download that stops making progress', SCENARIO, () => {
  it('fails the attempt with Stalled, resumes in the next one, and the service reaches Running', async () => {
    const proxy = e2e.proxy!;
    proxy.stallAfter('qwen-stall/model.safetensors', 256 * 1024, { times: 1 });
    const m = e2e.s3Service('stally', { prefix: 'qwen-stall', endpoint: proxy.url });
    m.spec.download = { stallTimeoutSeconds: 5 };
    await e2e.apply(m);
    const s = await e2e.runToRunning('stally');
    const cache = await cacheOf(s);
    expect(cache.status).toMatchObject({ status: 'Ready', attempt: 2, verified: true });
    const jobs = await e2e.jobsOf(cache.metadata.name);
    const dl = (n: number) => jobs.find((j) => j.metadata!.name === `${cache.metadata.name}-dl-${n}`);
    expect(dl(1)?.status?.failed).toBe(1);
    expect(dl(2)?.status?.succeeded).toBe(1);
    expect(await e2e.eventFor(cache.metadata.name, 'Stalled')).toMatchObject({ type: 'Warning' });
    // Resumed: the file that was complete after the first attempt was not fetched again.
    const gets = (path: string) => proxy.requests().filter((r) => r.method === 'GET' && r.path.includes(path));
    expect(gets('qwen-stall/config.json')).toHaveLength(1);
    expect(gets('qwen-stall/model.safetensors').map((r) => r.outcome)).toEqual(['stalled', 'complete']);
    const volume = await e2e.orch.kubelet.volumePath(e2e.namespace, cache.status.persistentVolumeClaim);
    expect(readFileSync(join(volume, 'Qwen/Qwen2-0.5B/model.safetensors')).equals(WEIGHTS)).toBe(true);
  });
});

describe(
  '11 Hugging Face, token-only repo, HF_TOKEN from a Secret (examples/aimservice-custom-hf.yaml)',
  SCENARIO,
  () => {
    it('downloads the repo with the token and reaches Running', async () => {
      const hub = e2e.hub!;
      await e2e.apply(hfService('hf-private', PRIVATE_REPO, true));
      const s = await e2e.runToRunning('hf-private');
      const cache = await cacheOf(s);
      expect(cache.status).toMatchObject({ status: 'Ready', mode: 'Shared', verified: true });
      expect(cache.status.source.revision).toBe(hub.commitOf(PRIVATE_REPO, 'main'));
      const volume = await e2e.orch.kubelet.volumePath(e2e.namespace, cache.status.persistentVolumeClaim);
      for (const [path, content] of Object.entries(modelFiles(PRIVATE_REPO)))
        expect(readFileSync(join(volume, PRIVATE_REPO, path)).equals(contentBuffer(content))).toBe(true);
      const repoRequests = hub.requests().filter((r) => r.path.includes(PRIVATE_REPO));
      expect(repoRequests.some((r) => r.auth === 'valid')).toBe(true);
      const isvc = await e2e.orch.objects.get<any>(RESOURCES.InferenceService, 'hf-private', e2e.namespace);
      expect(JSON.stringify(isvc.spec.predictor.containers[0].env)).not.toContain('HF_TOKEN');
      expect(JSON.stringify(s)).not.toContain(hub.token);
    });
  },
);
