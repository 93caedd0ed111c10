/* eslint-disable @typescript-eslint/no-explicit-any -- objects are asserted field by field */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { timingFromEnv } from '../../domain/timing.js';
import { example, exampleSecret } from '../cases/examples.js';
import { deterministicBytes } from '../harness/fixtures.js';
import { waitForObject } from '../harness/orchestrator.js';
import { waitFor } from '../harness/processes.js';
import { recordHistory } from '../harness/recordHistory.js';
import {
  condition,
  EXAMPLE_BUCKET,
  kubectlApply,
  putTinyModel,
  startAcceptance,
  SCENARIO,
  standaloneCache,
  useS3,
  useSecret,
  type AcceptanceFixture,
} from '../harness/scenarios.js';
import { createTestNamespace } from '../harness/namespaces.js';

/**
 * Spec 8, "Time scales": failures that wait for a person or another system back off (1 → 30 minutes) without a storm
 * of Jobs or Events and recover by themselves; names never fail at run time. Time is compressed ten times by
 * configuration (AIM_TIME_SCALE=0.1: a 1-minute back-off is 6 s, 30 minutes are 3), never by sleeping less.
 */
const SCALE = 0.1;
const HISTORY_EVENTS_MAX = 60;
const simulatedMinutes = (m: number) => m * 60_000 * SCALE;
// A short history limit, so that runs continue as new within the test and must carry their state across.
const TIMING = timingFromEnv({ AIM_TIME_SCALE: String(SCALE), AIM_HISTORY_EVENTS_MAX: String(HISTORY_EVENTS_MAX) });
let e2e: AcceptanceFixture;
const WEIGHTS = deterministicBytes('e2e-time-scales/weights', 256 * 1024);
/** Sent at SLOW_BYTES_PER_SECOND through the proxy: a download of about 100 s with ~1000 progress patches. */
const SLOW_WEIGHTS = deterministicBytes('e2e-time-scales/slow', 3 * 1024 * 1024);
const SLOW_BYTES_PER_SECOND = 32 * 1024;

beforeAll(async () => {
  e2e = await startAcceptance({
    timing: TIMING,
    // The downloader patches progress every 100 ms instead of every 5 s: 50 times the patches of a real download.
    downloaderEnv: { AIM_PROGRESS_INTERVAL_MS: '100' },
    proxy: true,
  });
  for (const prefix of ['qwen-secret', 'qwen-auth']) await putTinyModel(e2e.s3, EXAMPLE_BUCKET, prefix, WEIGHTS);
  await putTinyModel(e2e.s3, EXAMPLE_BUCKET, 'qwen-slow', SLOW_WEIGHTS);
}, 240_000);

afterAll(async () => {
  await e2e?.stop();
});

const cache = (f: AcceptanceFixture, name: string) =>
  f.orch.objects.get<any>(RESOURCES.AIMModelCache, name, f.namespace);
const until = (f: AcceptanceFixture, name: string, ok: (c: any) => boolean, ms = 120_000) =>
  waitForObject<any>(f.orch.objects, RESOURCES.AIMModelCache, name, f.namespace, ok, ms);
const probeJobs = async (f: AcceptanceFixture, name: string) =>
  (await f.jobsOf(name)).filter((j) => j.metadata?.name?.startsWith(`${name}-probe-`));
