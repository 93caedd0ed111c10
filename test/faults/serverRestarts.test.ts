/* eslint-disable @typescript-eslint/no-explicit-any -- status shapes are asserted field by field */
// The servers under the orchestrator restarted mid-lifecycle (issue 7): the Temporal dev server (SIGKILL, started
// again on the same SQLite database) and the kube-apiserver (SIGKILL, same etcd). Both hit the download
// deterministically: a proxy in front of S3 holds the first attempt's weights after 256 KiB, so the download Job is
// running, mid-file, when the server goes down. The downloader gives that attempt up after its stall timeout, the
// cache workflow starts the next one (which resumes), and the service must reach Running — with the same workflow
// runs, the same worker process, and no duplicated object.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import type { WorkflowNudger } from '../../activities/nudges.js';
import { workflowIdFor } from '../../workflows/signals.js';
import { stackControl } from '../harness/control.js';
import { startHttpProxy, type HttpProxy } from '../harness/httpProxy.js';
import { waitForObject } from '../harness/orchestrator.js';
import { waitFor } from '../harness/processes.js';
import { historyFacts } from './history.js';
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

const STALL_AT = 256 * 1024;
const WEIGHTS = 1024 * 1024;

let bed: FaultBed;
let proxy: HttpProxy;
let worker: WorkerProcess;
let nudger: WorkflowNudger;
const ac = new AbortController();

beforeAll(async () => {
  const conn = stackConnection();
  bed = await startFaultBed(conn);
  proxy = await startHttpProxy({ target: bed.s3.endpoint });
  const taskQueue = `aim-${bed.orch.namespace}-restarts`;
  worker = workerProcess({
    name: 'restarts',
    ...conn,
    kubeconfigPath: bed.worker.kubeconfigPath,
    taskQueue,
    logDir: join(bed.workDir, 'logs'),
  });
  await worker.start();
  nudger = lifecycleStarter(bed.orch.client, taskQueue);
}, 180_000);

afterAll(async () => {
  ac.abort();
  await worker?.stop();
  await Promise.allSettled([proxy?.stop(), bed?.stop()]);
});

/** Deploys a service whose first download attempt stalls after STALL_AT bytes; returns once it has stalled. */
async function deployStalledMidDownload(name: string, prefix: string): Promise<void> {
  const src = await bed.addSource(prefix, { endpoint: proxy.url, weightBytes: WEIGHTS });
  const weights = `${prefix}/model.safetensors`;
  proxy.stallAfter(weights, STALL_AT, { times: 1 });
  const manifest = customS3Service(name, bed.orch.namespace, src, { stallTimeoutSeconds: 15 });
  await deployService(bed.orch, nudger, manifest, ac.signal);
  await waitFor(
    `${name}: the first download attempt stalled mid-file`,
    async () => (proxy.bytesServed(weights) >= STALL_AT ? true : undefined),
    { timeoutMs: 180_000, intervalMs: 200 },
  );
}

/** The run IDs of the service's and its cache's workflows (the same runs must carry on after a restart). */
async function runIds(name: string): Promise<string[]> {
  const svc = await waitForObject<any>(bed.orch.objects, RESOURCES.AIMService, name, bed.orch.namespace, (s) =>
    Boolean(s.status?.caches?.length),
  );
  const ids = [
    serviceWorkflowId(bed.orch.namespace, name),
    workflowIdFor('AIMModelCache', svc.status.caches[0].name, bed.orch.namespace),
  ];
  return Promise.all(ids.map(async (id) => (await bed.orch.client.workflow.getHandle(id).describe()).runId));
}

/** Running, one of everything, the stalled attempt failed and the second one succeeded, no workflow-task failure. */
async function expectCompletedAfterStall(name: string, prefix: string): Promise<void> {
  const running = await waitForRunning(bed.orch, name, 240_000);
  const inv = await sourceInventory(bed.orch, `s3://models/${prefix}`);
  expect(inv.models).toHaveLength(1);
  expect(inv.templates).toHaveLength(1);
  expect(inv.caches).toEqual([running.status.caches[0].name]);
  expect(inv.pvcs).toHaveLength(1);
  const cache = inv.caches[0]!;
  expect(inv.jobs).toEqual([
    { name: `${cache}-dl-1`, succeeded: false, failed: true },
    { name: `${cache}-dl-2`, succeeded: true, failed: false },
    { name: `${cache}-probe-1`, succeeded: true, failed: false },
  ]);
  for (const id of [
    serviceWorkflowId(bed.orch.namespace, name),
    workflowIdFor('AIMModelCache', cache, bed.orch.namespace),
  ]) {
    const facts = await historyFacts(bed.orch.client, id);
    expect(facts.workflowTaskFailures, id).toBe(0);
    expect(facts.closed, id).toBe(false);
  }
  // The worker rode the restart out: still the first process.
  expect(worker.running).toBe(true);
  expect(worker.starts).toBe(1);
}

describe('servers restarted mid-download', () => {
  it('Temporal killed and started again on its database: the same runs carry on and the service reaches Running', async () => {
    await deployStalledMidDownload('tr-svc', 'temporal-restart');
    const before = await runIds('tr-svc');
    const t0 = Date.now();
    await stackControl(inject('stackControlUrl')).restartTemporal({ kill: true });
    console.log(`Temporal restarted (SIGKILL) mid-download in ${Date.now() - t0} ms`);
    await expectCompletedAfterStall('tr-svc', 'temporal-restart');
    expect(await runIds('tr-svc')).toEqual(before);
  }, 360_000);

  it('the kube-apiserver killed and started again: the service reaches Running', async () => {
    await deployStalledMidDownload('ka-svc', 'apiserver-restart');
    const t0 = Date.now();
    await stackControl(inject('stackControlUrl')).restartApiServer({ kill: true });
    console.log(`kube-apiserver restarted (SIGKILL) mid-download in ${Date.now() - t0} ms`);
    await expectCompletedAfterStall('ka-svc', 'apiserver-restart');
  }, 360_000);
});
