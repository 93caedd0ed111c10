/* eslint-disable @typescript-eslint/no-explicit-any -- status shapes are asserted field by field */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { historyJSON, writeHistory } from '../harness/recordHistory.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { example, type Manifest } from '../cases/examples.js';
import { deterministicBytes } from '../harness/fixtures.js';
import { startOrchestrator, waitForObject, type OrchestratorFixture } from '../harness/orchestrator.js';
import { condition, putTinyModel, waitForGone as waitForObjectGone } from '../harness/scenarios.js';
import { startS3Server, type S3Server } from '../harness/s3Server.js';

/**
 * The AIMService lifecycle (Path 2) end to end: a real API server and Temporal, the process kubelet running the
 * probe and download Jobs, a real S3 server. The test plays KServe: it sets the InferenceService Ready condition.
 */
let orch: OrchestratorFixture;
let s3: S3Server;
let batch: BatchV1Api;
const work = mkdtempSync(join(tmpdir(), 'aim-svc-it-'));
const ACCESS = 'svcaccess';
const SECRET = 'svc-secret-value-7';
const WEIGHTS = deterministicBytes('svc/weights', 1024 * 1024);

beforeAll(async () => {
  [orch, s3] = await Promise.all([
    startOrchestrator({
      kubeconfigPath: inject('kubeconfigPath'),
      temporalAddress: inject('temporalAddress'),
      temporalNamespace: inject('temporalNamespace'),
      gpu: { vendor: 'amd', product: 'AMD_Instinct_MI300X_OAM', vramMiB: 192 * 1024, count: 8 },
    }),
    startS3Server({ workDir: join(work, 's3'), accessKey: ACCESS, secretKey: SECRET }),
  ]);
  batch = orch.kc.makeApiClient(BatchV1Api);
  await s3.createBucket('models');
  await putTinyModel(s3, 'models', 'qwen2-0.5b', WEIGHTS);
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([orch?.stop(), s3?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

function customService(name: string, secretName = 's3-credentials'): Manifest {
  const m = example('aimservice-custom-s3.yaml');
  m.metadata = { name, namespace: orch.namespace };
  const src = (m.spec.model as any).custom.modelSources[0];
  src.env = [
    { name: 'AWS_ENDPOINT_URL', value: s3.endpoint },
    { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: secretName, key: 'access-key' } } },
    { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: secretName, key: 'secret-key' } } },
  ];
  return m;
}

async function createSecret(name: string): Promise<void> {
  await orch.core.createNamespacedSecret({
    namespace: orch.namespace,
    body: { metadata: { name }, stringData: { 'access-key': ACCESS, 'secret-key': SECRET } },
  });
}

const svc = (name: string, until: (s: any) => boolean, timeoutMs = 120_000) =>
  waitForObject<any>(orch.objects, RESOURCES.AIMService, name, orch.namespace, until, timeoutMs);

