import {
  type ActivityOptions,
  ActivityFailure,
  ApplicationFailure,
  TemporalFailure,
  proxyActivities,
  proxyLocalActivities,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_ACTIVITY_FAILURES } from '../domain/failureReasons.js';

/**
 * The ways workflows call activities (one place, so every lifecycle retries alike; spec 7 caps attempts at 10).
 * `k8s`: short Kubernetes reads and writes. `watch`: bounded Job watches that heartbeat and return outcomes.
 */
const shortCalls: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: {
    maximumAttempts: 10,
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [...NON_RETRYABLE_ACTIVITY_FAILURES],
  },
};

export const k8s = proxyActivities<Activities>(shortCalls);

/**
 * The same short calls as local activities: a whole pass of them runs inside one workflow task and records one
 * marker each (instead of scheduled/started/completed plus a workflow task per call), which keeps the history of a
 * long-lived, often-woken workflow small. They are still named steps in the UI (as local activities), retried alike.
 */
export const k8sLocal = proxyLocalActivities<Activities>({ ...shortCalls, localRetryThreshold: '10 seconds' });

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
  // A remote activity's failure arrives as an ActivityFailure wrapping the ApplicationFailure; a local activity's
  // as the ApplicationFailure itself. Both are failures of a step, reported as status; anything else is a bug.
  if (!(err instanceof TemporalFailure)) throw err;
  const app =
    err instanceof ApplicationFailure
      ? err
      : err instanceof ActivityFailure && err.cause instanceof ApplicationFailure
        ? err.cause
        : undefined;
  return { type: app?.type ?? 'ActivityFailed', message: app?.message ?? err.message };
}

/** The status a lifecycle writes when a pass ends on an activity failure: Failed, with the failure on `Ready`. */
export function failedStatus(failure: { type: string; message: string }) {
  return {
    status: 'Failed' as const,
    conditions: [{ type: 'Ready', status: 'False' as const, reason: failure.type, message: failure.message }],
  };
}
