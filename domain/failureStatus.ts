/**
 * The status an object shows when a step of its lifecycle failed on a Kubernetes call (spec 7), pure and
 * table-tested: a ResourceQuota refusal is `Pending` (it waits for the quota, not for a fix of the object), with
 * `VolumeReady=False` when a cache's claim was refused; every other failure is `Failed`. The failure is on `Ready`.
 */
export interface StepFailureReport {
  status: 'Pending' | 'Failed';
  conditions: Array<{ type: string; status: 'False'; reason: string; message: string }>;
}

/** The steps that create or size the cache's volume. */
const VOLUME_STEPS = new Set(['ensureCachePvc']);
/** The steps of a deletion: while one fails, the finalizer stays and the object is not gone. */
const DELETION_STEPS = new Set(['cleanupService']);

export function stepFailureReport(failure: { type: string; message: string }, step: string): StepFailureReport {
  // A deletion that cannot finish says so, why, and what ends it without the orchestrator.
  const message = DELETION_STEPS.has(step)
    ? `deletion cannot finish: ${failure.message}; retried on a back-off (annotate aim.silogen.ai/retry to retry now), or \`aimctl delete --force\` removes the finalizer`
    : failure.message;
  const f = { status: 'False' as const, reason: failure.type, message };
  const quota = failure.type === 'QuotaExceeded';
  return {
    status: quota ? 'Pending' : 'Failed',
    conditions: [...(VOLUME_STEPS.has(step) ? [{ type: 'VolumeReady', ...f }] : []), { type: 'Ready', ...f }],
  };
}
