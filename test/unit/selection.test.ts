import { describe, expect, it } from 'vitest';
import {
  compareTemplates,
  rankTemplates,
  selectTemplate,
  type SelectionOptions,
  type TemplateCandidate,
} from '../../domain/selection.js';

const tpl = (name: string, over: Partial<TemplateCandidate> = {}): TemplateCandidate => ({
  name,
  scope: 'Namespaced',
  namespace: 'team',
  status: 'Ready',
  type: 'optimized',
  gpuCount: 1,
  ...over,
});

const opts = (over: Partial<SelectionOptions> = {}): SelectionOptions => ({
  allowUnoptimized: false,
  modelIsCustom: false,
  serviceNamespace: 'team',
  modelName: 'm',
  ...over,
});

const selectedName = (candidates: TemplateCandidate[], o: Partial<SelectionOptions> = {}) => {
  const r = selectTemplate(candidates, opts(o));
  return 'selected' in r ? r.selected.name : `reason: ${r.reason}`;
};

describe('the template order', () => {
  it.each<[string, TemplateCandidate, TemplateCandidate]>([
    [
      'prefers the namespace scope',
      tpl('z', { type: 'unoptimized' }),
      tpl('a', { scope: 'Cluster', namespace: undefined }),
    ],
    ['prefers optimized over preview', tpl('z'), tpl('a', { type: 'preview' })],
    ['prefers preview over unoptimized', tpl('z', { type: 'preview' }), tpl('a', { type: 'unoptimized' })],
    ['counts an unset type as unoptimized', tpl('z', { type: 'preview' }), tpl('a', { type: undefined })],
    ['prefers latency over throughput', tpl('z', { metric: 'latency' }), tpl('a', { metric: 'throughput' })],
    ['prefers throughput over an unset metric', tpl('z', { metric: 'throughput' }), tpl('a')],
    ['prefers fp4 over int4', tpl('z', { precision: 'fp4' }), tpl('a', { precision: 'int4' })],
    ['prefers int4 over fp8', tpl('z', { precision: 'int4' }), tpl('a', { precision: 'fp8' })],
    ['prefers fp8 over int8', tpl('z', { precision: 'fp8' }), tpl('a', { precision: 'int8' })],
    ['prefers int8 over fp16', tpl('z', { precision: 'int8' }), tpl('a', { precision: 'fp16' })],
    ['prefers fp16 over bf16', tpl('z', { precision: 'fp16' }), tpl('a', { precision: 'bf16' })],
    ['prefers bf16 over fp32', tpl('z', { precision: 'bf16' }), tpl('a', { precision: 'fp32' })],
    ['prefers fp32 over auto', tpl('z', { precision: 'fp32' }), tpl('a', { precision: 'auto' })],
    ['ranks an unset precision as auto, after fp32', tpl('z', { precision: 'fp32' }), tpl('a')],
    ['prefers fewer GPUs', tpl('z', { gpuCount: 1 }), tpl('a', { gpuCount: 2 })],
    ['breaks the remaining ties by name', tpl('a'), tpl('b')],
    ['ranks type before metric', tpl('z', { type: 'optimized' }), tpl('a', { type: 'preview', metric: 'latency' })],
    [
      'ranks metric before precision',
      tpl('z', { metric: 'latency', precision: 'fp32' }),
      tpl('a', { precision: 'fp4' }),
    ],
    [
      'ranks precision before GPU count',
      tpl('z', { precision: 'fp8', gpuCount: 8 }),
      tpl('a', { precision: 'fp16', gpuCount: 1 }),
    ],
  ])('%s', (_name, better, worse) => {
    expect(compareTemplates(better, worse)).toBeLessThan(0);
    expect(compareTemplates(worse, better)).toBeGreaterThan(0);
  });

  it('is a total order: any input order ranks the same', () => {
    const all = [
      tpl('c', { precision: 'fp8' }),
      tpl('a', { scope: 'Cluster', namespace: undefined }),
      tpl('b', { metric: 'latency' }),
      tpl('d', { gpuCount: 2 }),
      tpl('e', { type: 'preview' }),
      tpl('a'),
    ];
    const ranked = rankTemplates(all).map((t) => `${t.scope}/${t.name}`);
    expect(ranked).toEqual([
      'Namespaced/b',
      'Namespaced/c',
      'Namespaced/a',
      'Namespaced/d',
      'Namespaced/e',
      'Cluster/a',
    ]);
    expect(rankTemplates([...all].reverse()).map((t) => `${t.scope}/${t.name}`)).toEqual(ranked);
  });
});

