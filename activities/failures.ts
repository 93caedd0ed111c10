import { asyncLocalStorage } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { KubeApiError } from './kube/errors.js';

/**
 * Counts a typed failure as `aim_failures_total{reason}` on the worker's metrics endpoint (through the activity's
 * meter, which adds namespace, task queue and activity type). Outside an activity (tests, the SDK) it does nothing.
 * Named without `_total`: the exporter appends it to every counter (worker/metrics.ts, prometheusExporter).
 */
export function countFailure(reason: string): void {
  asyncLocalStorage
    .getStore()
    ?.metricMeter.createCounter('aim_failures', '', 'typed failures reported by activities, by reason')
    .add(1, { reason });
}

/**
 * Maps a Kubernetes API error to a typed Temporal failure (spec section 7): a ResourceQuota refusal → QuotaExceeded,
 * another 403 → OrchestratorForbidden and
 * 422/400/webhook denials → ApplyRejected are non-retryable (they wait for a fix); 429/5xx and network errors retry,
 * honouring Retry-After. The message is the server's curated Status message plus what we tried to do.
 */
export function toApplicationFailure(err: KubeApiError, action: string): ApplicationFailure {
  const failure = typedFailure(err, action);
  countFailure(failure.type ?? 'Unknown');
  return failure;
}

function typedFailure(err: KubeApiError, action: string): ApplicationFailure {
  const message = `${action}: ${err.message}`;
  switch (err.kind) {
    case 'Forbidden':
      // ResourceQuota admission answers 403 too, but it is the user's quota, not the orchestrator's RBAC: its own
      // reason; the server's message names the quota, the resource and the amounts requested, used and limited.
      if (/exceeded quota|status unknown for quota/i.test(err.message))
        return ApplicationFailure.nonRetryable(message, 'QuotaExceeded', { status: err.status });
      return ApplicationFailure.nonRetryable(message, 'OrchestratorForbidden', { status: err.status });
    case 'Invalid':
    case 'BadRequest':
      return ApplicationFailure.nonRetryable(message, 'ApplyRejected', { status: err.status, causes: err.causes });
    case 'Retryable':
      return ApplicationFailure.create({
        message,
        type: 'KubernetesUnavailable',
        details: [{ status: err.status }],
        ...(err.retryAfterSeconds ? { nextRetryDelay: `${err.retryAfterSeconds}s` } : {}),
      });
    default:
      return ApplicationFailure.create({ message, type: `Kubernetes${err.kind}`, details: [{ status: err.status }] });
  }
}
