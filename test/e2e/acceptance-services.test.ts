/* eslint-disable @typescript-eslint/no-explicit-any -- objects are asserted field by field */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { exampleSecret } from '../cases/examples.js';
import { deterministicBytes } from '../harness/fixtures.js';
import { waitForObject } from '../harness/orchestrator.js';
import { waitFor } from '../harness/processes.js';
import {
  condition,
  EXAMPLE_BUCKET,
  putTinyModel,
  startAcceptance,
  SCENARIO,
  type AcceptanceFixture,
} from '../harness/scenarios.js';

/**
 * Acceptance, spec section 10, scenarios 3, 4, 6, 12 and 14: AIMServices with `spec.model.custom` on S3, driven the
 * way a user drives them — `kubectl apply --server-side` of examples/ (Secrets included), `kubectl delete`, and the
 * bridge turning every change into workflow starts and nudges. The test sends no signal and starts no workflow; it
 * only plays KServe (marks an InferenceService Ready).
 */
let e2e: AcceptanceFixture;
const WEIGHTS = deterministicBytes('e2e-services/weights', 512 * 1024);
const MODEL_DIR = 'Qwen/Qwen2-0.5B';

beforeAll(async () => {
  e2e = await startAcceptance();
  // scenarios 3/4 use the examples' own prefix; every other scenario gets its own, so that each one's auto-created
  // model is its own (the model identity includes the source).
  for (const prefix of ['qwen2-0.5b', 'qwen-late', 'qwen-shared'])
    await putTinyModel(e2e.s3, EXAMPLE_BUCKET, prefix, WEIGHTS);
}, 240_000);

afterAll(async () => {
  await e2e?.stop();
});

const get = (res: (typeof RESOURCES)[keyof typeof RESOURCES], name: string) =>
  e2e.orch.objects.get<any>(res, name, res.namespaced ? e2e.namespace : undefined);

