import { describe, expect, it } from 'vitest';
import {
  aggregateModelStatus,
  conditionTime,
  conditionTransitions,
  eventsOf,
  eventTypeOf,
  setCondition,
  type ModelStatusInput,
} from '../../domain/status.js';
import type { Condition, ObjectStatus } from '../../schemas/types.js';

const T0 = '2025-01-01T00:00:00Z';
const T1 = new Date('2025-01-01T00:05:00.123Z');

const cond = (type: string, status: Condition['status'], reason = 'R', over: Partial<Condition> = {}): Condition => ({
  type,
  status,
  reason,
  message: '',
  lastTransitionTime: T0,
  ...over,
});

describe('setCondition', () => {
  it('appends a new condition stamped with the time and generation', () => {
    expect(
      setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Progressing', message: 'm' }, T1, 3),
    ).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'Progressing',
        message: 'm',
        lastTransitionTime: '2025-01-01T00:05:00Z',
        observedGeneration: 3,
      },
    ]);
  });

  it('keeps lastTransitionTime when the status does not change, and updates reason, message and generation', () => {
    const before = [cond('Ready', 'False', 'Progressing', { observedGeneration: 1 })];
    expect(
      setCondition(before, { type: 'Ready', status: 'False', reason: 'GPUNotAvailable', message: 'no GPUs' }, T1, 2),
    ).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'GPUNotAvailable',
        message: 'no GPUs',
        lastTransitionTime: T0,
        observedGeneration: 2,
      },
    ]);
  });

  it('moves lastTransitionTime when the status changes', () => {
    const [c] = setCondition(
      [cond('Ready', 'False')],
      { type: 'Ready', status: 'True', reason: 'Ready', message: '' },
      T1,
    );
    expect(c!.lastTransitionTime).toBe('2025-01-01T00:05:00Z');
  });

  it('keeps the position of an existing condition and leaves the input untouched', () => {
    const before = [cond('ConfigValid', 'True'), cond('Ready', 'False'), cond('AuthValid', 'True')];
    const snapshot = structuredClone(before);
    const after = setCondition(before, { type: 'Ready', status: 'True', reason: 'Ready', message: '' }, T1, 1);
    expect(after.map((c) => c.type)).toEqual(['ConfigValid', 'Ready', 'AuthValid']);
    expect(before).toEqual(snapshot);
  });

  it('keeps the previous observedGeneration when none is given', () => {
    const [c] = setCondition(
      [cond('Ready', 'True', 'Ready', { observedGeneration: 4 })],
      { type: 'Ready', status: 'True', reason: 'Ready', message: '' },
      T1,
    );
    expect(c!.observedGeneration).toBe(4);
  });

  it('writes times as RFC 3339 with whole seconds', () => {
    expect(conditionTime('2025-03-04T05:06:07.891Z')).toBe('2025-03-04T05:06:07Z');
    expect(() => conditionTime('yesterday')).toThrow();
  });
});

const templates = (...statuses: Array<ObjectStatus | undefined>) =>
  statuses.map((status, i) => ({ name: `t${i}`, ...(status && { status }) }));
const valid = { configValid: true, authValid: true, sourcesValid: true };

describe('aggregateModelStatus', () => {
  it.each<[string, ModelStatusInput, ObjectStatus, string, Condition['status']]>([
    [
      'is Ready when every template is Ready',
      { ...valid, templates: templates('Ready', 'Ready') },
      'Ready',
      'AllTemplatesReady',
      'True',
    ],
    [
      'is Ready when templates are Ready or NotAvailable with at least one Ready',
      { ...valid, templates: templates('Ready', 'NotAvailable') },
      'Ready',
      'TemplatesReady',
      'True',
    ],
    [
      'is NotAvailable when every template is NotAvailable',
      { ...valid, templates: templates('NotAvailable', 'NotAvailable') },
      'NotAvailable',
      'NoTemplatesAvailable',
      'False',
    ],
    [
      'is Degraded when some templates failed',
      { ...valid, templates: templates('Ready', 'Failed') },
      'Degraded',
      'TemplatesFailed',
      'False',
    ],
    [
      'is Degraded when a template is Degraded',
      { ...valid, templates: templates('Ready', 'Degraded') },
      'Degraded',
      'TemplatesFailed',
      'False',
    ],
    [
      'is Failed when every template failed',
      { ...valid, templates: templates('Failed', 'Failed') },
      'Failed',
      'AllTemplatesFailed',
      'False',
    ],
    [
      'is Progressing while some templates are not evaluated',
      { ...valid, templates: templates('Ready', 'Progressing', undefined) },
      'Progressing',
      'TemplatesProgressing',
      'Unknown',
    ],
    [
      'is Progressing while NotAvailable templates wait for others',
      { ...valid, templates: templates('NotAvailable', 'Pending') },
      'Progressing',
      'TemplatesProgressing',
      'Unknown',
    ],
    ['is Ready without templates (an image model)', { ...valid, templates: [] }, 'Ready', 'NoTemplates', 'True'],
    [
      'is Failed while ConfigValid is False',
      { ...valid, configValid: false, templates: templates('Ready') },
      'Failed',
      'InvalidSpec',
      'False',
    ],
    [
      'is Failed while AuthValid is False, with its reason',
      {
        ...valid,
        authValid: { status: 'False', reason: 'SecretNotFound', message: 'secret team/s3 not found' },
        templates: templates('Ready'),
      },
      'Failed',
      'SecretNotFound',
      'False',
    ],
    [
      'is Failed while SourcesValid is False',
      { ...valid, sourcesValid: { status: 'False' }, templates: templates('Ready') },
      'Failed',
      'SourcesInvalid',
      'False',
    ],
    [
      'is not Failed while validity is Unknown',
      {
        configValid: true,
        authValid: undefined,
        sourcesValid: { status: 'Unknown', reason: 'ValidatedPerNamespace' },
        templates: templates('Ready'),
      },
      'Ready',
      'AllTemplatesReady',
      'True',
    ],
  ])('%s', (_name, input, status, reason, ready) => {
    const got = aggregateModelStatus(input);
    expect(got).toMatchObject({ status, reason, ready: { type: 'Ready', status: ready, reason } });
  });

  it('names the templates behind a partial verdict', () => {
    const got = aggregateModelStatus({
      ...valid,
      templates: [
        { name: 'm-fast', status: 'Ready' },
        { name: 'm-old', status: 'NotAvailable' },
      ],
    });
    expect(got.message).toBe('1 of 2 templates Ready; NotAvailable: m-old');
    expect(got).toMatchObject({ templatesReady: true, templatesReason: 'TemplatesReady' });
  });

  it('reports TemplatesReady False when no template is Ready', () => {
    expect(aggregateModelStatus({ ...valid, templates: templates('NotAvailable') })).toMatchObject({
      templatesReady: false,
      templatesReason: 'NoTemplatesAvailable',
      message: 'none of 1 template can run on this cluster',
    });
  });

  it('keeps the templates verdict while the model is Failed for its sources', () => {
    const got = aggregateModelStatus({ ...valid, sourcesValid: false, templates: templates('Ready') });
    expect(got).toMatchObject({ status: 'Failed', templatesReady: true, templatesReason: 'AllTemplatesReady' });
  });
});

