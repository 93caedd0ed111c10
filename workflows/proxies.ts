import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

/**
 * The two ways workflows call activities (one place, so every lifecycle retries alike; spec 7 caps attempts at 10).
 * `k8s`: short Kubernetes reads and writes. `watch`: bounded Job watches that heartbeat and return outcomes.
 */
export const k8s = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    maximumAttempts: 10,
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: ['OrchestratorForbidden', 'ApplyRejected', 'ObjectGone'],
  },
});

export const watch = proxyActivities<Activities>({
  startToCloseTimeout: '11 minutes',
  heartbeatTimeout: '60 seconds',
  retry: { maximumAttempts: 10, initialInterval: '2 seconds', maximumInterval: '1 minute' },
});

/**
 * A failed activity as `{type, message}` for status and the progress query. Anything else is a bug in workflow
 * code and is rethrown (the workflow task fails and retries after a fix is deployed).
 */
export function activityFailure(err: unknown): { type: string; message: string } {
  if (!(err instanceof ActivityFailure)) throw err;
  const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
  return { type: cause?.type ?? 'ActivityFailed', message: cause?.message ?? err.message };
}

/** The status a lifecycle writes when a pass ends on an activity failure: Failed, with the failure on `Ready`. */
export function failedStatus(failure: { type: string; message: string }) {
  return {
    status: 'Failed' as const,
    conditions: [{ type: 'Ready', status: 'False' as const, reason: failure.type, message: failure.message }],
  };
}
