/* eslint-disable @typescript-eslint/no-explicit-any -- objects are asserted field by field */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { example, type Manifest } from '../cases/examples.js';
import { contentBuffer, deterministicBytes, modelFiles, PRIVATE_REPO } from '../harness/fixtures.js';
import { waitForObject } from '../harness/orchestrator.js';
import { waitFor } from '../harness/processes.js';
import {
  condition,
  EXAMPLE_BUCKET,
  putTinyModel,
  startAcceptance,
  useHub,
  useS3,
  SCENARIO,
  type AcceptanceFixture,
} from '../harness/scenarios.js';

/**
 * Acceptance, spec section 10, scenarios 1, 2 and 13: models a user creates (Path 1) and a cluster-wide model used
 * by a service in a namespace, applied from examples/ with `kubectl apply --server-side`; the bridge does the rest.
 */
let e2e: AcceptanceFixture;
const WEIGHTS = deterministicBytes('e2e-models/weights', 512 * 1024);
let clusterModel = '';

beforeAll(async () => {
  e2e = await startAcceptance({ hub: true });
  await putTinyModel(e2e.s3, EXAMPLE_BUCKET, 'qwen2-0.5b', WEIGHTS);
}, 240_000);

afterAll(async () => {
  // Cluster-scoped: it would outlive the namespace.
  if (clusterModel) await e2e?.orch.objects.delete(RESOURCES.AIMClusterModel, clusterModel);
  await e2e?.stop();
});

/** An S3 model example pointed at the local S3 server (the examples' bucket and prefix). */
function s3Model(file: string): Manifest {
  const m = example(file);
  for (const s of m.spec.modelSources as any[]) useS3(s, e2e.s3.endpoint);
  return m;
}

const modelReady = (name: string) =>
  waitForObject<any>(e2e.orch.objects, RESOURCES.AIMModel, name, e2e.namespace, (m) => m.status?.status === 'Ready');

const templatesOf = async (res: typeof RESOURCES.AIMServiceTemplate, model: string, namespace?: string) =>
  (await e2e.orch.objects.list<any>(res, namespace, { labelSelector: `aim.silogen.ai/model=${model}` })).sort((a, b) =>
    a.metadata.name.localeCompare(b.metadata.name),
  );

