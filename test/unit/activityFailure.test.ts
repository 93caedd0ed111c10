import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { activityFailure } from '../../workflows/proxies.js';

describe('activityFailure: a failed step becomes status, a bug stays a bug', () => {
  const app = ApplicationFailure.nonRetryable('get service chat: forbidden', 'OrchestratorForbidden');

  it('reads the type and message of a remote activity failure (ActivityFailure wrapping the ApplicationFailure)', () => {
    const err = new ActivityFailure('activity failed', 'readService', '1', RetryState.NON_RETRYABLE_FAILURE, '', app);
    expect(activityFailure(err)).toEqual({ type: 'OrchestratorForbidden', message: 'get service chat: forbidden' });
  });

  it('reads a local activity failure, which arrives as the ApplicationFailure itself', () => {
    expect(activityFailure(app)).toEqual({ type: 'OrchestratorForbidden', message: 'get service chat: forbidden' });
  });

  it('rethrows anything that is not a Temporal failure (a bug in workflow code)', () => {
    const bug = new TypeError('x is undefined');
    expect(() => activityFailure(bug)).toThrow(bug);
  });
});
