/* eslint-disable @typescript-eslint/no-explicit-any -- status shapes are asserted field by field */
// Spec 10 scenario 10: killing the worker (SIGKILL of the real `aim-orchestrator worker` process) at any step of the
// AIMService lifecycle → after a restart the service reaches Running with no duplicated object.
//
// Lanes run in parallel, each with its own worker process on its own task queue and its own S3 source (so its own
// model, template, cache, PVC and Jobs). A lane walks through its kill points in lifecycle order: wait for the point,
// SIGKILL the worker, start it again, wait for the next point. A point is either
//   - "<workflow>: <activity> #n scheduled|completed", followed in the workflow's history (long poll). The service's
//     steps and the cache's short ones are local activities: their only trace is a marker, written when the workflow
//     task that ran them completes, so for them only "completed" exists;
//   - a Kubernetes write seen through a watch ("AIMModel created", "finalizer added", "Running written", ...): the
//     kill lands inside the step that made it, before it reported back (for the service: inside its workflow task).
// The table printed at the end shows each point, how long after the event the SIGKILL went out, and what was in
// flight at that moment (workflow tasks that then timed out, activity attempts that timed out and were retried).
// `AIM_FAULT_LANES=b,d` runs only some lanes (to reproduce one).
//
// The file has a stack of its own (test/harness/privateStack.ts, the `worker-kills` project in vitest.config.ts): the
// lanes' GPU nodes and worker processes would otherwise be seen by the integration files that run beside it (a model
// test that turns its node into NVIDIA hardware would still find the lanes' MI300X nodes).
import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import type { WorkflowNudger } from '../../activities/nudges.js';
import { workflowIdFor } from '../../workflows/signals.js';
import type { Manifest } from '../cases/examples.js';
import { startApiFaultProxy, type ApiFaultProxy } from '../harness/apiFaultProxy.js';
import type { OrchestratorFixture } from '../harness/orchestrator.js';
import { historyFacts, waitForActivityEdge, type ActivityEdge, type HistoryFacts } from './history.js';
import { describeHeld, heldWork, waitForHeldWork, type HeldWork, type Holder } from './inFlight.js';
import { armWatch, type WatchedKind } from './k8sEvents.js';
import {
  customS3Service,
  deployService,
  lifecycleStarter,
  serviceWorkflowId,
  sourceInventory,
  startFaultBed,
  userS3Model,
  waitForRunning,
  type FaultBed,
  type S3Source,
} from './lifecycle.js';
import { workerProcess, type WorkerProcess } from './workerProcess.js';
import { startPrivateStack, type PrivateStack } from '../harness/privateStack.js';

type Wf = 'service' | 'service2' | 'model' | 'cache';

/**
 * A kill point. History points: the n-th `scheduled` (the activity is running) or `completed` edge of an activity
 * in one of the lane's workflows; the service's steps and the cache's short ones are local activities, whose only
 * trace is a marker written when the workflow task that ran them completes (`completed` only). Watch points: an
 * object of the lane now satisfies `match` — a write inside a step just landed, and the step has not reported back.
 */
type Trigger =
  | { wf: Wf; activity: string; edge: ActivityEdge; nth: number }
  | { watch: WatchedKind; what: string; match: (obj: any, lane: Lane) => boolean };

const during = (wf: Wf, activity: string, nth = 1): Trigger => ({ wf, activity, edge: 'scheduled', nth });
const after = (wf: Wf, activity: string, nth = 1): Trigger => ({ wf, activity, edge: 'completed', nth });
const seen = (watch: WatchedKind, what: string, match: (obj: any, lane: Lane) => boolean): Trigger => ({
  watch,
  what,
  match,
});

const isFirstService = (o: any, l: Lane) => o.metadata.name === l.services[0];
const ofLaneSource = (o: any, l: Lane) =>
  o.spec?.sourceUri === l.source.uri || o.spec?.modelSources?.some((s: any) => s.sourceUri === l.source.uri);
const startsWithService = (o: any, l: Lane) => o.metadata.name.startsWith(`${l.services[0]}-`);

interface LaneSpec {
  id: string;
  /**
   * dedicated: Path 2, one service. shared: two services with a Shared cache; the second one is created right after
   * the first kill (so it must pass an attach probe of its own: its Secret has another name). byName: Path 1, a user
   * model (with its own probe) and a service naming it.
   */
  kind: 'dedicated' | 'shared' | 'byName';
  points: Trigger[];
}

