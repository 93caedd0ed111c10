import type { V1Node } from '@kubernetes/client-node';
import { parseQuantity, quantityToBytes } from '../schemas/quantity.js';
import type {
  AIMGpuRequirements,
  AIMHardwareRequirements,
  AIMServiceTemplateStatus,
  NodeAffinity,
} from '../schemas/types.js';

/**
 * Template hardware (spec sections 2, 5.1 step 4 and 5.2): merging a model's hardware with a custom template's,
 * reading GPU facts from node labels, and deciding whether a template can run on the cluster. Pure: plain objects in,
 * plain objects out, the same output (sorted) for the same input.
 */

export type GpuVendor = 'amd' | 'nvidia';

export const GPU_RESOURCE = { amd: 'amd.com/gpu', nvidia: 'nvidia.com/gpu' } as const satisfies Record<
  GpuVendor,
  string
>;

/** The node labels GPU facts are read from (AMD device plugin labeller, NVIDIA GPU feature discovery). */
export const GPU_LABELS = {
  amdProductName: 'amd.com/gpu.product-name',
  amdDeviceId: 'amd.com/gpu.device-id',
  amdVram: 'amd.com/gpu.vram',
  nvidiaProduct: 'nvidia.com/gpu.product',
  nvidiaMemory: 'nvidia.com/gpu.memory',
} as const;

/** PCI device ids of AMD Instinct accelerators (`amd.com/gpu.device-id`), including virtual (VF) and HF variants. */
export const AMD_DEVICE_IDS: Readonly<Record<string, string>> = {
  '738c': 'MI100',
  '738e': 'MI100',
  '7408': 'MI250X',
  '740c': 'MI250X',
  '740f': 'MI210',
  '7410': 'MI210',
  '74a0': 'MI300A',
  '74a1': 'MI300X',
  '74a2': 'MI308X',
  '74a5': 'MI325X',
  '74a9': 'MI300X',
  '74b5': 'MI300X',
  '74b9': 'MI325X',
  '74bd': 'MI300X',
  '75a0': 'MI350X',
  '75a3': 'MI355X',
  '75b0': 'MI350X',
  '75b3': 'MI355X',
};

export type HardwareUnavailableReason = 'GPUNotAvailable' | 'VRAMNotAvailable';
export type ResolvedHardware = NonNullable<AIMServiceTemplateStatus['resolvedHardware']>;

// --- merge ------------------------------------------------------------------------------------------------------

/**
 * A custom template's hardware over the model's, field by field, template wins (spec 5.1 step 4): `gpu.requests`,
 * `gpu.minVram` and `gpu.resourceName` override; `gpu.models` replaces the inherited list (`[]` clears it: no
 * models); `cpu` overrides as a whole block. Empty results are omitted.
 */
export function mergeHardware(
  modelHardware: AIMHardwareRequirements | undefined,
  templateHardware: AIMHardwareRequirements | undefined,
): AIMHardwareRequirements | undefined {
  const gpu = mergeGpu(modelHardware?.gpu, templateHardware?.gpu);
  const cpu = templateHardware?.cpu ?? modelHardware?.cpu;
  if (!gpu && !cpu) return undefined;
  return { ...(gpu && { gpu }), ...(cpu && { cpu: { ...cpu } }) };
}

function mergeGpu(
  base: AIMGpuRequirements | undefined,
  over: AIMGpuRequirements | undefined,
): AIMGpuRequirements | undefined {
  const requests = over?.requests ?? base?.requests;
  if (requests === undefined) return undefined;
  const models = over?.models !== undefined ? over.models : base?.models;
  const minVram = over?.minVram ?? base?.minVram;
  const resourceName = over?.resourceName ?? base?.resourceName;
  return {
    requests,
    ...(models && models.length > 0 && { models: [...models] }),
    ...(minVram !== undefined && { minVram }),
    ...(resourceName !== undefined && { resourceName }),
  };
}

// --- node facts -------------------------------------------------------------------------------------------------

const VENDOR_WORDS = new Set(['AMD', 'NVIDIA', 'TESLA', 'INSTINCT', 'RADEON', 'GEFORCE', 'QUADRO', 'RTX']);
const MODEL_TOKEN = /^[A-Z]*[0-9]+[A-Z0-9]*$/;

