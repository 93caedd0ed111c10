/**
 * The status and conditions an AIMModelCache reports at each step of its lifecycle (spec 5.4 and 8), pure and
 * table-tested, so the workflow reads as the step list: probe → volume → download attempts → verified.
 * A failure is on the condition of the step that failed and on `Ready`.
 */
import { fixedByNextAttempt, needsReprobe } from './failureReasons.js';
import type { Condition } from './serviceConditions.js';

export type CacheStatusValue = 'Pending' | 'Progressing' | 'Ready' | 'Degraded' | 'Failed';

export interface CacheConditionsReport {
  status: CacheStatusValue;
  conditions: Condition[];
}

/** A typed failure of a step (a Job's termination message, a pod's state, a check). */
export interface StepFailure {
  reason: string;
  message: string;
}

export interface SourceFacts {
  totalBytes: number;
  files: number;
  revision?: string;
}

const isFalse = (f: StepFailure) => ({ status: 'False' as const, reason: f.reason, message: f.message });

export function cacheInvalid(message: string): CacheConditionsReport {
  const f = isFalse({ reason: 'InvalidSpec', message });
  return {
    status: 'Failed',
    conditions: [
      { type: 'ConfigValid', ...f },
      { type: 'Ready', ...f },
    ],
  };
}

/** A referenced Secret or key is missing: no Job runs, the cache waits for it. */
export function cacheSecretMissing(message: string): CacheConditionsReport {
  const f = isFalse({ reason: 'SecretNotFound', message });
  return {
    status: 'Pending',
    conditions: [
      { type: 'AuthValid', ...f },
      { type: 'Ready', ...f },
    ],
  };
}

export function cacheProbing(probeAttempt: number): CacheConditionsReport {
  return {
    status: 'Progressing',
    conditions: [
      { type: 'ConfigValid', status: 'True', reason: 'Valid', message: 'the spec is valid' },
      { type: 'SourcesValid', status: 'Unknown', reason: 'Probing', message: `probe attempt ${probeAttempt}` },
      { type: 'Ready', status: 'False', reason: 'Probing', message: 'probing the source' },
    ],
  };
}

/**
 * Reasons of the probe's pod, not of the source (spec 7: `DownloadReady=False`): the probe never looked at the
 * source, so `SourcesValid` is Unknown rather than False.
 */
const POD_REASONS = new Set(['ImagePullFailed', 'PodNotStarted', 'VolumeNotBound', 'OOMKilled', 'Evicted']);

/** A probe whose pod did not run, or not to the end: the source not judged, the pod's reason on DownloadReady. */
function probePodConditions(failure: StepFailure, sourcesMessage: string): Condition[] {
  const f = isFalse(failure);
  return [
    { type: 'SourcesValid', status: 'Unknown', reason: failure.reason, message: sourcesMessage },
    { type: 'DownloadReady', ...f },
    { type: 'Ready', ...f },
  ];
}

/** The probe failed: a credential problem is also on `AuthValid`; a pod that did not run on `DownloadReady`. */
export function cacheProbeFailed(failure: StepFailure): CacheConditionsReport {
  const f = isFalse(failure);
  if (POD_REASONS.has(failure.reason))
    return { status: 'Failed', conditions: probePodConditions(failure, `the probe did not run: ${failure.message}`) };
  return {
    status: 'Failed',
    conditions: [
      ...(needsReprobe(failure.reason) ? [{ type: 'AuthValid', ...f }] : []),
      { type: 'SourcesValid', ...f },
      { type: 'Ready', ...f },
    ],
  };
}

/** A source that turned the probe away for a while (spec 7: the next attempt fixes it). */
const SOURCE_TRANSIENT_REASONS = new Set(['RateLimited', 'EndpointUnreachable']);

