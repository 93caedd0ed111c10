/* eslint-disable @typescript-eslint/no-explicit-any -- manifests and status shapes are handled loosely here */
// Outages of minutes (issue 16), on a stack of this file's own (privateStack.ts), with the real bridge (as its
// ServiceAccount, in this process), the real worker as a separate process (as its ServiceAccount) and the process
// kubelet:
//   1. Temporal down for 2 minutes while objects are created, changed and deleted: nothing is lost, every object
//      reaches its state once Temporal is back, and the bridge re-delivers what it could not send.
//   2. The kube-apiserver down for 2 minutes while a download Job runs: the download finishes during the outage, and
//      the service reaches Running afterwards with one of everything.
//   3. etcd and the kube-controller-manager restarted mid-download: everything converges.
// And first, short: a bridge whose API traffic goes through the fault proxy (watches answered 410 Gone, lists reset,
// hung, answered 503 and 429) while objects are created, changed and deleted: it relists and misses nothing.
// The outages really last 2 minutes; everything else is as short as the product's configuration allows. This file
// runs in the `outages` vitest project, alongside the integration files (it mostly waits).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { startBridge, type Bridge } from '../../bridge/bridge.js';
import { workflowIdFor } from '../../workflows/signals.js';
import { example } from '../cases/examples.js';
import {
  customS3Service,
  s3SourceEnv,
  sourceInventory,
  startFaultBed,
  type FaultBed,
  type S3Source,
} from '../faults/lifecycle.js';
import { workerProcess, type WorkerProcess } from '../faults/workerProcess.js';
import { startApiFaultProxy } from '../harness/apiFaultProxy.js';
import { startHttpProxy, type HttpProxy } from '../harness/httpProxy.js';
import { loadKubeConfig } from '../harness/kube.js';
import { waitForObject } from '../harness/orchestrator.js';
import { waitFor } from '../harness/processes.js';
import { waitForGone } from '../harness/scenarios.js';
import { serviceAccountKubeconfigPath } from '../harness/serviceAccount.js';
import { startPrivateStack, type PrivateStack } from '../harness/privateStack.js';

/** How long each outage lasts: the "minutes", for real. */
const OUTAGE_MS = 120_000;

let ps: PrivateStack;
let bed: FaultBed;
let proxy: HttpProxy;
let worker: WorkerProcess;
let bridge: Bridge;
let failed = false;
const report: Record<string, number | string> = {};

beforeAll(async () => {
  const t0 = Date.now();
  ps = await startPrivateStack();
  bed = await startFaultBed(ps.conn);
  proxy = await startHttpProxy({ target: bed.s3.endpoint });
  // The worker process runs as the worker's ServiceAccount (the token startOrchestrator obtained for this stack).
  const workerKubeconfig = join(bed.workDir, 'worker-sa.kubeconfig');
  writeFileSync(workerKubeconfig, bed.orch.workerKc.exportConfig());
  expect(serviceAccountKubeconfigPath(ps.conn.kubeconfigPath, 'worker')).toBeTruthy();
  worker = workerProcess({
    name: 'outages',
    ...ps.conn,
    kubeconfigPath: workerKubeconfig,
    taskQueue: bed.orch.taskQueue,
    logDir: join(bed.workDir, 'logs'),
  });
  bridge = bed.orch.startBridge();
  await Promise.all([worker.start(), bridge.ready]);
  report.setupMs = Date.now() - t0;
}, 300_000);

afterAll(async () => {
  console.info(`[outages] ${JSON.stringify(report)}`);
  if (failed) console.error(`[outages] worker log tail:\n${worker?.tail(80)}`);
  await worker?.stop();
  await Promise.allSettled([proxy?.stop(), bed?.stop()]);
  await ps?.stop({ failed });
}, 60_000);

