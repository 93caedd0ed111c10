import { mkdtempSync, rmSync } from 'node:fs';
import { historyJSON, writeHistory } from '../harness/recordHistory.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { example, type Manifest } from '../cases/examples.js';
import { kubeRequest } from '../harness/kube.js';
import { startOrchestrator, waitForObject, type OrchestratorFixture } from '../harness/orchestrator.js';
import { condition, putTinyModel } from '../harness/scenarios.js';
import { startS3Server, type S3Server } from '../harness/s3Server.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- status shapes are asserted field by field */

/**
 * The AIMModel lifecycle (Path 1) against a real API server, a real Temporal server, a process kubelet running the
 * probe Job and a real S3 server: spec 10 scenarios 1 (model part) and 2, plus edits, deletion, invalid specs,
 * missing secrets, a wrong bucket and two workers.
 */
let orch: OrchestratorFixture;
let s3: S3Server;
const work = mkdtempSync(join(tmpdir(), 'aim-model-it-'));
const ACCESS = 'modelaccess';
const SECRET = 'model-secret-value-1';

beforeAll(async () => {
  [orch, s3] = await Promise.all([
    startOrchestrator({
      kubeconfigPath: inject('kubeconfigPath'),
      temporalAddress: inject('temporalAddress'),
      temporalNamespace: inject('temporalNamespace'),
      gpu: { vendor: 'amd', product: 'AMD_Instinct_MI300X_OAM', vramMiB: 192 * 1024, count: 8 },
      workers: 2,
    }),
    startS3Server({ workDir: join(work, 's3'), accessKey: ACCESS, secretKey: SECRET }),
  ]);
  await s3.createBucket('models');
  await putTinyModel(s3, 'models', 'qwen2-0.5b', Buffer.alloc(64 * 1024, 7));
  await orch.core.createNamespacedSecret({
    namespace: orch.namespace,
    body: { metadata: { name: 's3-credentials' }, stringData: { 'access-key': ACCESS, 'secret-key': SECRET } },
  });
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([orch?.stop(), s3?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

/** An example model pointed at the local S3 server, in the test namespace. */
function model(file: string, name: string): Manifest {
  const m = example(file);
  m.metadata = { name, namespace: orch.namespace };
  for (const s of (m.spec.modelSources as any[]) ?? []) {
    s.env = [
      { name: 'AWS_ENDPOINT_URL', value: s3.endpoint },
      { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3-credentials', key: 'access-key' } } },
      { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 's3-credentials', key: 'secret-key' } } },
    ];
  }
  return m;
}

async function apply(m: Manifest): Promise<Manifest> {
  const res = RESOURCES[m.kind as 'AIMModel'];
  const existing = await orch.objects.get<Manifest>(res, m.metadata.name, m.metadata.namespace);
  const out = existing
    ? await orch.objects.replace(res, {
        ...m,
        metadata: { ...m.metadata, resourceVersion: (existing.metadata as any).resourceVersion },
      } as never)
    : await orch.objects.create(res, m as never);
  await orch.startModel('AIMModel', m.metadata.name, orch.namespace);
  return out as Manifest;
}

const modelStatus = (name: string, until: (m: any) => boolean, timeoutMs?: number) =>
  waitForObject<any>(orch.objects, RESOURCES.AIMModel, name, orch.namespace, until, timeoutMs);

const templatesOf = async (name: string) =>
  (
    await orch.objects.list<any>(RESOURCES.AIMServiceTemplate, orch.namespace, {
      labelSelector: `aim.silogen.ai/model=${name}`,
    })
  ).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));

describe('AIMModel with an S3 source and custom templates (scenario 1)', () => {
  it('builds the templates with merged hardware, probes the source and becomes Ready on an MI300X node', async () => {
    await apply(model('aimmodel-s3-custom-templates.yaml', 'qwen-small'));
    const m = await modelStatus('qwen-small', (o) => o.status?.status === 'Ready');
    expect(m.status.sourceType).toBe('Custom');
    expect(condition(m, 'ImageMetadataReady')).toMatchObject({ status: 'True', reason: 'CustomModelSkipped' });
    expect(condition(m, 'AuthValid')).toMatchObject({ status: 'True' });
    expect(condition(m, 'SourcesValid')).toMatchObject({ status: 'True' });
    expect(m.status.source).toEqual([{ modelId: 'Qwen/Qwen2-0.5B', totalBytes: 64 * 1024 + 23, files: 2 }]);

    const templates = await templatesOf('qwen-small');
    expect(templates.map((t) => t.metadata.name)).toEqual([
      'qwen-small-default',
      'qwen-small-fast',
      'qwen-small-multi',
      'qwen-small-old',
    ]);
    const byAlias = Object.fromEntries(templates.map((t) => [t.metadata.labels['aim.silogen.ai/template-alias'], t]));
    expect(byAlias.default.spec).toMatchObject({
      type: 'unoptimized',
      hardware: { gpu: { requests: 1, models: ['MI300X'] } },
    });
    expect(byAlias.multi.spec.hardware.gpu).toMatchObject({ requests: 2, models: ['MI300X'] });
    expect(byAlias.fast.spec).toMatchObject({ type: 'optimized', metric: 'latency', precision: 'fp16' });
    expect(byAlias.fast.spec.env).toContainEqual({ name: 'VLLM_USE_TRITON_FLASH_ATTN', value: '0' });
    expect(byAlias.old.spec.hardware.gpu.models).toEqual(['MI250X']);
    expect(byAlias.default.metadata.ownerReferences[0]).toMatchObject({
      kind: 'AIMModel',
      name: 'qwen-small',
      controller: true,
    });

    const statuses = await waitForTemplates('qwen-small', (ts) => ts.every((t) => t.status?.status));
    const st = Object.fromEntries(statuses.map((t) => [t.metadata.labels['aim.silogen.ai/template-alias'], t.status]));
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
    expect(st.default.resolvedHardware.gpu.resourceName).toBe('amd.com/gpu');
  });

  it('records this run for the replay test when RECORD_HISTORIES=1', async () => {
    const history = await historyJSON(orch.client, `aim/AIMModel/${orch.namespace}/qwen-small`);
    expect(JSON.parse(history).events.length).toBeGreaterThan(10);
    writeHistory('modelLifecycle-scenario1', history);
  });

  it('shows Source on the model and Hardware and Type on templates in table output', async () => {
    const table = async (plural: string) => {
      const res = await kubeRequest(orch.kc, {
        method: 'GET',
        path: `/apis/aim.silogen.ai/v1alpha1/namespaces/${orch.namespace}/${plural}`,
        accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
      });
      return JSON.parse(res.body) as { columnDefinitions: Array<{ name: string }>; rows: Array<{ cells: unknown[] }> };
    };
    const models = await table('aimmodels');
    const row = models.rows.find((r) => r.cells[0] === 'qwen-small')!;
    expect(row.cells[2]).toBe('Custom');
    const tpls = await table('aimservicetemplates');
    const cols = tpls.columnDefinitions.map((c) => c.name);
    const fast = tpls.rows.find((r) => r.cells[0] === 'qwen-small-fast')!;
    expect(fast.cells[cols.indexOf('Hardware')]).toBe('1 x MI300X');
    expect(fast.cells[cols.indexOf('Type')]).toBe('optimized');
    expect(fast.cells[cols.indexOf('Precision')]).toBe('fp16');
  });

  it('re-evaluates on a Node change: on NVIDIA nodes every MI300X template is NotAvailable and so is the model', async () => {
    await orch.kubelet.setGpu({ vendor: 'nvidia', product: 'NVIDIA-H100-80GB-HBM3', vramMiB: 81559, count: 8 });
    await orch.client.workflow
      .getHandle(`aim/AIMModel/${orch.namespace}/qwen-small`)
      .signal('dependencyChanged', { uid: '' });
    const m = await modelStatus('qwen-small', (o) => o.status?.status === 'NotAvailable');
    expect(condition(m, 'Ready')).toMatchObject({ status: 'False', reason: 'NoTemplatesAvailable' });
    const templates = await templatesOf('qwen-small');
    for (const t of templates)
      expect(condition(t, 'HardwareAvailable')).toMatchObject({ status: 'False', reason: 'GPUNotAvailable' });
    await orch.kubelet.setGpu({ vendor: 'amd', product: 'AMD_Instinct_MI300X_OAM', vramMiB: 192 * 1024, count: 8 });
    await orch.client.workflow
      .getHandle(`aim/AIMModel/${orch.namespace}/qwen-small`)
      .signal('dependencyChanged', { uid: '' });
    await modelStatus('qwen-small', (o) => o.status?.status === 'Ready');
  });

  it('adds, changes and removes templates when customTemplates change', async () => {
    const m = model('aimmodel-s3-custom-templates.yaml', 'qwen-small');
    const tpls = m.spec.customTemplates as any[];
    m.spec.customTemplates = [
      tpls[0],
      { ...tpls[2], profile: { metric: 'latency', precision: 'fp8' } },
      { name: 'big', hardware: { gpu: { requests: 4 } } },
    ];
    await apply(m);
    const ts = await waitForTemplates(
      'qwen-small',
      (all) => all.length === 3 && all.some((t) => t.spec.precision === 'fp8'),
    );
    expect(ts.map((t) => t.metadata.name)).toEqual(['qwen-small-big', 'qwen-small-default', 'qwen-small-fast']);
  });
});

describe('AIMModel without custom templates (scenario 2)', () => {
  it('gets exactly one template with the spec hardware and type unoptimized', async () => {
    await apply(model('aimmodel-s3-default-template.yaml', 'qwen-plain'));
    await modelStatus('qwen-plain', (o) => o.status?.status === 'Ready');
    const templates = await templatesOf('qwen-plain');
    expect(templates).toHaveLength(1);
    expect(templates[0].metadata.name).toMatch(/^qwen-plain-custom-mi300x-[0-9a-f]{8}$/);
    expect(templates[0].spec).toMatchObject({
      type: 'unoptimized',
      hardware: { gpu: { requests: 1, models: ['MI300X'] }, cpu: { requests: '4', limits: '8' } },
    });
  });

  it('deletes its templates with the model (garbage collection)', async () => {
    await orch.objects.delete(RESOURCES.AIMModel, 'qwen-plain', orch.namespace);
    await waitForTemplates('qwen-plain', (ts) => ts.length === 0);
  });
});

describe('failures become conditions, never a log line only', () => {
  it('an object only zod refuses applies nothing, says InvalidSpec naming the field, and recovers', async () => {
    const bad = model('aimmodel-s3-default-template.yaml', 'qwen-bad');
    (bad.spec.modelSources as any[])[0].sourceUri = 's3://Bad_Bucket/x';
    await apply(bad);
    const m = await modelStatus('qwen-bad', (o) => o.status?.status === 'Failed');
    expect(condition(m, 'ConfigValid')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(condition(m, 'ConfigValid').message).toContain('spec.modelSources[0].sourceUri: S3 bucket names');
    expect(await templatesOf('qwen-bad')).toHaveLength(0);
    await apply(model('aimmodel-s3-default-template.yaml', 'qwen-bad'));
    const ok = await modelStatus('qwen-bad', (o) => o.status?.status === 'Ready');
    expect(condition(ok, 'ConfigValid')).toMatchObject({ status: 'True' });
  });

  it('a missing secret gives AuthValid=False/SecretNotFound naming namespace, secret and key', async () => {
    const m = model('aimmodel-s3-default-template.yaml', 'qwen-nosecret');
    (m.spec.modelSources as any[])[0].env = [
      { name: 'AWS_ENDPOINT_URL', value: s3.endpoint },
      { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 'missing-creds', key: 'id' } } },
    ];
    await apply(m);
    const s = await modelStatus('qwen-nosecret', (o) => condition(o, 'AuthValid')?.status === 'False');
    expect(condition(s, 'AuthValid')).toMatchObject({ reason: 'SecretNotFound' });
    expect(condition(s, 'AuthValid').message).toContain(
      `secret ${orch.namespace}/missing-creds not found (key id, for AWS_ACCESS_KEY_ID)`,
    );
    expect(s.status.status).toBe('Failed');
    // Templates are still built.
    expect(await templatesOf('qwen-nosecret')).toHaveLength(1);
  });

  it('a wrong bucket gives SourcesValid=False/SourceNotFound from the probe Job', async () => {
    const m = model('aimmodel-s3-default-template.yaml', 'qwen-nobucket');
    (m.spec.modelSources as any[])[0].sourceUri = 's3://no-such-bucket/qwen';
    (m.spec.modelSources as any[])[0].env = [
      { name: 'AWS_ENDPOINT_URL', value: s3.endpoint },
      { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3-credentials', key: 'access-key' } } },
      { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 's3-credentials', key: 'secret-key' } } },
    ];
    await apply(m);
    const s = await modelStatus('qwen-nobucket', (o) => condition(o, 'SourcesValid')?.status === 'False');
    expect(condition(s, 'SourcesValid')).toMatchObject({ reason: 'SourceNotFound' });
    expect(condition(s, 'SourcesValid').message).toContain('no-such-bucket');
    expect(s.status.status).toBe('Failed');
    expect(JSON.stringify(s)).not.toContain(SECRET);
  });
});