describe(
  '1 AIMModel with an S3 source and four custom templates (examples/aimmodel-s3-custom-templates.yaml)',
  SCENARIO,
  () => {
    it('builds templates named per section 3 with merged hardware, types and env', async () => {
      await e2e.apply(s3Model('aimmodel-s3-custom-templates.yaml'));
      const templates = await waitFor(
        'the four templates of qwen-small',
        async () => {
          const ts = await templatesOf(RESOURCES.AIMServiceTemplate, 'qwen-small', e2e.namespace);
          return ts.length === 4 ? ts : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 300 },
      );
      expect(templates.map((t) => t.metadata.name)).toEqual([
        'qwen-small-default',
        'qwen-small-fast',
        'qwen-small-multi',
        'qwen-small-old',
      ]);
      const by = Object.fromEntries(templates.map((t) => [t.metadata.labels['aim.silogen.ai/template-alias'], t]));
      expect(by.default.spec).toMatchObject({
        type: 'unoptimized',
        hardware: { gpu: { requests: 1, models: ['MI300X'] } },
      });
      expect(by.multi.spec).toMatchObject({
        type: 'unoptimized',
        hardware: { gpu: { requests: 2, models: ['MI300X'] } },
      });
      expect(by.fast.spec).toMatchObject({
        type: 'optimized',
        metric: 'latency',
        precision: 'fp16',
        hardware: { gpu: { requests: 1, models: ['MI300X'] } },
      });
      expect(by.fast.spec.env).toContainEqual({ name: 'VLLM_USE_TRITON_FLASH_ATTN', value: '0' });
      expect(by.old.spec.hardware.gpu).toEqual({ requests: 1, models: ['MI250X'] });
      for (const t of templates) {
        expect(t.metadata.labels).toMatchObject({
          'aim.silogen.ai/model': 'qwen-small',
          'aim.silogen.ai/origin': 'auto-generated',
          'app.kubernetes.io/managed-by': 'aim-orchestrator',
        });
        expect(t.metadata.ownerReferences).toEqual([
          expect.objectContaining({ kind: 'AIMModel', name: 'qwen-small', controller: true }),
        ]);
        expect(t.spec.modelSources[0]).toMatchObject({
          modelId: 'Qwen/Qwen2-0.5B',
          sourceUri: 's3://models/qwen2-0.5b',
        });
      }
    });

    it('probes the source, marks MI250X NotAvailable on an MI300X node, and is Ready', async () => {
      const m = await modelReady('qwen-small');
      expect(m.status.sourceType).toBe('Custom');
      expect(condition(m, 'ImageMetadataReady')).toMatchObject({ status: 'True', reason: 'CustomModelSkipped' });
      expect(condition(m, 'AuthValid')).toMatchObject({ status: 'True' });
      expect(condition(m, 'SourcesValid')).toMatchObject({ status: 'True' });
      expect(m.status.source).toEqual([{ modelId: 'Qwen/Qwen2-0.5B', totalBytes: WEIGHTS.length + 23, files: 2 }]);

      const templates = await templatesOf(RESOURCES.AIMServiceTemplate, 'qwen-small', e2e.namespace);
      const st = Object.fromEntries(
        templates.map((t) => [t.metadata.labels['aim.silogen.ai/template-alias'], t.status]),
      );
      expect([st.default.status, st.multi.status, st.fast.status, st.old.status]).toEqual([
        'Ready',
        'Ready',
        'Ready',
        'NotAvailable',
      ]);
      expect(st.old.conditions.find((c: any) => c.type === 'HardwareAvailable')).toMatchObject({
        status: 'False',
        reason: 'GPUNotAvailable',
      });
      expect(st.multi.hardwareSummary).toBe('2 x MI300X');
      expect(await e2e.eventFor('qwen-small-old', 'GPUNotAvailable')).toMatchObject({ type: 'Warning' });
    });

    it('a service by name (examples/aimservice-by-name.yaml) selects its template and runs the download Job', async () => {
      await e2e.apply(example('aimservice-by-name.yaml'));
      const s = await e2e.service('qwen-fast', (x) => condition(x, 'CacheReady')?.status === 'True', 180_000);
      expect(s.status.resolvedModel).toMatchObject({ kind: 'AIMModel', name: 'qwen-small' });
      expect(s.status.resolvedTemplate).toMatchObject({ name: 'qwen-small-fast' });
      const cache = await e2e.orch.objects.get<any>(RESOURCES.AIMModelCache, s.status.caches[0].name, e2e.namespace);
      // Two replicas: the volume must be shared across nodes.
      expect(cache.spec.accessMode).toBe('ReadWriteMany');
      const jobs = await e2e.jobsOf(cache.metadata.name);
      const download = jobs.find((j) => j.metadata!.name === `${cache.metadata.name}-dl-1`);
      expect(download?.status?.succeeded).toBe(1);
      const volume = await e2e.orch.kubelet.volumePath(e2e.namespace, cache.status.persistentVolumeClaim);
      expect(readFileSync(join(volume, 'Qwen/Qwen2-0.5B/model.safetensors')).equals(WEIGHTS)).toBe(true);

      const running = await e2e.runToRunning('qwen-fast');
      expect(condition(running, 'Ready')).toMatchObject({ status: 'True' });
      const isvc = await e2e.orch.objects.get<any>(RESOURCES.InferenceService, 'qwen-fast', e2e.namespace);
      expect(isvc.spec.predictor).toMatchObject({ minReplicas: 2, maxReplicas: 2 });
      const container = isvc.spec.predictor.containers[0];
      expect(container.resources.limits).toMatchObject({ memory: '96Gi', 'amd.com/gpu': '1' });
      expect(container.env).toEqual(
        expect.arrayContaining([
          { name: 'AIM_METRIC', value: 'latency' },
          { name: 'AIM_PRECISION', value: 'fp16' },
          { name: 'VLLM_USE_TRITON_FLASH_ATTN', value: '0' },
          { name: 'VLLM_LOGGING_LEVEL', value: 'INFO' },
        ]),
      );
    });
  },
);