/**
 * The model name users write and nodes are compared by: upper case, vendor words and variant suffixes dropped —
 * `AMD_Instinct_MI300X_OAM` → `MI300X`, `NVIDIA-H100-80GB-HBM3` → `H100`, `Tesla-V100-SXM2-16GB` → `V100`,
 * `mi300x` → `MI300X`. The first token that looks like a model (letters then digits) wins; a name with none is
 * returned upper-cased without vendor words, so the comparison stays case-insensitive.
 */
export function normaliseGpuModel(name: string): string {
  const tokens = name
    .toUpperCase()
    .split(/[-_\s/:()]+/)
    .filter((t) => t.length > 0 && !VENDOR_WORDS.has(t));
  return tokens.find((t) => MODEL_TOKEN.test(t)) ?? tokens.join('-');
}

/** What a node's labels and allocatable resources say about its GPUs. */
export interface GpuFacts {
  vendor: GpuVendor;
  /** Normalised (`MI300X`, `H100`); undefined when no label names a known model. */
  model?: string;
  /** VRAM per GPU; undefined when the node does not report it. */
  vramBytes?: bigint;
  /** Allocatable count of the vendor's resource (`amd.com/gpu`, `nvidia.com/gpu`). */
  allocatable: number;
  /** The product label the model was read from, and its value: what node affinity pins. */
  productLabel?: { key: string; value: string };
  /** The VRAM label and its value, as written on the node. */
  vramLabel?: { key: string; value: string };
}

const MiB = 1n << 20n;
const BINARY_UNIT: Record<string, bigint> = { K: 1n << 10n, M: MiB, G: 1n << 30n, T: 1n << 40n };

/**
 * `amd.com/gpu.vram`: the ROCm labeller writes whole units with a one-letter suffix (`192G`, `64G`) computed from the
 * byte count in powers of 1024, so `G` is read as GiB (`192G` = 192 GiB, the MI300X's 192 GiB of HBM3). A bare
 * number is MiB (as `nvidia.com/gpu.memory` and some labeller versions write it); a Kubernetes binary quantity
 * (`192Gi`) is taken as written. Anything else is unknown.
 */
export function parseAmdVram(value: string): bigint | undefined {
  const v = value.trim();
  if (/^\d+$/.test(v)) return BigInt(v) * MiB;
  const unit = /^(\d+)([KMGT])B?$/i.exec(v);
  if (unit) return BigInt(unit[1]!) * BINARY_UNIT[unit[2]!.toUpperCase()]!;
  if (/^\d+(\.\d+)?[KMGT]i$/.test(v)) return quantityToBytes(v);
  return undefined;
}

/** `nvidia.com/gpu.memory`: MiB per GPU (`81559`). */
export function parseNvidiaMemory(value: string): bigint | undefined {
  const v = value.trim();
  return /^\d+$/.test(v) ? BigInt(v) * MiB : undefined;
}

/** Whole devices of `resourceName` the node can still allocate (0 when absent or unparsable). */
export function allocatableOf(node: V1Node, resourceName: string): number {
  const raw = node.status?.allocatable?.[resourceName];
  if (raw === undefined) return 0;
  try {
    const { num, den } = parseQuantity(raw);
    return num > 0n ? Number(num / den) : 0;
  } catch {
    return 0;
  }
}

function label(labels: Record<string, string>, key: string): { key: string; value: string } | undefined {
  const value = labels[key]?.trim();
  return value ? { key, value } : undefined;
}

function amdFacts(node: V1Node, labels: Record<string, string>): GpuFacts | undefined {
  const productName = label(labels, GPU_LABELS.amdProductName);
  const deviceId = label(labels, GPU_LABELS.amdDeviceId);
  const vramLabel = label(labels, GPU_LABELS.amdVram);
  const allocatable = allocatableOf(node, GPU_RESOURCE.amd);
  if (!productName && !deviceId && !vramLabel && node.status?.allocatable?.[GPU_RESOURCE.amd] === undefined) {
    return undefined;
  }
  // The product name is preferred when both are set; an unknown device id still pins affinity but names no model.
  const model = productName
    ? normaliseGpuModel(productName.value)
    : deviceId
      ? AMD_DEVICE_IDS[deviceId.value.toLowerCase().replace(/^0x/, '')]
      : undefined;
  const productLabel = productName ?? deviceId;
  const vramBytes = vramLabel ? parseAmdVram(vramLabel.value) : undefined;
  return compact<GpuFacts>({ vendor: 'amd', model, vramBytes, allocatable, productLabel, vramLabel });
}

