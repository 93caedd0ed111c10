import { ApiException } from '@kubernetes/client-node';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { toApplicationFailure } from './failures.js';
import { KubeApiError, toKubeError } from './kube/errors.js';

/**
 * The one place every Kubernetes error leaves an activity as a typed failure (spec 7): whatever a call forgot to map
 * (a raw client-node `ApiException`, or a `KubeApiError` rethrown as is) becomes the failure type of
 * `toApplicationFailure`, e.g. a 403 → non-retryable `OrchestratorForbidden` instead of ten retries of an untyped
 * error. Failures an activity already typed, cancellations and bugs (anything else) pass through unchanged.
 */
export function typedKubeFailure(err: unknown, activityType: string): unknown {
  if (err instanceof ApiException || err instanceof KubeApiError)
    return toApplicationFailure(toKubeError(err), `activity ${activityType}`);
  return err;
}

/** Worker interceptor: applies `typedKubeFailure` to every activity, local ones included. */
export const kubeFailureInterceptor: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (err) {
        throw typedKubeFailure(err, ctx.info.activityType);
      }
    },
  },
});
