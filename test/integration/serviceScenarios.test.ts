/* eslint-disable @typescript-eslint/no-explicit-any -- status shapes are asserted field by field */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { example, type Manifest } from '../cases/examples.js';
import { deterministicBytes, GATED_REPO, PRIVATE_REPO } from '../harness/fixtures.js';
import { startHfHub, type HfHub } from '../harness/hfHub.js';
import { startHttpProxy, type HttpProxy } from '../harness/httpProxy.js';
import { startOrchestrator, waitForObject, type OrchestratorFixture } from '../harness/orchestrator.js';
import { condition, putTinyModel } from '../harness/scenarios.js';
import { startS3Server, type S3Server } from '../harness/s3Server.js';

/** Spec 10 scenarios 5, 7, 8, 11, 12 and 13, plus services by name and by image. */
let orch: OrchestratorFixture;
let s3: S3Server;
let proxy: HttpProxy;
let hub: HfHub;
let batch: BatchV1Api;
const work = mkdtempSync(join(tmpdir(), 'aim-scn-it-'));
const ACCESS = 'scnaccess';
const SECRET = 'scn-secret-value-3';
const WEIGHTS = deterministicBytes('scn/weights', 2 * 1024 * 1024);

beforeAll(async () => {
  [orch, s3, hub] = await Promise.all([
    startOrchestrator({
      kubeconfigPath: inject('kubeconfigPath'),
      temporalAddress: inject('temporalAddress'),
      temporalNamespace: inject('temporalNamespace'),
      // 16 GPUs: every scenario's service keeps serving to the end of the file, one predictor pod (1 GPU) each, and
      // a ninth would stay Pending on an 8-GPU node (nothing here tests GPU availability).
      gpu: { vendor: 'amd', product: 'AMD_Instinct_MI300X_OAM', vramMiB: 192 * 1024, count: 16 },
    }),
    startS3Server({ workDir: join(work, 's3'), accessKey: ACCESS, secretKey: SECRET }),
    startHfHub(),
  ]);
  proxy = await startHttpProxy({ target: s3.endpoint });
  batch = orch.kc.makeApiClient(BatchV1Api);
  await s3.createBucket('models');
  await putTinyModel(s3, 'models', 'qwen', WEIGHTS);
  // The stalled download's own prefix: the proxy's stall must not catch another service's download through it.
  await putTinyModel(s3, 'models', 'qwen-stall', WEIGHTS);
  await orch.core.createNamespacedSecret({
    namespace: orch.namespace,
    body: { metadata: { name: 's3' }, stringData: { id: ACCESS, secret: SECRET } },
  });
  await orch.core.createNamespacedSecret({
    namespace: orch.namespace,
    body: { metadata: { name: 's3-wrong' }, stringData: { id: 'nobody', secret: 'wrong-secret-value' } },
  });
  await orch.core.createNamespacedSecret({
    namespace: orch.namespace,
    body: { metadata: { name: 'hf' }, stringData: { token: hub.token } },
  });
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([orch?.stop(), s3?.stop(), proxy?.stop(), hub?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

function s3Service(
  name: string,
  opts: { endpoint?: string; secret?: string; uri?: string; shared?: boolean; stall?: number } = {},
): Manifest {
  const m = example('aimservice-custom-s3.yaml');
  m.metadata = { name, namespace: orch.namespace };
  const src = (m.spec.model as any).custom.modelSources[0];
  src.sourceUri = opts.uri ?? 's3://models/qwen';
  const secret = opts.secret ?? 's3';
  src.env = [
    { name: 'AWS_ENDPOINT_URL', value: opts.endpoint ?? s3.endpoint },
    { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: secret, key: 'id' } } },
    { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: secret, key: 'secret' } } },
  ];
  if (opts.shared) m.spec.caching = { mode: 'Shared' };
  if (opts.stall) m.spec.download = { stallTimeoutSeconds: opts.stall };
  return m;
}

