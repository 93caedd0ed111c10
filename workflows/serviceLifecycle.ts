import { CancellationScope, condition, patched, continueAsNew, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ObjectRef, ServiceReport, ServiceRef } from '../activities/services.js';
import { stepFailureReport } from '../domain/failureStatus.js';
import { serviceReport, type ServiceReached } from '../domain/serviceConditions.js';
import { fixedByNextAttempt } from '../domain/failureReasons.js';
import { progressLine } from '../domain/progress.js';
import { DEFAULT_TIMING, fixBackoff, nextBackoff, type LifecycleTiming } from '../domain/timing.js';
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

export interface ServiceLifecycleInput {
  name: string;
  namespace: string;
  uid?: string;
  /** Carried across continue-as-new: everything a later pass needs (nothing lives only in a local variable). */
  state?: ServiceState;
}

/** What a service run knows beyond its object: carried whole through continue-as-new. */
export interface ServiceState {
  /** It has been Running: losing something later is Degraded, never a teardown. */
  running: boolean;
  /** The wait before the next credential re-check (v1 runs). */
  credentialBackoff: number;
  /** Per source: did this service's own credentials pass a probe of an existing Shared cache's source? */
  sharedVerdicts: Record<string, boolean>;
  /** Shared attach probes started (their Job names count on). */
  sharedProbes: number;
  /** `status/Ready reason` of the last report: with the phase, what "the same outcome" compares. */
  lastStatus: string;
  /** The outcome of the last wait, and the wait it got (quiet passes and waits for a fix back off). */
  lastOutcome: string;
  waitSeconds?: number;
  /** What the last pass asked for next: a steady re-read, a converging look, a wait for a fix, or the caches. */
  next: 'steady' | 'converging' | 'fix' | 'caches';
  /** A nudge that arrived as the run continued as new: the next run passes at once. */
  nudged?: boolean;
  /** Where the InferenceService serves, as KServe last reported it: kept on the status while it keeps serving. */
  endpoint?: { inferenceService: string; url?: string; internalUrl?: string };
}

const initialState = (): ServiceState => ({
  running: false,
  credentialBackoff: 30,
  sharedVerdicts: {},
  sharedProbes: 0,
  lastStatus: '',
  lastOutcome: '',
  next: 'converging',
});

/** While converging, look again soon; once Running, a slow safety-net re-read (the bridge nudges on changes). */
const CONVERGING = '5 seconds';
const STEADY = '60 seconds';
/**
 * Quiet passes: while the outcome of a pass (status and Ready reason) stays the same, the next look backs off
 * 5 → 10 → 20 → 30 s. What ends a wait early are nudges: the bridge's for owned objects, and a cache's own nudge to
 * its users when it turns Ready or Failed.
 */
const CONVERGING_SECONDS = 5;
const CONVERGING_MAX_SECONDS = 30;

/**
 * One long-lived workflow per AIMService (spec 5.3): finalizer → resolve or create the model → select a template →
 * credentials → caches (each its own workflow) → InferenceService → Running, then it stays and re-applies what
 * changes. Every pass is idempotent (server-side apply, create-or-get), so a nudge, a timer or a restarted worker
 * simply runs it again.
 */
