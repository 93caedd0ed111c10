/* eslint-disable @typescript-eslint/no-explicit-any -- status shapes are asserted field by field */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchV1Api } from '@kubernetes/client-node';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { startBridge, type Bridge } from '../../bridge/bridge.js';
import { example, type Manifest } from '../cases/examples.js';
import { deterministicBytes } from '../harness/fixtures.js';
import { startOrchestrator, waitForObject, type OrchestratorFixture } from '../harness/orchestrator.js';
import { condition, putTinyModel, waitForGone as waitForObjectGone } from '../harness/scenarios.js';
import { waitFor } from '../harness/processes.js';
import { startS3Server, type S3Server } from '../harness/s3Server.js';
import { stackControl } from '../harness/control.js';
import { startTcpProxy } from '../harness/tcpProxy.js';

/**
 * The bridge end to end (spec section 9): objects are created, edited, annotated and deleted as `kubectl` would, and
 * the test sends no signal of its own. The bridge watches the test namespace and forwards the changes.
 */
let orch: OrchestratorFixture;
let s3: S3Server;
let batch: BatchV1Api;
let bridge: Bridge | undefined;
const work = mkdtempSync(join(tmpdir(), 'aim-bridge-it-'));
const ACCESS = 'bridgeaccess';
const SECRET = 'bridge-secret-value-3';
const timings: Record<string, number> = {};
let launches = 0;

const launchBridge = async (client: Client = orch.client): Promise<Bridge> => {
  const t0 = Date.now();
  const b = startBridge({
    kubeConfig: orch.kc,
    client,
    taskQueue: orch.taskQueue,
    namespaces: [orch.namespace],
    healthPort: 0,
    log: (level, msg) => (level === 'info' ? undefined : console[level](`[bridge] ${msg}`)),
  });
  await b.ready;
  timings[`bridgeReady${++launches}`] = Date.now() - t0;
  return b;
};

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
  await putTinyModel(s3, 'models', 'qwen2-0.5b', deterministicBytes('bridge/weights', 256 * 1024));
  await orch.core.createNamespacedSecret({
    namespace: orch.namespace,
    body: { metadata: { name: 's3-credentials' }, stringData: { 'access-key': ACCESS, 'secret-key': SECRET } },
  });
  bridge = await launchBridge();
}, 180_000);

afterAll(async () => {
  await bridge?.stop();
  await Promise.allSettled([orch?.stop(), s3?.stop()]);
  rmSync(work, { recursive: true, force: true });
  console.info(`[bridge.test] timings (ms): ${JSON.stringify(timings)}`);
});

function customService(name: string): Manifest {
  const m = example('aimservice-custom-s3.yaml');
  m.metadata = { name, namespace: orch.namespace };
  const src = (m.spec.model as any).custom.modelSources[0];
  src.env = [
    { name: 'AWS_ENDPOINT_URL', value: s3.endpoint },
    { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3-credentials', key: 'access-key' } } },
    { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 's3-credentials', key: 'secret-key' } } },
  ];
  return m;
}

const svc = (name: string, until: (s: any) => boolean, timeoutMs = 120_000) =>
  waitForObject<any>(orch.objects, RESOURCES.AIMService, name, orch.namespace, until, timeoutMs);
const serviceId = (name: string) => `aim/AIMService/${orch.namespace}/${name}`;

async function signalsReceived(workflowId: string, signal: string): Promise<number> {
  const history = await orch.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === signal).length;
}

const waitForGone = (res: (typeof RESOURCES)[keyof typeof RESOURCES], name: string, timeoutMs = 60_000) =>
  waitForObjectGone(orch.objects, res, name, orch.namespace, timeoutMs);

/** An image model (no download): its workflow makes it Ready as soon as the bridge's nudge starts it. */
const createImageModel = (name: string, image: string) =>
  orch.objects.create(RESOURCES.AIMModel, {
    apiVersion: 'aim.silogen.ai/v1alpha1',
    kind: 'AIMModel',
    metadata: { name, namespace: orch.namespace },
    spec: { image },
  } as never);
const modelReady = (name: string, timeoutMs?: number) =>
  waitForObject<any>(
    orch.objects,
    RESOURCES.AIMModel,
    name,
    orch.namespace,
    (o) => o.status?.status === 'Ready',
    timeoutMs,
  );