const hold = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every run of a workflow ID so far, oldest first. */
async function allRunsOf(f: AcceptanceFixture, workflowId: string): Promise<Array<{ runId: string }>> {
  const runs: Array<{ runId: string; start: number }> = [];
  for await (const w of f.orch.client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
    runs.push({ runId: w.runId, start: w.startTime.getTime() });
  return runs.sort((a, b) => a.start - b.start);
}

/** Every run of a workflow ID, oldest first (visibility is eventually consistent: waits for the closed ones). */
async function runsOf(f: AcceptanceFixture, workflowId: string): Promise<Array<{ runId: string; status: string }>> {
  return waitFor(
    `the runs of ${workflowId}`,
    async () => {
      const runs: Array<{ runId: string; status: string; start: number }> = [];
      for await (const w of f.orch.client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
        runs.push({ runId: w.runId, status: w.status.name, start: w.startTime.getTime() });
      return runs.length > 1 ? runs.sort((a, b) => a.start - b.start) : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 1000 },
  );
}

/** With RECORD_HISTORIES=1: the first and last run, for the replay test (test/histories/). */
async function recordHistories(
  f: AcceptanceFixture,
  id: string,
  runs: Array<{ runId: string }>,
  name: string,
): Promise<void> {
  const firstAndLast =
    runs.length === 1
      ? [[runs[0]!, 'run'] as const]
      : ([
          [runs[0]!, 'first-run'],
          [runs[runs.length - 1]!, 'last-run'],
        ] as const);
  for (const [run, suffix] of firstAndLast) await recordHistory(f.orch.client, id, `${name}-${suffix}`, run.runId);
}

/** History events of every run of a workflow (continue-as-new included), with their times. */
async function historyEvents(
  f: AcceptanceFixture,
  workflowId: string,
  withSignals = false,
): Promise<Array<{ time: number; type: string; signal?: string }>> {
  const out: Array<{ time: number; type: string; signal?: string }> = [];
  const runs: string[] = [];
  for await (const w of f.orch.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs.push(w.runId);
  for (const runId of runs) {
    const h = await f.orch.client.workflow.getHandle(workflowId, runId).fetchHistory();
    for (const ev of h.events ?? [])
      out.push({
        time: Number(ev.eventTime?.seconds ?? 0) * 1000,
        type: String(ev.eventType ?? ''),
        ...(withSignals && ev.workflowExecutionSignaledEventAttributes?.signalName
          ? { signal: ev.workflowExecutionSignaledEventAttributes.signalName }
          : {}),
      });
  }
  return out;
}

// The long download and the back-off scenarios wait on the (compressed) clock, not on each other: the download runs
// beside the others, which run one after another (their recoveries must each be seen within a minute, so they do not
// overlap). The quota scenario has a namespace of its own: its quota forbids every PVC of its namespace.
describe.concurrent('a long download, compressed (spec 8: bounded histories)', { timeout: 420_000 }, () => {
  it('costs the service at most one history event per progress patch, and none once Running', async () => {
    e2e.proxy!.slowDown('qwen-slow/model.safetensors', SLOW_BYTES_PER_SECOND);
    await e2e.apply(e2e.s3Service('slow-svc', { prefix: 'qwen-slow', endpoint: e2e.proxy!.url }));
    const downloading = await e2e.service('slow-svc', (s) => (s.status?.caches ?? []).length > 0, 120_000);
    const cacheName = downloading.status.caches[0].name;
    // Count the progress patches as a watcher sees them: every change of status.progress.
    let patches = 0;
    let lastProgress = '';
    const seen = new Set<string>();
    const started = Date.now();
    const watcher = setInterval(() => {
      void cache(e2e, cacheName).then((c) => {
        const p = JSON.stringify(c?.status?.progress ?? null);
        const rv = c?.metadata?.resourceVersion ?? '';
        if (p !== lastProgress && !seen.has(rv)) patches += 1;
        lastProgress = p;
        seen.add(rv);
      });
    }, 50);
    let mirrored = 0;
    const mirror = setInterval(() => {
      void e2e.orch.objects
        .get<any>(RESOURCES.AIMService, 'slow-svc', e2e.namespace)
        .then((s) => (mirrored = Math.max(mirrored, s?.status?.caches?.[0]?.percent ?? 0)));
    }, 500);
    try {
      await until(e2e, cacheName, (c) => c.status?.status === 'Ready', 300_000);
    } finally {
      clearInterval(watcher);
      clearInterval(mirror);
    }
    const downloadSeconds = (Date.now() - started) / 1000;
    const serviceId = `aim/AIMService/${e2e.namespace}/slow-svc`;
    const during = (await historyEvents(e2e, serviceId)).filter(
      (e) => e.time >= started - 1000 && e.time <= Date.now(),
    );
    const perPatch = during.length / Math.max(1, patches);
    // The service showed the progress while it lasted (mirrored every ~1.5 s here, on a change of ≥ 1 %).
    expect(mirrored).toBeGreaterThan(0);
    expect(patches).toBeGreaterThan(100);
    expect(perPatch).toBeLessThanOrEqual(1);

    const running = await e2e.runToRunning('slow-svc');
    // Running and idle for 20 simulated minutes: only the steady re-reads (every 10 simulated minutes).
    const idleFrom = Date.now();
    await hold(simulatedMinutes(20));
    const idle = (await historyEvents(e2e, serviceId)).filter((e) => e.time >= idleFrom);
    const perHour = (idle.length * 60) / 20;
    expect(perHour).toBeLessThanOrEqual(200);
    expect(running.status.status).toBe('Running');
    console.log(
      `[time-scales] download ${downloadSeconds.toFixed(0)} s, ${patches} progress patches, ${during.length} service ` +
        `history events meanwhile (${perPatch.toFixed(3)} per patch); Running and idle: ${idle.length} events in 20 ` +
        `simulated minutes (${perHour.toFixed(0)} per hour)`,
    );
  });
});

describe.concurrent('beside the long download, one after another', () => {
  describe.sequential('a ResourceQuota that forbids PVCs for 10 minutes, then raised', SCENARIO, () => {
    // A namespace of its own: the quota forbids every PVC of its namespace, and the long download needs one.
    let q: AcceptanceFixture;
    beforeAll(async () => {
      q = await startAcceptance({ timing: TIMING });
      await putTinyModel(q.s3, EXAMPLE_BUCKET, 'qwen-quota', WEIGHTS);
    }, 240_000);
    afterAll(async () => {
      await q?.stop();
    });
    const quota = (pvcs: string) => ({
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'no-pvcs', namespace: q.namespace },
      spec: { hard: { persistentvolumeclaims: pvcs } },
    });

    it('waits as Pending/QuotaExceeded naming the quota, with one probe Job and one Event, and recovers unnudged', async () => {
      await q.orch.core.createNamespacedResourceQuota({ namespace: q.namespace, body: quota('0') });
      await q.apply(standaloneCache(q.s3.endpoint, 'quota-cache', 'qwen-quota'));
      const held = await until(q, 'quota-cache', (c) => condition(c, 'Ready')?.reason === 'QuotaExceeded');
      expect(held.status.status).toBe('Pending');
      expect(condition(held, 'VolumeReady')).toMatchObject({ status: 'False', reason: 'QuotaExceeded' });
      expect(condition(held, 'Ready').message).toContain('exceeded quota: no-pvcs');
      expect(condition(held, 'Ready').message).toContain('persistentvolumeclaims');

      // Held for 10 simulated minutes: re-checks at 1, 2, 4, 8 minutes, never a new probe (the probe had passed).
      await hold(simulatedMinutes(10));
      expect((await probeJobs(q, 'quota-cache')).length).toBeLessThanOrEqual(4);
      const quotaEvents = (await q.eventsFor('quota-cache')).filter((e) => e.reason === 'QuotaExceeded');
      expect(quotaEvents).toHaveLength(1);
      expect(quotaEvents[0]).toMatchObject({ type: 'Warning' });
      expect((await cache(q, 'quota-cache')).status.status).toBe('Pending');

      // Raised: the bridge sees the quota change and the cache goes on at once (well before its next re-check).
      const raisedAt = Date.now();
      await q.orch.core.replaceNamespacedResourceQuota({
        name: 'no-pvcs',
        namespace: q.namespace,
        body: quota('10'),
      });
      const ready = await until(q, 'quota-cache', (c) => c.status?.status === 'Ready', 60_000);
      expect(ready.status.verified).toBe(true);
      expect(Date.now() - raisedAt).toBeLessThan(60_000);
      expect((await probeJobs(q, 'quota-cache')).length).toBeLessThanOrEqual(4);
      // The run continued as new on the way (history limit 60 events) and carried its state: still one probe Job.
      const runs = await runsOf(q, `aim/AIMModelCache/${q.namespace}/quota-cache`);
      expect(runs.filter((r) => r.status === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(1);
      await recordHistories(q, `aim/AIMModelCache/${q.namespace}/quota-cache`, runs, 'cacheLifecycle-quota-recheck');
      console.log(
        `[time-scales] ${runs.length} run(s); quota held ${simulatedMinutes(10) / 1000} s (10 simulated min): ` +
          `${(await probeJobs(q, 'quota-cache')).length} probe Job(s), ${quotaEvents.length} QuotaExceeded Event(s), ` +
          `Ready ${((Date.now() - raisedAt) / 1000).toFixed(1)} s after the quota was raised`,
      );
    });
  });

  describe.sequential('a Secret created 10 minutes late for a cache and for a model', SCENARIO, () => {
    it('no Job while it is missing, one Event, re-checked on the back-off; Ready within a minute of the Secret, unnudged', async () => {
      const c = standaloneCache(e2e.s3.endpoint, 'secret-cache', 'qwen-secret');
      useSecret(c.spec, 'late-creds');
      const m = example('aimmodel-s3-custom-templates.yaml');
      m.metadata.name = 'secret-model';
      const source = (m.spec as any).modelSources[0];
      useS3(source, e2e.s3.endpoint, 'qwen-secret');
      useSecret(source, 'late-creds');
      await e2e.apply(c);
      await e2e.apply(m);
      const model = (ok: (o: any) => boolean, ms = 120_000) =>
        waitForObject<any>(e2e.orch.objects, RESOURCES.AIMModel, 'secret-model', e2e.namespace, ok, ms);

      const waiting = await until(e2e, 'secret-cache', (o) => condition(o, 'AuthValid')?.reason === 'SecretNotFound');
      expect(waiting.status.status).toBe('Pending');
      expect(condition(waiting, 'AuthValid').message).toContain(`secret ${e2e.namespace}/late-creds not found (key`);
      const modelWaiting = await model((o) => condition(o, 'AuthValid')?.reason === 'SecretNotFound');
      expect(condition(modelWaiting, 'AuthValid').message).toContain('late-creds');
      await hold(simulatedMinutes(10));
      expect(await e2e.jobsOf('secret-cache')).toEqual([]);
      expect((await e2e.eventsFor('secret-cache')).filter((e) => e.reason === 'SecretNotFound')).toHaveLength(1);
      expect((await e2e.eventsFor('secret-model')).filter((e) => e.reason === 'SecretNotFound')).toHaveLength(1);

      const secret = exampleSecret('secret-s3-credentials.yaml', {
        'access-key': e2e.s3.accessKey,
        'secret-key': e2e.s3.secretKey,
      });
      secret.metadata.name = 'late-creds';
      const createdAt = Date.now();
      await e2e.apply(secret);
      // The bridge sees the Secret and retries both at once: no wait for the next re-check of the back-off.
      const ready = await until(e2e, 'secret-cache', (o) => o.status?.status === 'Ready', 60_000);
      expect(ready.status.verified).toBe(true);
      expect((await probeJobs(e2e, 'secret-cache')).length).toBe(1);
      const readyModel = await model((o) => o.status?.status === 'Ready', 60_000);
      expect(condition(readyModel, 'AuthValid')).toMatchObject({ status: 'True' });
      // What ended the waits was the bridge's `retry` on the Secret, not the back-off's timer.
      for (const [kind, name, lifecycle] of [
        ['AIMModelCache', 'secret-cache', 'cacheLifecycle'],
        ['AIMModel', 'secret-model', 'modelLifecycle'],
      ] as const) {
        const id = `aim/${kind}/${e2e.namespace}/${name}`;
        const signals = (await historyEvents(e2e, id, true)).filter(
          (e) => e.time >= Math.floor(createdAt / 1000) * 1000 && e.signal === 'retry',
        );
        expect(signals.length, `${kind} retried on the Secret`).toBeGreaterThanOrEqual(1);
        await recordHistories(e2e, id, await allRunsOf(e2e, id), `${lifecycle}-secret-late`);
      }
      console.log(
        `[time-scales] Secret 10 simulated min late: cache Ready and model Ready ` +
          `${((Date.now() - createdAt) / 1000).toFixed(1)} s after it was created`,
      );
    });
  });

  describe.sequential('wrong keys for 10 minutes, then the Secret edited', SCENARIO, () => {
    it('AuthFailed re-probes on the back-off, no storm; editing the Secret re-probes at once and the cache is Ready', async () => {
      const keys = (accessKey: string, secretKey: string) => {
        const secret = exampleSecret('secret-s3-credentials.yaml', {
          'access-key': accessKey,
          'secret-key': secretKey,
        });
        secret.metadata.name = 'rotating-creds';
        return secret;
      };
      await e2e.apply(keys('nobody', 'wrong-secret-value-ts'));
      const c = standaloneCache(e2e.s3.endpoint, 'auth-cache', 'qwen-auth');
      useSecret(c.spec, 'rotating-creds');
      await e2e.apply(c);
      const failed = await until(e2e, 'auth-cache', (o) => condition(o, 'AuthValid')?.reason === 'AuthFailed');
      expect(failed.status.status).toBe('Failed');

      // Re-probed at 1, 2, 4, 8 simulated minutes: at most five probe Jobs in ten minutes, and an AuthFailed Event
      // only when a re-probe ends refused again (one per probe, never one per minute).
      await hold(simulatedMinutes(10));
      const heldProbes = (await probeJobs(e2e, 'auth-cache')).length;
      expect(heldProbes).toBeGreaterThanOrEqual(2);
      expect(heldProbes).toBeLessThanOrEqual(5);
      const authEvents = (await e2e.eventsFor('auth-cache')).filter((e) => e.reason === 'AuthFailed');
      expect(authEvents.length).toBeGreaterThanOrEqual(1);
      expect(authEvents.length).toBeLessThanOrEqual(heldProbes);

      const editedAt = Date.now();
      await e2e.apply(keys(e2e.s3.accessKey, e2e.s3.secretKey));
      const ready = await until(e2e, 'auth-cache', (o) => o.status?.status === 'Ready', 60_000);
      expect(ready.status.verified).toBe(true);
      const id = `aim/AIMModelCache/${e2e.namespace}/auth-cache`;
      const retried = (await historyEvents(e2e, id, true)).filter(
        (e) => e.time >= Math.floor(editedAt / 1000) * 1000 && e.signal === 'retry',
      );
      expect(retried.length, 'the bridge retried the cache on the edited Secret').toBeGreaterThanOrEqual(1);
      await recordHistories(e2e, id, await allRunsOf(e2e, id), 'cacheLifecycle-auth-reprobe');
      console.log(
        `[time-scales] wrong keys held ${simulatedMinutes(10) / 1000} s (10 simulated min): ${heldProbes} probe Job(s); ` +
          `Ready ${((Date.now() - editedAt) / 1000).toFixed(1)} s after the Secret was edited`,
      );
    });
  });

  describe.sequential('a 63-character namespace (spec 3: names never fail at run time)', SCENARIO, () => {
    it('refuses the service up front with InvalidSpec, creates nothing, and deletion completes', async () => {
      const ns = `t${Date.now().toString(36)}`.padEnd(63, 'x');
      await createTestNamespace(e2e.orch.core, ns);
      const bridge = e2e.orch.startBridge({ namespaces: [ns] });
      try {
        await bridge.ready;
        const svc = e2e.s3Service('long-ns');
        svc.metadata.namespace = ns;
        await kubectlApply(e2e.orch.kc, svc);
        const refused = await waitForObject<any>(
          e2e.orch.objects,
          RESOURCES.AIMService,
          'long-ns',
          ns,
          (s) => s.status?.status === 'Failed',
          60_000,
        );
        expect(condition(refused, 'ConfigValid')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
        expect(condition(refused, 'ConfigValid').message).toContain('metadata.namespace');
        expect(condition(refused, 'ConfigValid').message).toContain('at most 42 characters');
        expect(await e2e.orch.objects.list(RESOURCES.AIMModel, ns)).toEqual([]);
        expect(await e2e.orch.objects.list(RESOURCES.AIMModelCache, ns)).toEqual([]);
        await e2e.orch.objects.delete(RESOURCES.AIMService, 'long-ns', ns);
        await waitFor(
          'long-ns deleted',
          async () => ((await e2e.orch.objects.get(RESOURCES.AIMService, 'long-ns', ns)) ? undefined : true),
          { timeoutMs: 30_000 },
        );
      } finally {
        await bridge.stop();
        await e2e.orch.core.deleteNamespace({ name: ns }).catch(() => undefined);
      }
    });
  });
});
