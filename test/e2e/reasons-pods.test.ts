/* eslint-disable @typescript-eslint/no-explicit-any -- objects are asserted field by field */
import { describe, expect, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { DEFAULT_TIMING, timingFromEnv } from '../../domain/timing.js';
import { deterministicBytes } from '../harness/fixtures.js';
import { recordCacheHistory } from '../harness/recordHistory.js';
import { TEST_DOWNLOADER_IMAGE } from '../harness/kubelet.js';
import { waitForObject } from '../harness/orchestrator.js';
import { waitFor } from '../harness/processes.js';
import {
  condition,
  EXAMPLE_BUCKET,
  putTinyModel,
  standaloneCache,
  startAcceptance,
  type AcceptanceFixture,
  type AcceptanceOptions,
} from '../harness/scenarios.js';

/**
 * Spec 7, the failure reasons a download pod produces, each for real on the process kubelet and through a cache (and,
 * for the reasons a service shows, through an AIMService): a memory cgroup kills the real downloader above its limit
 * (OOMKilled), the kubelet's eviction manager evicts it under node memory pressure (Evicted), the node cannot pull an
 * image that was never pushed (ImagePullFailed), a LimitRange refuses the download pod so the Job cannot create it
 * (PodNotStarted); and a probe pod evicted, which runs again as a download pod's next attempt would. Each case asserts the reason on the spec's condition and status, a message naming what failed, the
 * Event, a bounded number of attempts (no storm), and the recovery after the fix with no retry annotation: the
 * operator raises AIM_DOWNLOADER_MEMORY_LIMIT or fixes AIM_DOWNLOADER_IMAGE and rolls the worker, the pressure ends,
 * the LimitRange is raised.
 *
 * Each case has its own fixture (namespace, node, worker, bridge, S3 server), so that a node under pressure or a
 * worker with a bad setting touches no other case, and they run concurrently. Time is compressed by the worker's
 * AIM_TIME_SCALE (0.025: the 15-minute PodNotStarted watchdog is 22.5 s, the 2-minute image-pull deadline 3 s, the
 * first re-check 1.5 s) and the kubelet's eviction period, never by sleeping less. The pause between download
 * attempts keeps production's 10 s (doubling): the OOMKilled and Evicted cases fix their cause (a worker roll, the
 * pressure ending) within it, and count attempts against it.
 */
const SCALE = 0.025;
const timing = {
  ...timingFromEnv({ AIM_TIME_SCALE: String(SCALE) }),
  attemptBaseSeconds: DEFAULT_TIMING.attemptBaseSeconds,
  attemptMaxSeconds: DEFAULT_TIMING.attemptMaxSeconds,
};
const WEIGHTS = deterministicBytes('e2e-reasons-pods/weights', 2 * 1024 * 1024);
/** An image tag the node's registry does not have (an operator's typo, or a release not pushed yet). */
const UNPUSHED_IMAGE = 'ghcr.io/silogen/aim-downloader:0.0.0-unpushed';
/** Far below what the Node.js downloader needs: its memory cgroup kills it. */
const TOO_LITTLE_MEMORY = '40Mi';
const CASE = { timeout: 240_000 } as const;

interface Case {
  e2e: AcceptanceFixture;
  cache(name: string): Promise<any>;
  untilCache(name: string, ok: (c: any) => boolean, ms?: number): Promise<any>;
  /** Every Event the orchestrator recorded on an object, by reason (summing `count`). */
  orchestratorEvents(name: string, reason: string): Promise<number>;
  /** Distinct `status/DownloadReady reason` states of a cache seen so far (polled every 250 ms). */
  statesSeen(name: string): string[];
}

/** A fixture of its own for one case; `run` gets it, and it is stopped whatever happens. */
async function withCase(opts: AcceptanceOptions, prefix: string, run: (c: Case) => Promise<void>): Promise<void> {
  const e2e = await startAcceptance({ timing, ...opts });
  const seen = new Map<string, string[]>();
  let polling = true;
  const watched = new Set<string>();
  const poller = (async () => {
    while (polling) {
      for (const name of watched) {
        const c = await e2e.orch.objects.get<any>(RESOURCES.AIMModelCache, name, e2e.namespace).catch(() => undefined);
        const state = `${c?.status?.status ?? '-'}/${condition(c, 'DownloadReady')?.reason ?? '-'}`;
        const list = seen.get(name) ?? [];
        if (list[list.length - 1] !== state) list.push(state);
        seen.set(name, list);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  try {
    await putTinyModel(e2e.s3, EXAMPLE_BUCKET, prefix, WEIGHTS);
    await run({
      e2e,
      cache: (name) => e2e.orch.objects.get<any>(RESOURCES.AIMModelCache, name, e2e.namespace),
      untilCache: (name, ok, ms = 120_000) => {
        watched.add(name);
        return waitForObject<any>(e2e.orch.objects, RESOURCES.AIMModelCache, name, e2e.namespace, ok, ms);
      },
      orchestratorEvents: async (name, reason) =>
        (await e2e.eventsFor(name))
          .filter((ev) => ev.reason === reason && ev.source?.component === 'aim-orchestrator')
          .reduce((n, ev) => n + (ev.count ?? 1), 0),
      statesSeen: (name) => seen.get(name) ?? [],
    });
  } finally {
    polling = false;
    await poller;
    await e2e.stop();
  }
}

/** Waits for a Warning Event of `reason` on an object (a Normal one of the same reason may come first). */
const warningEvent = (e2e: AcceptanceFixture, name: string, reason: string) =>
  waitFor(
    `a Warning ${reason} Event`,
    async () => (await e2e.eventsFor(name)).find((ev) => ev.reason === reason && ev.type === 'Warning'),
    { timeoutMs: 30_000, intervalMs: 300 },
  );

/** Waits for the pod of a Job to run (a pod to evict in the middle of its work). */
const podRunning = (e2e: AcceptanceFixture, job: string) =>
  waitFor(
    `the pod of ${job} running`,
    async () =>
      (
        await e2e.orch.core.listNamespacedPod({ namespace: e2e.namespace, labelSelector: `job-name=${job}` })
      ).items.find((p) => p.status?.phase === 'Running'),
    { timeoutMs: 120_000, intervalMs: 250 },
  );

const downloadReady = (reason: string) => (c: any) => condition(c, 'DownloadReady')?.reason === reason;
const isReady = (c: any) => c?.status?.status === 'Ready' && c.status.verified === true;
const seconds = (ms: number) => Math.round(ms / 100) / 10;
/** Recovery times, printed for the report. */
const recovered: Record<string, number> = {};

describe.concurrent('spec 7: failure reasons of download pods, for real, with recovery after the fix', () => {
  it(
    'OOMKilled: the downloader above its memory limit is killed; a raised limit lets the next attempt finish',
    CASE,
    () =>
      withCase({ workerSettings: { downloadMemoryLimit: TOO_LITTLE_MEMORY } }, 'qwen-oom', async (c) => {
        const name = 'oom';
        await c.e2e.apply(standaloneCache(c.e2e.s3.endpoint, name, 'qwen-oom', { maxAttempts: 5 }));
        const failed = await c.untilCache(name, downloadReady('OOMKilled'));
        // Spec 7: DownloadReady=False → Progressing while attempts remain (the next one is already planned).
        expect(failed.status.status).toBe('Progressing');
        expect(condition(failed, 'DownloadReady')).toMatchObject({ status: 'False' });
        expect(condition(failed, 'DownloadReady').message).toMatch(
          new RegExp(
            `^container download of pod ${name}-dl-1-\\w+ was OOMKilled \\(exit code 137\\) above its memory limit ${TOO_LITTLE_MEMORY}; retrying$`,
          ),
        );
        expect(await c.e2e.eventFor(name, 'OOMKilled')).toMatchObject({ type: 'Warning' });
        // The pod really was killed by its memory cgroup: the Job's pod says so, as a node would.
        const pods = (
          await c.e2e.orch.core.listNamespacedPod({
            namespace: c.e2e.namespace,
            labelSelector: `job-name=${name}-dl-1`,
          })
        ).items;
        expect(pods[0]?.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
          reason: 'OOMKilled',
          exitCode: 137,
        });

        // The operator raises AIM_DOWNLOADER_MEMORY_LIMIT and rolls the worker; nobody touches the cache.
        await c.e2e.orch.rollWorkers({ downloadMemoryLimit: '4Gi' });
        const fixedAt = Date.now();
        const ready = await c.untilCache(name, isReady);
        recovered.OOMKilled = Date.now() - fixedAt;
        expect(ready.metadata.annotations?.['aim.silogen.ai/retry']).toBeUndefined();
        // No storm: one Job per attempt, attempts 10 s apart (the workflow's back-off), at most the one before the fix
        // and the one after (a second OOM only if the roll outlasted the 10 s back-off).
        const jobs = await c.e2e.jobsOf(name);
        const downloads = jobs.filter((j) => j.metadata!.name!.startsWith(`${name}-dl-`));
        expect(downloads.length).toBeGreaterThanOrEqual(2);
        expect(downloads.length).toBeLessThanOrEqual(3);
        expect(ready.status.attempt).toBe(downloads.length);
        expect(await c.orchestratorEvents(name, 'OOMKilled')).toBeLessThanOrEqual(downloads.length - 1);
        const last = downloads.find((j) => j.metadata!.name === `${name}-dl-${ready.status.attempt}`)!;
        expect(last.spec!.template.spec!.containers[0]!.resources!.limits!.memory).toBe('4Gi');
        await recordCacheHistory(c.e2e.orch.client, c.e2e.namespace, name, 'cacheLifecycle-oom-next-attempt');
      }),
  );

  it(
    'Evicted: node memory pressure evicts the download; the service shows it and runs once the pressure ends',
    CASE,
    () =>
      withCase({ proxy: true, evictionMonitoringPeriodMs: 500 }, 'qwen-evict', async (c) => {
        const { e2e } = c;
        // A slow source keeps the download running long enough to be evicted in the middle of it.
        e2e.proxy!.slowDown('qwen-evict/model.safetensors', 256 * 1024);
        await e2e.apply(e2e.s3Service('evicted', { prefix: 'qwen-evict', endpoint: e2e.proxy!.url }));
        const withCache = await e2e.service('evicted', (s) => Boolean(s.status?.caches?.[0]?.name));
        const name: string = withCache.status.caches[0].name;
        await podRunning(e2e, `${name}-dl-1`);
        await e2e.orch.kubelet.setNodePressure('memory', { available: '50Mi' });
        const evicted = await c.untilCache(name, downloadReady('Evicted'));
        expect(evicted.status.status).toBe('Progressing');
        expect(condition(evicted, 'DownloadReady').message).toMatch(
          new RegExp(
            `^pod ${name}-dl-1-\\w+ was evicted from node ${e2e.orch.kubelet.nodeName}: The node was low on resource: memory\\..*; retrying$`,
          ),
        );
        expect(await e2e.eventFor(name, 'Evicted')).toMatchObject({ type: 'Warning' });
        // The service says why it is not running yet: CacheReady=False/Evicted → Starting (spec 7), with its Event.
        const starting = await e2e.service('evicted', (s) => condition(s, 'CacheReady')?.reason === 'Evicted', 60_000);
        expect(starting.status.status).toBe('Starting');
        expect(condition(starting, 'CacheReady')).toMatchObject({ status: 'False' });
        expect(condition(starting, 'CacheReady').message).toContain(`${name}: pod ${name}-dl-1-`);
        expect(await e2e.eventFor('evicted', 'Evicted')).toMatchObject({ type: 'Warning' });

        // The pressure ends (the node's memory is back): the next attempt is scheduled and resumes, nobody nudges.
        await e2e.orch.kubelet.setNodePressure('memory', undefined);
        e2e.proxy!.clearFaults();
        const fixedAt = Date.now();
        const ready = await c.untilCache(name, isReady);
        recovered.Evicted = Date.now() - fixedAt;
        const running = await e2e.runToRunning('evicted');
        recovered['Evicted (service Running)'] = Date.now() - fixedAt;
        expect(condition(running, 'CacheReady')).toMatchObject({ status: 'True' });
        const downloads = (await e2e.jobsOf(name)).filter((j) => j.metadata!.name!.startsWith(`${name}-dl-`));
        expect(downloads.length).toBe(ready.status.attempt);
        expect(downloads.length).toBeLessThanOrEqual(3);
        expect(await c.orchestratorEvents(name, 'Evicted')).toBeLessThanOrEqual(2);
      }),
  );

  it(
    'Evicted probe: node memory pressure evicts the probe pod; the probe runs again, as a download would, once it ends',
    CASE,
    () =>
      withCase({ proxy: true, evictionMonitoringPeriodMs: 500 }, 'qwen-pevict', async (c) => {
        const { e2e } = c;
        const name = 'probe-evicted';
        // A slow listing keeps the probe (metadata only) running long enough to be evicted in the middle of it.
        e2e.proxy!.slowDown('prefix=qwen-pevict', 16);
        await e2e.apply(standaloneCache(e2e.proxy!.url, name, 'qwen-pevict'));
        await podRunning(e2e, `${name}-probe-1`);
        await e2e.orch.kubelet.setNodePressure('memory', { available: '50Mi' });
        // The next attempt's rule: Progressing, the source not judged, the probe planned again.
        const evicted = await c.untilCache(name, (x) => condition(x, 'SourcesValid')?.reason === 'Evicted');
        expect(evicted.status.status).toBe('Progressing');
        expect(condition(evicted, 'SourcesValid').status).toBe('Unknown');
        expect(condition(evicted, 'DownloadReady').message).toMatch(
          new RegExp(
            `^pod ${name}-probe-1-\\w+ was evicted from node ${e2e.orch.kubelet.nodeName}: The node was low on resource: memory\\..*; retrying$`,
          ),
        );
        // The Warning of Ready=False (SourcesValid=Unknown is a Normal Event: the source is not known to be wrong).
        await warningEvent(e2e, name, 'Evicted');

        // The pressure ends: the probe runs again by itself, then the download; nobody touches the cache.
        await e2e.orch.kubelet.setNodePressure('memory', undefined);
        e2e.proxy!.clearFaults();
        const fixedAt = Date.now();
        const ready = await c.untilCache(name, isReady);
        recovered['Evicted probe'] = Date.now() - fixedAt;
        expect(ready.metadata.generation).toBe(evicted.metadata.generation);
        expect(ready.metadata.annotations?.['aim.silogen.ai/retry']).toBeUndefined();
        // Never reported Failed, and no storm: the evicted probe and the one after it.
        expect(c.statesSeen(name).filter((s) => s.startsWith('Failed/'))).toEqual([]);
        const probes = (await e2e.jobsOf(name)).filter((j) => j.metadata!.name!.startsWith(`${name}-probe-`));
        expect(probes.map((j) => j.metadata!.name).sort()).toEqual([`${name}-probe-1`, `${name}-probe-2`]);
        expect(ready.status.probeAttempt).toBe(2);
        // One transition, its Events (SourcesValid's message differs from DownloadReady's and Ready's).
        expect(await c.orchestratorEvents(name, 'Evicted')).toBeLessThanOrEqual(2);
        await recordCacheHistory(e2e.orch.client, e2e.namespace, name, 'cacheLifecycle-probe-evicted');
      }),
  );

  it('ImagePullFailed: an image the registry does not have; the fixed image is picked up by the re-check', CASE, () =>
    withCase({ workerSettings: { downloaderImage: UNPUSHED_IMAGE } }, 'qwen-image', async (c) => {
      const name = 'unpullable';
      await c.e2e.apply(standaloneCache(c.e2e.s3.endpoint, name, 'qwen-image'));
      const failed = await c.untilCache(name, downloadReady('ImagePullFailed'));
      const startedWatching = Date.now();
      // The probe's pod never ran: the source is not judged (SourcesValid=Unknown), the pod's reason is on
      // DownloadReady → Failed, re-checked on the fix back-off.
      expect(failed.status.status).toBe('Failed');
      expect(condition(failed, 'SourcesValid')).toMatchObject({ status: 'Unknown', reason: 'ImagePullFailed' });
      expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'ImagePullFailed' });
      expect(condition(failed, 'DownloadReady').message).toMatch(
        new RegExp(
          `^container probe of pod ${name}-probe-1-\\w+ cannot pull image ${UNPUSHED_IMAGE.replace(/[.]/g, '\\.')}: (ErrImagePull|ImagePullBackOff): `,
        ),
      );
      // The Warning of Ready=False (SourcesValid=Unknown is a Normal Event: nothing is known to be wrong there).
      await warningEvent(c.e2e, name, 'ImagePullFailed');
      // No storm: re-checks back off (1.5 s, 3 s, 6 s … at this scale), each after the 3 s pull deadline.
      await new Promise((r) => setTimeout(r, 10_000));
      const probes = (await c.cache(name)).status.probeAttempt;
      expect(probes).toBeLessThanOrEqual(4);
      // One Event per failed probe and condition message (Ready, SourcesValid), none per back-off tick.
      expect(await c.orchestratorEvents(name, 'ImagePullFailed')).toBeLessThanOrEqual(2 * probes);
      // A Job whose pod never started is deleted before the next: at most one Job of this cache at a time.
      expect(
        (await c.e2e.jobsOf(name)).filter((j) => !j.status?.failed && !j.status?.succeeded).length,
      ).toBeLessThanOrEqual(1);
      expect(Date.now() - startedWatching).toBeGreaterThanOrEqual(10_000);

      // The operator fixes AIM_DOWNLOADER_IMAGE and rolls the worker; the cache's own re-check picks it up.
      await c.e2e.orch.rollWorkers({ downloaderImage: TEST_DOWNLOADER_IMAGE });
      const fixedAt = Date.now();
      const ready = await c.untilCache(name, isReady);
      recovered.ImagePullFailed = Date.now() - fixedAt;
      expect(condition(ready, 'SourcesValid')).toMatchObject({ status: 'True' });
      expect(ready.metadata.annotations?.['aim.silogen.ai/retry']).toBeUndefined();
    }),
  );

  it('PodNotStarted: a LimitRange refuses the download pod; raising it lets the re-check start one', CASE, () =>
    withCase({}, 'qwen-limit', async (c) => {
      const { e2e } = c;
      const name = 'unstartable';
      // The namespace's LimitRange allows 1Gi per container; the download container's limit is 4Gi (the probe's
      // 512Mi passes), so the Job controller cannot create the download pod (FailedCreate).
      const limitRange = (max: string) => ({
        apiVersion: 'v1',
        kind: 'LimitRange',
        metadata: { name: 'container-memory' },
        spec: { limits: [{ type: 'Container', max: { memory: max } }] },
      });
      await e2e.apply(limitRange('1Gi'));
      await e2e.apply(standaloneCache(e2e.s3.endpoint, name, 'qwen-limit'));
      const failed = await c.untilCache(name, downloadReady('PodNotStarted'), 90_000);
      // Spec 7: Pending while the watchdog waits (the claim waits for its first consumer), then Failed.
      expect(c.statesSeen(name)).toContain('Pending/Downloading');
      expect(failed.status.status).toBe('Failed');
      expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'PodNotStarted' });
      const message: string = condition(failed, 'DownloadReady').message;
      expect(message).toMatch(
        new RegExp(
          `^the pod has not started after ${timing.podNotStartedSeconds}s \\(no pod was created\\); last event on job ${name}-dl-1: FailedCreate: `,
        ),
      );
      expect(message).toContain('maximum memory usage per Container is 1Gi, but limit is 4Gi');
      expect(await e2e.eventFor(name, 'PodNotStarted')).toMatchObject({ type: 'Warning' });
      // The Job that never got a pod is gone (it must not start later beside the next attempt).
      await waitFor(
        'the unstarted Job deleted',
        async () => ((await e2e.jobsOf(name)).length === 1 ? true : undefined),
        {
          timeoutMs: 30_000,
          intervalMs: 250,
        },
      );

      // The LimitRange is raised; the cache's own re-check starts the next attempt, which runs.
      await e2e.apply(limitRange('8Gi'));
      const fixedAt = Date.now();
      const ready = await c.untilCache(name, isReady);
      recovered.PodNotStarted = Date.now() - fixedAt;
      // No storm: one watchdog period per attempt; the attempt after the fix is at most the third.
      expect(ready.status.attempt).toBeLessThanOrEqual(3);
      expect(await c.orchestratorEvents(name, 'PodNotStarted')).toBeLessThanOrEqual(ready.status.attempt - 1);
      expect(ready.metadata.annotations?.['aim.silogen.ai/retry']).toBeUndefined();
    }),
  );
});

describe('recovery times', () => {
  it('prints them', () => {
    console.log(
      `[reasons-pods] time to recover after the fix: ${Object.entries(recovered)
        .map(([k, ms]) => `${k} ${seconds(ms)} s`)
        .join(', ')}`,
    );
  });
});