/**
 * Why a failed probe runs again, after the pause between attempts, instead of failing the cache (undefined: it does
 * not), while attempts remain (`retry` 0 is the first probe), by the rule of a download's next attempt (retry class
 * `nextAttempt`):
 * - `pod`: the node killed the probe's pod (OOMKilled, Evicted); the source was never judged;
 * - `source`: the source refused for a while (RateLimited, EndpointUnreachable) and the cache has no `size` to go on
 *   with (with one, the download goes on and its attempts retry: spec 5.4 step 1).
 * Every other failure keeps its rule (re-probe, re-check, a fix).
 */
export function probeRetryRule(
  failure: StepFailure,
  attempts: { retry: number; maxAttempts: number; sizeKnown: boolean },
): 'pod' | 'source' | undefined {
  if (!fixedByNextAttempt(failure.reason) || attempts.retry >= attempts.maxAttempts - 1) return undefined;
  if (POD_REASONS.has(failure.reason)) return 'pod';
  if (SOURCE_TRANSIENT_REASONS.has(failure.reason) && !attempts.sizeKnown) return 'source';
  return undefined;
}

/** The probe runs again (`probeRetryRule`): `Progressing`, the source not judged yet. */
export function cacheProbeRetrying(failure: StepFailure): CacheConditionsReport {
  const retrying = { ...failure, message: `${failure.message}; retrying` };
  const why = POD_REASONS.has(failure.reason) ? 'the probe did not finish' : 'the source turned the probe away';
  return {
    status: 'Progressing',
    conditions: probePodConditions(retrying, `${why}: ${retrying.message}`),
  };
}

export function cacheSizeUnknown(): CacheConditionsReport {
  const f = isFalse({
    reason: 'SizeUnknown',
    message: 'the probe could not measure the source; set size on the model source',
  });
  return {
    status: 'Failed',
    conditions: [
      { type: 'SourcesValid', ...f },
      { type: 'Ready', ...f },
    ],
  };
}

export interface VolumeReached {
  pvc: { name: string; size: string; className?: string; accessMode: string };
  bound: boolean;
  /** What the probe measured, or (when it could not reach the source but the spec has a size) why not. */
  source?: SourceFacts;
  probeFailure?: StepFailure;
}

export function cacheVolumeBound(pvc: VolumeReached['pvc']): Condition {
  return { type: 'VolumeReady', status: 'True', reason: 'VolumeBound', message: `PVC ${pvc.name} (${pvc.size})` };
}

/**
 * The volume exists. An unbound claim is `Pending` with `VolumeReady=Unknown` until the download pod runs on it
 * (a WaitForFirstConsumer class binds only then); the source's facts or, continuing with the spec size, why the
 * probe could not measure it.
 */
export function cacheVolume(v: VolumeReached): CacheConditionsReport {
  const { pvc } = v;
  return {
    status: v.bound ? 'Progressing' : 'Pending',
    conditions: [
      {
        type: 'AuthValid',
        status: 'True',
        reason: 'CredentialsAccepted',
        message: 'the source accepted the credentials',
      },
      v.source
        ? {
            type: 'SourcesValid',
            status: 'True',
            reason: 'SourceReachable',
            message: `${String(v.source.files)} file(s), ${String(v.source.totalBytes)} bytes`,
          }
        : {
            type: 'SourcesValid',
            status: 'Unknown',
            reason: v.probeFailure?.reason ?? 'SizeFromSpec',
            message: `${v.probeFailure?.message ?? 'not measured'}; continuing with spec size`,
          },
      v.bound
        ? cacheVolumeBound(pvc)
        : {
            type: 'VolumeReady',
            status: 'Unknown',
            reason: 'WaitingForBinding',
            message: `PVC ${pvc.name} (${pvc.size}, class ${pvc.className ?? 'cluster default'}, ${pvc.accessMode}) is not bound yet; it binds when the download pod is scheduled`,
          },
    ],
  };
}

