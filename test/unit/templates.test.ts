import type { V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { evaluateTemplateHardware } from '../../domain/hardware.js';
import { aggregateModelStatus } from '../../domain/status.js';
import {
  buildModelTemplates,
  staleTemplates,
  templateNameConflicts,
  type GeneratedTemplate,
  type TemplateOwnerModel,
} from '../../domain/templates.js';
import type { AIMModelSpec } from '../../schemas/types.js';

const source = { modelId: 'Qwen/Qwen2-0.5B', sourceUri: 's3://models/qwen2-0.5b', size: '1Gi' };

const model = (spec: Partial<AIMModelSpec> = {}, over: Partial<TemplateOwnerModel> = {}): TemplateOwnerModel => ({
  apiVersion: 'aim.silogen.ai/v1alpha1',
  kind: 'AIMModel',
  metadata: { name: 'qwen', namespace: 'team', uid: 'uid-qwen' },
  spec: { image: 'ghcr.io/silogen/aim-base:0.8', modelSources: [source], ...spec },
  ...over,
});

/** Spec section 10, scenario 1. */
const scenario1 = model({
  hardware: { gpu: { requests: 1, models: ['MI300X'] } },
  env: [
    { name: 'LOG_LEVEL', value: 'info' },
    { name: 'VLLM_USE_V1', value: '1' },
  ],
  customTemplates: [
    { name: 'default' },
    { name: 'multi', hardware: { gpu: { requests: 2, models: ['MI300X'] } } },
    {
      name: 'fast',
      type: 'optimized',
      profile: { precision: 'fp16', metric: 'latency' },
      env: [
        { name: 'LOG_LEVEL', value: 'debug' },
        { name: 'AIM_FAST', value: '1' },
      ],
    },
    { name: 'old', hardware: { gpu: { requests: 1, models: ['MI250X'] } } },
  ],
});

const mi300xNode: V1Node = {
  metadata: {
    name: 'mi300x-0',
    labels: { 'amd.com/gpu.product-name': 'AMD_Instinct_MI300X_OAM', 'amd.com/gpu.vram': '192G' },
  },
  status: { allocatable: { 'amd.com/gpu': '8' } },
};
const h100Node: V1Node = {
  metadata: {
    name: 'h100-0',
    labels: { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3', 'nvidia.com/gpu.memory': '81559' },
  },
  status: { allocatable: { 'nvidia.com/gpu': '8' } },
};

const byAlias = (templates: GeneratedTemplate[]): Record<string, GeneratedTemplate> =>
  Object.fromEntries(templates.map((t) => [t.metadata.labels['aim.silogen.ai/template-alias'], t]));

describe('scenario 1: a model with four custom templates', () => {
  const templates = buildModelTemplates(scenario1);
  const t = byAlias(templates);

  it.each([
    ['default', 'qwen-default', { gpu: { requests: 1, models: ['MI300X'] } }, 'unoptimized', undefined, undefined],
    ['multi', 'qwen-multi', { gpu: { requests: 2, models: ['MI300X'] } }, 'unoptimized', undefined, undefined],
    ['fast', 'qwen-fast', { gpu: { requests: 1, models: ['MI300X'] } }, 'optimized', 'latency', 'fp16'],
    ['old', 'qwen-old', { gpu: { requests: 1, models: ['MI250X'] } }, 'unoptimized', undefined, undefined],
  ])('builds %s as %s with merged hardware and type', (alias, name, hardware, type, metric, precision) => {
    const tpl = t[alias]!;
    expect(tpl.metadata.name).toBe(name);
    expect(tpl.spec.hardware).toEqual(hardware);
    expect(tpl.spec.type).toBe(type);
    expect(tpl.spec.metric).toBe(metric);
    expect(tpl.spec.precision).toBe(precision);
    expect(tpl.spec.modelName).toBe('qwen');
    expect(tpl.spec.modelSources).toEqual([source]);
  });

  it('overlays the template env on the model env by name', () => {
    expect(t.default!.spec.env).toEqual([
      { name: 'LOG_LEVEL', value: 'info' },
      { name: 'VLLM_USE_V1', value: '1' },
    ]);
    expect(t.fast!.spec.env).toEqual([
      { name: 'LOG_LEVEL', value: 'debug' },
      { name: 'VLLM_USE_V1', value: '1' },
      { name: 'AIM_FAST', value: '1' },
    ]);
  });

  it.each<[string, V1Node[], Record<string, string | undefined>]>([
    [
      'one MI300X node with 8 allocatable',
      [mi300xNode],
      { default: undefined, multi: undefined, fast: undefined, old: 'GPUNotAvailable' },
    ],
    [
      'one NVIDIA H100 node',
      [h100Node],
      { default: 'GPUNotAvailable', multi: 'GPUNotAvailable', fast: 'GPUNotAvailable', old: 'GPUNotAvailable' },
    ],
  ])('on %s evaluates each template as expected', (_name, nodes, want) => {
    const got = Object.fromEntries(
      Object.entries(t).map(([alias, tpl]) => {
        const e = evaluateTemplateHardware(tpl.spec.hardware, nodes);
        return [alias, e.available ? undefined : e.reason];
      }),
    );
    expect(got).toEqual(want);
  });

  it('makes the model Ready on the MI300X node and NotAvailable on the H100 node', () => {
    const statusOn = (nodes: V1Node[]) =>
      aggregateModelStatus({
        configValid: true,
        authValid: true,
        sourcesValid: true,
        templates: templates.map((tpl) => ({
          name: tpl.metadata.name,
          status: evaluateTemplateHardware(tpl.spec.hardware, nodes).available ? 'Ready' : 'NotAvailable',
        })),
      });
    expect(statusOn([mi300xNode])).toMatchObject({ status: 'Ready', ready: { status: 'True' } });
    expect(statusOn([h100Node])).toMatchObject({ status: 'NotAvailable', reason: 'NoTemplatesAvailable' });
  });

  it('labels every template for the model and aliases the named ones', () => {
    expect(t.fast!.metadata.labels).toEqual({
      'aim.silogen.ai/model': 'qwen',
      'aim.silogen.ai/origin': 'auto-generated',
      'aim.silogen.ai/naming': 'v1',
      'app.kubernetes.io/managed-by': 'aim-orchestrator',
      'aim.silogen.ai/template-alias': 'fast',
    });
  });

  it('makes the model the controller owner of every template', () => {
    for (const tpl of templates) {
      expect(tpl.metadata.ownerReferences).toEqual([
        {
          apiVersion: 'aim.silogen.ai/v1alpha1',
          kind: 'AIMModel',
          name: 'qwen',
          uid: 'uid-qwen',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      expect(tpl).toMatchObject({ apiVersion: 'aim.silogen.ai/v1alpha1', kind: 'AIMServiceTemplate' });
      expect(tpl.metadata.namespace).toBe('team');
    }
  });
});

describe('scenario 2: a model without custom templates', () => {
  const templates = buildModelTemplates(model({ hardware: { gpu: { requests: 1, models: ['MI300X'] } } }));

  it('builds exactly one unoptimized template with the spec hardware', () => {
    expect(templates).toHaveLength(1);
    const [tpl] = templates;
    expect(tpl!.spec).toEqual({
      modelName: 'qwen',
      modelSources: [source],
      hardware: { gpu: { requests: 1, models: ['MI300X'] } },
      type: 'unoptimized',
    });
    expect(tpl!.metadata.name).toMatch(/^qwen-custom-mi300x-[0-9a-f]{8}$/);
    expect(tpl!.metadata.labels).not.toHaveProperty('aim.silogen.ai/template-alias');
  });

  it('takes spec.type as the default type', () => {
    const [tpl] = buildModelTemplates(model({ hardware: { gpu: { requests: 1 } }, type: 'preview' }));
    expect(tpl!.spec.type).toBe('preview');
  });
});

describe('buildModelTemplates', () => {
  it('generates no templates for an image model', () => {
    expect(buildModelTemplates(model({ modelSources: undefined, hardware: { gpu: { requests: 1 } } }))).toEqual([]);
    expect(buildModelTemplates(model({ modelSources: [], hardware: { gpu: { requests: 1 } } }))).toEqual([]);
  });

  it('builds cluster-scoped templates for an AIMClusterModel', () => {
    const [tpl] = buildModelTemplates(
      model({ hardware: { gpu: { requests: 1 } } }, { kind: 'AIMClusterModel', metadata: { name: 'qwen', uid: 'u' } }),
    );
    expect(tpl!.kind).toBe('AIMClusterServiceTemplate');
    expect(tpl!.metadata).not.toHaveProperty('namespace');
    expect(tpl!.metadata.ownerReferences[0]).toMatchObject({ kind: 'AIMClusterModel', name: 'qwen', uid: 'u' });
  });

  it('copies imagePullSecrets and serviceAccountName from the model and omits empty fields', () => {
    const [tpl] = buildModelTemplates(
      model({
        hardware: { cpu: { requests: '2' } },
        imagePullSecrets: [{ name: 'regcred' }],
        serviceAccountName: 'runner',
        env: [],
      }),
    );
    expect(tpl!.spec).toEqual({
      modelName: 'qwen',
      modelSources: [source],
      hardware: { cpu: { requests: '2' } },
      type: 'unoptimized',
      imagePullSecrets: [{ name: 'regcred' }],
      serviceAccountName: 'runner',
    });
  });

  it('shortens named template names that would pass 63 characters', () => {
    const long = 'a'.repeat(40);
    const [tpl] = buildModelTemplates(
      model(
        { hardware: { gpu: { requests: 1 } }, customTemplates: [{ name: 'b'.repeat(30) }] },
        {
          metadata: { name: long, namespace: 'team', uid: 'u' },
        },
      ),
    );
    expect(tpl!.metadata.name.length).toBeLessThanOrEqual(63);
    expect(tpl!.metadata.name.endsWith(`-${'b'.repeat(30)}`)).toBe(true);
  });

  it('names unnamed templates by a hash of the merged spec', () => {
    const names = (spec: Partial<AIMModelSpec>) => buildModelTemplates(model(spec)).map((t) => t.metadata.name);
    const base = { hardware: { gpu: { requests: 1, models: ['MI300X'] } } };
    const [plain] = names({ ...base, customTemplates: [{ profile: { precision: 'fp8' } }] });
    expect(plain).toMatch(/^qwen-custom-fp8-mi300x-[0-9a-f]{8}$/);
    // The inherited hardware and env are part of the merged spec.
    expect(
      names({ ...base, env: [{ name: 'A', value: '1' }], customTemplates: [{ profile: { precision: 'fp8' } }] })[0],
    ).not.toBe(plain);
    expect(
      names({
        hardware: { gpu: { requests: 2, models: ['MI300X'] } },
        customTemplates: [{ profile: { precision: 'fp8' } }],
      })[0],
    ).not.toBe(plain);
  });

  it('hashes equal specs alike whatever the env order and quantity spelling', () => {
    const name = (spec: Partial<AIMModelSpec>) => buildModelTemplates(model(spec))[0]!.metadata.name;
    const a = name({
      hardware: { gpu: { requests: 1, minVram: '64Gi' } },
      env: [
        { name: 'A', value: '1' },
        { name: 'B', value: '2' },
      ],
      modelSources: [{ ...source, size: '1Gi', sourceUri: 's3://models/qwen2-0.5b/' }],
    });
    const b = name({
      hardware: { gpu: { requests: 1, minVram: 68719476736 } },
      env: [
        { name: 'B', value: '2' },
        { name: 'A', value: '1' },
      ],
      modelSources: [{ ...source, size: 1073741824 }],
    });
    expect(a).toBe(b);
  });

  it('builds one template for two unnamed custom templates with the same merged spec', () => {
    const templates = buildModelTemplates(model({ hardware: { gpu: { requests: 1 } }, customTemplates: [{}, {}] }));
    expect(templates).toHaveLength(1);
  });

  it('is deterministic and does not share objects with the model', () => {
    const m = structuredClone(scenario1);
    const first = buildModelTemplates(m);
    expect(buildModelTemplates(structuredClone(scenario1))).toEqual(first);
    first[0]!.spec.modelSources![0]!.modelId = 'changed/x';
    first[0]!.spec.env![0]!.value = 'changed';
    expect(m.spec.modelSources![0]!.modelId).toBe('Qwen/Qwen2-0.5B');
    expect(m.spec.env![0]!.value).toBe('info');
  });
});

const existing = (
  name: string,
  labels: Record<string, string>,
  owner?: { uid: string; name?: string; kind?: string },
) => ({
  metadata: {
    name,
    labels,
    ...(owner && {
      ownerReferences: [
        {
          apiVersion: 'aim.silogen.ai/v1alpha1',
          kind: owner.kind ?? 'AIMModel',
          name: owner.name ?? 'qwen',
          uid: owner.uid,
          controller: true,
        },
      ],
    }),
  },
});
const ours = { 'aim.silogen.ai/model': 'qwen', 'aim.silogen.ai/origin': 'auto-generated' };

describe('staleTemplates', () => {
  const desired = buildModelTemplates(scenario1);

  it.each<[string, ReturnType<typeof existing>[], string[]]>([
    [
      'deletes generated templates that left the spec',
      [existing('qwen-gone', ours, { uid: 'uid-qwen' })],
      ['qwen-gone'],
    ],
    ['keeps templates that are still desired', [existing('qwen-fast', ours, { uid: 'uid-qwen' })], []],
    [
      'never deletes a hand-made template of the model',
      [existing('qwen-manual', { 'aim.silogen.ai/model': 'qwen' }, { uid: 'uid-qwen' })],
      [],
    ],
    [
      "never deletes another model's template",
      [existing('other-x', { ...ours, 'aim.silogen.ai/model': 'other' }, { uid: 'uid-other', name: 'other' })],
      [],
    ],
    ['never deletes a template another object controls', [existing('qwen-x', ours, { uid: 'uid-old' })], []],
  ])('%s', (_name, current, want) => {
    expect(staleTemplates(current, desired)).toEqual(want);
  });

  it('prunes every generated template when the model no longer generates any', () => {
    const current = [existing('qwen-b', ours, { uid: 'uid-qwen' }), existing('qwen-a', ours, { uid: 'uid-qwen' })];
    expect(staleTemplates(current, [], { name: 'qwen', uid: 'uid-qwen' })).toEqual(['qwen-a', 'qwen-b']);
  });
});

describe('templateNameConflicts', () => {
  const desired = buildModelTemplates(scenario1);

  it.each<[string, ReturnType<typeof existing> | undefined, string | undefined]>([
    ['reports nothing for a free name', undefined, undefined],
    ['reports nothing for our own template', existing('qwen-fast', ours, { uid: 'uid-qwen' }), undefined],
    ['adopts a template with our labels and no controller', existing('qwen-fast', ours), undefined],
    [
      'reports a template of another model',
      existing('qwen-fast', { ...ours, 'aim.silogen.ai/model': 'qwen-fast-x' }, { uid: 'u2', name: 'qwen-fast-x' }),
      'AIMModel qwen-fast-x',
    ],
    ['reports a hand-made template', existing('qwen-fast', {}), 'a template not generated by aim-orchestrator'],
    [
      'reports a template of an earlier model with the same name',
      existing('qwen-fast', ours, { uid: 'uid-old' }),
      'an earlier AIMModel qwen (uid uid-old) that is still being deleted',
    ],
  ])('%s', (_name, current, heldBy) => {
    const conflicts = templateNameConflicts(desired, new Map(current ? [['qwen-fast', current]] : []));
    if (heldBy === undefined) return expect(conflicts).toEqual([]);
    expect(conflicts).toEqual([
      {
        reason: 'TemplateNameConflict',
        name: 'qwen-fast',
        heldBy,
        message: expect.stringContaining(`AIMServiceTemplate team/qwen-fast already exists and belongs to ${heldBy}`),
      },
    ]);
    expect(conflicts[0]!.message).toContain('rename custom template fast of qwen');
  });

  it('accepts a plain record and an explicit model uid', () => {
    const conflicts = templateNameConflicts(
      desired,
      { 'qwen-old': existing('qwen-old', ours, { uid: 'uid-qwen' }) },
      'uid-new',
    );
    expect(conflicts.map((c) => c.name)).toEqual(['qwen-old']);
  });
});
