import { describe, expect, it } from 'vitest';
import { serviceReport, type ServiceReached } from '../../domain/serviceConditions.js';

const model = { ok: { kind: 'AIMModel', name: 'qwen' } };
const template = { ok: { name: 'qwen-mi300x' } };
const credentials = { ok: 'no secret references' };
const caches = { ready: 2 };
const upTo = (more: Partial<ServiceReached>, running = false): ServiceReached => ({
  running,
  model,
  template,
  credentials,
  caches,
  ...more,
});
/** `type=status/reason` of every condition, in order. */
const summary = (r: ServiceReached) => {
  const { status, conditions } = serviceReport(r);
  return [status, ...conditions.map((c) => `${c.type}=${c.status}/${c.reason}`)];
};
const PASSED = ['ConfigValid=True/Valid', 'ModelReady=True/ModelResolved', 'TemplateReady=True/TemplateSelected'];
const ALL = [...PASSED, 'AuthValid=True/SecretsFound', 'CacheReady=True/CachesReady'];

describe('AIMService status and conditions from what each step reached (spec 5.3, 8)', () => {
  it.each<[string, ServiceReached, string[]]>([
    [
      'an invalid spec fails with InvalidSpec on ConfigValid and Ready only',
      { running: false, invalid: 'spec.model: required' },
      ['Failed', 'ConfigValid=False/InvalidSpec', 'Ready=False/InvalidSpec'],
    ],
    [
      'a model not found yet is Pending',
      {
        running: false,
        model: { failure: { status: 'False', reason: 'ModelNotFound', message: 'm', retryable: true } },
      },
      ['Pending', 'ConfigValid=True/Valid', 'ModelReady=False/ModelNotFound', 'Ready=False/ModelNotFound'],
    ],
    [
      'a model name held by someone else fails',
      {
        running: false,
        model: { failure: { status: 'False', reason: 'ModelNameConflict', message: 'm', retryable: false } },
      },
      ['Failed', 'ConfigValid=True/Valid', 'ModelReady=False/ModelNameConflict', 'Ready=False/ModelNameConflict'],
    ],
    [
      'a model lost after Running is Degraded',
      {
        running: true,
        model: { failure: { status: 'False', reason: 'ModelNotFound', message: 'm', retryable: true } },
      },
      ['Degraded', 'ConfigValid=True/Valid', 'ModelReady=False/ModelNotFound', 'Ready=False/ModelNotFound'],
    ],
    [
      'no template yet is Pending',
      { running: false, model, template: { failure: { status: 'False', reason: 'TemplateNotFound', message: 't' } } },
      [
        'Pending',
        'ConfigValid=True/Valid',
        'ModelReady=True/ModelResolved',
        'TemplateReady=False/TemplateNotFound',
        'Ready=False/TemplateNotFound',
      ],
    ],
    [
      'a template lost under a Running service is TemplateGone, Degraded, still serving',
      { running: true, model, template: { failure: { status: 'False', reason: 'TemplateNotFound', message: 't' } } },
      [
        'Degraded',
        'ConfigValid=True/Valid',
        'ModelReady=True/ModelResolved',
        'TemplateReady=False/TemplateGone',
        'Ready=False/TemplateGone',
      ],
    ],
    [
      'a missing Secret is Pending with AuthValid=False',
      { running: false, model, template, credentials: { missing: 'secret s3-creds not found' } },
      ['Pending', ...PASSED, 'AuthValid=False/SecretNotFound', 'Ready=False/SecretNotFound'],
    ],
    [
      'downloading is Starting',
      upTo({ caches: { waiting: '42% (1 cache)' } }),
      ['Starting', ...PASSED, 'AuthValid=True/SecretsFound', 'CacheReady=False/Downloading', 'Ready=False/Downloading'],
    ],
    [
      'a cache between attempts shows why the last failed, still Starting (spec 7)',
      upTo({
        caches: {
          waiting: '42%',
          retrying: { name: 'c1', reason: 'OOMKilled', message: 'container download was OOMKilled' },
        },
      }),
      ['Starting', ...PASSED, 'AuthValid=True/SecretsFound', 'CacheReady=False/OOMKilled', 'Ready=False/OOMKilled'],
    ],
    [
      'a cache being recreated under a Running service is Degraded',
      upTo({ caches: { waiting: '3%' } }, true),
      [
        'Degraded',
        ...PASSED,
        'AuthValid=True/SecretsFound',
        'CacheReady=False/CacheRecreating',
        'Ready=False/CacheRecreating',
      ],
    ],
    [
      'a failed cache fails the service with the cache reason',
      upTo({ caches: { failed: { name: 'c1', reason: 'AuthFailed', message: 'bad key' } } }),
      ['Failed', ...PASSED, 'AuthValid=True/SecretsFound', 'CacheReady=False/AuthFailed', 'Ready=False/AuthFailed'],
    ],
    [
      'deploying is Starting',
      upTo({ inferenceService: { name: 'svc', ready: false } }),
      ['Starting', ...ALL, 'InferenceServiceReady=False/Deploying', 'Ready=False/Deploying'],
    ],
    [
      'KServe Ready is Running',
      upTo({ inferenceService: { name: 'svc', ready: true } }),
      ['Running', ...ALL, 'InferenceServiceReady=True/Ready', 'Ready=True/Running'],
    ],
    [
      'KServe failing to load the model fails the service',
      upTo({ inferenceService: { name: 'svc', ready: false, reason: 'InferenceServiceFailed', message: 'crash' } }),
      ['Failed', ...ALL, 'InferenceServiceReady=False/InferenceServiceFailed', 'Ready=False/InferenceServiceFailed'],
    ],
    [
      'KServe failing after Running is Degraded, still InferenceServiceFailed',
      upTo(
        { inferenceService: { name: 'svc', ready: false, reason: 'InferenceServiceFailed', message: 'crash' } },
        true,
      ),
      ['Degraded', ...ALL, 'InferenceServiceReady=False/InferenceServiceFailed', 'Ready=False/InferenceServiceFailed'],
    ],
    [
      'not Ready after Running is Degraded',
      upTo({ inferenceService: { name: 'svc', ready: false, reason: 'PredictorNotReady', message: 'x' } }, true),
      ['Degraded', ...ALL, 'InferenceServiceReady=False/PredictorNotReady', 'Ready=False/PredictorNotReady'],
    ],
  ])('%s', (_, reached, expected) => {
    expect(summary(reached)).toEqual(expected);
  });

  it('messages name what the user needs: the model, the template, the cache, the InferenceService', () => {
    const running = serviceReport(upTo({ inferenceService: { name: 'svc-1', ready: true } }));
    expect(running.conditions.map((c) => c.message)).toEqual([
      'the spec is valid',
      'AIMModel qwen',
      'qwen-mi300x',
      'no secret references',
      '2 cache(s) ready',
      'InferenceService svc-1 is Ready',
      'serving from InferenceService svc-1',
    ]);
    const failed = serviceReport(upTo({ caches: { failed: { name: 'c1' } } }));
    expect(failed.conditions.at(-1)).toEqual({
      type: 'Ready',
      status: 'False',
      reason: 'CacheFailed',
      message: 'c1: failed',
    });
    const gone = serviceReport({
      running: true,
      model,
      template: { failure: { status: 'False', reason: 'TemplateNotFound', message: 'no template' } },
    });
    expect(gone.conditions.at(-1)?.message).toBe('no template; still serving');
  });

  it('a failure carries only condition fields (retryable stays out of the status)', () => {
    const r = serviceReport({
      running: false,
      model: { failure: { status: 'False', reason: 'ModelNotFound', message: 'm', retryable: true } },
    });
    expect(Object.keys(r.conditions[1]!).sort()).toEqual(['message', 'reason', 'status', 'type']);
  });

  it('a step missing before the last one reached is a bug, said so', () => {
    expect(() => serviceReport({ running: false, model })).toThrow(/template step was not reached/);
  });
});