describe('image models, hand-made templates and cluster models', () => {
  it('an image model is Ready with ImageDiscoveryNotSupported and its hand-made template follows the model', async () => {
    const tpl = example('aimservicetemplate-image.yaml');
    tpl.metadata = { name: 'llama-image-mi300x', namespace: orch.namespace };
    await orch.objects.create(RESOURCES.AIMServiceTemplate, tpl as never);
    await orch.startTemplate('AIMServiceTemplate', 'llama-image-mi300x', orch.namespace);
    const pending = await waitForObject<any>(
      orch.objects,
      RESOURCES.AIMServiceTemplate,
      'llama-image-mi300x',
      orch.namespace,
      (t) => t.status?.status === 'Pending',
    );
    expect(condition(pending, 'ModelReady')).toMatchObject({ status: 'False', reason: 'ModelNotFound' });

    await apply({
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModel',
      metadata: { name: 'llama-image', namespace: orch.namespace },
      spec: { image: 'ghcr.io/silogen/llama:1' },
    });
    const m = await modelStatus('llama-image', (o) => o.status?.status === 'Ready');
    expect(m.status.sourceType).toBe('Image');
    expect(condition(m, 'ImageMetadataReady')).toMatchObject({ status: 'True', reason: 'ImageDiscoveryNotSupported' });

    await orch.startTemplate('AIMServiceTemplate', 'llama-image-mi300x', orch.namespace);
    const ready = await waitForObject<any>(
      orch.objects,
      RESOURCES.AIMServiceTemplate,
      'llama-image-mi300x',
      orch.namespace,
      (t) => t.status?.status === 'Ready',
    );
    expect(ready.status.hardwareSummary).toBe('1 x MI300X');
  });

  it('an AIMClusterModel gets cluster-scoped templates and leaves source validation to each namespace', async () => {
    const cm = example('aimclustermodel-hf.yaml');
    cm.metadata = { name: `llama-${orch.namespace}` };
    (cm.spec.hardware as any) = { gpu: { requests: 1, models: ['MI300X'] } };
    await orch.objects.create(RESOURCES.AIMClusterModel, cm as never);
    await orch.startModel('AIMClusterModel', cm.metadata.name);
    const m = await waitForObject<any>(
      orch.objects,
      RESOURCES.AIMClusterModel,
      cm.metadata.name,
      undefined,
      (o) => o.status?.status === 'Ready',
    );
    expect(condition(m, 'SourcesValid')).toMatchObject({ status: 'Unknown', reason: 'ValidatedPerNamespace' });
    const templates = await orch.objects.list<any>(RESOURCES.AIMClusterServiceTemplate, undefined, {
      labelSelector: `aim.silogen.ai/model=${cm.metadata.name}`,
    });
    expect(templates).toHaveLength(1);
    expect(templates[0].metadata.namespace).toBeUndefined();
    expect(templates[0].spec.type).toBe('preview');
    await orch.objects.delete(RESOURCES.AIMClusterModel, cm.metadata.name);
  });
});

describe('two workers, one model', () => {
  it('creates no duplicate template and loses no update', async () => {
    // Both workers of this fixture poll the same task queue; nudge repeatedly to make them race.
    await apply(model('aimmodel-s3-custom-templates.yaml', 'qwen-race'));
    for (let i = 0; i < 5; i++) await orch.startModel('AIMModel', 'qwen-race', orch.namespace);
    await modelStatus('qwen-race', (o) => o.status?.status === 'Ready');
    const templates = await templatesOf('qwen-race');
    expect(templates.map((t) => t.metadata.name)).toEqual([
      'qwen-race-default',
      'qwen-race-fast',
      'qwen-race-multi',
      'qwen-race-old',
    ]);
  });
});

async function waitForTemplates(model: string, until: (ts: any[]) => boolean, timeoutMs = 60_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  let last: any[] = [];
  while (Date.now() < deadline) {
    last = await templatesOf(model);
    if (until(last)) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(
    `templates of ${model} never matched; last: ${JSON.stringify(last.map((t) => ({ name: t.metadata.name, status: t.status?.status })))}`,
  );
}