function hfService(name: string, repo: string, token: boolean): Manifest {
  const m = example('aimservice-custom-hf.yaml');
  m.metadata = { name, namespace: orch.namespace };
  delete m.spec.caching;
  const src = (m.spec.model as any).custom.modelSources[0];
  src.modelId = repo;
  src.sourceUri = `hf://${repo}`;
  src.env = [
    { name: 'HF_ENDPOINT', value: hub.endpoint },
    ...(token ? [{ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hf', key: 'token' } } }] : []),
  ];
  return m;
}

async function start(m: Manifest): Promise<void> {
  await orch.objects.create(RESOURCES.AIMService, m as never);
  await orch.startService(m.metadata.name, orch.namespace);
}

const svc = (name: string, until: (s: any) => boolean, timeoutMs = 150_000) =>
  waitForObject<any>(orch.objects, RESOURCES.AIMService, name, orch.namespace, until, timeoutMs);

async function runToRunning(name: string): Promise<any> {
  await svc(name, (s) => condition(s, 'CacheReady')?.status === 'True');
  await orch.waitForServing(name);
  await orch.startService(name, orch.namespace);
  return svc(name, (s) => s.status?.status === 'Running');
}

// Every scenario has services of its own and the worker serves them side by side, so the blocks run concurrently
// (the Shared caching block in order: its later cases build on the first).
describe.concurrent('model identity (scenario 5)', () => {
  it('same sources with a different AWS_ENDPOINT_URL give two distinct models', async () => {
    await start(s3Service('ep-a'));
    await start(s3Service('ep-b', { endpoint: proxy.url }));
    const a = await svc('ep-a', (s) => s.status?.resolvedModel?.name);
    const b = await svc('ep-b', (s) => s.status?.resolvedModel?.name);
    expect(a.status.resolvedModel.name).not.toBe(b.status.resolvedModel.name);
  });
});

describe.concurrent('probe failures (scenario 7): typed, before any volume, no retry storm', () => {
  it.each([
    ['wrong S3 keys', () => s3Service('bad-keys', { secret: 's3-wrong' }), 'AuthFailed'],
    ['a missing bucket', () => s3Service('bad-bucket', { uri: 's3://no-such-bucket/qwen' }), 'SourceNotFound'],
    ['a gated repo without a token', () => hfService('gated', GATED_REPO, false), 'GatedModel'],
  ])('%s', async (_what, manifest, reason) => {
    const m = manifest();
    await start(m);
    const s = await svc(m.metadata.name, (x) => x.status?.status === 'Failed');
    expect(condition(s, 'CacheReady')).toMatchObject({ status: 'False', reason });
    const cache = await orch.objects.get<any>(RESOURCES.AIMModelCache, s.status.caches[0].name, orch.namespace);
    expect(cache.status.status).toBe('Failed');
    expect(cache.status.persistentVolumeClaim).toBeUndefined();
    const probes = (
      await batch.listNamespacedJob({
        namespace: orch.namespace,
        labelSelector: `aim.silogen.ai/cache=${cache.metadata.name}`,
      })
    ).items;
    expect(probes.map((j) => j.metadata!.name)).toEqual([`${cache.metadata.name}-probe-1`]);
    expect(JSON.stringify(s) + JSON.stringify(cache)).not.toContain('wrong-secret-value');
  });
});

describe.concurrent('a download that stalls (scenario 8)', () => {
  it('fails the attempt with Stalled, resumes in the next one and reaches Running', async () => {
    proxy.stallAfter('qwen-stall/model.safetensors', 256 * 1024, { times: 1 });
    await start(s3Service('stally', { endpoint: proxy.url, stall: 5, uri: 's3://models/qwen-stall' }));
    const s = await runToRunning('stally');
    const cache = await orch.objects.get<any>(RESOURCES.AIMModelCache, s.status.caches[0].name, orch.namespace);
    expect(cache.status.attempt).toBe(2);
    const events = (
      await orch.core.listNamespacedEvent({
        namespace: orch.namespace,
        fieldSelector: `involvedObject.name=${cache.metadata.name}`,
      })
    ).items;
    expect(events.some((e) => e.reason === 'Stalled')).toBe(true);
  });
});

describe.concurrent('Hugging Face with a token from a Secret (scenario 11)', () => {
  it('downloads a token-only repo and reaches Running', async () => {
    const s = await (async () => {
      await start(hfService('hf-private', PRIVATE_REPO, true));
      return runToRunning('hf-private');
    })();
    const cache = await orch.objects.get<any>(RESOURCES.AIMModelCache, s.status.caches[0].name, orch.namespace);
    expect(cache.status.source.revision).toBe(hub.commitOf(PRIVATE_REPO, 'main'));
    const volume = await orch.kubelet.volumePath(orch.namespace, cache.status.persistentVolumeClaim);
    expect(readFileSync(join(volume, PRIVATE_REPO, 'config.json'), 'utf8')).toContain('model_type');
  });
});

describe.concurrent('Shared caching (scenario 12)', () => {
  it.sequential('two services with the same source share one cache, one PVC and one download Job', async () => {
    await start(s3Service('shared-a', { shared: true }));
    await start(s3Service('shared-b', { shared: true }));
    const a = await runToRunning('shared-a');
    const b = await runToRunning('shared-b');
    expect(a.status.caches[0].name).toBe(b.status.caches[0].name);
    const cache = await orch.objects.get<any>(RESOURCES.AIMModelCache, a.status.caches[0].name, orch.namespace);
    expect(cache.metadata.labels['aim.silogen.ai/cache-mode']).toBe('shared');
    expect(cache.metadata.ownerReferences ?? []).toEqual([]);
    const jobs = (
      await batch.listNamespacedJob({
        namespace: orch.namespace,
        labelSelector: `aim.silogen.ai/cache=${cache.metadata.name}`,
      })
    ).items;
    expect(jobs.filter((j) => j.metadata!.name!.includes('-dl-'))).toHaveLength(1);
    const pvcs = (
      await orch.core.listNamespacedPersistentVolumeClaim({
        namespace: orch.namespace,
        labelSelector: `aim.silogen.ai/cache=${cache.metadata.name}`,
      })
    ).items;
    expect(pvcs).toHaveLength(1);
  });

  it.sequential(
    'a service whose own credentials fail the probe gets a Dedicated cache, not the Shared one',
    async () => {
      const a = await orch.objects.get<any>(RESOURCES.AIMService, 'shared-a', orch.namespace);
      await start(s3Service('shared-wrong', { shared: true, secret: 's3-wrong' }));
      const s = await svc('shared-wrong', (x) => x.status?.caches?.length === 1);
      expect(s.status.caches[0].name).not.toBe(a.status.caches[0].name);
      const cache = await orch.objects.get<any>(RESOURCES.AIMModelCache, s.status.caches[0].name, orch.namespace);
      expect(cache.metadata.labels['aim.silogen.ai/cache-mode']).toBe('dedicated');
      const failed = await svc('shared-wrong', (x) => x.status?.status === 'Failed');
      expect(condition(failed, 'CacheReady')).toMatchObject({ reason: 'AuthFailed' });
    },
  );

  it.sequential('deleting a service leaves the Shared cache (scenario 14)', async () => {
    const a = await orch.objects.get<any>(RESOURCES.AIMService, 'shared-a', orch.namespace);
    await orch.objects.delete(RESOURCES.AIMService, 'shared-a', orch.namespace);
    await orch.startService('shared-a', orch.namespace);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await orch.objects.get(RESOURCES.AIMService, 'shared-a', orch.namespace)))
      await new Promise((r) => setTimeout(r, 300));
    expect(await orch.objects.get(RESOURCES.AIMModelCache, a.status.caches[0].name, orch.namespace)).toBeDefined();
  });
});

describe.concurrent('models by name, by image, and cluster models (scenario 13)', () => {
  it('a service by name with an explicit template name, and one by image', async () => {
    const model = example('aimmodel-s3-custom-templates.yaml');
    model.metadata = { name: 'qwen-small', namespace: orch.namespace };
    // An image of its own: auto-created models of earlier tests use the example's base image, and `image`
    // resolution picks the oldest model with that image.
    model.spec.image = 'ghcr.io/silogen/aim-base:0.8-qwen-small';
    const src = (model.spec.modelSources as any[])[0];
    src.sourceUri = 's3://models/qwen';
    src.env = [
      { name: 'AWS_ENDPOINT_URL', value: s3.endpoint },
      { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3', key: 'id' } } },
      { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 's3', key: 'secret' } } },
    ];
    await orch.objects.create(RESOURCES.AIMModel, model as never);
    await orch.startModel('AIMModel', 'qwen-small', orch.namespace);

    const byName = example('aimservice-by-name.yaml');
    byName.metadata = { name: 'by-name', namespace: orch.namespace };
    await start(byName);
    const s = await svc('by-name', (x) => x.status?.resolvedTemplate?.name);
    expect(s.status.resolvedModel).toMatchObject({ kind: 'AIMModel', name: 'qwen-small' });
    expect(s.status.resolvedTemplate.name).toBe('qwen-small-fast');

    await start({
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMService',
      metadata: { name: 'by-image', namespace: orch.namespace },
      spec: { model: { image: model.spec.image } },
    });
    const i = await svc('by-image', (x) => x.status?.resolvedTemplate?.name);
    expect(i.status.resolvedModel.name).toBe('qwen-small');
    // Best template by the total order: optimized first.
    expect(i.status.resolvedTemplate.name).toBe('qwen-small-fast');
  });

  it('an AIMClusterModel used in a namespace: cluster templates, secrets and the download in that namespace', async () => {
    const cm = example('aimclustermodel-hf.yaml');
    const name = `cm-${orch.namespace}`;
    cm.metadata = { name };
    cm.spec.modelSources = [
      {
        modelId: PRIVATE_REPO,
        sourceUri: `hf://${PRIVATE_REPO}`,
        env: [
          { name: 'HF_ENDPOINT', value: hub.endpoint },
          { name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hf', key: 'token' } } },
        ],
      },
    ];
    cm.spec.hardware = { gpu: { requests: 1, models: ['MI300X'] } };
    await orch.objects.create(RESOURCES.AIMClusterModel, cm as never);
    await orch.startModel('AIMClusterModel', name);
    await start({
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMService',
      metadata: { name: 'uses-cluster', namespace: orch.namespace },
      spec: { model: { name }, template: { allowUnoptimized: true } },
    });
    const s = await runToRunning('uses-cluster');
    expect(s.status.resolvedModel.kind).toBe('AIMClusterModel');
    expect(s.status.resolvedTemplate.kind).toBe('AIMClusterServiceTemplate');
    const cache = await orch.objects.get<any>(RESOURCES.AIMModelCache, s.status.caches[0].name, orch.namespace);
    expect(cache.metadata.namespace).toBe(orch.namespace);
    await orch.objects.delete(RESOURCES.AIMClusterModel, name);
  }, 300_000); // a Hub download, then a predictor pod and KServe's readiness probe, on a loaded CI machine
});