const ns = () => bed.orch.namespace;
const objects = () => bed.orch.objects;
const workflowStatus = async (kind: string, name: string) =>
  (await bed.orch.client.workflow.getHandle(workflowIdFor(kind as never, name, ns())).describe()).status.name;

async function bridgeMetric(series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${bridge.healthPort()}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return Number(line?.slice(series.length + 1) ?? 0);
}
const bridgeReady = async () => (await fetch(`http://127.0.0.1:${bridge.healthPort()}/readyz`)).status === 200;

const imageModel = (name: string, image: string) =>
  objects().create(RESOURCES.AIMModel, {
    apiVersion: 'aim.silogen.ai/v1alpha1',
    kind: 'AIMModel',
    metadata: { name, namespace: ns() },
    spec: { image },
  } as never);

async function setModelImage(name: string, image: string): Promise<void> {
  const m = await objects().get<any>(RESOURCES.AIMModel, name, ns());
  m.spec.image = image;
  await objects().replace(RESOURCES.AIMModel, m);
}

/** A standalone AIMModelCache on a source of the bed. */
const standaloneCache = (name: string, src: S3Source) => {
  const m = example('aimmodelcache.yaml');
  m.metadata = { name, namespace: ns() };
  Object.assign(m.spec, { modelId: src.modelId, sourceUri: src.uri, env: s3SourceEnv(src) });
  return objects().create(RESOURCES.AIMModelCache, m as never);
};

/** Status `status` and the current generation observed. */
const settled =
  (status: string) =>
  (o: any): boolean =>
    o.status?.status === status && o.status?.observedGeneration === o.metadata?.generation;

const waitModel = (name: string, until: (o: any) => boolean, timeoutMs = 120_000) =>
  waitForObject<any>(objects(), RESOURCES.AIMModel, name, ns(), until, timeoutMs);
const waitService = (name: string, until: (o: any) => boolean, timeoutMs = 240_000) =>
  waitForObject<any>(objects(), RESOURCES.AIMService, name, ns(), until, timeoutMs);

/** Runs `steps` at their offsets (ms) from now, in order; resolves when the last one is done. */
async function timeline(steps: Array<[number, string, () => Promise<unknown>]>): Promise<void> {
  const t0 = Date.now();
  for (const [at, what, step] of steps) {
    await sleep(Math.max(0, at - (Date.now() - t0)));
    await step();
    console.info(`[outages] +${Math.round((Date.now() - t0) / 1000)} s: ${what}`);
  }
}

/** Resolves after `since + OUTAGE_MS`. */
const outageOver = (since: number) => sleep(Math.max(0, since + OUTAGE_MS - Date.now()));

/** Waits for every named convergence in parallel; records how long each took after `from`. */
async function converged(label: string, from: number, waits: Record<string, () => Promise<unknown>>): Promise<void> {
  await Promise.all(
    Object.entries(waits).map(async ([what, wait]) => {
      await wait();
      report[`${label}.${what}`] = Date.now() - from;
    }),
  );
  report[`${label}.all`] = Date.now() - from;
}

/** The payloads of a workflow's signals of one name, oldest first (the default JSON converter: no codec here). */
async function signalNudges(workflowId: string, signal: string): Promise<any[]> {
  const history = await bed.orch.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? [])
    .map((e) => e.workflowExecutionSignaledEventAttributes)
    .filter((a) => a?.signalName === signal)
    .map((a) => JSON.parse(Buffer.from(a!.input!.payloads![0]!.data!).toString('utf8')));
}