describe('2 AIMModel without custom templates (examples/aimmodel-s3-default-template.yaml)', SCENARIO, () => {
  it('gets exactly one template with the spec hardware and type unoptimized', async () => {
    const m = example('aimmodel-s3-default-template.yaml');
    // The example reads a public bucket; the local S3 server wants the keys of examples/secret-s3-credentials.yaml.
    const creds = example('aimmodel-s3-custom-templates.yaml').spec.modelSources as any[];
    (m.spec.modelSources as any[])[0].env = structuredClone(creds[0].env);
    useS3((m.spec.modelSources as any[])[0], e2e.s3.endpoint);
    await e2e.apply(m);
    await modelReady('qwen-plain');
    const templates = await templatesOf(RESOURCES.AIMServiceTemplate, 'qwen-plain', e2e.namespace);
    expect(templates).toHaveLength(1);
    expect(templates[0].metadata.name).toMatch(/^qwen-plain-custom-mi300x-[0-9a-f]{8}$/);
    expect(templates[0].spec).toMatchObject({
      type: 'unoptimized',
      hardware: { gpu: { requests: 1, models: ['MI300X'] }, cpu: { requests: '4', limits: '8' } },
    });
    expect(templates[0].status.status).toBe('Ready');
  });
});

describe('13 an AIMClusterModel used by a service in a namespace (examples/aimclustermodel-hf.yaml)', SCENARIO, () => {
  it('has cluster-scoped templates and leaves source validation to each namespace', async () => {
    const cm = example('aimclustermodel-hf.yaml');
    clusterModel = `${cm.metadata.name}-${e2e.namespace}`;
    cm.metadata.name = clusterModel;
    useHub((cm.spec.modelSources as any[])[0], e2e.hub!.endpoint, PRIVATE_REPO, true);
    await e2e.apply(cm);
    const m = await waitForObject<any>(
      e2e.orch.objects,
      RESOURCES.AIMClusterModel,
      clusterModel,
      undefined,
      (o) => o.status?.status === 'Ready',
    );
    expect(condition(m, 'SourcesValid')).toMatchObject({ status: 'Unknown', reason: 'ValidatedPerNamespace' });
    const templates = await templatesOf(RESOURCES.AIMClusterServiceTemplate, clusterModel);
    expect(templates).toHaveLength(1);
    expect(templates[0].metadata.namespace).toBeUndefined();
    expect(templates[0].metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'AIMClusterModel', name: clusterModel, controller: true }),
    ]);
    expect(templates[0].spec).toMatchObject({ type: 'preview', hardware: { gpu: { requests: 1, minVram: '64Gi' } } });
    expect(await templatesOf(RESOURCES.AIMServiceTemplate, clusterModel, e2e.namespace)).toEqual([]);
  });

  it('the service (examples/aimservice-cluster-model.yaml) resolves secrets and downloads in its namespace', async () => {
    const svc = example('aimservice-cluster-model.yaml');
    (svc.spec.model as any).name = clusterModel;
    e2e.hub!.resetCounters();
    await e2e.apply(svc);
    const s = await e2e.service('llama-team-a', (x) => condition(x, 'CacheReady')?.status === 'True', 180_000);
    expect(s.status.resolvedModel).toMatchObject({ kind: 'AIMClusterModel', name: clusterModel });
    expect(s.status.resolvedTemplate.kind).toBe('AIMClusterServiceTemplate');
    expect(condition(s, 'AuthValid')).toMatchObject({ status: 'True' });
    const cache = await e2e.orch.objects.get<any>(RESOURCES.AIMModelCache, s.status.caches[0].name, e2e.namespace);
    expect(cache.metadata.namespace).toBe(e2e.namespace);
    expect((await e2e.jobsOf(cache.metadata.name)).map((j) => j.metadata!.namespace)).toEqual([
      e2e.namespace,
      e2e.namespace,
    ]);
    // The token-only repo was read with the token from the hf-token Secret of this namespace.
    const repoRequests = e2e.hub!.requests().filter((r) => r.path.includes(PRIVATE_REPO));
    expect(repoRequests.length).toBeGreaterThan(0);
    expect(repoRequests.some((r) => r.auth === 'valid')).toBe(true);
    const volume = await e2e.orch.kubelet.volumePath(e2e.namespace, cache.status.persistentVolumeClaim);
    const expected = contentBuffer(modelFiles(PRIVATE_REPO)['config.json']!);
    expect(readFileSync(join(volume, PRIVATE_REPO, 'config.json')).equals(expected)).toBe(true);

    await e2e.runToRunning('llama-team-a');
    expect(
      JSON.stringify(await e2e.orch.objects.get(RESOURCES.AIMService, 'llama-team-a', e2e.namespace)),
    ).not.toContain(e2e.hub!.token);
  });
});
