import { condition, continueAsNew, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ModelKind, ModelRef, ModelSnapshot } from '../activities/models.js';
import type { JobOutcome } from '../activities/jobs.js';
import type { ConditionInput, ModelReport, SourceFacts } from '../activities/modelStatus.js';
import {
  changedSignal,
  deletedSignal,
  dependencyChangedSignal,
  progressQuery,
  retrySignal,
  type Progress,
} from './signals.js';
import { k8s, k8sLocal, watch, activityFailure } from './proxies.js';
import { DEFAULT_TIMING, fixBackoff, nextBackoff, type LifecycleTiming } from '../domain/timing.js';
import { recreated } from './binding.js';
import { historyFull } from './history.js';
import { memoUid, visibility } from './visibility.js';

export interface ModelCarry {
  uid?: string;
  handledGeneration?: number;
  probeAttempt: number;
  /** The last validation verdicts: kept across generations until the sources are validated again. */
  auth?: ConditionInput;
  sources?: ConditionInput & { facts?: SourceFacts[] };
  /**
   * Waiting for a fix (a Secret, keys, a licence, a source, the cluster): the next re-check, on a back-off from 1 to
   * 30 minutes; it validates the sources again, and after a failed pass applies the templates again too.
   */
  recheckSeconds?: number;
  /** The last pass ended on a failed step: the re-check redoes the whole generation. */
  failedPass?: boolean;
  /**
   * The last pass found a template name held by an object that is not ours, and nothing else waits for a fix: the
   * re-check only applies the templates again (no probe Job on every back-off step).
   */
  conflictOnly?: boolean;
  /** Nudges and a retry that arrived as the run continued as new. */
  nudged?: boolean;
  retry?: boolean;
}

export interface ModelLifecycleInput {
  kind: ModelKind;
  name: string;
  namespace?: string;
  carry?: ModelCarry;
}

const REEVALUATE_EVERY = '10 minutes';
const MODEL_CONFLICT_RECHECK_PATCH = 'aim-model-conflict-recheck-v1';
const PROBE_MAX_SECONDS = 600;
const POD_NOT_STARTED_SECONDS = 900;

/**
 * One workflow per AIMModel / AIMClusterModel (spec 5.1): sourceType → credentials + probe (SourcesValid) → build,
 * apply and prune templates → template availability → status. Then it waits for a nudge (`changed`, `retry`,
 * `dependencyChanged` from Nodes) or the 10-minute re-evaluation, and does it again.
 */
