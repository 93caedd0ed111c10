import { condition, continueAsNew, patched, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import {
  cacheDownloadFailed,
  cacheDownloading,
  cacheInvalid,
  cacheProbeFailed,
  cacheProbeRetrying,
  cacheProbing,
  cacheSecretMissing,
  cacheSizeUnknown,
  cacheVerified,
  cacheVolume,
  cacheVolumeBound,
  jobFailure,
  namingClaim,
  probeRetryRule,
} from '../domain/cacheConditions.js';
import { needsRecheck, needsReprobe } from '../domain/failureReasons.js';
import { stepFailureReport } from '../domain/failureStatus.js';
import { attemptPauseMs, DEFAULT_TIMING, fixBackoff, nextBackoff, type LifecycleTiming } from '../domain/timing.js';
import type { CacheRef, CacheSnapshot } from '../activities/caches.js';
import type { JobOutcome } from '../activities/jobs.js';
import {
  changedSignal,
  deletedSignal,
  dependencyChangedSignal,
  progressQuery,
  retrySignal,
  type Progress,
} from './signals.js';
import { k8s, k8sLocal, watch, activityFailure, failedStatus } from './proxies.js';
import { recreated } from './binding.js';
import { historyFull } from './history.js';
import { memoUid, visibility } from './visibility.js';

export interface CacheLifecycleInput {
  name: string;
  namespace: string;
  uid?: string;
  /** Carried across continue-as-new: everything a later pass needs. */
  state?: CacheState;
}

/** What a cache run knows beyond its object: carried whole through continue-as-new. */
export interface CacheState {
  /** The generation the last pass acted on: nudges of the same generation never restart a failed one. */
  handledGeneration?: number;
  /** After the last pass: idle (Ready, or failed for good), or waiting to re-check a failure on a back-off. */
  wait: 'idle' | 'recheck';
  waitSeconds?: number;
  /** The last probe that passed, for this generation: a re-check after a later step failed resumes after it. */
  probe?: { generation: number; totalBytes: number; source?: { totalBytes: number; files: number; revision?: string } };
  /** The last failure was a ResourceQuota refusal: a nudge (the bridge's, when a quota changes) re-checks at once. */
  quota?: boolean;
  /**
   * The download attempt a pass was inside when it failed (e.g. the API server away while it waited for the Job): the
   * next pass picks that attempt's Job up again instead of starting another one beside or after it.
   */
  resumeAttempt?: number;
  /** Nudges and a retry that arrived as the run continued as new. */
  nudged?: boolean;
  retry?: boolean;
}

const WATCH_SECONDS = 600;
/** Job names end in `-{n}` with n ≤ 999; past it, finished Jobs are deleted and numbering restarts (spec 3). */
const MAX_ATTEMPT_NUMBER = 999;

/**
 * One workflow per AIMModelCache (spec 5.4): probe → ServiceAccount/Role → PVC → download attempts (a Job each,
 * resuming) → verified → Ready. Typed failures become explicit states that wait for a fix (`retry`, a spec change,
 * or their own re-probe (AuthFailed/GatedModel) or re-check (a Secret, a volume, an image, a quota, free space) on a
 * capped back-off).
 */
export async function cacheLifecycle(input: CacheLifecycleInput): Promise<void> {
  const ref: CacheRef = { name: input.name, namespace: input.namespace };
  let uid = input.uid;
  const state: CacheState = input.state ?? { wait: 'idle' };
  let nudged = !input.state || state.nudged === true;
  let retry = state.retry === true;
  let wake: string | number = '1 hour';
  let reprobeMinutes = 1;
  const progress: Progress = { phase: 'Starting', step: 'readCache', attempt: 0 };
  const tag = visibility({ kind: 'AIMModelCache', name: input.name, namespace: input.namespace });
  const recordUid = memoUid();
  const nudge = () => void (nudged = true);
  setHandler(changedSignal, nudge);
  setHandler(dependencyChangedSignal, nudge);
  setHandler(deletedSignal, nudge);
  setHandler(retrySignal, () => {
    nudged = true;
    retry = true;
  });
  setHandler(progressQuery, () => progress);
  // Time scales (spec 8), behind a patch: the worker's clocks, continue-as-new checked on every iteration with the
  // whole state carried, every failure that waits for a fix re-checked on a back-off (1 → 30 minutes) and resumed
  // from the failed step (no new probe Job when the probe had passed), and Jobs whose pods never started deleted.
  const timed = patched('aim-cache-time-scales-v1');
  const timing: LifecycleTiming = timed ? await k8sLocal.lifecycleTiming() : DEFAULT_TIMING;
  // Behind a patch: the short Kubernetes calls of a pass as local activities. A run of them (RBAC, secrets, status,
  // Job create) then follows each other inside one workflow task instead of a task-queue round trip per call, which
  // was most of the time between the cache's Jobs. Runs recorded before it replay with plain activities.
  // Two stay activities: deleting finished Jobs (up to 999 of them), and `readCache`, whose snapshot numbers the Jobs
  // (probeAttempt, attempt: the status this workflow wrote). Recorded in history, it is what a worker killed inside a
  // run of local steps resumes from, so the re-run creates-or-gets the same Job names; a local read would see the
  // attempt its lost run had already written and start a second Job beside the first.
  const steps = patched('aim-cache-local-steps-v1') ? k8sLocal : k8s;

  for (;;) {
    if (timed && historyFull(timing.historyEventsMax)) {
      await continueAsNew<typeof cacheLifecycle>({
        ...input,
        ...(uid ? { uid } : {}),
        state: { ...state, nudged, retry },
      });
    }
    const idleWait = timed ? timing.backoffMaxSeconds * 2 * 1000 : wake;
    const timedOut = !(await condition(
      () => nudged,
      timed && state.wait === 'recheck' ? (state.waitSeconds ?? timing.backoffBaseSeconds) * 1000 : idleWait,
    ));
    nudged = false;
    try {
      const snap = await k8s.readCache(ref);
      if (recreated(snap, uid))
        await continueAsNew<typeof cacheLifecycle>({ name: input.name, namespace: input.namespace });
      if (!snap.exists || snap.deleting || (uid && snap.uid !== uid)) {
        progress.phase = 'Deleted';
        return;
      }
      uid = snap.uid!;
      recordUid(uid);
      const generation = snap.generation ?? 0;
      if (snap.invalid) {
        progress.phase = 'Failed';
        const message = snap.invalid.map((e) => `${e.path}: ${e.message}`).join('; ');
        await steps.writeCacheStatus(ref, uid, generation, cacheInvalid(message));
        state.handledGeneration = generation;
        continue;
      }
      const reprobeDue = timed
        ? state.wait === 'recheck' && (timedOut || state.quota === true)
        : timedOut && wake !== '1 hour';
      const newGeneration = generation !== state.handledGeneration;
      state.handledGeneration = generation;
      // Ready stays Ready; a failed generation waits for a fix (retry, a spec change, or its re-probe timer), so that
      // nudges from services never turn into a retry storm.
      if (snap.ready || (!newGeneration && !retry && !reprobeDue)) continue;
      // A re-check resumes after a probe that passed for this generation (a retry or a new generation probes again).
      const probed =
        timed && !newGeneration && !retry && state.probe?.generation === generation ? state.probe : undefined;
      if (!probed) delete state.probe;
      retry = false;
      const outcome = await drive(uid, snap, probed);
      tag(outcome === 'done' ? 'Ready' : 'Failed');
      // Services waiting on this cache learn the outcome now rather than on their next timer (behind a patch:
      // runs recorded before it replay without the call).
      if (patched('aim-cache-nudges-users-v1')) await steps.nudgeCacheUsers(ref);
      if (timed) {
        state.quota = false;
        recheckLater(outcome === 'reprobe' || outcome === 'recheck');
      } else if (outcome === 'reprobe') {
        wake = `${reprobeMinutes} minutes`;
        reprobeMinutes = Math.min(30, reprobeMinutes * 2);
      } else {
        wake = '1 hour';
        reprobeMinutes = 1;
      }
      if (!timed && workflowInfo().continueAsNewSuggested)
        await continueAsNew<typeof cacheLifecycle>({ ...input, ...(uid ? { uid } : {}) });
    } catch (err) {
      // A non-retryable failure never fails the execution (then nobody would be left to fix things): it is
      // reported, and the workflow looks again after a pause or on the next nudge (spec 7).
      progress.lastFailure = activityFailure(err);
      if (progress.phase === 'Downloading') state.resumeAttempt = progress.attempt;
      if (uid) {
        const report = timed
          ? stepFailureReport(progress.lastFailure, progress.step)
          : failedStatus(progress.lastFailure);
        await steps.writeCacheStatus(ref, uid, 0, report).catch(() => undefined);
      }
      if (timed) {
        state.quota = progress.lastFailure.type === 'QuotaExceeded';
        recheckLater(true);
      } else wake = '1 minute';
    }
  }

  /**
   * Whether a failure another system fixes is re-checked on the fix back-off (time-scales runs). InsufficientStorage
   * became one behind a patch (space freed on the volume's disk fixes it, no new generation needed): runs recorded
   * before it wait for a spec change or `retry`.
   */
  function rechecked(reason: string): boolean {
    return (
      timed && needsRecheck(reason) && (reason !== 'InsufficientStorage' || patched('aim-cache-storage-recheck-v1'))
    );
  }

  /** After a pass (time-scales runs): re-check a failure on a back-off that doubles from 1 to 30 minutes, or idle. */
  function recheckLater(recheck: boolean): void {
    if (!recheck) {
      state.wait = 'idle';
      delete state.waitSeconds;
      return;
    }
    const fix = fixBackoff(timing, progress.lastFailure?.type);
    state.waitSeconds = nextBackoff(state.wait === 'recheck' ? state.waitSeconds : undefined, fix.base, fix.max);
    state.wait = 'recheck';
  }

  async function drive(
    uid: string,
    snap: CacheSnapshot,
    probed?: CacheState['probe'],
  ): Promise<'done' | 'failed' | 'reprobe' | 'recheck'> {
    const generation = snap.generation ?? 0;
    const write = steps.writeCacheStatus.bind(null, ref, uid, generation);
    progress.phase = 'Probing';
    progress.step = 'ensureCacheRbac';
    await steps.ensureCacheRbac(ref, uid);

    /** Probe: metadata only (spec 5.4 step 1); a typed failure ends the pass with an outcome. */
    async function probe(
      boundUid: string,
      cache: CacheSnapshot,
    ): Promise<
      | 'failed'
      | 'reprobe'
      | 'recheck'
      | {
          totalBytes: number;
          source?: { totalBytes: number; files: number; revision?: string };
          probeFailure?: { reason: string; message: string };
        }
    > {
      let probeAttempt = (cache.probeAttempt ?? 0) + 1;
      const maxAttempts = cache.maxAttempts ?? 5;
      let probeJob: string;
      let probe: JobOutcome;
      let probeFailure: ReturnType<typeof jobFailure>;
      for (let retry = 0; ; retry += 1) {
        if (probeAttempt > MAX_ATTEMPT_NUMBER) {
          await k8s.deleteFinishedCacheJobs(ref, boundUid, 'probe');
          probeAttempt = 1;
        }
        await write({ ...cacheProbing(probeAttempt), probeAttempt });
        progress.step = 'startCacheProbe';
        probeJob = await steps.startCacheProbe(ref, boundUid, probeAttempt);
        progress.step = 'waitForProbe';
        probe = await waitForJobEnd(probeJob);
        probeFailure = jobFailure(probe);
        // A probe pod the node killed (OOMKilled, Evicted), or a source that turned it away for a while when the cache
        // has no size to go on with, runs again as a download's next attempt would; each behind its patch: runs
        // recorded before them reported the failure as the cache's.
        const again = probeFailure
          ? probeRetryRule(probeFailure, { retry, maxAttempts, sizeKnown: Boolean(cache.specSizeBytes) })
          : undefined;
        if (
          !probeFailure ||
          !again ||
          !patched(again === 'pod' ? 'aim-cache-probe-pod-retry-v1' : 'aim-cache-probe-source-retry-v1')
        )
          break;
        progress.lastFailure = { type: probeFailure.reason, message: probeFailure.message };
        await write(cacheProbeRetrying(probeFailure));
        await sleep(attemptPauseMs(timing, retry));
        probeAttempt += 1;
      }
      let totalBytes = probe.phase === 'Succeeded' ? Number(probe.containers[0]?.result?.totalBytes ?? 0) : undefined;
      if (
        probeFailure &&
        !(
          (probeFailure.reason === 'EndpointUnreachable' || probeFailure.reason === 'RateLimited') &&
          cache.specSizeBytes
        )
      ) {
        progress.phase = 'Failed';
        progress.lastFailure = { type: probeFailure.reason, message: probeFailure.message };
        if (timed && probe.phase === 'NotStarted') await steps.deleteCacheJob(ref, boundUid, probeJob);
        await write(cacheProbeFailed(probeFailure));
        return needsReprobe(probeFailure.reason) ? 'reprobe' : rechecked(probeFailure.reason) ? 'recheck' : 'failed';
      }
      const source = probe.phase === 'Succeeded' ? probe.containers[0]?.result : undefined;
      totalBytes = totalBytes || cache.specSizeBytes;
      if (!totalBytes) {
        await write(cacheSizeUnknown());
        return 'failed';
      }

      const facts = source
        ? {
            totalBytes: Number(source.totalBytes),
            files: Number(source.files),
            ...(typeof source.revision === 'string' ? { revision: source.revision } : {}),
          }
        : undefined;
      if (!probeFailure) state.probe = { generation, totalBytes, ...(facts ? { source: facts } : {}) };
      return { totalBytes, ...(facts ? { source: facts } : {}), ...(probeFailure ? { probeFailure } : {}) };
    }

    // 0. Credentials (time-scales runs): no Job while a referenced Secret or key is missing; re-checked on a back-off.
    if (timed && !probed) {
      progress.step = 'checkCacheSecrets';
      const secrets = await steps.checkCacheSecrets(ref, uid);
      if (secrets.missing) {
        progress.phase = 'Pending';
        progress.lastFailure = { type: 'SecretNotFound', message: secrets.message };
        await write(cacheSecretMissing(secrets.message));
        return 'recheck';
      }
    }

    // 1. Probe: metadata only, before any volume exists (a re-check after a later step failed reuses the last one).
    const measured = probed ?? (await probe(uid, snap));
    if (typeof measured === 'string') return measured;
    const { totalBytes, source } = measured;
    const probeFailure = 'probeFailure' in measured ? measured.probeFailure : undefined;

    // 2. Volume, sized from the measurement (or spec size) with headroom.
    progress.phase = 'Provisioning';
    progress.step = 'ensureCachePvc';
    const pvc = await steps.ensureCachePvc(ref, uid, totalBytes);
    // Behind a patch: runs recorded before it reported every created claim as a ready volume. An unbound claim is
    // Pending with VolumeReady=Unknown until the download pod runs on it (spec 7), VolumeNotBound after 5 minutes.
    let volumeBound = !patched('aim-cache-volume-binding-v1') || pvc.bound !== false;
    await write({
      ...cacheVolume({
        pvc,
        bound: volumeBound,
        ...(source ? { source } : {}),
        ...(probeFailure ? { probeFailure } : {}),
      }),
      ...(source ? { source } : {}),
      persistentVolumeClaim: pvc.name,
      allocatedSize: pvc.size,
    });

    // 3. Download attempts: one Job at a time; the workflow owns retries, each attempt resumes.
    let attempt = snap.attempt ?? 0;
    // The pass before ended inside this attempt without learning how its Job ended (a failed wait): the loop starts
    // at the same attempt, whose Job create-or-get finds, so a download that finished meanwhile is not run again.
    // Behind a patch: runs recorded before it replay starting the next attempt.
    if (attempt > 0 && state.resumeAttempt === attempt && patched('aim-cache-resume-attempt-v1')) attempt -= 1;
    delete state.resumeAttempt;
    let hfDisableXet = false;
    const maxAttempts = snap.maxAttempts ?? 5;
    for (let i = 0; i < maxAttempts; i++) {
      attempt += 1;
      if (attempt > MAX_ATTEMPT_NUMBER) {
        await k8s.deleteFinishedCacheJobs(ref, uid, 'dl');
        attempt = 1;
      }
      progress.phase = 'Downloading';
      progress.attempt = attempt;
      await write({ ...cacheDownloading(attempt, maxAttempts, volumeBound), attempt });
      progress.step = 'startDownload';
      const job = await steps.startDownload(ref, uid, attempt, hfDisableXet, pvc.name);
      progress.step = 'waitForDownload';
      let outcome = volumeBound ? undefined : await waitForJobStart(job);
      if (outcome?.phase === 'Started' || outcome?.phase === 'Succeeded') {
        // The pod runs on the claim: the volume is bound.
        volumeBound = true;
        await write({ status: 'Progressing', conditions: [cacheVolumeBound(pvc)] });
      }
      if (!outcome || outcome.phase === 'Started') outcome = await waitForJobEnd(job, timing.volumeNotBoundSeconds);
      if (outcome.phase === 'Succeeded') {
        progress.phase = 'Ready';
        await write({ ...cacheVerified(attempt), verified: true });
        return 'done';
      }
      const f = namingClaim(
        jobFailure(outcome) ?? { reason: 'DownloadFailed', message: 'the download Job failed' },
        pvc.name,
      );
      progress.lastFailure = { type: f.reason, message: f.message };
      // A Job whose pod never started goes before anything else runs: Kubernetes must not start it later beside
      // the next attempt (at most one Job per cache at a time).
      if (timed && outcome.phase === 'NotStarted') await steps.deleteCacheJob(ref, uid, job);
      const { retrying, ...report } = cacheDownloadFailed(f, { last: i === maxAttempts - 1, maxAttempts });
      if (!retrying) progress.phase = 'Failed';
      await write(report);
      if (!retrying) return rechecked(f.reason) ? 'recheck' : 'failed';
      // A stalled Xet transfer retries over plain HTTP (spec 5.4 step 3).
      if (f.reason === 'Stalled' && snap.huggingFace) hfDisableXet = true;
      // The pause before the next attempt follows the worker's clocks (AIM_TIME_SCALE), behind a patch: runs recorded
      // before it replay their fixed 10 s → 5 min timers.
      await sleep(
        patched('aim-cache-attempt-pause-timing-v1') ? attemptPauseMs(timing, i) : Math.min(300_000, 10_000 * 2 ** i),
      );
    }
    return 'failed';
  }

  /** Watches until the Job ends (each watch is bounded; a still-running Job is watched again). */
  async function waitForJobEnd(name: string, volumeNotBoundAfterSeconds?: number): Promise<JobOutcome> {
    return waitForJobUntil(name, { ...(volumeNotBoundAfterSeconds ? { volumeNotBoundAfterSeconds } : {}) });
  }

  /** Watches until the download pod runs on its claim (`Started`) or the Job ends first. */
  async function waitForJobStart(name: string): Promise<JobOutcome> {
    return waitForJobUntil(name, { volumeNotBoundAfterSeconds: timing.volumeNotBoundSeconds, returnWhenStarted: true });
  }

  async function waitForJobUntil(
    name: string,
    until: { volumeNotBoundAfterSeconds?: number; returnWhenStarted?: boolean },
  ): Promise<JobOutcome> {
    for (;;) {
      const out = await watch.waitForJob({
        namespace: ref.namespace,
        name,
        maxSeconds: WATCH_SECONDS,
        notStartedAfterSeconds: timing.podNotStartedSeconds,
        ...until,
      });
      if (out.phase !== 'StillRunning') return out;
    }
  }
}