describe('conditionTransitions', () => {
  it.each<[string, Condition[] | undefined, Condition[], Array<Record<string, unknown>>]>([
    [
      'reports a new condition',
      undefined,
      [cond('Ready', 'False', 'Progressing')],
      [{ type: 'Ready', status: 'False', eventType: 'Warning' }],
    ],
    [
      'reports a status change with the previous status',
      [cond('Ready', 'False')],
      [cond('Ready', 'True', 'Ready')],
      [{ type: 'Ready', previousStatus: 'False', status: 'True', reason: 'Ready', eventType: 'Normal' }],
    ],
    [
      'reports a reason change at the same status',
      [cond('Ready', 'False', 'Progressing')],
      [cond('Ready', 'False', 'GPUNotAvailable')],
      [{ type: 'Ready', previousStatus: 'False', status: 'False', reason: 'GPUNotAvailable', eventType: 'Warning' }],
    ],
    [
      'ignores a message-only change',
      [cond('Ready', 'True', 'Ready', { message: 'a' })],
      [cond('Ready', 'True', 'Ready', { message: 'b' })],
      [],
    ],
    ['ignores removed conditions', [cond('Ready', 'True'), cond('Old', 'True')], [cond('Ready', 'True')], []],
    [
      'lists several changes in the order of the new conditions',
      [cond('ConfigValid', 'True'), cond('Ready', 'True')],
      [
        cond('ConfigValid', 'False', 'InvalidSpec'),
        cond('Ready', 'False', 'InvalidSpec'),
        cond('AuthValid', 'Unknown'),
      ],
      [
        { type: 'ConfigValid', status: 'False' },
        { type: 'Ready', status: 'False' },
        { type: 'AuthValid', status: 'Unknown', eventType: 'Normal' },
      ],
    ],
  ])('%s', (_name, before, after, want) => {
    const got = conditionTransitions(before, after);
    expect(got).toHaveLength(want.length);
    want.forEach((w, i) => expect(got[i]).toMatchObject(w));
  });

  it('does not report a new condition as having a previous status', () => {
    expect(conditionTransitions([], [cond('Ready', 'True')])[0]).not.toHaveProperty('previousStatus');
  });
});

describe('Events as Kubernetes users read them', () => {
  it.each([
    ['False', 'Downloading', 'Normal'],
    ['False', 'Probing', 'Normal'],
    ['False', 'Deploying', 'Normal'],
    ['False', 'WaitingForBinding', 'Normal'],
    ['Unknown', 'AwaitingTemplates', 'Normal'],
    ['False', 'QuotaExceeded', 'Warning'],
    ['False', 'AuthFailed', 'Warning'],
    ['True', 'Ready', 'Normal'],
  ] as const)('%s/%s is %s', (status, reason, type) => {
    expect(eventTypeOf(status, reason)).toBe(type);
  });

  it('one Event per distinct reason and message in a write', () => {
    const at = '2026-01-01T00:00:00Z';
    const after = [
      { type: 'CacheReady', status: 'False', reason: 'Downloading', message: 'm 10%', lastTransitionTime: at },
      { type: 'Ready', status: 'False', reason: 'Downloading', message: 'm 10%', lastTransitionTime: at },
    ] as const;
    const events = eventsOf(conditionTransitions([], after as never));
    expect(events.map((e) => [e.eventType, e.reason])).toEqual([['Normal', 'Downloading']]);
  });
});