describe('the bridge forwards kubectl changes to the workflows (spec section 9)', () => {
  it('serves /healthz and /readyz', async () => {
    const port = bridge?.healthPort();
    expect(port).toBeGreaterThan(0);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
  });

  it('a created image model becomes Ready', async () => {
    const t0 = Date.now();
    await createImageModel('img', 'x');
    const m = await modelReady('img');
    expect(m.status.sourceType).toBe('Image');
    timings.modelReady = Date.now() - t0;
  });

  it('a created custom service deploys its InferenceService and turns Running when KServe reports Ready', async () => {
    const t0 = Date.now();
    await orch.objects.create(RESOURCES.AIMService, customService('chat') as never);
    const isvc = await waitForObject<any>(
      orch.objects,
      RESOURCES.InferenceService,
      'chat',
      orch.namespace,
      () => true,
      180_000,
    );
    expect(isvc.metadata.labels['app.kubernetes.io/managed-by']).toBe('aim-orchestrator');
    timings.inferenceServiceCreated = Date.now() - t0;
    const deploying = await svc('chat', (s) => condition(s, 'CacheReady')?.status === 'True');
    expect(deploying.status.status).not.toBe('Running');

    // KServe reports the InferenceService Ready once the predictor pod serves; the bridge nudges the service.
    const t1 = Date.now();
    const running = await svc('chat', (s) => s.status?.status === 'Running', 120_000);
    expect(condition(running, 'Ready')).toMatchObject({ status: 'True' });
    timings.runningAfterIsvcReady = Date.now() - t1;
    expect(await signalsReceived(serviceId('chat'), 'dependencyChanged')).toBeGreaterThan(0);
  });

  it('an edit (generation bump) is forwarded as changed and re-applied', async () => {
    const before = await signalsReceived(serviceId('chat'), 'changed');
    const current = await orch.objects.get<any>(RESOURCES.AIMService, 'chat', orch.namespace);
    current.spec.env = [{ name: 'VLLM_LOGGING_LEVEL', value: 'DEBUG' }];
    await orch.objects.replace(RESOURCES.AIMService, current);
    await waitForObject<any>(orch.objects, RESOURCES.InferenceService, 'chat', orch.namespace, (i) =>
      JSON.stringify(i.spec.predictor.containers[0].env ?? []).includes('VLLM_LOGGING_LEVEL'),
    );
    // A signal is written into the history when the workflow task running at that moment completes: wait for it.
    await waitFor(
      'the changed signal in the history',
      async () => ((await signalsReceived(serviceId('chat'), 'changed')) === before + 1 ? true : undefined),
      { timeoutMs: 15_000, intervalMs: 200 },
    );
  });

  it('a retry annotation change delivers retry; status writes are not echoed to the own workflow', async () => {
    const changedBefore = await signalsReceived(serviceId('chat'), 'changed');
    const retryBefore = await signalsReceived(serviceId('chat'), 'retry');
    const current = await orch.objects.get<any>(RESOURCES.AIMService, 'chat', orch.namespace);
    current.metadata.annotations = { ...current.metadata.annotations, 'aim.silogen.ai/retry': String(Date.now()) };
    await orch.objects.replace(RESOURCES.AIMService, current);
    await waitFor(
      'retry signal',
      async () => ((await signalsReceived(serviceId('chat'), 'retry')) === retryBefore + 1 ? true : undefined),
      {
        timeoutMs: 15_000,
        intervalMs: 200,
      },
    );
    await svc('chat', (s) => s.status?.status === 'Running');
    expect(await signalsReceived(serviceId('chat'), 'changed')).toBe(changedBefore);
  });

  it('stays quiet when nothing changes (no status echo loop)', async () => {
    const all = async () =>
      (await orch.client.workflow.getHandle(serviceId('chat')).fetchHistory()).events?.filter(
        (e) => e.workflowExecutionSignaledEventAttributes,
      ).length ?? 0;
    await new Promise((r) => setTimeout(r, 2_000));
    const before = await all();
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await all()).toBe(before);
  });

  it('never drops a nudge while Temporal does not answer: delivered once it is back, readiness honest meanwhile', async () => {
    // This bridge reaches Temporal through a TCP proxy the test takes down; the shared Temporal server keeps running.
    await bridge?.stop();
    bridge = undefined;
    const proxy = await startTcpProxy(inject('temporalAddress'));
    const connection = await Connection.connect({ address: proxy.address });
    const client = new Client({ connection, namespace: inject('temporalNamespace') });
    let cut: Bridge | undefined;
    try {
      cut = await launchBridge(client);
      const base = `http://127.0.0.1:${cut.healthPort()}`;
      /** One series' value, e.g. `aim_bridge_errors_total{stage="deliver"}`; 0 when it has no sample. */
      const metric = async (series: string) => {
        const lines = (await (await fetch(`${base}/metrics`)).text()).split('\n');
        return Number(lines.find((l) => l.startsWith(`${series} `))?.slice(series.length + 1) ?? 0);
      };
      const readyz = async () => (await fetch(`${base}/readyz`)).status;
      expect(await readyz()).toBe(200);

      await proxy.down();
      const tDown = Date.now();
      await createImageModel('img-outage', 'z');
      await waitFor('readiness to report the outage', async () => ((await readyz()) === 503 ? true : undefined), {
        timeoutMs: 25_000,
        intervalMs: 250,
      });
      timings.notReadyAfterOutage = Date.now() - tDown;
      expect(await metric('aim_bridge_deliveries_pending')).toBeGreaterThanOrEqual(1);
      expect(await metric('aim_bridge_delivery_oldest_pending_seconds')).toBeGreaterThan(0);
      expect(await metric('aim_bridge_ready')).toBe(0);
      await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - tDown))));
      // Nothing reached Temporal: no workflow runs for the new model.
      const modelId = `aim/AIMModel/${orch.namespace}/img-outage`;
      await expect(orch.client.workflow.getHandle(modelId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

      await proxy.up();
      const tUp = Date.now();
      await modelReady('img-outage', 45_000);
      timings.readyAfterTemporalBack = Date.now() - tUp;
      await waitFor('readiness back', async () => ((await readyz()) === 200 ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 250,
      });
      // The backlog drains. Not a point reading: the objects the model's workflow writes on its way to Ready wake
      // their owners (dependencyChanged), so at any single instant fresh nudges may be in flight (CI saw 2).
      await waitFor(
        'the outage backlog delivered',
        async () => ((await metric('aim_bridge_deliveries_pending')) === 0 ? true : undefined),
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      expect(await metric('aim_bridge_errors_total{stage="deliver"}')).toBeGreaterThan(0); // attempts that failed
      expect(await metric('aim_bridge_nudges_dropped_total{kind="AIMModel"}'), 'nudges dropped').toBe(0);
      expect(await signalsReceived(modelId, 'changed')).toBe(1);
    } finally {
      await cut?.stop();
      await connection.close();
      await proxy.stop();
    }
  });

  it('a restarted bridge relists without duplicating anything and tells workflows of vanished objects', async () => {
    await bridge?.stop();
    bridge = undefined;
    const ids = [serviceId('chat'), `aim/AIMModel/${orch.namespace}/img`];
    const before = await Promise.all(ids.map((id) => orch.client.workflow.getHandle(id).describe()));
    expect(before.map((d) => d.status.name)).toEqual(['RUNNING', 'RUNNING']);
    const count = async () => ({
      models: (await orch.objects.list(RESOURCES.AIMModel, orch.namespace)).length,
      templates: (await orch.objects.list(RESOURCES.AIMServiceTemplate, orch.namespace)).length,
      caches: (await orch.objects.list(RESOURCES.AIMModelCache, orch.namespace)).length,
      isvcs: (await orch.objects.list(RESOURCES.InferenceService, orch.namespace)).length,
      jobs: (await batch.listNamespacedJob({ namespace: orch.namespace })).items.length,
    });
    // While no bridge runs, the image model is deleted (no finalizer): its workflow never hears of it.
    await orch.objects.delete(RESOURCES.AIMModel, 'img', orch.namespace);
    await waitForGone(RESOURCES.AIMModel, 'img');
    const objectsBefore = await count();

    bridge = await launchBridge();
    // The orphaned model workflow got `deleted` and ended; the service's run is the same one.
    await waitFor(
      'model workflow closed',
      async () =>
        (await orch.client.workflow.getHandle(ids[1]!).describe()).status.name === 'RUNNING' ? undefined : true,
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    expect(await signalsReceived(ids[1]!, 'deleted')).toBe(1);
    const after = await orch.client.workflow.getHandle(ids[0]!).describe();
    expect(after.status.name).toBe('RUNNING');
    expect(after.runId).toBe(before[0]!.runId);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await count()).toEqual(objectsBefore);
    await svc('chat', (s) => s.status?.status === 'Running');
    const running = await orch.client.workflow.list({
      query: `TaskQueue = "${orch.taskQueue}" AND ExecutionStatus = "Running"`,
    });
    const seen = new Map<string, number>();
    for await (const wf of running) seen.set(wf.workflowId, (seen.get(wf.workflowId) ?? 0) + 1);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });

  it('survives an API server restart: watches resume and new objects are still picked up', async () => {
    const t0 = Date.now();
    await stackControl(inject('stackControlUrl')).restartApiServer({ kill: true });
    await createImageModel('img-2', 'y');
    await modelReady('img-2', 60_000);
    timings.readyAfterApiServerRestart = Date.now() - t0;
    expect((await fetch(`http://127.0.0.1:${bridge?.healthPort()}/readyz`)).status).toBe(200);
  });

  it('deleting the service (finalizer) forwards deleted: it is cleaned up and gone', async () => {
    const s = await orch.objects.get<any>(RESOURCES.AIMService, 'chat', orch.namespace);
    expect(s.metadata.finalizers).toContain('aim.silogen.ai/cleanup');
    const cacheName = s.status.caches[0].name;
    const t0 = Date.now();
    await orch.objects.delete(RESOURCES.AIMService, 'chat', orch.namespace);
    await waitForGone(RESOURCES.AIMService, 'chat');
    await waitForGone(RESOURCES.InferenceService, 'chat');
    await waitForGone(RESOURCES.AIMModelCache, cacheName);
    timings.serviceGone = Date.now() - t0;
    expect(await signalsReceived(serviceId('chat'), 'deleted')).toBeGreaterThanOrEqual(1);
    // The object is gone as soon as the cleanup step drops the finalizer; the workflow completes just after.
    const handle = orch.client.workflow.getHandle(serviceId('chat'));
    await handle.result();
    expect((await handle.describe()).status.name).toBe('COMPLETED');
  });
});