describe('selectTemplate without a requested name', () => {
  it.each<[string, TemplateCandidate[], Partial<SelectionOptions>, string]>([
    ['selects the best Ready template', [tpl('slow', { type: 'preview' }), tpl('fast')], {}, 'fast'],
    [
      'skips templates that are not Ready',
      [tpl('best', { status: 'NotAvailable' }), tpl('ok', { type: 'preview' })],
      {},
      'ok',
    ],
    [
      'filters out unoptimized templates by default',
      [tpl('u', { type: 'unoptimized' }), tpl('p', { type: 'preview', gpuCount: 8 })],
      {},
      'p',
    ],
    [
      'allows unoptimized templates with allowUnoptimized',
      [tpl('u', { type: 'unoptimized' })],
      { allowUnoptimized: true },
      'u',
    ],
    [
      'allows unoptimized templates of a custom model',
      [tpl('u', { type: 'unoptimized' })],
      { modelIsCustom: true },
      'u',
    ],
    [
      'ignores namespaced templates of another namespace',
      [
        tpl('elsewhere', { namespace: 'other' }),
        tpl('cluster', { scope: 'Cluster', namespace: undefined, type: 'preview' }),
      ],
      {},
      'cluster',
    ],
    [
      'explains filtered unoptimized templates',
      [tpl('a', { type: 'unoptimized' }), tpl('b', { type: 'unoptimized' })],
      {},
      'reason: 2 unoptimized templates filtered out; set spec.template.allowUnoptimized',
    ],
    [
      'explains that every template is NotAvailable',
      [
        tpl('a', { status: 'NotAvailable', notAvailableReason: 'no MI300X nodes' }),
        tpl('b', { status: 'NotAvailable', notAvailableReason: 'no MI300X nodes' }),
      ],
      {},
      'reason: all templates NotAvailable: no MI300X nodes',
    ],
    [
      'combines the reasons, most actionable first',
      [
        tpl('a', { type: 'unoptimized' }),
        tpl('b', {
          status: 'NotAvailable',
          notAvailableReason: 'no MI355X GPUs: the cluster has 1 node with 8 x MI300X (192Gi)',
        }),
        tpl('c', { status: 'Progressing' }),
      ],
      {},
      'reason: 1 unoptimized template filtered out; set spec.template.allowUnoptimized; 1 template NotAvailable: ' +
        'no MI355X GPUs: the cluster has 1 node with 8 x MI300X (192Gi); 1 template not evaluated yet',
    ],
    ['explains a model without templates', [], {}, 'reason: no templates for model m'],
    ['mentions failed templates', [tpl('a', { status: 'Failed' })], {}, 'reason: 1 template has failed'],
  ])('%s', (_name, candidates, o, want) => {
    expect(selectedName(candidates, o)).toBe(want);
  });
});

describe('selectTemplate with a requested name', () => {
  const candidates = [
    tpl('m-fast', { alias: 'fast', type: 'unoptimized' }),
    tpl('m-fast', { scope: 'Cluster', namespace: undefined }),
    tpl('fast', { scope: 'Cluster', namespace: undefined }),
    tpl('m-old', {
      alias: 'old',
      status: 'NotAvailable',
      notAvailableReason: 'no MI250X GPUs: the cluster has no GPU nodes',
    }),
    tpl('m-new', { alias: 'new', status: 'Progressing' }),
  ];

  it.each<[string, string, string]>([
    ['matches an object name, namespace scope first', 'm-fast', 'm-fast'],
    ['matches an alias in the namespace before a name in the cluster scope', 'fast', 'm-fast'],
    ['selects a requested unoptimized template without allowUnoptimized', 'm-fast', 'm-fast'],
    ['reports a missing template', 'gone', 'reason: template gone not found for model m'],
    [
      'reports a requested template that is NotAvailable',
      'old',
      'reason: template m-old is NotAvailable: no MI250X GPUs: the cluster has no GPU nodes',
    ],
    ['reports a requested template that is not evaluated yet', 'new', 'reason: template m-new is Progressing'],
  ])('%s', (_name, requestedName, want) => {
    expect(selectedName(candidates, { requestedName })).toBe(want);
  });

  it('selects the namespaced template when both scopes hold the requested name', () => {
    const r = selectTemplate(candidates, opts({ requestedName: 'm-fast' }));
    expect(r).toEqual({ selected: candidates[0] });
  });
});