describe('3 AIMService with spec.model.custom from S3 (examples/aimservice-custom-s3.yaml)', SCENARIO, () => {
  let svc: any;
  let model: any;
  let cache: any;

  it('auto-creates the model with the labels and the owner reference of section 4, and one template', async () => {
    await e2e.apply(e2e.s3Service('qwen-chat'));
    svc = await e2e.service('qwen-chat', (s) => s.status?.resolvedModel?.name && s.status?.resolvedTemplate?.name);
    const name = svc.status.resolvedModel.name;
    expect(name).toMatch(/^qwen-qwen2-0-5b-[0-9a-f]{8}$/);
    model = await get(RESOURCES.AIMModel, name);
    expect(model.metadata.labels).toMatchObject({
      'aim.silogen.ai/origin': 'auto-generated',
      'aim.silogen.ai/custom-model': 'true',
      'aim.silogen.ai/custom-identity': name.slice(-8),
      'app.kubernetes.io/managed-by': 'aim-orchestrator',
    });
    expect(model.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'AIMService', name: 'qwen-chat', uid: svc.metadata.uid, controller: false }),
    ]);
    // Exactly {image, modelSources, hardware}; credentials stay on the service.
    expect(Object.keys(model.spec).sort()).toEqual(['hardware', 'image', 'modelSources']);
    expect(model.spec.modelSources[0].env).toEqual([{ name: 'AWS_ENDPOINT_URL', value: e2e.s3.endpoint }]);

    const templates = await e2e.orch.objects.list<any>(RESOURCES.AIMServiceTemplate, e2e.namespace, {
      labelSelector: `aim.silogen.ai/model=${name}`,
    });
    expect(templates.map((t) => t.metadata.name)).toEqual([svc.status.resolvedTemplate.name]);
    expect(templates[0].metadata.ownerReferences[0]).toMatchObject({ kind: 'AIMModel', name, controller: true });
  });

  it('creates a Dedicated cache and its PVC; the download Job copies the objects into {modelId}/ on the volume', async () => {
    svc = await e2e.service('qwen-chat', (s) => condition(s, 'CacheReady')?.status === 'True', 180_000);
    expect(svc.status.caches).toHaveLength(1);
    cache = await get(RESOURCES.AIMModelCache, svc.status.caches[0].name);
    expect(cache.metadata.labels).toMatchObject({
      'aim.silogen.ai/cache-mode': 'dedicated',
      'aim.silogen.ai/service': 'qwen-chat',
    });
    expect(cache.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'AIMService', name: 'qwen-chat', controller: true }),
    ]);
    expect(cache.spec.accessMode).toBe('ReadWriteOnce');
    expect(cache.status).toMatchObject({ status: 'Ready', mode: 'Dedicated', verified: true });

    const pvcs = await e2e.pvcsOf(cache.metadata.name);
    expect(pvcs.map((p) => p.metadata!.name)).toEqual([`${cache.metadata.name}-${cache.metadata.uid.slice(0, 8)}`]);
    expect(pvcs[0]!.metadata!.ownerReferences?.[0]).toMatchObject({ kind: 'AIMModelCache', controller: true });
    const jobs = await e2e.jobsOf(cache.metadata.name);
    expect(jobs.map((j) => j.metadata!.name).sort()).toEqual([
      `${cache.metadata.name}-dl-1`,
      `${cache.metadata.name}-probe-1`,
    ]);
    expect(jobs.every((j) => j.status?.succeeded === 1)).toBe(true);

    const volume = await e2e.orch.kubelet.volumePath(e2e.namespace, cache.status.persistentVolumeClaim);
    expect(readFileSync(join(volume, MODEL_DIR, 'model.safetensors')).equals(WEIGHTS)).toBe(true);
    expect(readFileSync(join(volume, MODEL_DIR, 'config.json'), 'utf8')).toBe('{"model_type":"qwen2"}\n');
  });

  it('deploys an InferenceService mounting the cache, and is Running once KServe says Ready', async () => {
    const isvc = await waitForObject<any>(
      e2e.orch.objects,
      RESOURCES.InferenceService,
      'qwen-chat',
      e2e.namespace,
      () => true,
    );
    expect(isvc.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'AIMService', name: 'qwen-chat', controller: true }),
    ]);
    expect(isvc.metadata.labels).toMatchObject({
      'aim.silogen.ai/service': 'qwen-chat',
      'aim.silogen.ai/model': model.metadata.name,
      'aim.silogen.ai/template': svc.status.resolvedTemplate.name,
    });
    expect(isvc.metadata.annotations).toMatchObject({
      'serving.kserve.io/deploymentMode': 'RawDeployment',
      'serving.kserve.io/autoscalerClass': 'none',
    });
    const container = isvc.spec.predictor.containers[0];
    expect(container.image).toBe('ghcr.io/silogen/aim-base:0.8');
    expect(container.volumeMounts).toContainEqual(
      expect.objectContaining({ mountPath: `/workspace/model-cache/${MODEL_DIR}`, subPath: MODEL_DIR, readOnly: true }),
    );
    expect(JSON.stringify(isvc.spec.predictor.volumes)).toContain(cache.status.persistentVolumeClaim);
    expect(container.env).toContainEqual({ name: 'AIM_MODEL_ID', value: MODEL_DIR });
    expect(JSON.stringify(container.env)).not.toContain('AWS_SECRET_ACCESS_KEY');

    // KServe has not said Ready yet: the service is not Running.
    const waiting = await get(RESOURCES.AIMService, 'qwen-chat');
    expect(waiting.status.status).not.toBe('Running');
    const running = await e2e.runToRunning('qwen-chat');
    expect(condition(running, 'Ready')).toMatchObject({ status: 'True' });
    expect(condition(running, 'InferenceServiceReady')).toMatchObject({ status: 'True' });
    expect(JSON.stringify(running)).not.toContain(e2e.s3SecretKey);
    const resolved = await e2e.eventFor('qwen-chat', 'ModelResolved');
    expect(resolved).toMatchObject({ type: 'Normal', message: expect.stringContaining(model.metadata.name) });
    const events = await e2e.eventsFor('qwen-chat');
    expect(JSON.stringify(events)).not.toContain(e2e.s3SecretKey);
  });
});