function nvidiaFacts(node: V1Node, labels: Record<string, string>): GpuFacts | undefined {
  const product = label(labels, GPU_LABELS.nvidiaProduct);
  const vramLabel = label(labels, GPU_LABELS.nvidiaMemory);
  const allocatable = allocatableOf(node, GPU_RESOURCE.nvidia);
  if (!product && !vramLabel && node.status?.allocatable?.[GPU_RESOURCE.nvidia] === undefined) return undefined;
  const model = product ? normaliseGpuModel(product.value) : undefined;
  const vramBytes = vramLabel ? parseNvidiaMemory(vramLabel.value) : undefined;
  return compact<GpuFacts>({ vendor: 'nvidia', model, vramBytes, allocatable, productLabel: product, vramLabel });
}

/**
 * GPU facts of a node from its labels and `status.allocatable`; undefined for a node with no GPU labels and no GPU
 * resource. A node labelled for both vendors is read as the one with allocatable GPUs, AMD when both have some.
 */
export function gpuFactsOf(node: V1Node): GpuFacts | undefined {
  const labels = node.metadata?.labels ?? {};
  const amd = amdFacts(node, labels);
  const nvidia = nvidiaFacts(node, labels);
  if (amd && nvidia) return nvidia.allocatable > 0 && amd.allocatable === 0 ? nvidia : amd;
  return amd ?? nvidia;
}

function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

// --- availability -----------------------------------------------------------------------------------------------

export interface HardwareEvaluation {
  available: boolean;
  reason?: HardwareUnavailableReason;
  /** Why, naming what the cluster has. */
  message: string;
  /** The merged hardware with `gpu.resourceName` always set when there is a GPU block. */
  resolvedHardware: ResolvedHardware;
  /** `2 x MI300X`, `1 x GPU`, `CPU`. */
  hardwareSummary: string;
  /** Pins the predictor to the matching nodes; absent when the GPU resource request alone schedules it. */
  resolvedNodeAffinity?: NodeAffinity;
}

interface GpuNode {
  name: string;
  facts: GpuFacts;
  /** The resource this node offers the template: the template's `resourceName`, else the vendor's. */
  resourceName: string;
  allocatable: number;
}

/** `2 x MI300X`, `1 x MI300X/MI325X`, `1 x GPU` (no models), `CPU` (no GPU block). */
export function hardwareSummary(hardware: AIMHardwareRequirements | undefined): string {
  const gpu = hardware?.gpu;
  if (!gpu) return 'CPU';
  const models = wantedModels(gpu);
  return `${gpu.requests} x ${models.length > 0 ? models.join('/') : 'GPU'}`;
}

function wantedModels(gpu: AIMGpuRequirements): string[] {
  return [...new Set((gpu.models ?? []).map(normaliseGpuModel))];
}

/**
 * Whether a template's (merged) hardware can run on these nodes (spec 5.2): some node matches the GPU model list (if
 * any) AND reports VRAM ≥ `minVram` (if set) AND has allocatable `resourceName` ≥ `requests`. An unset
 * `resourceName` is resolved from the matching nodes: `nvidia.com/gpu` when they are NVIDIA nodes, else
 * `amd.com/gpu`. A template without a GPU block runs wherever a node exists.
 */