/**
 * Each lane's points are in causal order, and each is followed by something slow (a Job's run, a service pass)
 * before the next: under load a history long poll can report an event a second late, and by the time of the kill
 * the next point must not have passed (the lane fails with "happened before it was armed" if it did).
 */
const LANES: LaneSpec[] = [
  {
    id: 'a',
    kind: 'dedicated',
    points: [
      seen(
        'AIMService',
        'service: finalizer added',
        (o, l) => isFirstService(o, l) && (o.metadata.finalizers ?? []).includes('aim.silogen.ai/cleanup'),
      ),
      after('model', 'readModel'),
      // The cache's short steps are local activities (no `scheduled` edge): inside ensureCacheRbac is its Role's
      // create.
      seen('Role', 'cache: progress Role created', startsWithService),
      after('cache', 'startDownload'),
      after('cache', 'waitForJob', 2),
    ],
  },
  {
    id: 'b',
    kind: 'dedicated',
    points: [
      seen('AIMModel', 'service: AIMModel created (before its nudge)', ofLaneSource),
      during('model', 'applyModelTemplates'),
      after('cache', 'startCacheProbe'),
      seen('InferenceService', 'service: InferenceService created', isFirstService),
    ],
  },
  {
    id: 'c',
    kind: 'dedicated',
    points: [
      seen('AIMServiceTemplate', 'model: template created', (o, l) =>
        (o.metadata.labels?.['aim.silogen.ai/model'] ?? '').startsWith(`faults-lane-${l.spec.id}-`),
      ),
      after('model', 'writeModelStatus'),
      seen('Job', 'cache: download Job created', (o, l) => startsWithService(o, l) && o.metadata.name.includes('-dl-')),
      seen(
        'AIMService',
        'service: CacheReady written',
        (o, l) =>
          isFirstService(o, l) &&
          (o.status?.conditions ?? []).some((c: any) => c.type === 'CacheReady' && c.status === 'True'),
      ),
    ],
  },
  {
    id: 'd',
    kind: 'dedicated',
    points: [
      seen('AIMService', 'service: first status written', (o, l) => isFirstService(o, l) && !!o.status?.status),
      seen('AIMModelCache', 'service: AIMModelCache created (before its nudge)', ofLaneSource),
      after('cache', 'writeCacheStatus'),
      during('cache', 'waitForJob', 2),
      // Ready written (probing, volume, attempt 1, Ready).
      after('cache', 'writeCacheStatus', 4),
    ],
  },
  {
    id: 'e',
    kind: 'shared',
    points: [
      after('service', 'ensureServiceCaches'),
      seen(
        'AIMModel',
        'service2: second owner added to the model',
        (o, l) => ofLaneSource(o, l) && (o.metadata.ownerReferences ?? []).some((r: any) => r.name === l.services[1]),
      ),
      seen(
        'Job',
        'service2: attach probe Job created',
        (o, l) => o.metadata.labels?.['aim.silogen.ai/service'] === l.services[1],
      ),
      after('service2', 'applyInferenceService'),
    ],
  },
  {
    id: 'f',
    kind: 'byName',
    points: [
      during('model', 'startModelProbe'),
      after('model', 'waitForJob'),
      during('cache', 'waitForJob'),
      after('cache', 'ensureCachePvc'),
    ],
  },
  {
    id: 'g',
    kind: 'dedicated',
    points: [
      // The first pass, recorded (its local activities' markers); never before a model point, which runs meanwhile.
      after('service', 'readService'),
      seen('PersistentVolumeClaim', 'cache: PVC created', startsWithService),
      seen('AIMService', 'service: Running written', (o, l) => isFirstService(o, l) && o.status?.status === 'Running'),
    ],
  },
];

/** `AIM_FAULT_LANES=c,e` runs only those lanes (to reproduce one); by default all run. */
const SELECTED = process.env.AIM_FAULT_LANES?.split(',').map((s) => s.trim());
const ACTIVE = SELECTED ? LANES.filter((l) => SELECTED.includes(l.id)) : LANES;
const POINT_TIMEOUT_MS = 300_000;
/** How long a history kill point waits for the worker to hold the work after its event (see the kill loop). */
const HOLD_WAIT_MS = 3000;
/** The second service of the Shared lane uses a copy: other credentials, so it must pass an attach probe of its own. */
const S3_SECRET_COPY = 'fault-s3-copy';