describe('4 a second service with the same custom request reuses the model', SCENARIO, () => {
  let modelName: string;

  it('resolves to the same model, now owned by both services', async () => {
    await e2e.apply(e2e.s3Service('qwen-chat-2'));
    const second = await e2e.service('qwen-chat-2', (s) => s.status?.resolvedModel?.name);
    const first = await get(RESOURCES.AIMService, 'qwen-chat');
    modelName = first.status.resolvedModel.name;
    expect(second.status.resolvedModel.name).toBe(modelName);
    const model = await waitForObject<any>(
      e2e.orch.objects,
      RESOURCES.AIMModel,
      modelName,
      e2e.namespace,
      (m) => m.metadata.ownerReferences?.length === 2,
    );
    expect(model.metadata.ownerReferences.map((o: any) => o.name).sort()).toEqual(['qwen-chat', 'qwen-chat-2']);
    expect(model.metadata.ownerReferences.every((o: any) => o.controller === false)).toBe(true);
  });

  it('deleting the first removes what it owns and keeps the model', async () => {
    const first = await get(RESOURCES.AIMService, 'qwen-chat');
    const cacheName = first.status.caches[0].name;
    await e2e.orch.objects.delete(RESOURCES.AIMService, 'qwen-chat', e2e.namespace);
    await e2e.gone(RESOURCES.AIMService, 'qwen-chat');
    await e2e.gone(RESOURCES.InferenceService, 'qwen-chat');
    await e2e.gone(RESOURCES.AIMModelCache, cacheName);
    const model = await get(RESOURCES.AIMModel, modelName);
    expect(model?.metadata.deletionTimestamp).toBeUndefined();
    expect(model.metadata.ownerReferences.map((o: any) => o.name)).toContain('qwen-chat-2');
  });

  it('deleting the second lets garbage collection remove the model and its template', async () => {
    await e2e.orch.objects.delete(RESOURCES.AIMService, 'qwen-chat-2', e2e.namespace);
    await e2e.gone(RESOURCES.AIMService, 'qwen-chat-2');
    await e2e.gone(RESOURCES.AIMModel, modelName, 90_000);
    const templates = await e2e.orch.objects.list<any>(RESOURCES.AIMServiceTemplate, e2e.namespace, {
      labelSelector: `aim.silogen.ai/model=${modelName}`,
    });
    // GC of the template follows the model's; it may still be terminating.
    expect(templates.every((t) => t.metadata.deletionTimestamp)).toBe(true);
  });
});

describe('6 a missing Secret', SCENARIO, () => {
  it('stops at AuthValid=False/SecretNotFound naming it, before any Job', async () => {
    await e2e.apply(e2e.s3Service('qwen-late', { prefix: 'qwen-late', secret: 'late-credentials' }));
    const s = await e2e.service('qwen-late', (x) => condition(x, 'AuthValid')?.status === 'False');
    expect(s.status.status).toBe('Pending');
    expect(condition(s, 'AuthValid')).toMatchObject({ reason: 'SecretNotFound' });
    expect(condition(s, 'AuthValid').message).toContain(`${e2e.namespace}/late-credentials not found (key access-key`);
    const jobs = (await e2e.batch.listNamespacedJob({ namespace: e2e.namespace })).items;
    expect(jobs.filter((j) => j.metadata!.name!.startsWith('qwen-late'))).toEqual([]);
    expect(s.status.caches ?? []).toEqual([]);
    const event = await e2e.eventFor('qwen-late', 'SecretNotFound');
    expect(event).toMatchObject({ type: 'Warning', message: expect.stringContaining('late-credentials') });
  });

  it('continues by itself to Running once the Secret is applied (no nudge)', async () => {
    const secret = exampleSecret('secret-s3-credentials.yaml', {
      'access-key': e2e.s3.accessKey,
      'secret-key': e2e.s3.secretKey,
    });
    secret.metadata.name = 'late-credentials';
    await e2e.apply(secret);
    await e2e.service('qwen-late', (s) => condition(s, 'AuthValid')?.status === 'True', 120_000);
    const running = await e2e.runToRunning('qwen-late');
    expect(running.status.caches).toHaveLength(1);
  });
});