describe('AIMService with spec.model.custom on S3 (scenario 3)', () => {
  it('creates the model, template, cache, PVC and download, deploys the InferenceService and becomes Running', async () => {
    await createSecret('s3-credentials');
    await orch.objects.create(RESOURCES.AIMService, customService('qwen-chat') as never);
    await orch.startService('qwen-chat', orch.namespace);

    // The auto-created model: labels of spec section 4, owned by the service (not as controller), no credentials.
    const starting = await svc('qwen-chat', (s) => s.status?.resolvedModel?.name);
    const modelName = starting.status.resolvedModel.name;
    expect(modelName).toMatch(/^qwen-qwen2-0-5b-[0-9a-f]{8}$/);
    const model = await orch.objects.get<any>(RESOURCES.AIMModel, modelName, orch.namespace);
    expect(model.metadata.labels).toMatchObject({
      'aim.silogen.ai/origin': 'auto-generated',
      'aim.silogen.ai/custom-model': 'true',
    });
    expect(model.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'AIMService', name: 'qwen-chat', controller: false }),
    ]);
    expect(JSON.stringify(model.spec)).not.toContain('AWS_ACCESS_KEY_ID');

    // The download really copies the objects onto the volume; the InferenceService mounts it.
    const deploying = await svc('qwen-chat', (s) => condition(s, 'CacheReady')?.status === 'True', 180_000);
    expect(deploying.status.caches).toHaveLength(1);
    const cache = await orch.objects.get<any>(RESOURCES.AIMModelCache, deploying.status.caches[0].name, orch.namespace);
    expect(cache.metadata.labels['aim.silogen.ai/cache-mode']).toBe('dedicated');
    expect(cache.status).toMatchObject({ status: 'Ready', verified: true, mode: 'Dedicated' });
    const volume = await orch.kubelet.volumePath(orch.namespace, cache.status.persistentVolumeClaim);
    expect(readFileSync(join(volume, 'Qwen/Qwen2-0.5B/model.safetensors')).equals(WEIGHTS)).toBe(true);

    const isvc = await waitForObject<any>(
      orch.objects,
      RESOURCES.InferenceService,
      'qwen-chat',
      orch.namespace,
      () => true,
    );
    expect(isvc.metadata.annotations).toMatchObject({ 'serving.kserve.io/deploymentMode': 'RawDeployment' });
    const container = isvc.spec.predictor.containers[0];
    expect(container.volumeMounts).toContainEqual(
      expect.objectContaining({ mountPath: '/workspace/model-cache/Qwen/Qwen2-0.5B', readOnly: true }),
    );
    expect(JSON.stringify(container.env)).not.toContain('AWS_SECRET_ACCESS_KEY');
    expect(container.resources.limits['amd.com/gpu']).toBe('1');

    // KServe deploys it; the model server reads the downloaded files; KServe reports Ready.
    await orch.waitForServing('qwen-chat');
    await orch.startService('qwen-chat', orch.namespace);
    const running = await svc('qwen-chat', (s) => s.status?.status === 'Running');
    expect(condition(running, 'Ready')).toMatchObject({ status: 'True' });
    expect(running.status.endpoint).toEqual({
      inferenceService: 'qwen-chat',
      url: `http://qwen-chat-${orch.namespace}.example.com`,
      internalUrl: `http://qwen-chat-predictor.${orch.namespace}.svc.cluster.local`,
    });
    expect(running.status.workflow.id).toBe(`aim/AIMService/${orch.namespace}/qwen-chat`);
    expect(JSON.stringify(running)).not.toContain(SECRET);

    // Operators find it in the Temporal UI / CLI by search attributes.
    const query = `AimKind = "AIMService" AND AimNamespace = "${orch.namespace}" AND AimName = "qwen-chat" AND AimStatus = "Running"`;
    const deadline = Date.now() + 20_000;
    let found = 0;
    while (Date.now() < deadline && found === 0) {
      for await (const _w of orch.client.workflow.list({ query })) found += 1;
      if (!found) await new Promise((r) => setTimeout(r, 500));
    }
    expect(found).toBe(1);

    // Histories of this run, for the replay test (RECORD_HISTORIES=1); secrets never enter them.
    for (const [id, file] of [
      [`aim/AIMService/${orch.namespace}/qwen-chat`, 'serviceLifecycle-scenario3'],
      [`aim/AIMModelCache/${orch.namespace}/${running.status.caches[0].name}`, 'cacheLifecycle-scenario3'],
    ] as const) {
      const history = await historyJSON(orch.client, id);
      expect(history).not.toContain(SECRET);
      expect(history).not.toContain(ACCESS);
      writeHistory(file, history);
    }
  });

  it('a second service with the same request reuses the model, now owned by both (scenario 4)', async () => {
    await orch.objects.create(RESOURCES.AIMService, customService('qwen-chat-2') as never);
    await orch.startService('qwen-chat-2', orch.namespace);
    const s = await svc('qwen-chat-2', (x) => x.status?.resolvedModel?.name);
    const first = await orch.objects.get<any>(RESOURCES.AIMService, 'qwen-chat', orch.namespace);
    expect(s.status.resolvedModel.name).toBe(first.status.resolvedModel.name);
    const model = await waitForObject<any>(
      orch.objects,
      RESOURCES.AIMModel,
      s.status.resolvedModel.name,
      orch.namespace,
      (m) => m.metadata.ownerReferences?.length === 2,
    );
    expect(model.metadata.ownerReferences.map((o: any) => o.name).sort()).toEqual(['qwen-chat', 'qwen-chat-2']);
  });

  it('updating replicas and env changes the InferenceService without a new download (scenario 14)', async () => {
    const current = await orch.objects.get<any>(RESOURCES.AIMService, 'qwen-chat', orch.namespace);
    const cacheJobs = async () =>
      (
        await batch.listNamespacedJob({
          namespace: orch.namespace,
          labelSelector: `aim.silogen.ai/cache=${current.status.caches[0].name}`,
        })
      ).items.length;
    const jobsBefore = await cacheJobs();
    current.spec.replicas = 2;
    current.spec.env = [{ name: 'VLLM_LOGGING_LEVEL', value: 'DEBUG' }];
    await orch.objects.replace(RESOURCES.AIMService, current);
    await orch.startService('qwen-chat', orch.namespace);
    const isvc = await waitForObject<any>(
      orch.objects,
      RESOURCES.InferenceService,
      'qwen-chat',
      orch.namespace,
      (i) => i.spec.predictor.minReplicas === 2,
    );
    expect(isvc.spec.predictor.maxReplicas).toBe(2);
    expect(isvc.spec.predictor.containers[0].env).toContainEqual({ name: 'VLLM_LOGGING_LEVEL', value: 'DEBUG' });
    expect(await cacheJobs()).toBe(jobsBefore);
  });

  it('a cache deleted under a running service is recreated; the InferenceService rolls once onto it', async () => {
    const before = await orch.objects.get<any>(RESOURCES.AIMService, 'qwen-chat', orch.namespace);
    const cacheName = before.status.caches[0].name;
    const oldCache = await orch.objects.get<any>(RESOURCES.AIMModelCache, cacheName, orch.namespace);
    await orch.objects.delete(RESOURCES.AIMModelCache, cacheName, orch.namespace);
    await orch.startService('qwen-chat', orch.namespace);
    const degraded = await svc('qwen-chat', (s) => s.status?.status === 'Degraded');
    expect(condition(degraded, 'CacheReady')).toMatchObject({ status: 'False', reason: 'CacheRecreating' });
    const isvcMeanwhile = await orch.objects.get<any>(RESOURCES.InferenceService, 'qwen-chat', orch.namespace);
    expect(JSON.stringify(isvcMeanwhile.spec.predictor.volumes)).toContain(oldCache.status.persistentVolumeClaim);
    const fresh = await waitForObject<any>(
      orch.objects,
      RESOURCES.AIMModelCache,
      cacheName,
      orch.namespace,
      (c) => c.metadata.uid !== oldCache.metadata.uid && c.status?.status === 'Ready',
      180_000,
    );
    const isvc = await waitForObject<any>(orch.objects, RESOURCES.InferenceService, 'qwen-chat', orch.namespace, (i) =>
      JSON.stringify(i.spec.predictor.volumes).includes(fresh.status.persistentVolumeClaim),
    );
    expect(JSON.stringify(isvc.spec.predictor.volumes)).not.toContain(oldCache.status.persistentVolumeClaim);
    await svc('qwen-chat', (s) => s.status?.status === 'Running');
  });

  it('deleting a service removes its finalizer and owned objects; the shared model stays while another owner remains', async () => {
    const s = await orch.objects.get<any>(RESOURCES.AIMService, 'qwen-chat', orch.namespace);
    const modelName = s.status.resolvedModel.name;
    const cacheName = s.status.caches[0].name;
    await orch.objects.delete(RESOURCES.AIMService, 'qwen-chat', orch.namespace);
    await orch.client.workflow
      .getHandle(`aim/AIMService/${orch.namespace}/qwen-chat`)
      .signal('deleted', { uid: s.metadata.uid });
    await waitForGone(RESOURCES.AIMService, 'qwen-chat');
    await waitForGone(RESOURCES.InferenceService, 'qwen-chat');
    await waitForGone(RESOURCES.AIMModelCache, cacheName);
    expect(await orch.objects.get(RESOURCES.AIMModel, modelName, orch.namespace)).toBeDefined();
  });
});

