import { describe, expect, it } from 'vitest';
import { KubeApiError, type KubeErrorKind } from '../../activities/kube/errors.js';
import { toApplicationFailure } from '../../activities/failures.js';

const kube = (kind: KubeErrorKind, status: number, message: string) => new KubeApiError(kind, status, message);

describe('every Kubernetes error becomes a typed failure (spec 7)', () => {
  it.each([
    [
      'a ResourceQuota refusal is the user quota, named with its amounts',
      kube(
        'Forbidden',
        403,
        'persistentvolumeclaims "c-1" is forbidden: exceeded quota: no-pvcs, requested: persistentvolumeclaims=1, used: persistentvolumeclaims=0, limited: persistentvolumeclaims=0',
      ),
      'QuotaExceeded',
      true,
    ],
    [
      'another 403 is the orchestrator RBAC',
      kube('Forbidden', 403, 'jobs.batch is forbidden: User "x" cannot create resource "jobs"'),
      'OrchestratorForbidden',
      true,
    ],
    ['422 is a rejected apply', kube('Invalid', 422, 'spec.x: Invalid value'), 'ApplyRejected', true],
    ['503 retries', kube('Retryable', 503, 'unavailable'), 'KubernetesUnavailable', false],
    ['409 conflict retries', kube('Conflict', 409, 'the object has been modified'), 'KubernetesConflict', false],
  ] as const)('%s', (_, err, type, nonRetryable) => {
    const f = toApplicationFailure(err, 'create pvc c-1');
    expect(f.type).toBe(type);
    expect(f.nonRetryable).toBe(nonRetryable);
    expect(f.message).toContain('create pvc c-1: ');
    expect(f.message).toContain(err.message);
  });
});
