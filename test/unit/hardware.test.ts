import type { V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  evaluateTemplateHardware,
  formatVram,
  gpuFactsOf,
  hardwareSummary,
  mergeHardware,
  normaliseGpuModel,
  parseAmdVram,
  parseNvidiaMemory,
  type HardwareEvaluation,
} from '../../domain/hardware.js';
import type { AIMHardwareRequirements, NodeAffinity } from '../../schemas/types.js';

const GiB = 1n << 30n;
const MiB = 1n << 20n;

function node(name: string, labels: Record<string, string>, allocatable: Record<string, string> = {}): V1Node {
  return { metadata: { name, labels }, status: { allocatable: { cpu: '64', memory: '1Ti', ...allocatable } } };
}

const mi300x = (name = 'mi300x-0', count = '8') =>
  node(
    name,
    { 'amd.com/gpu.product-name': 'AMD_Instinct_MI300X_OAM', 'amd.com/gpu.vram': '192G' },
    { 'amd.com/gpu': count },
  );
const mi300xById = (name = 'mi300x-id', count = '8') =>
  node(name, { 'amd.com/gpu.device-id': '74a1', 'amd.com/gpu.vram': '192G' }, { 'amd.com/gpu': count });
const mi250x = (name = 'mi250x-0', count = '8') =>
  node(
    name,
    { 'amd.com/gpu.product-name': 'AMD_Instinct_MI250X_MI250', 'amd.com/gpu.vram': '64G' },
    { 'amd.com/gpu': count },
  );