export async function modelLifecycle(input: ModelLifecycleInput): Promise<void> {
  const ref: ModelRef = {
    kind: input.kind,
    name: input.name,
    ...(input.namespace ? { namespace: input.namespace } : {}),
  };
  const carry: ModelCarry = input.carry ?? { probeAttempt: 0 };
  let nudged = !input.carry || carry.nudged === true;
  let retry = carry.retry === true;
  const progress: Progress = { phase: 'Starting', step: 'readModel', attempt: carry.probeAttempt };
  const tag = visibility({
    kind: input.kind,
    name: input.name,
    ...(input.namespace ? { namespace: input.namespace } : {}),
  });
  const recordUid = memoUid();

  setHandler(changedSignal, () => void (nudged = true));
  setHandler(dependencyChangedSignal, () => void (nudged = true));
  setHandler(deletedSignal, () => void (nudged = true));
  setHandler(retrySignal, () => {
    nudged = true;
    retry = true;
  });
  setHandler(progressQuery, () => progress);
  // Time scales (spec 8), behind a patch: the worker's clocks, continue-as-new checked on every iteration with the
  // carry, and failures (SecretNotFound, a failed probe, a failed step) re-checked on a back-off instead of on every
  // Node change or never.
  const timed = patched('aim-model-time-scales-v1');
  const timing: LifecycleTiming = timed ? await k8sLocal.lifecycleTiming() : DEFAULT_TIMING;

  for (;;) {
    if (timed && historyFull(timing.historyEventsMax)) {
      await continueAsNew<typeof modelLifecycle>({ ...input, carry: { ...carry, nudged, retry } });
    }
    const recheckWait = timed && carry.recheckSeconds !== undefined ? carry.recheckSeconds * 1000 : undefined;
    const timedOut = !(await condition(() => nudged, recheckWait ?? REEVALUATE_EVERY));
    nudged = false;
    try {
      progress.step = 'readModel';
      const snap = await k8s.readModel(ref);
      if (recreated(snap, carry.uid)) {
        await continueAsNew<typeof modelLifecycle>({
          kind: input.kind,
          name: input.name,
          ...(input.namespace ? { namespace: input.namespace } : {}),
        });
      }
      // Bound to one UID: a deleted model (or a new one with the same name) ends this run; GC removes the templates.
      if (!snap.exists || snap.deleting || (carry.uid && snap.uid !== carry.uid)) {
        progress.phase = 'Deleted';
        return;
      }
      carry.uid = snap.uid!;
      recordUid(carry.uid);
      const recheckDue = recheckWait !== undefined && timedOut;
      const newGeneration = snap.generation !== carry.handledGeneration || (recheckDue && carry.failedPass === true);

      if (snap.invalid) {
        // Apply nothing; say which field is wrong and wait for the next generation (spec 2, last paragraph).
        progress.phase = 'Failed';
        progress.lastFailure = {
          type: 'InvalidSpec',
          message: snap.invalid.map((e) => `${e.path}: ${e.message}`).join('; '),
        };
        await k8s.writeModelStatus(ref, carry.uid, snap.generation ?? 0, { invalid: snap.invalid });
        carry.handledGeneration = snap.generation;
        continue;
      }

      if (newGeneration || retry || (recheckDue && carry.conflictOnly !== true)) {
        progress.phase = 'Validating';
        await validateSources(snap);
        retry = false;
      }

      progress.phase = 'Templates';
      progress.step = 'applyModelTemplates';
      // Time-scales runs apply on every pass (unchanged templates are only read): an edited or deleted template is
      // put back without waiting for the next generation.
      const applied = newGeneration || timed ? await k8s.applyModelTemplates(ref, carry.uid) : undefined;
      progress.step = 'evaluateModelTemplates';
      const templates = await k8s.evaluateModelTemplates(ref, carry.uid);

      progress.step = 'writeModelStatus';
      const report: ModelReport = {
        sourceType: snap.sourceType!,
        templates,
        ...(applied?.conflicts.length ? { conflicts: applied.conflicts } : {}),
        ...(carry.auth ? { auth: carry.auth } : {}),
        ...(carry.sources ? { sources: carry.sources } : {}),
      };
      const status = await k8s.writeModelStatus(ref, carry.uid, snap.generation ?? 0, report);
      progress.phase = status;
      tag(status, snap.modelIds?.[0]);
      carry.handledGeneration = snap.generation;
      if (timed) {
        carry.failedPass = false;
        const waitsForFix = carry.auth?.status === 'False' || carry.sources?.status === 'False';
        // A template name held by another object (TemplateNameConflict): nothing nudges this model when that object
        // is deleted or renamed (it is not ours and names another model, or none), so the fix is looked for on the
        // back-off. Behind a patch: runs recorded before it waited for the 10-minute re-evaluation.
        const conflicted = (applied?.conflicts.length ?? 0) > 0 && patched(MODEL_CONFLICT_RECHECK_PATCH);
        if (waitsForFix || conflicted) recheckLater();
        else delete carry.recheckSeconds;
        if (conflicted && !waitsForFix) carry.conflictOnly = true;
        else delete carry.conflictOnly;
      }

      if (!timed && workflowInfo().continueAsNewSuggested) {
        await continueAsNew<typeof modelLifecycle>({ ...input, carry });
      }
    } catch (err) {
      // A non-retryable failure never fails the execution (then nobody would be left to fix things): it is
      // reported, and the workflow looks again after a pause or on the next nudge (spec 7).
      progress.lastFailure = activityFailure(err);
      progress.phase = 'Failed';
      if (timed) {
        // Re-checked on the back-off, the whole generation again; a Node change in between is no reason to.
        carry.failedPass = true;
        recheckLater();
      } else {
        // The next pass (nudge or the re-evaluation timer) starts over from reading the model.
        carry.handledGeneration = undefined;
      }
    }
  }

  /** The next re-check of a failure: 1 → 2 → 4 … → 30 minutes while it lasts. */
  function recheckLater(): void {
    const fix = fixBackoff(timing, carry.auth?.status === 'False' ? carry.auth.reason : carry.sources?.reason);
    carry.recheckSeconds = nextBackoff(carry.recheckSeconds, fix.base, fix.max);
  }

  /** Credentials, then the probe Job (spec 5.1 step 3); the verdicts go into `carry` for the status. */
  async function validateSources(snap: ModelSnapshot): Promise<void> {
    delete carry.auth;
    delete carry.sources;
    if (snap.sourceValidation === 'none') return;
    if (snap.sourceValidation === 'perNamespace' || snap.sourceValidation === 'perService') {
      carry.sources = {
        status: 'Unknown',
        reason: snap.sourceValidation === 'perNamespace' ? 'ValidatedPerNamespace' : 'ValidatedPerService',
        message:
          snap.sourceValidation === 'perNamespace'
            ? 'sources are probed by each cache with the credentials of the namespace that uses the model'
            : 'sources are probed by each cache with the credentials of the service that uses the model',
      };
      return;
    }
    progress.step = 'checkSecretRefs';
    const secrets = await k8s.checkSecretRefs(ref.namespace!, snap.secretRefs ?? []);
    if (secrets.missing.length) {
      carry.auth = { status: 'False', reason: 'SecretNotFound', message: secrets.message };
      return;
    }
    carry.auth = {
      status: 'True',
      reason: 'SecretsFound',
      message: `${snap.secretRefs?.length ?? 0} secret reference(s) resolved`,
    };

    progress.step = 'startModelProbe';
    await k8s.ensureDownloaderServiceAccount(ref.namespace!);
    carry.probeAttempt = await k8s.nextModelProbeAttempt(ref, carry.uid!, carry.probeAttempt);
    progress.attempt = carry.probeAttempt;
    const job = await k8s.startModelProbe(ref, carry.uid!, carry.probeAttempt);
    progress.step = 'waitForProbe';
    const outcome = await watch.waitForJob({
      namespace: ref.namespace!,
      name: job,
      maxSeconds: PROBE_MAX_SECONDS,
      notStartedAfterSeconds: timed ? timing.podNotStartedSeconds : POD_NOT_STARTED_SECONDS,
    });
    carry.sources = sourcesVerdict(outcome, snap.modelIds ?? []);
    if (carry.sources.status === 'False')
      progress.lastFailure = { type: carry.sources.reason, message: carry.sources.message };
  }
}

