// Transient Kubernetes API failures in the worker's own traffic (issue 7): the worker process reaches the API server
// only through test/harness/apiFaultProxy.ts, which answers a seeded 5 % of its non-watch requests with 429 (plus
// Retry-After, before the API server sees them) or 500 (after the API server processed them: the write happened, the
// worker is told it failed). The kubelet, the downloader pods and the test talk to the API server directly.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { WorkflowNudger } from '../../activities/nudges.js';
import { workflowIdFor } from '../../workflows/signals.js';
import { startApiFaultProxy, type ApiFaultProxy } from '../harness/apiFaultProxy.js';
import { historyFacts, type HistoryFacts } from './history.js';
import {
  customS3Service,
  deployService,
  lifecycleStarter,
  serviceWorkflowId,
  sourceInventory,
  startFaultBed,
  stackConnection,
  waitForRunning,
  type FaultBed,
} from './lifecycle.js';
import { workerProcess, type WorkerProcess } from './workerProcess.js';

const SEED = 20251126;
/** 2.5 % 429 + 2.5 % 500 = 5 % of the worker's non-watch requests. */
const RATE_429 = 0.025;
const RATE_500 = 0.025;
/** Per activity execution: far above what 5 % of faults costs, far below a retry loop (the policy allows 10). */
const MAX_ATTEMPT = 5;

let bed: FaultBed;
let proxy: ApiFaultProxy;
let worker: WorkerProcess;
let nudger: WorkflowNudger;
const ac = new AbortController();

beforeAll(async () => {
  const conn = stackConnection();
  bed = await startFaultBed(conn);
  const stack = inject('stack');
  proxy = await startApiFaultProxy({
    target: stack.kubeServer,
    targetCaPath: stack.kubeCaPath,
    workDir: bed.workDir,
    seed: SEED,
    rate429: RATE_429,
    rate500: RATE_500,
  });
  const kubeconfigPath = join(bed.workDir, 'worker-kubeconfig');
  // The worker's deploy ServiceAccount token, through the proxy.
  await proxy.writeKubeconfig(kubeconfigPath, bed.worker.token);
  const taskQueue = `aim-${bed.orch.namespace}-api-faults`;
  worker = workerProcess({ name: 'api-faults', ...conn, kubeconfigPath, taskQueue, logDir: join(bed.workDir, 'logs') });
  await worker.start();
  nudger = lifecycleStarter(bed.orch.client, taskQueue);
}, 180_000);

afterAll(async () => {
  ac.abort();
  await worker?.stop();
  await Promise.allSettled([proxy?.stop(), bed?.stop()]);
});

/** The service's, model's and cache's histories. */
async function lifecycleHistories(service: string): Promise<HistoryFacts[]> {
  const ns = bed.orch.namespace;
  const s = await waitForRunning(bed.orch, service, 10_000);
  return Promise.all(
    [
      serviceWorkflowId(ns, service),
      workflowIdFor('AIMModel', s.status.resolvedModel.name, ns),
      workflowIdFor('AIMModelCache', s.status.caches[0].name, ns),
    ].map((id) => historyFacts(bed.orch.client, id)),
  );
}

/** One model, template, cache and PVC for the source; its probe and download Jobs ran once and succeeded. */
async function expectNoDuplicates(uri: string): Promise<void> {
  const inv = await sourceInventory(bed.orch, uri);
  expect(inv.models, uri).toHaveLength(1);
  expect(inv.templates, uri).toHaveLength(1);
  expect(inv.caches, uri).toHaveLength(1);
  expect(inv.pvcs, uri).toHaveLength(1);
  const cache = inv.caches[0]!;
  expect(inv.jobs, uri).toEqual([
    { name: `${cache}-dl-1`, succeeded: true, failed: false },
    { name: `${cache}-probe-1`, succeeded: true, failed: false },
  ]);
}

// The first two run side by side (own proxy, worker and task queue each); the targeted faults below need the first
// proxy alone.
describe.concurrent('Kubernetes API faults in the worker traffic', () => {
  it('with 5 % of requests failing (429 with Retry-After, 500 after the write) two services reach Running, with bounded retries', async () => {
    const services = ['api-a', 'api-b'];
    for (const name of services) {
      const src = await bed.addSource(name);
      await deployService(bed.orch, nudger, customS3Service(name, bed.orch.namespace, src), ac.signal);
    }
    for (const name of services) await waitForRunning(bed.orch, name, 300_000);

    const stats = proxy.stats();
    const facts = (await Promise.all(services.map(lifecycleHistories))).flat();
    const retries = facts.reduce((n, f) => n + f.retries, 0);
    const injected = stats.injected429 + stats.injected500;
    console.log(
      [
        `API fault proxy (seed ${SEED}): ${stats.requests} requests (+${stats.watches} watches passed through), ` +
          `${stats.injected429} × 429, ${stats.injected500} × 500 injected; ${retries} activity retries in total`,
        ...facts.map(
          (f) =>
            `  ${f.workflowId}: ${f.attempts} attempts, ${f.retries} retries, max attempt ${f.maxAttempt.attempt}` +
            ` (${f.maxAttempt.type || '-'}), ${f.workflowTaskFailures} workflow-task failures`,
        ),
        `  faults: ${proxy
          .faults()
          .map((f) => `${f.status} ${f.method} ${f.path.replace(`/namespaces/${bed.orch.namespace}`, '/…')}`)
          .join('; ')}`,
      ].join('\n'),
    );
    expect(injected).toBeGreaterThan(0);
    for (const name of services) await expectNoDuplicates(`s3://models/${name}`);
    for (const f of facts) {
      expect(f.workflowTaskFailures, f.workflowId).toBe(0);
      expect(f.activityFailures + f.activityTimeouts, f.workflowId).toBe(0);
      expect(f.maxAttempt.attempt, f.workflowId).toBeLessThanOrEqual(MAX_ATTEMPT);
    }
    // No retry storm: every retry is paid for by an injected fault (one fault ends at most one attempt).
    expect(retries).toBeLessThanOrEqual(injected);
  }, 420_000);
});