const h100 = (name = 'h100-0', count = '8') =>
  node(
    name,
    { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3', 'nvidia.com/gpu.memory': '81559' },
    { 'nvidia.com/gpu': count },
  );
const cpuNode = (name = 'cpu-0') => node(name, { 'kubernetes.io/os': 'linux' });

const gpu = (
  requests: number,
  models?: string[],
  extra: Partial<NonNullable<AIMHardwareRequirements['gpu']>> = {},
) => ({
  gpu: { requests, ...(models && { models }), ...extra },
});

describe('mergeHardware', () => {
  const model: AIMHardwareRequirements = {
    gpu: { requests: 1, models: ['MI300X', 'MI325X'], minVram: '128Gi', resourceName: 'amd.com/gpu' },
    cpu: { requests: '8', limits: '16' },
  };

  it.each<
    [
      string,
      AIMHardwareRequirements | undefined,
      AIMHardwareRequirements | undefined,
      AIMHardwareRequirements | undefined,
    ]
  >([
    ['inherits everything when the template has no hardware', model, undefined, model],
    ['takes the template hardware when the model has none', undefined, gpu(2, ['H100']), gpu(2, ['H100'])],
    ['is undefined when neither side has hardware', undefined, undefined, undefined],
    [
      'overrides gpu.requests and keeps the inherited models, minVram and resourceName',
      model,
      gpu(4),
      { ...model, gpu: { requests: 4, models: ['MI300X', 'MI325X'], minVram: '128Gi', resourceName: 'amd.com/gpu' } },
    ],
    [
      'replaces gpu.models instead of merging them',
      model,
      gpu(1, ['MI355X']),
      { ...model, gpu: { requests: 1, models: ['MI355X'], minVram: '128Gi', resourceName: 'amd.com/gpu' } },
    ],
    [
      'clears the inherited gpu.models with an empty list',
      model,
      gpu(1, []),
      { ...model, gpu: { requests: 1, minVram: '128Gi', resourceName: 'amd.com/gpu' } },
    ],
    [
      'overrides gpu.minVram and gpu.resourceName',
      model,
      gpu(1, undefined, { minVram: '256Gi', resourceName: 'amd.com/cpx_nps4' }),
      {
        ...model,
        gpu: { requests: 1, models: ['MI300X', 'MI325X'], minVram: '256Gi', resourceName: 'amd.com/cpx_nps4' },
      },
    ],
    ['overrides cpu as a whole block', model, { cpu: { requests: '4' } }, { gpu: model.gpu, cpu: { requests: '4' } }],
    [
      'adds a cpu block to an inherited gpu block',
      gpu(1, ['MI300X']),
      { cpu: { limits: '2' } },
      { ...gpu(1, ['MI300X']), cpu: { limits: '2' } },
    ],
  ])('%s', (_name, modelHw, templateHw, want) => {
    expect(mergeHardware(modelHw, templateHw)).toEqual(want);
  });

  it('does not share lists with its inputs', () => {
    const merged = mergeHardware(model, undefined)!;
    merged.gpu!.models!.push('X');
    expect(model.gpu!.models).toEqual(['MI300X', 'MI325X']);
  });
});

describe('normaliseGpuModel', () => {
  it.each([
    ['AMD_Instinct_MI300X_OAM', 'MI300X'],
    ['AMD_Instinct_MI250X_MI250', 'MI250X'],
    ['AMD Instinct MI325X', 'MI325X'],
    ['NVIDIA-H100-80GB-HBM3', 'H100'],
    ['NVIDIA-A100-SXM4-80GB', 'A100'],
    ['Tesla-V100-SXM2-16GB', 'V100'],
    ['NVIDIA-L40S', 'L40S'],
    ['NVIDIA-H200', 'H200'],
    ['mi300x', 'MI300X'],
    ['MI300X', 'MI300X'],
    ['h100', 'H100'],
  ])('reads %s as %s', (input, want) => expect(normaliseGpuModel(input)).toBe(want));

  it('matches user model names against node model names case-insensitively', () => {
    expect(normaliseGpuModel('Mi300x')).toBe(normaliseGpuModel('AMD_Instinct_MI300X_OAM'));
  });
});

describe('VRAM labels', () => {
  it.each<[string, bigint | undefined]>([
    ['192G', 192n * GiB],
    ['64G', 64n * GiB],
    ['288GB', 288n * GiB],
    ['196608', 196608n * MiB],
    ['192Gi', 192n * GiB],
    ['lots', undefined],
  ])('reads amd.com/gpu.vram %s (G as GiB, bare numbers as MiB)', (value, want) => {
    expect(parseAmdVram(value)).toBe(want);
  });

  it('reads nvidia.com/gpu.memory as MiB', () => {
    expect(parseNvidiaMemory('81559')).toBe(81559n * MiB);
    expect(parseNvidiaMemory('80GB')).toBeUndefined();
  });

  it.each<[bigint, string]>([
    [192n * GiB, '192Gi'],
    [81559n * MiB, '81559Mi'],
    [1000n, '1000'],
  ])('formats %s bytes as %s', (bytes, want) => expect(formatVram(bytes)).toBe(want));
});

describe('gpuFactsOf', () => {
  it.each<[string, V1Node, ReturnType<typeof gpuFactsOf>]>([
    [
      'reads an AMD node by product name',
      mi300x(),
      {
        vendor: 'amd',
        model: 'MI300X',
        vramBytes: 192n * GiB,
        allocatable: 8,
        productLabel: { key: 'amd.com/gpu.product-name', value: 'AMD_Instinct_MI300X_OAM' },
        vramLabel: { key: 'amd.com/gpu.vram', value: '192G' },
      },
    ],
    [
      'reads an AMD node by PCI device id',
      mi300xById(),
      {
        vendor: 'amd',
        model: 'MI300X',
        vramBytes: 192n * GiB,
        allocatable: 8,
        productLabel: { key: 'amd.com/gpu.device-id', value: '74a1' },
        vramLabel: { key: 'amd.com/gpu.vram', value: '192G' },
      },
    ],
    [
      'reads an NVIDIA node with memory in MiB',
      h100(),
      {
        vendor: 'nvidia',
        model: 'H100',
        vramBytes: 81559n * MiB,
        allocatable: 8,
        productLabel: { key: 'nvidia.com/gpu.product', value: 'NVIDIA-H100-80GB-HBM3' },
        vramLabel: { key: 'nvidia.com/gpu.memory', value: '81559' },
      },
    ],
    [
      'keeps an unknown device id for affinity but names no model',
      node('x', { 'amd.com/gpu.device-id': 'ffff' }, { 'amd.com/gpu': '2' }),
      { vendor: 'amd', allocatable: 2, productLabel: { key: 'amd.com/gpu.device-id', value: 'ffff' } },
    ],
    [
      'counts an unlabelled node with allocatable GPUs',
      node('x', {}, { 'nvidia.com/gpu': '4' }),
      { vendor: 'nvidia', allocatable: 4 },
    ],
    ['ignores a node without GPU labels or resources', cpuNode(), undefined],
  ])('%s', (_name, n, want) => expect(gpuFactsOf(n)).toEqual(want));

  it.each([
    ['74a1', 'MI300X'],
    ['74a0', 'MI300A'],
    ['74a5', 'MI325X'],
    ['75a0', 'MI350X'],
    ['75a3', 'MI355X'],
    ['7408', 'MI250X'],
    ['740c', 'MI250X'],
    ['740f', 'MI210'],
    ['738c', 'MI100'],
    ['0x74A1', 'MI300X'],
  ])('maps AMD device id %s to %s', (id, model) => {
    expect(gpuFactsOf(node('n', { 'amd.com/gpu.device-id': id }, { 'amd.com/gpu': '1' }))?.model).toBe(model);
  });
});

describe('hardwareSummary', () => {
  it.each<[AIMHardwareRequirements | undefined, string]>([
    [gpu(2, ['MI300X']), '2 x MI300X'],
    [gpu(1, ['mi300x', 'MI325X']), '1 x MI300X/MI325X'],
    [gpu(1), '1 x GPU'],
    [{ cpu: { requests: '4' } }, 'CPU'],
    [undefined, 'CPU'],
  ])('summarises %j as %s', (hw, want) => expect(hardwareSummary(hw)).toBe(want));
});

const pinnedTo = (key: string, values: string[]): NodeAffinity => ({
  requiredDuringSchedulingIgnoredDuringExecution: {
    nodeSelectorTerms: [{ matchExpressions: [{ key, operator: 'In', values }] }],
  },
});

describe('evaluateTemplateHardware', () => {
  type Want = Partial<HardwareEvaluation>;
  it.each<[string, AIMHardwareRequirements | undefined, V1Node[], Want]>([
    [
      'is available on a node with the model and enough allocatable GPUs',
      gpu(1, ['MI300X']),
      [mi300x()],
      {
        available: true,
        hardwareSummary: '1 x MI300X',
        resolvedHardware: { gpu: { requests: 1, models: ['MI300X'], resourceName: 'amd.com/gpu' } },
        resolvedNodeAffinity: pinnedTo('amd.com/gpu.product-name', ['AMD_Instinct_MI300X_OAM']),
      },
    ],
    [
      'names what the cluster has when the model is missing',
      gpu(1, ['MI250X']),
      [mi300x()],
      {
        available: false,
        reason: 'GPUNotAvailable',
        message: 'no MI250X GPUs: the cluster has 1 node with 8 x MI300X (192Gi)',
      },
    ],
    [
      'names the largest node when no node has enough allocatable GPUs',
      gpu(16, ['MI300X']),
      [mi300x('a', '4'), mi300x('b', '8')],
      {
        available: false,
        reason: 'GPUNotAvailable',
        message: 'needs 16 x MI300X but the largest MI300X node has 8 allocatable',
      },
    ],
    [
      'reports VRAMNotAvailable when no matching node has enough VRAM',
      gpu(1, ['MI300X'], { minVram: '256Gi' }),
      [mi300x()],
      {
        available: false,
        reason: 'VRAMNotAvailable',
        message: 'needs at least 256Gi of VRAM: MI300X nodes have 192Gi',
      },
    ],
    [
      'needs a node that satisfies both models and minVram',
      gpu(1, ['MI250X'], { minVram: '128Gi' }),
      [mi250x(), mi300x()],
      { available: false, reason: 'VRAMNotAvailable', message: 'needs at least 128Gi of VRAM: MI250X nodes have 64Gi' },
    ],
    [
      'compares minVram by value however it is written',
      gpu(1, undefined, { minVram: 206158430208 }),
      [mi300x()],
      {
        available: true,
        resolvedNodeAffinity: pinnedTo('amd.com/gpu.vram', ['192G']),
      },
    ],
    [
      'reports no GPU nodes at all',
      gpu(1, ['MI300X']),
      [cpuNode()],
      { available: false, reason: 'GPUNotAvailable', message: 'no GPU nodes in the cluster' },
    ],
    [
      'resolves an unset resourceName to nvidia.com/gpu on NVIDIA nodes',
      gpu(2, ['h100']),
      [h100(), cpuNode()],
      {
        available: true,
        resolvedHardware: { gpu: { requests: 2, models: ['h100'], resourceName: 'nvidia.com/gpu' } },
        resolvedNodeAffinity: pinnedTo('nvidia.com/gpu.product', ['NVIDIA-H100-80GB-HBM3']),
      },
    ],
    [
      'resolves an unset resourceName to amd.com/gpu when AMD nodes match',
      gpu(1),
      [h100(), mi300x()],
      { available: true, resolvedHardware: { gpu: { requests: 1, resourceName: 'amd.com/gpu' } } },
    ],
    [
      'sets no node affinity when the template names no models',
      gpu(1),
      [h100()],
      { available: true, hardwareSummary: '1 x GPU', resolvedNodeAffinity: undefined },
    ],
    [
      'reads allocatable GPUs from an explicit resourceName',
      gpu(4, ['MI300X'], { resourceName: 'amd.com/cpx_nps4' }),
      [
        node(
          'p',
          { 'amd.com/gpu.product-name': 'AMD_Instinct_MI300X_OAM' },
          { 'amd.com/gpu': '8', 'amd.com/cpx_nps4': '2' },
        ),
      ],
      {
        available: false,
        reason: 'GPUNotAvailable',
        message: 'needs 4 x MI300X but the largest MI300X node has 2 allocatable amd.com/cpx_nps4',
      },
    ],
    [
      'runs a CPU-only template on any node',
      { cpu: { requests: '4' } },
      [cpuNode()],
      { available: true, hardwareSummary: 'CPU', resolvedHardware: { cpu: { requests: '4' } } },
    ],
    [
      'cannot run a CPU-only template without nodes',
      { cpu: { requests: '4' } },
      [],
      { available: false, reason: 'GPUNotAvailable', message: 'no nodes in the cluster' },
    ],
    [
      'drops an empty models list from the resolved hardware',
      gpu(1, []),
      [mi300x()],
      { available: true, resolvedHardware: { gpu: { requests: 1, resourceName: 'amd.com/gpu' } } },
    ],
  ])('%s', (_name, hw, nodes, want) => {
    const got = evaluateTemplateHardware(hw, nodes);
    for (const [key, value] of Object.entries(want)) expect(got[key as keyof HardwareEvaluation], key).toEqual(value);
  });

  it('pins node affinity to the sorted distinct product labels of every matching node', () => {
    const nodes = [
      node('z', { 'amd.com/gpu.product-name': 'AMD_Instinct_MI325X_OAM' }, { 'amd.com/gpu': '8' }),
      mi300x('b'),
      mi300x('a'),
      mi300xById('c'),
      mi250x('d'),
    ];
    const got = evaluateTemplateHardware(gpu(8, ['MI325X', 'MI300X']), nodes);
    expect(got.resolvedNodeAffinity).toEqual({
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: 'amd.com/gpu.device-id', operator: 'In', values: ['74a1'] }] },
          {
            matchExpressions: [
              {
                key: 'amd.com/gpu.product-name',
                operator: 'In',
                values: ['AMD_Instinct_MI300X_OAM', 'AMD_Instinct_MI325X_OAM'],
              },
            ],
          },
        ],
      },
    });
  });

  it('leaves nodes without enough allocatable GPUs out of the affinity', () => {
    const nodes = [
      mi300x('big', '8'),
      node('small', { 'amd.com/gpu.product-name': 'MI300X-VF' }, { 'amd.com/gpu': '1' }),
    ];
    const got = evaluateTemplateHardware(gpu(4, ['MI300X']), nodes);
    expect(got.resolvedNodeAffinity).toEqual(pinnedTo('amd.com/gpu.product-name', ['AMD_Instinct_MI300X_OAM']));
  });

  it('describes a mixed cluster grouped and sorted', () => {
    const got = evaluateTemplateHardware(gpu(1, ['MI355X']), [h100('h1'), mi300x('m2'), h100('h2'), mi300x('m1', '4')]);
    expect(got.message).toBe(
      'no MI355X GPUs: the cluster has 2 nodes with 8 x H100 (81559Mi), 1 node with 8 x MI300X (192Gi), ' +
        '1 node with 4 x MI300X (192Gi)',
    );
  });

  it('says which nodes do not report VRAM', () => {
    const got = evaluateTemplateHardware(gpu(1, ['MI300X'], { minVram: '64Gi' }), [
      node('n', { 'amd.com/gpu.product-name': 'AMD_Instinct_MI300X_OAM' }, { 'amd.com/gpu': '8' }),
    ]);
    expect(got).toMatchObject({
      reason: 'VRAMNotAvailable',
      message: 'needs at least 64Gi of VRAM: MI300X nodes do not report VRAM',
    });
  });

  it('gives deep-equal output for the same nodes in any order', () => {
    const nodes = [mi300x('a'), mi300xById('b'), h100('c'), mi250x('d'), cpuNode('e')];
    const hw = gpu(2, ['MI300X', 'MI250X']);
    const first = evaluateTemplateHardware(hw, nodes);
    expect(evaluateTemplateHardware(hw, [...nodes].reverse())).toEqual(first);
    expect(evaluateTemplateHardware(hw, [nodes[2]!, nodes[0]!, nodes[4]!, nodes[1]!, nodes[3]!])).toEqual(first);
  });
});