export function evaluateTemplateHardware(
  hardware: AIMHardwareRequirements | undefined,
  nodes: readonly V1Node[],
): HardwareEvaluation {
  const summary = hardwareSummary(hardware);
  const gpu = hardware?.gpu;
  const cpu = hardware?.cpu;
  if (!gpu) {
    const resolvedHardware: ResolvedHardware = cpu ? { cpu: { ...cpu } } : {};
    return nodes.length === 0
      ? {
          available: false,
          reason: 'GPUNotAvailable',
          message: 'no nodes in the cluster',
          resolvedHardware,
          hardwareSummary: summary,
        }
      : { available: true, message: 'runs on CPU', resolvedHardware, hardwareSummary: summary };
  }

  const wanted = wantedModels(gpu);
  const gpuNodes = gpuNodesOf(nodes, gpu.resourceName);
  const byModel = wanted.length === 0 ? gpuNodes : gpuNodes.filter((n) => wanted.includes(n.facts.model ?? ''));
  const minVram = gpu.minVram === undefined ? undefined : quantityToBytes(gpu.minVram);
  const byVram = minVram === undefined ? byModel : byModel.filter((n) => hasVram(n.facts, minVram));
  const byCapacity = byVram.filter((n) => n.allocatable >= gpu.requests);

  const pool = [byCapacity, byVram, byModel, gpuNodes].find((p) => p.length > 0) ?? [];
  const resourceName = gpu.resourceName ?? resolveResourceName(pool);
  const resolvedGpu: AIMGpuRequirements = { ...gpu, models: gpu.models && [...gpu.models], resourceName };
  if (!resolvedGpu.models?.length) delete resolvedGpu.models;
  const resolvedHardware: ResolvedHardware = { gpu: resolvedGpu, ...(cpu && { cpu: { ...cpu } }) };
  const result = (available: boolean, message: string, reason?: HardwareUnavailableReason): HardwareEvaluation => ({
    available,
    ...(reason && { reason }),
    message,
    resolvedHardware,
    hardwareSummary: summary,
  });

  const wantedText = wanted.length > 0 ? wanted.join(' or ') : 'GPU';
  if (gpuNodes.length === 0) return result(false, 'no GPU nodes in the cluster', 'GPUNotAvailable');
  if (byModel.length === 0) {
    return result(false, `no ${wantedText} GPUs: the cluster has ${describeNodes(gpuNodes)}`, 'GPUNotAvailable');
  }
  if (byVram.length === 0) {
    return result(false, `needs at least ${String(gpu.minVram)} of VRAM: ${describeVram(byModel)}`, 'VRAMNotAvailable');
  }
  if (byCapacity.length === 0) {
    const largest = [...byVram].sort((a, b) => b.allocatable - a.allocatable || compareText(a.name, b.name))[0]!;
    const resource =
      gpu.resourceName !== undefined && gpu.resourceName !== GPU_RESOURCE[largest.facts.vendor]
        ? ` ${gpu.resourceName}`
        : '';
    return result(
      false,
      `needs ${gpu.requests} x ${wantedText} but the largest ${gpuName(largest.facts)} node has ` +
        `${largest.allocatable} allocatable${resource}`,
      'GPUNotAvailable',
    );
  }

  // With an explicit resourceName every node counted offers it; otherwise only the resolved vendor's nodes do.
  const matching = byCapacity.filter((n) => n.resourceName === resourceName);
  const affinity =
    wanted.length > 0
      ? nodeAffinityFor(matching.map((n) => n.facts.productLabel))
      : gpu.minVram !== undefined
        ? nodeAffinityFor(matching.map((n) => n.facts.vramLabel))
        : undefined;
  return {
    ...result(true, `matching nodes: ${describeNodes(matching)}`),
    ...(affinity && { resolvedNodeAffinity: affinity }),
  };
}

function gpuNodesOf(nodes: readonly V1Node[], resourceName: string | undefined): GpuNode[] {
  const out: GpuNode[] = [];
  for (const node of nodes) {
    let facts = gpuFactsOf(node);
    // A node offering an explicitly named resource (e.g. a partitioned `amd.com/cpx_nps4`) counts even unlabelled.
    if (!facts && resourceName !== undefined && node.status?.allocatable?.[resourceName] !== undefined) {
      facts = { vendor: resourceName.startsWith('nvidia.com/') ? 'nvidia' : 'amd', allocatable: 0 };
    }
    if (!facts) continue;
    const offered = resourceName ?? GPU_RESOURCE[facts.vendor];
    out.push({
      name: node.metadata?.name ?? '',
      facts,
      resourceName: offered,
      allocatable: allocatableOf(node, offered),
    });
  }
  return out.sort((a, b) => compareText(a.name, b.name));
}