describe('credentials (scenario 6)', () => {
  it('a missing secret stops before any Job, naming it, and continues once the secret exists', async () => {
    // This service's Jobs only: the garbage collector may still be removing those of the previous test's service.
    const jobsOfLate = async () =>
      (await batch.listNamespacedJob({ namespace: orch.namespace })).items.filter((j) =>
        j.metadata?.name?.startsWith('qwen-late'),
      );
    await orch.objects.create(RESOURCES.AIMService, customService('qwen-late', 'late-credentials') as never);
    await orch.startService('qwen-late', orch.namespace);
    const pending = await svc('qwen-late', (s) => condition(s, 'AuthValid')?.status === 'False');
    expect(pending.status.status).toBe('Pending');
    expect(condition(pending, 'AuthValid')).toMatchObject({ reason: 'SecretNotFound' });
    expect(condition(pending, 'AuthValid').message).toContain(`secret ${orch.namespace}/late-credentials not found`);
    expect(await jobsOfLate()).toEqual([]);

    await createSecret('late-credentials');
    await orch.client.workflow.getHandle(`aim/AIMService/${orch.namespace}/qwen-late`).signal('retry', { uid: '' });
    await svc('qwen-late', (s) => condition(s, 'CacheReady')?.status === 'True', 180_000);
    await orch.waitForServing('qwen-late');
    await orch.startService('qwen-late', orch.namespace);
    await svc('qwen-late', (s) => s.status?.status === 'Running');
  });
});

const waitForGone = (res: (typeof RESOURCES)[keyof typeof RESOURCES], name: string, timeoutMs = 60_000) =>
  waitForObjectGone(orch.objects, res, name, orch.namespace, timeoutMs);
