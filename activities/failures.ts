import { ApplicationFailure } from '@temporalio/common';
import type { KubeApiError } from './kube/errors.js';

/**
 * Maps a Kubernetes API error to a typed Temporal failure (spec section 7): 403 → OrchestratorForbidden and
 * 422/400/webhook denials → ApplyRejected are non-retryable (they wait for a fix); 429/5xx and network errors retry,
 * honouring Retry-After. The message is the server's curated Status message plus what we tried to do.
 */
export function toApplicationFailure(err: KubeApiError, action: string): ApplicationFailure {
  const message = `${action}: ${err.message}`;
  switch (err.kind) {
    case 'Forbidden':
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