function resolveResourceName(pool: GpuNode[]): string {
  if (pool.some((n) => n.facts.vendor === 'amd')) return GPU_RESOURCE.amd;
  if (pool.some((n) => n.facts.vendor === 'nvidia')) return GPU_RESOURCE.nvidia;
  return GPU_RESOURCE.amd;
}

function hasVram(facts: GpuFacts, min: bigint): boolean {
  return facts.vramBytes !== undefined && facts.vramBytes >= min;
}

/** One `In` requirement per label key (sorted), values sorted and distinct; undefined when nothing can be pinned. */
function nodeAffinityFor(labels: Array<{ key: string; value: string } | undefined>): NodeAffinity | undefined {
  const byKey = new Map<string, Set<string>>();
  for (const l of labels) {
    if (!l) continue;
    const values = byKey.get(l.key) ?? new Set<string>();
    values.add(l.value);
    byKey.set(l.key, values);
  }
  if (byKey.size === 0) return undefined;
  const nodeSelectorTerms = [...byKey.keys()].sort(compareText).map((key) => ({
    matchExpressions: [{ key, operator: 'In' as const, values: [...byKey.get(key)!].sort(compareText) }],
  }));
  return { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms } };
}

function gpuName(facts: GpuFacts): string {
  return facts.model ?? `${facts.vendor === 'amd' ? 'AMD' : 'NVIDIA'} GPU`;
}

const GiB = 1n << 30n;

/** VRAM as a binary quantity: `192Gi`, `81559Mi` (exact, so the message matches the node's label). */
export function formatVram(bytes: bigint): string {
  if (bytes > 0n && bytes % GiB === 0n) return `${bytes / GiB}Gi`;
  if (bytes > 0n && bytes % MiB === 0n) return `${bytes / MiB}Mi`;
  return bytes.toString();
}

const MAX_GROUPS = 6;

/** `1 node with 8 x MI300X (192Gi), 2 nodes with 8 x H100 (81559Mi)`, grouped and sorted. */
function describeNodes(nodes: GpuNode[]): string {
  const groups = new Map<string, { model: string; allocatable: number; vram: string; count: number }>();
  for (const n of nodes) {
    const model = gpuName(n.facts);
    const vram = n.facts.vramBytes === undefined ? '' : formatVram(n.facts.vramBytes);
    const key = JSON.stringify([model, n.allocatable, vram]);
    const g = groups.get(key) ?? { model, allocatable: n.allocatable, vram, count: 0 };
    g.count += 1;
    groups.set(key, g);
  }
  const parts = [...groups.values()]
    .sort((a, b) => compareText(a.model, b.model) || b.allocatable - a.allocatable || compareText(a.vram, b.vram))
    .map(
      (g) =>
        `${g.count} node${g.count === 1 ? '' : 's'} with ${g.allocatable} x ${g.model}${g.vram ? ` (${g.vram})` : ''}`,
    );
  if (parts.length <= MAX_GROUPS) return parts.join(', ');
  return `${parts.slice(0, MAX_GROUPS).join(', ')} and ${parts.length - MAX_GROUPS} more`;
}

/** `MI300X nodes have 192Gi, A100 nodes have 40Gi or 80Gi, MI210 nodes do not report VRAM`. */
function describeVram(nodes: GpuNode[]): string {
  const byModel = new Map<string, { known: Set<bigint>; unknown: boolean }>();
  for (const n of nodes) {
    const model = gpuName(n.facts);
    const entry = byModel.get(model) ?? { known: new Set<bigint>(), unknown: false };
    if (n.facts.vramBytes === undefined) entry.unknown = true;
    else entry.known.add(n.facts.vramBytes);
    byModel.set(model, entry);
  }
  return [...byModel.keys()]
    .sort(compareText)
    .map((model) => {
      const { known, unknown } = byModel.get(model)!;
      const sizes = [...known].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(formatVram);
      if (sizes.length === 0) return `${model} nodes do not report VRAM`;
      return `${model} nodes have ${sizes.join(' or ')}${unknown ? ' (some do not report VRAM)' : ''}`;
    })
    .join(', ');
}

/** Code-unit order: the same on every worker whatever its locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