describe.concurrent(
  'the rest of a real path in the worker traffic: 503, resets after the write, a hung request',
  () => {
    // A second worker process behind its own proxy (its own task queue), so the rates above stay as they were. The
    // worker never sends a PUT (it applies server-side), so the proxy's 409-on-update cannot reach it; the 409 it does
    // meet is the real AlreadyExists of a create retried after its answer was lost to a reset.
    it('a service reaches Running with one model, cache and download, and every retry paid for by a fault', async () => {
      const faulty = await startApiFaultProxy({
        target: inject('stack').kubeServer,
        targetCaPath: inject('stack').kubeCaPath,
        workDir: bed.workDir,
        seed: SEED + 1,
        rate429: 0,
        rate500: 0,
        rate503: 0.03,
        rateReset: 0.03,
      });
      const kubeconfigPath = join(bed.workDir, 'worker-kubeconfig-2');
      await faulty.writeKubeconfig(kubeconfigPath, bed.worker.token);
      const taskQueue = `aim-${bed.orch.namespace}-api-faults-2`;
      const second = workerProcess({
        name: 'api-faults-2',
        ...stackConnection(),
        kubeconfigPath,
        taskQueue,
        logDir: join(bed.workDir, 'logs'),
      });
      try {
        await second.start();
        // One request the API server never answers: the client gives it up after its timeout (30 s) and the step
        // is retried, instead of waiting for the activity's own timeout.
        const hung = faulty.injectOnce({ method: 'GET', pathIncludes: '/aimmodelcaches/', status: 'hang' });
        // At least one 503 on a write whatever the seeded draws give: with the read cache on (AIM_READ_CACHE=on) the
        // worker sends a fraction of the requests (reads come from memory), and 3 % of ~90 may draw none.
        const refusedWrite = faulty.injectOnce({ method: 'PATCH', pathIncludes: '/status', status: 503 });
        const name = 'api-rest';
        const src = await bed.addSource(name);
        await deployService(
          bed.orch,
          lifecycleStarter(bed.orch.client, taskQueue),
          customS3Service(name, bed.orch.namespace, src),
          ac.signal,
        );
        await waitForRunning(bed.orch, name, 300_000);
        expect((await hung).path).toContain('/aimmodelcaches/');
        expect((await refusedWrite).path).toContain('/status');

        const stats = faulty.stats();
        const facts = await lifecycleHistories(name);
        const retries = facts.reduce((n, f) => n + f.retries, 0);
        const injected = stats.injected503 + stats.resets + stats.hangs;
        console.log(
          `API fault proxy 2 (seed ${SEED + 1}): ${stats.requests} requests, ${stats.injected503} × 503, ` +
            `${stats.resets} resets, ${stats.hangs} hung; ${retries} activity retries; ` +
            `faults: ${faulty
              .faults()
              .map((f) => `${f.status} ${f.method} ${f.path.replace(`/namespaces/${bed.orch.namespace}`, '/…')}`)
              .join('; ')}`,
        );
        expect(stats.injected503).toBeGreaterThanOrEqual(1); // the targeted one, and whatever 3 % drew
        expect(stats.resets).toBeGreaterThan(0);
        expect(stats.hangs).toBe(1);
        await expectNoDuplicates(`s3://models/${name}`);
        for (const f of facts) {
          expect(f.workflowTaskFailures, f.workflowId).toBe(0);
          expect(f.maxAttempt.attempt, f.workflowId).toBeLessThanOrEqual(MAX_ATTEMPT);
        }
        expect(retries).toBeLessThanOrEqual(injected);
      } finally {
        await second.stop();
        await faulty.stop();
      }
    }, 420_000);
  },
);

describe('a lost answer to a write (the API server stored it, the worker saw 500)', () => {
  // The step that applies an object nudges that object's workflow only when the apply changed something; when the
  // answer is lost, the retried step finds the object up to date and must still make sure its workflow runs.
  it.each([
    ['the auto-created model', 'lost-model', '/aimmodels/faults-lost-model-'],
    ['the cache', 'lost-cache', '/aimmodelcaches/lost-cache-'],
  ])(
    '%s: the service still reaches Running',
    async (_what, name, pathIncludes) => {
      proxy.setEnabled(false); // only the targeted fault
      try {
        const lost = proxy.injectOnce({ method: 'PATCH', pathIncludes, status: 500 });
        const src = await bed.addSource(name);
        await deployService(bed.orch, nudger, customS3Service(name, bed.orch.namespace, src), ac.signal);
        expect((await lost).path).toContain(pathIncludes);
        await waitForRunning(bed.orch, name, 150_000);
        await expectNoDuplicates(`s3://models/${name}`);
      } finally {
        proxy.setEnabled(true);
      }
    },
    240_000,
  );
});