/**
 * The lanes' workers reach the API server through a proxy that answers their writes this late (and injects nothing
 * else): a watch point's write is stored and seen while the step that made it still waits for the answer, so the
 * kill lands inside that step even when the watch delivers late on a loaded machine.
 */
const WRITE_ANSWER_DELAY_MS = 750;

let ps: PrivateStack;
let bed: FaultBed;
let orch: OrchestratorFixture;
let proxy: ApiFaultProxy;
let laneKubeconfig: string;
const sources = new Map<string, S3Source>();

let failed = false;

beforeAll(async () => {
  ps = await startPrivateStack();
  bed = await startFaultBed(ps.conn);
  orch = bed.orch;
  for (const lane of ACTIVE) sources.set(lane.id, await bed.addSource(`lane-${lane.id}`));
  await bed.copySecret(S3_SECRET_COPY);
  proxy = await startApiFaultProxy({
    target: ps.stack.kubeServer,
    targetCaPath: ps.stack.kubeCaPath,
    workDir: bed.workDir,
    rate429: 0,
    rate500: 0,
    writeAnswerDelayMs: WRITE_ANSWER_DELAY_MS,
  });
  laneKubeconfig = join(bed.workDir, 'lane-worker-kubeconfig');
  await proxy.writeKubeconfig(laneKubeconfig, bed.worker.token);
}, 180_000);

afterAll(async () => {
  await proxy?.stop();
  await bed?.stop();
  await ps?.stop({ failed });
});

interface KillRecord {
  lane: string;
  point: string;
  /** Test clock when the SIGKILL was sent. */
  killAtMs: number;
  /** From the event (history event time or watch delivery) to the SIGKILL. */
  latencyMs: number;
  restartMs: number;
  /** A history point (an activity edge, read by long poll) or a watch point (a Kubernetes write seen by a watch). */
  via: 'history' | 'watch';
  /**
   * What the killed process had started and not finished, read from the server right after the SIGKILL (asserted
   * below, per kind of point); a point's own activity is reported, not asserted.
   */
  inFlight: HeldWork[];
}

function describeTrigger(t: Trigger): string {
  if ('watch' in t) return t.what;
  return `${t.wf}: ${t.activity} #${t.nth} ${t.edge}`;
}

class Lane {
  readonly source: S3Source;
  readonly services: string[];
  /** Path 1: the user's model (its name is known); Path 2 models are found by source. */
  readonly userModel: string | undefined;
  readonly worker: WorkerProcess;
  readonly kills: KillRecord[] = [];
  private readonly nudger: WorkflowNudger;
  private readonly background: Array<Promise<unknown>> = [];

  constructor(
    readonly spec: LaneSpec,
    private readonly signal: AbortSignal,
  ) {
    this.source = sources.get(spec.id)!;
    this.services = spec.kind === 'shared' ? [`k-${spec.id}-1`, `k-${spec.id}-2`] : [`k-${spec.id}`];
    this.userModel = spec.kind === 'byName' ? `m-${spec.id}` : undefined;
    const taskQueue = `aim-${orch.namespace}-lane-${spec.id}`;
    this.worker = workerProcess({
      name: `lane-${spec.id}`,
      ...ps.conn,
      kubeconfigPath: laneKubeconfig,
      taskQueue,
      logDir: join(bed.workDir, 'logs'),
    });
    this.nudger = lifecycleStarter(orch.client, taskQueue);
  }