describe('12 two services with caching.mode Shared (examples/aimservice-custom-s3-shared.yaml)', SCENARIO, () => {
  it('share one cache, one PVC and one download Job, and both run', async () => {
    const shared = (name: string) =>
      e2e.s3Service(name, { file: 'aimservice-custom-s3-shared.yaml', prefix: 'qwen-shared' });
    await e2e.apply(shared('shared-a'));
    await e2e.apply(shared('shared-b'));
    const [a, b] = await Promise.all([e2e.runToRunning('shared-a'), e2e.runToRunning('shared-b')]);
    expect(a.status.caches).toHaveLength(1);
    expect(b.status.caches.map((c: any) => c.name)).toEqual([a.status.caches[0].name]);
    const cache = await get(RESOURCES.AIMModelCache, a.status.caches[0].name);
    expect(cache.metadata.name).toMatch(/^qwen-qwen2-0-5b-[0-9a-f]{8}$/);
    expect(cache.metadata.labels['aim.silogen.ai/cache-mode']).toBe('shared');
    expect(cache.metadata.ownerReferences ?? []).toEqual([]);
    expect(cache.status).toMatchObject({ status: 'Ready', mode: 'Shared' });
    expect(await e2e.pvcsOf(cache.metadata.name)).toHaveLength(1);
    const downloads = (await e2e.jobsOf(cache.metadata.name)).filter((j) => j.metadata!.name!.includes('-dl-'));
    expect(downloads.map((j) => j.metadata!.name)).toEqual([`${cache.metadata.name}-dl-1`]);
    const caches = await e2e.orch.objects.list<any>(RESOURCES.AIMModelCache, e2e.namespace);
    expect(caches.filter((c) => c.spec.sourceUri === 's3://models/qwen-shared')).toHaveLength(1);
  });
});

describe('14 updates and deletion', SCENARIO, () => {
  it('replicas and env changes reach the InferenceService without a new Job', async () => {
    const s = await get(RESOURCES.AIMService, 'shared-a');
    const cacheName = s.status.caches[0].name;
    const jobsBefore = (await e2e.jobsOf(cacheName)).map((j) => j.metadata!.name).sort();
    const edited = e2e.s3Service('shared-a', { file: 'aimservice-custom-s3-shared.yaml', prefix: 'qwen-shared' });
    edited.spec.replicas = 2;
    edited.spec.env = [{ name: 'VLLM_LOGGING_LEVEL', value: 'DEBUG' }];
    await e2e.apply(edited);
    const isvc = await waitForObject<any>(
      e2e.orch.objects,
      RESOURCES.InferenceService,
      'shared-a',
      e2e.namespace,
      (i) => i.spec.predictor.minReplicas === 2,
    );
    expect(isvc.spec.predictor.maxReplicas).toBe(2);
    expect(isvc.spec.predictor.containers[0].env).toContainEqual({ name: 'VLLM_LOGGING_LEVEL', value: 'DEBUG' });
    // The edit is handled (observedGeneration) and the service keeps running on the same cache.
    await e2e.service(
      'shared-a',
      (x) => x.status?.observedGeneration === x.metadata.generation && x.status?.status === 'Running',
    );
    expect((await e2e.jobsOf(cacheName)).map((j) => j.metadata!.name).sort()).toEqual(jobsBefore);
  });

  it('deleting a Shared service removes its InferenceService and leaves the Shared cache and its PVC', async () => {
    const s = await get(RESOURCES.AIMService, 'shared-a');
    const cacheName = s.status.caches[0].name;
    await e2e.orch.objects.delete(RESOURCES.AIMService, 'shared-a', e2e.namespace);
    await e2e.gone(RESOURCES.AIMService, 'shared-a');
    await e2e.gone(RESOURCES.InferenceService, 'shared-a');
    const cache = await get(RESOURCES.AIMModelCache, cacheName);
    expect(cache?.metadata.deletionTimestamp).toBeUndefined();
    expect(await e2e.pvcsOf(cacheName)).toHaveLength(1);
    expect((await get(RESOURCES.AIMService, 'shared-b')).status.status).toBe('Running');
  });

  it('deleting a Dedicated service removes its InferenceService, cache, PVC and Jobs', async () => {
    const s = await get(RESOURCES.AIMService, 'qwen-late');
    const cacheName = s.status.caches[0].name;
    await e2e.orch.objects.delete(RESOURCES.AIMService, 'qwen-late', e2e.namespace);
    await e2e.gone(RESOURCES.AIMService, 'qwen-late');
    await e2e.gone(RESOURCES.InferenceService, 'qwen-late');
    await e2e.gone(RESOURCES.AIMModelCache, cacheName);
    const none = async (list: () => Promise<unknown[]>) => ((await list()).length === 0 ? true : undefined);
    await waitFor('PVC gone', () => none(() => e2e.pvcsOf(cacheName)), { timeoutMs: 60_000, intervalMs: 500 });
    await waitFor('Jobs gone', () => none(() => e2e.jobsOf(cacheName)), { timeoutMs: 60_000, intervalMs: 500 });
  });
});