/** A probe Job's outcome as the SourcesValid condition plus `status.source` facts. */
function sourcesVerdict(outcome: JobOutcome, modelIds: string[]): ConditionInput & { facts?: SourceFacts[] } {
  if (outcome.phase === 'Succeeded') {
    const facts = outcome.containers.map((c, i) => ({
      modelId: modelIds[i] ?? c.name,
      totalBytes: Number(c.result?.totalBytes ?? 0),
      files: Number(c.result?.files ?? 0),
      ...(typeof c.result?.revision === 'string' ? { revision: c.result.revision } : {}),
    }));
    return { status: 'True', reason: 'SourcesReachable', message: `${facts.length} source(s) probed`, facts };
  }
  if (outcome.phase === 'StillRunning')
    return { status: 'Unknown', reason: 'ProbeRunning', message: 'the probe Job is still running' };
  const failed = outcome.containers.find((c) => typeof c.result?.reason === 'string');
  if (failed) {
    const i = outcome.containers.indexOf(failed);
    return {
      status: 'False',
      reason: String(failed.result!.reason),
      message: `${modelIds[i] ?? failed.name}: ${String(failed.result!.message ?? '')}`,
    };
  }
  if (outcome.problem) return { status: 'False', reason: outcome.problem.reason, message: outcome.problem.message };
  return { status: 'False', reason: 'ProbeFailed', message: 'the probe Job failed without a termination message' };
}