export function cacheDownloading(attempt: number, maxAttempts: number, bound: boolean): CacheConditionsReport {
  return {
    status: bound ? 'Progressing' : 'Pending',
    conditions: [
      {
        type: 'DownloadReady',
        status: 'False',
        reason: 'Downloading',
        message: `download attempt ${attempt} of ${maxAttempts}`,
      },
      { type: 'Ready', status: 'False', reason: 'Downloading', message: `download attempt ${attempt}` },
    ],
  };
}

export function cacheVerified(attempt: number): CacheConditionsReport {
  return {
    status: 'Ready',
    conditions: [
      {
        type: 'DownloadReady',
        status: 'True',
        reason: 'Verified',
        message: `downloaded and verified on attempt ${attempt}`,
      },
      { type: 'Ready', status: 'True', reason: 'Ready', message: 'the model is on the volume' },
    ],
  };
}

/**
 * A download attempt failed. With attempts left and a reason the next attempt can fix, the cache stays
 * `Progressing` and says it retries; otherwise it is `Failed` (after the last attempt, saying how many ran).
 */
export function cacheDownloadFailed(
  failure: StepFailure,
  attempts: { last: boolean; maxAttempts: number },
): CacheConditionsReport & { retrying: boolean } {
  const f = isFalse(failure);
  const nextAttempt = fixedByNextAttempt(failure.reason);
  if (nextAttempt && !attempts.last)
    return {
      status: 'Progressing',
      retrying: true,
      // On `Ready` too: a service waiting on this cache shows why it is not ready yet (spec 7: CacheReady → Starting).
      conditions: [
        { type: 'DownloadReady', ...f, message: `${f.message}; retrying` },
        { type: 'Ready', ...f, message: `${f.message}; retrying` },
      ],
    };
  return {
    status: 'Failed',
    retrying: false,
    conditions: [
      {
        type: 'DownloadReady',
        ...f,
        message: attempts.last && nextAttempt ? `${f.message} (after ${attempts.maxAttempts} attempts)` : f.message,
      },
      ...(failure.reason === 'VolumeNotBound' ? [{ type: 'VolumeReady', ...f }] : []),
      { type: 'Ready', ...f },
    ],
  };
}

/**
 * A download that found too little room names the claim (the downloader only sees its mount), so the user knows which
 * volume to free or describe.
 */
export function namingClaim(failure: StepFailure, pvcName: string): StepFailure {
  return failure.reason === 'InsufficientStorage'
    ? { ...failure, message: `PVC ${pvcName}: ${failure.message}` }
    : failure;
}

/** What a Job ended with, as the cache lifecycle sees it (activities/jobs.ts `JobOutcome`, the fields used here). */
export interface JobEnd {
  phase: string;
  containers: ReadonlyArray<{ name?: string; exitCode?: number; reason?: string; result?: Record<string, unknown> }>;
  problem?: { reason: string; message: string };
}

/** The typed failure of a Job: the downloader's termination message first, then what the pod status says. */
export function jobFailure(outcome: JobEnd): StepFailure | undefined {
  if (outcome.phase === 'Succeeded') return undefined;
  const reported = outcome.containers.find((c) => typeof c.result?.reason === 'string');
  if (reported) return { reason: String(reported.result!.reason), message: String(reported.result!.message ?? '') };
  if (outcome.problem)
    return {
      // A missing Secret or key in the pod's env: the kubelet's CreateContainerConfigError.
      reason: outcome.problem.reason === 'CreateContainerConfigError' ? 'SecretNotFound' : outcome.problem.reason,
      message: outcome.problem.message,
    };
  // A container that died without a word (killed, crashed before it could write one): say which, and how.
  const ended = outcome.containers.find((c) => c.exitCode !== undefined && c.exitCode !== 0);
  return {
    reason: 'DownloadFailed',
    message: ended
      ? `container ${ended.name ?? '?'} exited with code ${ended.exitCode}${ended.reason ? ` (${ended.reason})` : ''} ` +
        'without a termination message'
      : 'the Job failed without a termination message',
  };
}
