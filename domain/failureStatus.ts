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

export function stepFailureReport(failure: { type: string; message: string }, step: string): StepFailureReport {
  const f = { status: 'False' as const, reason: failure.type, message: failure.message };
  const quota = failure.type === 'QuotaExceeded';
  return {
    status: quota ? 'Pending' : 'Failed',
    conditions: [...(VOLUME_STEPS.has(step) ? [{ type: 'VolumeReady', ...f }] : []), { type: 'Ready', ...f }],
  };
}
