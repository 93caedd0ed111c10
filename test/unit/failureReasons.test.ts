import { ApiException } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { Context } from '@temporalio/activity';
import { describe, expect, it } from 'vitest';
import {
  DOWNLOADER_REASONS,
  FAILURE_REASONS,
  fixedByNextAttempt,
  needsRecheck,
  needsReprobe,
  NON_RETRYABLE_ACTIVITY_FAILURES,
  retryClassOf,
} from '../../domain/failureReasons.js';
import { kubeFailureInterceptor, typedKubeFailure } from '../../activities/kubeFailureInterceptor.js';
import { KubeApiError } from '../../activities/kube/errors.js';

describe('the failure vocabulary (spec 7), defined once', () => {
  it.each([
    // reason, next attempt fixes it, re-probe, re-check
    ['Stalled', true, false, false],
    ['OOMKilled', true, false, false],
    ['Evicted', true, false, false],
    ['IntegrityMismatch', true, false, false],
    ['JobDeleted', true, false, false],
    ['AuthFailed', false, true, false],
    ['GatedModel', false, true, false],
    ['SecretNotFound', false, false, true],
    ['QuotaExceeded', false, false, true],
    ['VolumeNotBound', false, false, true],
    ['PodNotStarted', false, false, true],
    ['ImagePullFailed', false, false, true],
    ['SourceNotFound', false, false, false],
    ['InsufficientStorage', false, false, true],
    ['InvalidSpec', false, false, false],
    ['SomethingANewerDownloaderSays', false, false, false],
  ] as const)('%s: next attempt %s, re-probe %s, re-check %s', (reason, next, reprobe, recheck) => {
    expect(fixedByNextAttempt(reason)).toBe(next);
    expect(needsReprobe(reason)).toBe(reprobe);
    expect(needsRecheck(reason)).toBe(recheck);
  });

  it('an unknown reason waits for a fix rather than retrying or being dropped', () => {
    expect(retryClassOf('NotAReason')).toBe('fix');
    expect(retryClassOf('toString')).toBe('fix'); // not an inherited property of the table
  });

  it('every reason a downloader reports and every non-retryable activity failure is in the vocabulary', () => {
    for (const r of [...DOWNLOADER_REASONS, ...NON_RETRYABLE_ACTIVITY_FAILURES])
      expect(FAILURE_REASONS).toHaveProperty(r);
  });

  it('the reasons of spec section 7 are all there', () => {
    const spec = [
      'InvalidSpec',
      'ModelNameConflict',
      'TemplateNameConflict',
      'ModelNotFound',
      'TemplateNotFound',
      'GPUNotAvailable',
      'VRAMNotAvailable',
      'SecretNotFound',
      'AuthFailed',
      'GatedModel',
      'SourceNotFound',
      'SizeUnknown',
      'InsufficientStorage',
      'VolumeNotBound',
      'PodNotStarted',
      'ImagePullFailed',
      'Stalled',
      'EndpointUnreachable',
      'RateLimited',
      'OOMKilled',
      'Evicted',
      'IntegrityMismatch',
      'OrchestratorForbidden',
      'ApplyRejected',
      'QuotaExceeded',
      'InferenceServiceFailed',
      'TemplateGone',
      'CacheRecreating',
      'SubmitNotAllowed',
    ];
    expect(spec.filter((r) => !Object.hasOwn(FAILURE_REASONS, r))).toEqual([]);
  });
});

describe('every Kubernetes error leaving an activity is typed in one place', () => {
  const forbidden = () =>
    new ApiException(
      403,
      'HTTP-Code: 403',
      JSON.stringify({
        kind: 'Status',
        reason: 'Forbidden',
        message: 'jobs.batch is forbidden: User "x" cannot create',
      }),
      {},
    );
  const run = async (thrown: unknown) => {
    const ctx = { info: { activityType: 'startDownload' } } as unknown as Context;
    const execute = kubeFailureInterceptor(ctx).inbound!.execute!;
    return execute({ args: [], headers: {} }, () => Promise.reject(thrown)).then(
      () => undefined,
      (e: unknown) => e,
    );
  };

  it('a raw client-node 403 becomes a non-retryable OrchestratorForbidden naming the activity', async () => {
    const err = await run(forbidden());
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('OrchestratorForbidden');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as ApplicationFailure).message).toBe(
      'activity startDownload: jobs.batch is forbidden: User "x" cannot create',
    );
  });

  it('a KubeApiError rethrown as is gets its type too (a quota refusal is QuotaExceeded)', async () => {
    const err = await run(new KubeApiError('Forbidden', 403, 'exceeded quota: q1, requested: pods=1'));
    expect((err as ApplicationFailure).type).toBe('QuotaExceeded');
  });

  it('failures already typed, and bugs, pass through unchanged', async () => {
    const typed = ApplicationFailure.nonRetryable('gone', 'ObjectGone');
    expect(await run(typed)).toBe(typed);
    const bug = new TypeError('x is undefined');
    expect(typedKubeFailure(bug, 'readCache')).toBe(bug);
  });
});