export async function serviceLifecycle(input: ServiceLifecycleInput): Promise<void> {
  const ref: ServiceRef = { name: input.name, namespace: input.namespace };
  let uid = input.uid;
  const state: ServiceState = input.state ?? initialState();
  // A fresh run passes at once; a continued one resumes its wait (unless a nudge came with it, or it was waiting
  // for caches: that wait is an activity of the previous run).
  let nudged = !input.state || state.nudged === true || state.next === 'caches';
  let resumed = Boolean(input.state) && !nudged;
  let wake: string = CONVERGING;
  const progress: Progress = { phase: 'Pending', step: 'readService', attempt: 0 };
  const tag = visibility({ kind: 'AIMService', name: input.name, namespace: input.namespace });
  const recordUid = memoUid();
  const nudge = () => void (nudged = true);
  setHandler(changedSignal, nudge);
  setHandler(dependencyChangedSignal, nudge);
  setHandler(deletedSignal, nudge);
  setHandler(retrySignal, nudge);
  setHandler(progressQuery, () => progress);
  // Behind patches, so runs recorded before them replay: the pass's short calls as local activities, and the
  // backoff of quiet passes.
  const steps = patched('aim-service-local-steps-v1') ? k8sLocal : k8s;
  const quiet = patched('aim-service-quiet-passes-v1');
  // Time scales (spec 8), behind a patch: the worker's clocks, continue-as-new checked on every iteration with the
  // whole state carried, waits for a fix backing off to 30 minutes, and caches waited for in one activity that
  // mirrors progress instead of a pass per progress patch.
  const timed = patched('aim-service-time-scales-v1');
  const timing: LifecycleTiming = timed ? await steps.lifecycleTiming() : DEFAULT_TIMING;
  let convergingSeconds = CONVERGING_SECONDS;
  /** The last report written and what the caches wait needs (set by the pass that asks for it). */
  let cacheWait: { generation: number; report: ServiceReport } | undefined;

  for (;;) {
    if (timed) {
      if (historyFull(timing.historyEventsMax)) {
        await continueAsNew<typeof serviceLifecycle>({
          ...input,
          ...(uid ? { uid } : {}),
          state: { ...state, nudged },
        });
      }
      await waitForNext();
    } else if (quiet && wake === CONVERGING) {
      // The same outcome as last time: look again later; a nudge still ends the wait at once.
      const outcome = `${progress.phase}/${progress.lastFailure?.type ?? ''}/${state.lastStatus}`;
      convergingSeconds =
        !nudged && outcome === state.lastOutcome
          ? Math.min(CONVERGING_MAX_SECONDS, convergingSeconds * 2)
          : CONVERGING_SECONDS;
      state.lastOutcome = outcome;
      await condition(() => nudged, convergingSeconds * 1000);
    } else {
      await condition(() => nudged, wake);
    }
    nudged = false;
    try {
      progress.step = 'readService';
      const snap = await steps.readService(ref);
      if (recreated(snap, uid)) {
        await continueAsNew<typeof serviceLifecycle>({ name: input.name, namespace: input.namespace });
      }
      if (!snap.exists || (uid && snap.uid !== uid)) return;
      uid = snap.uid!;
      recordUid(uid);
      const generation = snap.generation ?? 0;
      // What each step reached this pass; `serviceReport` turns it into the status and conditions.
      const reached: ServiceReached = { running: state.running };
      const report = async (extra: Partial<ServiceReport> = {}) => {
        const { status, conditions } = serviceReport(reached);
        tag(status);
        const written: ServiceReport = {
          status,
          conditions,
          ...(state.endpoint ? { endpoint: state.endpoint } : {}),
          ...extra,
        };
        cacheWait = { generation, report: written };
        state.lastStatus = `${status}/${conditions.find((c) => c.type === 'Ready')?.reason ?? ''}`;
        await steps.writeServiceStatus(ref, uid!, generation, written);
      };

      if (snap.deleting) {
        progress.phase = 'Deleting';
        progress.step = 'cleanupService';
        await steps.cleanupService(ref, uid);
        return;
      }
      if (snap.invalid) {
        reached.invalid = snap.invalid.map((e) => `${e.path}: ${e.message}`).join('; ');
        await report();
        wake = '1 hour';
        state.next = 'fix';
        continue;
      }
      if (!snap.hasFinalizer) {
        progress.step = 'addFinalizer';
        await steps.setServiceFinalizer(ref, uid, true);
      }

      // 1. The model.
      progress.phase = 'ResolvingModel';
      progress.step = 'resolveServiceModel';
      const model = (reached.model = await steps.resolveServiceModel(ref, uid));
      if ('failure' in model) {
        const f = model.failure;
        await report();
        progress.lastFailure = { type: f.reason, message: f.message };
        wake = f.retryable ? CONVERGING : '1 hour';
        state.next = f.retryable ? 'converging' : 'fix';
        continue;
      }
      const resolved = { resolvedModel: model.ok };

      // 2. The template.
      progress.phase = 'SelectingTemplate';
      progress.step = 'selectServiceTemplate';
      const template = (reached.template = await steps.selectServiceTemplate(ref, uid, model.ok));
      if ('failure' in template) {
        await report(resolved);
        wake = CONVERGING;
        state.next = 'converging';
        continue;
      }
      const selected = { ...resolved, resolvedTemplate: template.ok };

      // 3. Credentials: no Job before every secret reference resolves.
      progress.phase = 'CheckingCredentials';
      progress.step = 'checkServiceCredentials';
      const creds = await steps.checkServiceCredentials(ref, uid, model.ok);
      reached.credentials = creds.missing ? { missing: creds.message } : { ok: creds.message };
      if (creds.missing) {
        await report(selected);
        progress.lastFailure = { type: 'SecretNotFound', message: creds.message };
        wake = `${state.credentialBackoff} seconds`;
        state.credentialBackoff = Math.min(300, state.credentialBackoff * 2);
        state.next = 'fix';
        continue;
      }
      state.credentialBackoff = 30;

      // 4. Caches, each driven by its own workflow.
      progress.phase = 'Caching';
      progress.step = 'ensureServiceCaches';
      // Shared caches: attach only after this service's own credentials pass a probe of the source. Behind a
      // patch: runs recorded before this step replay without it.
      const sharedCaches = patched('aim-shared-attach-probe-v1')
        ? await steps.sharedCachesOfService(ref, uid, model.ok, template.ok)
        : [];
      for (const sharedCache of sharedCaches) {
        if (sharedCache.modelId in state.sharedVerdicts) continue;
        if (!sharedCache.exists || sharedCache.sameCredentials) {
          // This service creates it (the cache's own probe runs with this service's credentials), or it uses the
          // very credentials the cache's creator did: nothing for a probe of its own to learn.
          state.sharedVerdicts[sharedCache.modelId] = true;
          continue;
        }
        progress.step = 'sharedAttachProbe';
        state.sharedProbes += 1;
        const job = await steps.startSharedAttachProbe(
          ref,
          uid,
          model.ok,
          template.ok,
          sharedCache.modelId,
          state.sharedProbes,
        );
        let out = await watch.waitForJob({
          namespace: ref.namespace,
          name: job,
          maxSeconds: 600,
          notStartedAfterSeconds: 900,
        });
        while (out.phase === 'StillRunning') {
          out = await watch.waitForJob({
            namespace: ref.namespace,
            name: job,
            maxSeconds: 600,
            notStartedAfterSeconds: 900,
          });
        }
        state.sharedVerdicts[sharedCache.modelId] = out.phase === 'Succeeded';
      }
      const dedicatedFor = Object.entries(state.sharedVerdicts)
        .filter(([, ok]) => !ok)
        .map(([modelId]) => modelId);
      progress.step = 'ensureServiceCaches';
      const names = await steps.ensureServiceCaches(ref, uid, model.ok, template.ok, dedicatedFor);
      const caches = await steps.readServiceCaches(ref.namespace, names);
      const failed = caches.find((c) => c.status === 'Failed');
      const display = progressLine(caches);
      // Behind a patch: runs recorded before it reported a cache between attempts as plain `Downloading`.
      const retrying =
        !failed && caches.some((c) => c.status !== 'Ready') && patched('aim-service-cache-retry-reason-v1')
          ? caches.find((c) => c.status !== 'Ready' && c.reason && fixedByNextAttempt(c.reason))
          : undefined;
      reached.caches = failed
        ? { failed }
        : caches.some((c) => c.status !== 'Ready')
          ? {
              waiting: display,
              ...(retrying
                ? {
                    retrying: {
                      name: retrying.name,
                      reason: retrying.reason!,
                      ...(retrying.message ? { message: retrying.message } : {}),
                    },
                  }
                : {}),
            }
          : { ready: caches.length };
      if (!('ready' in reached.caches)) {
        await report({ ...selected, caches, progressDisplay: display });
        progress.lastSnapshot = { caches };
        wake = failed ? STEADY : CONVERGING;
        state.next = failed ? 'fix' : 'caches';
        continue;
      }

      // 5. The InferenceService; Running when KServe says Ready.
      progress.phase = 'Deploying';
      progress.step = 'applyInferenceService';
      const isvc = (reached.inferenceService = await steps.applyInferenceService(
        ref,
        uid,
        model.ok,
        template.ok,
        caches,
      ));
      const kserveFailed = !isvc.ready && isvc.reason === 'InferenceServiceFailed';
      state.endpoint = {
        inferenceService: isvc.name,
        ...(isvc.url ? { url: isvc.url } : {}),
        ...(isvc.internalUrl ? { internalUrl: isvc.internalUrl } : {}),
      };
      progress.phase = serviceReport(reached).status;
      state.running = state.running || isvc.ready;
      await report({ ...selected, caches, progressDisplay: isvc.ready ? 'Running' : 'Deploying' });
      wake = isvc.ready ? STEADY : CONVERGING;
      state.next = isvc.ready ? 'steady' : kserveFailed ? 'fix' : 'converging';
      // Runs before the time-scales patch checked here only (the check at the top of the loop covers every branch).
      if (!timed && workflowInfo().continueAsNewSuggested)
        await continueAsNew<typeof serviceLifecycle>({ ...input, ...(uid ? { uid } : {}) });
    } catch (err) {
      // A non-retryable failure never fails the execution (then nobody would be left to fix things): it is
      // reported, and the workflow looks again after a pause or on the next nudge (spec 7).
      progress.lastFailure = activityFailure(err);
      if (uid) {
        const failure = timed
          ? stepFailureReport(progress.lastFailure, progress.step)
          : failedStatus(progress.lastFailure);
        await steps.writeServiceStatus(ref, uid, 0, failure).catch(() => undefined);
      }
      wake = '1 minute';
      state.next = 'fix';
    }
  }

  /**
   * The wait between passes (time-scales runs): a nudge always ends it. Steady: the safety-net re-read. Converging
   * and waiting for a fix: back off while the outcome stays the same (5 s and 1 min bases, to 30 minutes). Caches:
   * one activity that mirrors progress and returns when a cache's state changes.
   */
  async function waitForNext(): Promise<void> {
    if (state.next === 'caches' && cacheWait && uid) {
      await waitForCaches(uid, cacheWait);
      nudged = true;
    } else if (resumed) {
      await condition(() => nudged, (state.waitSeconds ?? timing.convergingSeconds) * 1000);
    } else if (!nudged) {
      const outcome = `${state.next}/${progress.phase}/${progress.lastFailure?.type ?? ''}/${state.lastStatus}`;
      const same = outcome === state.lastOutcome;
      const fix = fixBackoff(timing, progress.lastFailure?.type);
      state.waitSeconds =
        state.next === 'steady'
          ? timing.steadySeconds
          : state.next === 'fix'
            ? nextBackoff(same ? state.waitSeconds : undefined, fix.base, fix.max)
            : nextBackoff(same ? state.waitSeconds : undefined, timing.convergingSeconds, timing.backoffMaxSeconds);
      state.lastOutcome = outcome;
      await condition(() => nudged, state.waitSeconds * 1000);
    } else {
      // Nudged: a relevant change, so the next quiet wait starts from its base again.
      state.lastOutcome = '';
    }
    resumed = false;
    nudged = false;
  }

  /** Waits in `waitForServiceCaches` until a cache's state changes, it gives back, or a nudge cancels it. */
  async function waitForCaches(boundUid: string, wait: { generation: number; report: ServiceReport }): Promise<void> {
    progress.step = 'waitForServiceCaches';
    await CancellationScope.cancellable(async () => {
      const scope = CancellationScope.current();
      const caches = watch
        .waitForServiceCaches({
          service: ref,
          uid: boundUid,
          generation: wait.generation,
          report: wait.report,
          mirrorEverySeconds: timing.progressMirrorSeconds,
          maxSeconds: 600,
        })
        .then(
          () => undefined,
          () => undefined, // cancelled by a nudge, or failed: either way the next pass looks again
        );
      const nudge = condition(() => nudged).then(
        () => undefined,
        () => undefined,
      );
      await Promise.race([caches, nudge]);
      scope.cancel();
    }).catch(() => undefined);
  }
}

export type { ObjectRef };