describe.sequential('outages of minutes', () => {
  it('watches answered 410 Gone, lists reset, hung, refused: the bridge relists and every change reaches its workflow', async () => {
    try {
      const t0 = Date.now();
      const gone = `gone-${Date.now().toString(36)}`;
      await bed.orch.core.createNamespace({ body: { metadata: { name: gone } } });
      const faults = await startApiFaultProxy({
        target: ps.stack.kubeServer,
        targetCaPath: ps.stack.kubeCaPath,
        workDir: bed.workDir,
        seed: 16,
        rate429: 0.03,
        rate500: 0,
        rate503: 0.05,
        rateReset: 0.05,
        rateWatchGone: 0.3,
      });
      const kubeconfig = join(bed.workDir, 'bridge-through-faults.kubeconfig');
      await faults.writeKubeconfig(kubeconfig, bed.orch.bridgeKc.getCurrentUser()!.token!);
      // Each fault at least once on the AIMModel source, whatever the random draws: both forms of 410, a reset,
      // a 503 and a list hung past the client's timeout.
      const targeted = [
        faults.injectOnce({ method: 'GET', pathIncludes: `/namespaces/${gone}/aimmodels`, status: 410 }),
        faults.injectOnce({ method: 'GET', pathIncludes: `/namespaces/${gone}/aimmodels`, status: 'reset' }),
        faults.injectOnce({ method: 'GET', pathIncludes: `/namespaces/${gone}/aimmodels`, status: 410 }),
        faults.injectOnce({ method: 'GET', pathIncludes: `/namespaces/${gone}/aimmodels`, status: 503 }),
        faults.injectOnce({ method: 'GET', pathIncludes: `/namespaces/${gone}/aimmodels`, status: 'hang' }),
      ];
      const taskQueue = `aim-${gone}-nobody`; // no worker: the histories show what the bridge delivered
      const faulty = startBridge({
        kubeConfig: loadKubeConfig(kubeconfig),
        client: bed.orch.client,
        taskQueue,
        namespaces: [gone],
        log: (level, msg) => (level === 'info' ? undefined : console.info(`[bridge via faults] ${msg}`)),
      });
      const names = Array.from({ length: 12 }, (_, i) => `g-${i}`);
      const id = (name: string) => workflowIdFor('AIMModel', name, gone);
      const model = (name: string, image: string) => ({
        apiVersion: 'aim.silogen.ai/v1alpha1',
        kind: 'AIMModel',
        metadata: { name, namespace: gone },
        spec: { image },
      });
      try {
        /** Every model's workflow got the nudges it should: the newest generation, or `deleted`. */
        const delivered = (generationOf: (name: string) => number | 'deleted') => async () => {
          for (const name of names) {
            const want = generationOf(name);
            const nudges = await signalNudges(id(name), want === 'deleted' ? 'deleted' : 'changed').catch(() => []);
            if (nudges.length === 0) return undefined;
            if (want !== 'deleted' && nudges.at(-1).generation !== want) return undefined;
          }
          return true;
        };
        // Objects made while the bridge starts and waits out the targeted faults: each reaches its workflow.
        for (const name of names) {
          await objects().create(RESOURCES.AIMModel, model(name, 'registry.example/g:v1') as never);
          await sleep(300);
        }
        await Promise.all(targeted);
        await waitFor(
          'every new model in its workflow',
          delivered(() => 1),
          { timeoutMs: 180_000, intervalMs: 1_000 },
        );
        report['watchGone.createdDeliveredMs'] = Date.now() - t0;
        // Changes and deletes while the watch streams are cut every second (each reconnect has a 30 % chance of
        // 410 Gone, i.e. a relist) and lists keep being reset, refused and throttled.
        const cutting = setInterval(() => faults.dropWatches(), 1_000);
        try {
          for (const name of names.slice(0, 6))
            for (const v of ['v2', 'v3']) {
              const m = await objects().get<any>(RESOURCES.AIMModel, name, gone);
              m.spec.image = `registry.example/g:${v}`;
              await objects().replace(RESOURCES.AIMModel, m);
              await sleep(400);
            }
          for (const name of names.slice(9)) {
            await objects().delete(RESOURCES.AIMModel, name, gone);
            await sleep(400);
          }
          const t1 = Date.now();
          await waitFor(
            'every change and delete in its workflow',
            delivered((name) => (names.indexOf(name) >= 9 ? 'deleted' : names.indexOf(name) < 6 ? 3 : 1)),
            { timeoutMs: 120_000, intervalMs: 1_000 },
          );
          report['watchGone.changesDeliveredMs'] = Date.now() - t1;
        } finally {
          clearInterval(cutting);
        }
        const stats = faults.stats();
        report['watchGone.stats'] = JSON.stringify(stats);
        report['watchGone.ms'] = Date.now() - t0;
        expect(stats.watchGone).toBeGreaterThanOrEqual(5);
        expect(stats.resets).toBeGreaterThanOrEqual(1);
        expect(stats.injected503).toBeGreaterThanOrEqual(1);
        expect(stats.hangs).toBeGreaterThanOrEqual(1);
        // The client gave each hung request up (its timeout), rather than waiting for ever.
        await waitFor(
          'hung requests abandoned',
          async () => (faults.stats().hangsAbandoned === faults.stats().hangs ? true : undefined),
          {
            timeoutMs: 60_000,
            intervalMs: 500,
          },
        );
        const relists = faulty.metrics.get('aim_bridge_relists_total', { kind: 'AIMModel' });
        report['watchGone.aimModelRelists'] = relists;
        expect(relists).toBeGreaterThanOrEqual(1);
      } finally {
        await faulty.stop();
        await faults.stop();
      }
    } catch (err) {
      failed = true;
      throw err;
    }
  }, 300_000);

  it('Temporal down for 2 minutes while objects are created, changed and deleted: nothing is lost', async () => {
    try {
      const [srcChg, srcDel, srcNew, srcCache] = await Promise.all(
        ['t-chg', 't-del', 't-new', 't-cache'].map((p) => bed.addSource(p)),
      );
      // Before: two image models and two services, all settled.
      await imageModel('m-chg', 'registry.example/m:v1');
      await imageModel('m-del', 'registry.example/d:v1');
      for (const [name, src] of [
        ['svc-chg', srcChg],
        ['svc-del', srcDel],
      ] as const)
        await objects().create(RESOURCES.AIMService, customS3Service(name, ns(), src!) as never);
      await Promise.all([
        waitModel('m-chg', settled('Ready')),
        waitModel('m-del', settled('Ready')),
        waitService('svc-chg', settled('Running')),
        waitService('svc-del', settled('Running')),
      ]);
      const dropsBefore = await bridgeMetric('aim_bridge_nudges_dropped_total{kind="AIMModel"}');

      const down = Date.now();
      await ps.stack.temporal.stop({ kill: true });
      await timeline([
        [
          3_000,
          'created m-new-1, svc-new and cache-new',
          async () => {
            await imageModel('m-new-1', 'registry.example/n:v1');
            await objects().create(RESOURCES.AIMService, customS3Service('svc-new', ns(), srcNew!) as never);
            await standaloneCache('cache-new', srcCache!);
          },
        ],
        [10_000, 'm-chg image v2', () => setModelImage('m-chg', 'registry.example/m:v2')],
        [25_000, 'bridge not ready', async () => expect(await bridgeReady()).toBe(false)],
        [30_000, 'deleted m-del', () => objects().delete(RESOURCES.AIMModel, 'm-del', ns())],
        [
          40_000,
          'deleted svc-del (finalizer: waits for its workflow)',
          () => objects().delete(RESOURCES.AIMService, 'svc-del', ns()),
        ],
        [
          50_000,
          'svc-chg env changed',
          async () => {
            const s = await objects().get<any>(RESOURCES.AIMService, 'svc-chg', ns());
            s.spec.env = [{ name: 'OUTAGE_EDIT', value: '1' }];
            await objects().replace(RESOURCES.AIMService, s);
          },
        ],
        [60_000, 'm-chg image v3', () => setModelImage('m-chg', 'registry.example/m:v3')],
        [90_000, 'created m-new-2', () => imageModel('m-new-2', 'registry.example/n:v2')],
        [105_000, 'm-chg image v4', () => setModelImage('m-chg', 'registry.example/m:v4')],
        [115_000, 'created m-new-3', () => imageModel('m-new-3', 'registry.example/n:v3')],
      ]);
      await outageOver(down);
      // The worker process rode the outage out: nothing restarted it.
      expect(worker.running).toBe(true);
      expect(await bridgeMetric('aim_bridge_deliveries_pending')).toBeGreaterThanOrEqual(1);
      report['temporal.outageMs'] = Date.now() - down;
      await ps.stack.temporal.start();
      const up = Date.now();

      await converged('temporal', up, {
        'm-new-1': () => waitModel('m-new-1', settled('Ready')),
        'm-new-2': () => waitModel('m-new-2', settled('Ready')),
        'm-new-3': () => waitModel('m-new-3', settled('Ready')),
        'm-chg': () =>
          waitModel('m-chg', (o) => settled('Ready')(o) && o.metadata.generation === 4 && o.spec.image.endsWith(':v4')),
        'm-del': () =>
          waitFor(
            'm-del workflow closed',
            async () => ((await workflowStatus('AIMModel', 'm-del')) !== 'RUNNING' ? true : undefined),
            {
              timeoutMs: 120_000,
              intervalMs: 500,
            },
          ),
        'svc-new': () => waitService('svc-new', settled('Running')),
        'cache-new': () =>
          waitForObject<any>(objects(), RESOURCES.AIMModelCache, 'cache-new', ns(), settled('Ready'), 240_000),
        'svc-chg': () =>
          waitForObject<any>(
            objects(),
            RESOURCES.InferenceService,
            'svc-chg',
            ns(),
            (i) => JSON.stringify(i.spec?.predictor?.containers?.[0]?.env ?? []).includes('OUTAGE_EDIT'),
            240_000,
          ).then(() => waitService('svc-chg', settled('Running'))),
        'svc-del': async () => {
          await waitForGone(objects(), RESOURCES.AIMService, 'svc-del', ns(), 120_000);
          await waitForGone(objects(), RESOURCES.InferenceService, 'svc-del', ns(), 60_000);
        },
      });
      await waitFor('the bridge ready again', async () => ((await bridgeReady()) ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 500,
      });
      expect(await bridgeMetric('aim_bridge_deliveries_pending')).toBe(0);
      expect(await bridgeMetric('aim_bridge_nudges_dropped_total{kind="AIMModel"}')).toBe(dropsBefore);
      expect(await bridgeMetric('aim_bridge_nudges_dropped_total{kind="AIMService"}')).toBe(0);
      expect(await bridgeMetric('aim_bridge_nudges_dropped_total{kind="AIMModelCache"}')).toBe(0);
      // The deleted model's workflow heard of it; one workflow run per object, no duplicates.
      expect(await workflowStatus('AIMModel', 'm-del')).toBe('COMPLETED');
      expect(worker.starts).toBe(1);
      expect(worker.running).toBe(true);
      const inv = await sourceInventory(bed.orch, srcNew!.uri);
      expect(inv.caches).toHaveLength(1);
      expect(inv.pvcs).toHaveLength(1);
    } catch (err) {
      failed = true;
      throw err;
    }
  }, 900_000);

  it('the kube-apiserver down for 2 minutes mid-download: the download finishes, the service reaches Running', async () => {
    try {
      // 1 MiB at 10 KiB/s: the download Job runs for ~100 s, inside the outage.
      const src = await bed.addSource('a-down', { endpoint: proxy.url, weightBytes: 1024 * 1024 });
      const weights = 'a-down/model.safetensors';
      proxy.slowDown(weights, 10 * 1024, { times: 1 });
      await objects().create(RESOURCES.AIMService, customS3Service('svc-api', ns(), src) as never);
      await waitFor(
        'the download under way',
        async () => (proxy.bytesServed(weights) >= 32 * 1024 ? true : undefined),
        {
          timeoutMs: 180_000,
          intervalMs: 200,
        },
      );
      const down = Date.now();
      await ps.stack.controlPlane.stopApiServer({ kill: true });
      await outageOver(down);
      report['apiserver.bytesServedDuringOutage'] = proxy.bytesServed(weights);
      expect(worker.running).toBe(true);
      report['apiserver.outageMs'] = Date.now() - down;
      await ps.stack.controlPlane.startApiServer();
      const up = Date.now();
      await converged('apiserver', up, { 'svc-api': () => waitService('svc-api', settled('Running'), 300_000) });
      const inv = await sourceInventory(bed.orch, src.uri);
      report['apiserver.jobs'] = JSON.stringify(inv.jobs);
      expect(inv.models).toHaveLength(1);
      expect(inv.templates).toHaveLength(1);
      expect(inv.caches).toHaveLength(1);
      expect(inv.pvcs).toHaveLength(1);
      // The download that finished during the outage is picked up, not run a second time.
      expect(inv.jobs.filter((j) => j.name.includes('-dl-'))).toEqual([
        { name: `${inv.caches[0]}-dl-1`, succeeded: true, failed: false },
      ]);
      expect(worker.starts).toBe(1);
      expect(await bridgeReady()).toBe(true);
    } catch (err) {
      failed = true;
      throw err;
    }
  }, 900_000);

  it('etcd and the kube-controller-manager restarted mid-download: everything converges', async () => {
    try {
      const cp = ps.stack.controlPlane;
      const [srcEtcd, srcKcm] = await Promise.all([
        bed.addSource('e-restart', { endpoint: proxy.url, weightBytes: 512 * 1024 }),
        bed.addSource('k-restart', { endpoint: proxy.url, weightBytes: 512 * 1024 }),
      ]);
      proxy.slowDown('e-restart/model.safetensors', 24 * 1024, { times: 1 });
      proxy.slowDown('k-restart/model.safetensors', 24 * 1024, { times: 1 });
      await objects().create(RESOURCES.AIMService, customS3Service('svc-etcd', ns(), srcEtcd) as never);
      await waitFor(
        'svc-etcd downloading',
        async () => (proxy.bytesServed('e-restart/model.safetensors') >= 32 * 1024 ? true : undefined),
        { timeoutMs: 180_000, intervalMs: 200 },
      );
      let t = Date.now();
      await cp.restartEtcd({ kill: true, downMs: 5_000 });
      report['etcd.restartMs'] = Date.now() - t;
      await objects().create(RESOURCES.AIMService, customS3Service('svc-kcm', ns(), srcKcm) as never);
      await waitFor(
        'svc-kcm downloading',
        async () => (proxy.bytesServed('k-restart/model.safetensors') >= 32 * 1024 ? true : undefined),
        { timeoutMs: 180_000, intervalMs: 200 },
      );
      t = Date.now();
      // Down for 30 s: the download pod ends while no Job controller runs; the restarted one must see it.
      await cp.restartControllerManager({ kill: true, downMs: 30_000 });
      report['kcm.restartMs'] = Date.now() - t;
      const up = Date.now();
      await converged('etcd+kcm', up, {
        'svc-etcd': () => waitService('svc-etcd', settled('Running'), 300_000),
        'svc-kcm': () => waitService('svc-kcm', settled('Running'), 300_000),
      });
      for (const src of [srcEtcd, srcKcm]) {
        const inv = await sourceInventory(bed.orch, src.uri);
        expect(inv.caches).toHaveLength(1);
        expect(inv.pvcs).toHaveLength(1);
        expect(inv.jobs.filter((j) => j.name.includes('-dl-') && j.succeeded)).toHaveLength(1);
      }
      expect(worker.starts).toBe(1);
      expect(await bridgeReady()).toBe(true);
    } catch (err) {
      failed = true;
      throw err;
    }
  }, 600_000);
});