  async run(): Promise<void> {
    const ns = orch.namespace;
    const [first, second] = this.services as [string, string | undefined];
    // Objects and workflows first, the worker last: nothing happens before the first point is armed.
    if (this.userModel) {
      await orch.objects.create(RESOURCES.AIMModel, userS3Model(this.userModel, ns, this.source) as never);
      await this.nudger.nudge('AIMModel', this.userModel, ns);
      await this.createService({
        apiVersion: 'aim.silogen.ai/v1alpha1',
        kind: 'AIMService',
        metadata: { name: first, namespace: ns },
        spec: { model: { name: this.userModel } },
      });
    } else {
      await this.createService(customS3Service(first, ns, this.source, { shared: this.spec.kind === 'shared' }));
    }
    const points = this.spec.points;
    let armedAt = Date.now();
    let next = await this.arm(points[0]!, armedAt);
    let holder = await this.startWorker();
    for (const [i, trigger] of points.entries()) {
      const point = describeTrigger(trigger);
      const hit = await withTimeout(next.seen, POINT_TIMEOUT_MS, () =>
        this.diagnose(`kill point "${point}" not reached`),
      );
      // A history event is read the moment it is written, which can fall in the gap before the worker has taken the
      // work that follows it (the next workflow task, or the activity just scheduled): the kill waits, briefly, until
      // the worker holds work of this lane, so that it lands inside the step the point names or the one right after.
      if (!('watch' in trigger))
        await waitForHeldWork(
          orch.client,
          () => this.workflowIds(),
          holder,
          () => true,
          HOLD_WAIT_MS,
          this.signal,
        );
      const killAtMs = Date.now();
      await this.worker.kill9();
      // Read after the SIGKILL: what is still open was open at the kill, and the dead process can finish nothing.
      const inFlight = await heldWork(orch.client, await this.workflowIds(), holder);
      if (hit.early) throw new Error(`lane ${this.spec.id}: "${point}" happened before it was armed (bad order)`);
      armedAt = killAtMs;
      if (i === 0 && second) {
        // The second Shared service arrives while the worker is down; the cache exists by now.
        const src = { ...this.source, secret: S3_SECRET_COPY };
        await this.createService(customS3Service(second, ns, src, { shared: true }));
      }
      if (i + 1 < points.length) next = await this.arm(points[i + 1]!, armedAt);
      const t0 = Date.now();
      holder = await this.startWorker();
      this.kills.push({
        lane: this.spec.id,
        point,
        via: 'watch' in trigger ? 'watch' : 'history',
        killAtMs,
        latencyMs: killAtMs - hit.atMs,
        restartMs: Date.now() - t0,
        inFlight,
      });
    }
    for (const s of this.services) {
      await withTimeout(waitForRunning(orch, s, POINT_TIMEOUT_MS), POINT_TIMEOUT_MS + 5000, () =>
        this.diagnose(`${s} not Running`),
      );
    }
    await Promise.all(this.background);
  }

  /** Starts the lane's worker process; returns who may hold work from now on (its pid, its start). */
  private async startWorker(): Promise<Holder> {
    const startedAtMs = Date.now();
    await this.worker.start();
    return { pid: this.worker.pid!, startedAtMs };
  }

  /** The IDs of the lane's workflows that exist so far. */
  private async workflowIds(): Promise<string[]> {
    const wfs: Wf[] =
      this.services.length > 1 ? ['service', 'service2', 'model', 'cache'] : ['service', 'model', 'cache'];
    const ids = await Promise.all(wfs.map((wf) => this.workflowIdOf(wf)));
    return ids.filter((id): id is string => id !== undefined);
  }

  private async createService(manifest: Manifest): Promise<void> {
    this.background.push((await deployService(orch, this.nudger, manifest, this.signal)).kserve);
  }

  /** Starts looking for a kill point; resolves once it is armed, with `seen`: the moment it is reached. */
  private async arm(t: Trigger, notBeforeMs: number): Promise<{ seen: Promise<{ atMs: number; early: boolean }> }> {
    if ('watch' in t)
      return armWatch(orch.kc, t.watch, orch.namespace, (o) => t.match(o, this), notBeforeMs, this.signal);
    // Histories are complete from the first event: following one from the start misses nothing.
    const reached = this.workflowIdOf(t.wf, this.signal).then((wfId) =>
      waitForActivityEdge(orch.client, wfId!, t.activity, t.edge, t.nth, notBeforeMs, this.signal),
    );
    reached.catch(() => undefined);
    return { seen: reached };
  }

