import { describe, expect, it } from 'vitest';
import { stepFailureReport } from '../../domain/failureStatus.js';

describe('the status of a step that failed on a Kubernetes call (spec 7)', () => {
  it.each([
    [
      'a quota refusal of the cache PVC waits, on VolumeReady too',
      'QuotaExceeded',
      'ensureCachePvc',
      'Pending',
      ['VolumeReady', 'Ready'],
    ],
    ['a quota refusal elsewhere waits', 'QuotaExceeded', 'startDownload', 'Pending', ['Ready']],
    ['a 403 of the orchestrator fails', 'OrchestratorForbidden', 'applyInferenceService', 'Failed', ['Ready']],
    ['a rejected PVC fails on VolumeReady too', 'ApplyRejected', 'ensureCachePvc', 'Failed', ['VolumeReady', 'Ready']],
  ])('%s', (_, type, step, status, conditions) => {
    const r = stepFailureReport({ type, message: 'm' }, step);
    expect(r.status).toBe(status);
    expect(r.conditions.map((c) => c.type)).toEqual(conditions);
    expect(r.conditions.every((c) => c.reason === type && c.message === 'm')).toBe(true);
  });

  it('a deletion that cannot finish says so, why, and how to end it', () => {
    const r = stepFailureReport(
      { type: 'ApplyRejected', message: 'delete InferenceService chat: denied by policy' },
      'cleanupService',
    );
    expect(r.status).toBe('Failed');
    expect(r.conditions).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'ApplyRejected',
        message:
          'deletion cannot finish: delete InferenceService chat: denied by policy; retried on a back-off (annotate aim.silogen.ai/retry to retry now), or `aimctl delete --force` removes the finalizer',
      },
    ]);
  });
});