  /**
   * The workflow ID of one of the lane's objects; models and caches are found by source once they exist (polling
   * until `signal` aborts; without a signal, undefined when there is none).
   */
  async workflowIdOf(wf: Wf, signal?: AbortSignal): Promise<string | undefined> {
    const ns = orch.namespace;
    if (wf === 'service' || wf === 'service2') return serviceWorkflowId(ns, this.services[wf === 'service' ? 0 : 1]!);
    if (wf === 'model' && this.userModel) return workflowIdFor('AIMModel', this.userModel, ns);
    const res = wf === 'model' ? RESOURCES.AIMModel : RESOURCES.AIMModelCache;
    for (;;) {
      const items = await orch.objects.list<any>(res, ns).catch(() => []);
      const hit = items.find((o) => ofLaneSource(o, this));
      if (hit) return workflowIdFor(wf === 'model' ? 'AIMModel' : 'AIMModelCache', hit.metadata.name, ns);
      if (!signal) return undefined;
      await sleep(250, undefined, { signal });
    }
  }

  /** What the lane's workflows went through (for the table and the no-failure assertions). */
  async histories(): Promise<HistoryFacts[]> {
    return Promise.all((await this.workflowIds()).map((id) => historyFacts(orch.client, id)));
  }

  private async diagnose(what: string): Promise<string> {
    const statuses = await Promise.all(
      this.services.map(async (s) => {
        const o = await orch.objects.get<any>(RESOURCES.AIMService, s, orch.namespace).catch(() => undefined);
        return `${s}: ${JSON.stringify(o?.status?.conditions?.find((c: any) => c.type === 'Ready') ?? o?.status)}`;
      }),
    );
    return `lane ${this.spec.id}: ${what}; ${statuses.join('; ')}; worker log (${this.worker.logFile}):\n${this.worker.tail(30)}`;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, message: () => Promise<string>): Promise<T> {
  const ac = new AbortController();
  try {
    return await Promise.race([
      p,
      sleep(ms, undefined, { signal: ac.signal }).then(async () => {
        throw new Error(await message());
      }),
    ]);
  } finally {
    ac.abort();
  }
}

/**
 * The in-flight work a kill cost: activities open at the kill whose attempt then timed out and was retried, and
 * workflow tasks that were open at the kill and timed out.
 */
function lostWork(kill: KillRecord, facts: HistoryFacts[]): string {
  const lost: string[] = [];
  for (const f of facts) {
    const wf = f.workflowId.split('/')[1]!.replace(/^AIM/, '');
    for (const a of f.activities)
      if (
        a.lastFailure === 'timeout' &&
        a.scheduledAtMs <= kill.killAtMs &&
        (a.closedAtMs ?? Infinity) >= kill.killAtMs
      )
        lost.push(`${a.type} attempt (${wf})`);
    for (const w of f.workflowTaskTimeouts)
      if (w.scheduledAtMs <= kill.killAtMs && w.atMs >= kill.killAtMs) lost.push(`workflow task (${wf})`);
  }
  return lost.join(', ') || '-';
}

function describeFacts(f: HistoryFacts): string {
  const retried = f.activities.filter((a) => a.attempt > 1).map((a) => `${a.type}#${a.attempt}(${a.lastFailure})`);
  return (
    `  ${f.workflowId}: ${f.events} events, ${f.workflowTaskTimeouts.length} workflow-task timeouts, ` +
    `${f.retries} activity retries${retried.length ? ` [${retried.join(' ')}]` : ''}, ` +
    `${f.activityFailures + f.activityTimeouts} activities failed for good, ${f.workflowTaskFailures} workflow-task failures`
  );
}

describe('worker killed with SIGKILL at lifecycle steps (scenario 10)', () => {
  // No retry: the lanes' objects and kill points are spent by the first attempt (a second one would only fail
  // differently and hide the first attempt's error behind its own).
  it(
    'every service reaches Running after each kill, with no duplicated object',
    { timeout: 600_000, retry: 0 },
    async () => {
      // A failure keeps the private stack's work dir and prints its server logs (privateStack.ts).
      onTestFailed(() => {
        failed = true;
      });
      const ac = new AbortController();
      // Every lane's watches, history follows and held-work polls listen on this one signal.
      setMaxListeners(100, ac.signal);
      const lanes = ACTIVE.map((spec) => new Lane(spec, ac.signal));
      const t0 = Date.now();
      const results = await Promise.allSettled(lanes.map((l) => l.run()));
      ac.abort();
      await Promise.allSettled(lanes.map((l) => l.worker.kill9()));
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
      const kills = lanes.flatMap((l) => l.kills);

      // The table of kill points (also when a lane failed: it shows how far each got).
      const facts = new Map<string, HistoryFacts[]>();
      for (const l of lanes) facts.set(l.spec.id, await l.histories().catch(() => []));
      const rows = kills.map(
        (k, i) =>
          `${String(i + 1).padStart(2)}  ${k.lane}  ${k.point.padEnd(48)} ${`${k.latencyMs} ms`.padStart(8)}  ` +
          `${`${(k.restartMs / 1000).toFixed(1)} s`.padStart(7)}  ${k.inFlight.map(describeHeld).join(', ') || 'NOTHING'}` +
          `  | ${lostWork(k, facts.get(k.lane) ?? [])}`,
      );
      console.log(
        [
          `worker kill points (${kills.length}, ${lanes.length} lanes in parallel, ${((Date.now() - t0) / 1000).toFixed(0)} s):`,
          ` #  lane kill point                                         after event  restart  in flight at the kill  | timed out, retried`,
          ...rows,
          'workflow histories afterwards:',
          ...[...facts.values()].flat().map(describeFacts),
        ].join('\n'),
      );
      expect(failures).toEqual([]);
      if (!SELECTED) expect(kills.length).toBeGreaterThanOrEqual(20);
      // Every kill lands in flight: the killed process had started work and not finished it (read after the SIGKILL).
      // A watch point's write is answered WRITE_ANSWER_DELAY_MS late, so the step that made it is still running at the
      // kill; a history point's kill waits until the worker holds the work that follows the event (HOLD_WAIT_MS).
      expect(
        kills.filter((k) => k.inFlight.length === 0).map((k) => `${k.lane}: ${k.point} (${k.via})`),
        'kill points that landed on nothing in flight',
      ).toEqual([]);
      expect(new Set(kills.map((k) => `${k.lane}:${k.point}`)).size).toBe(kills.length);

      const jobs = await orch.kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: orch.namespace });
      for (const lane of lanes) {
        const running = await Promise.all(lane.services.map((s) => waitForRunning(orch, s, 10_000)));
        const inv = await sourceInventory(orch, lane.source.uri);
        const where = `lane ${lane.spec.id}`;
        expect(inv.models, where).toHaveLength(1);
        expect(inv.templates, where).toHaveLength(1);
        expect(inv.caches, where).toHaveLength(1);
        expect(inv.pvcs, where).toHaveLength(1);
        const cache = inv.caches[0]!;
        const expectedJobs = [
          `${cache}-dl-1`,
          `${cache}-probe-1`,
          ...(lane.userModel ? [`${lane.userModel}-probe-1`] : []),
        ];
        expect(inv.jobs.map((j) => j.name).sort(), where).toEqual(expectedJobs.sort());
        expect(
          inv.jobs.every((j) => j.succeeded && !j.failed),
          where,
        ).toBe(true);
        for (const s of running) {
          expect(
            s.status.caches.map((c: any) => c.name),
            where,
          ).toEqual([cache]);
          expect(s.status.resolvedModel.name, where).toBe(inv.models[0]);
        }
        // Shared: the second service's attach probe ran exactly once.
        const second = lane.services[1];
        if (second) {
          const attach = jobs.items.filter((j) => j.metadata?.labels?.['aim.silogen.ai/service'] === second);
          expect(
            attach.map((j) => j.metadata?.name),
            where,
          ).toHaveLength(1);
        }
        for (const f of facts.get(lane.spec.id) ?? []) {
          expect(f.workflowTaskFailures, f.workflowId).toBe(0);
          expect(f.closed, f.workflowId).toBe(false);
        }
      }
      // Namespace totals: nothing outside the lanes' own objects either.
      const services = lanes.flatMap((l) => l.services);
      const isvcs = await orch.objects.list<any>(RESOURCES.InferenceService, orch.namespace);
      expect(isvcs.map((i) => i.metadata.name).sort()).toEqual([...services].sort());
      expect(await orch.objects.list(RESOURCES.AIMModel, orch.namespace)).toHaveLength(lanes.length);
      expect(await orch.objects.list(RESOURCES.AIMModelCache, orch.namespace)).toHaveLength(lanes.length);
      const pvcs = await orch.core.listNamespacedPersistentVolumeClaim({ namespace: orch.namespace });
      expect(pvcs.items).toHaveLength(lanes.length);
      expect(jobs.items.filter((j) => j.metadata?.name?.includes('-dl-'))).toHaveLength(lanes.length);
    },
  );
});
