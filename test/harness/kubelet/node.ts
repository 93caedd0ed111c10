// The Node object the process kubelet registers: labels (hostname, os/arch, GPU labels as the AMD GPU operator and
// NVIDIA GPU feature discovery set them), capacity = allocatable, Ready=True and the pressure conditions, and a node
// Lease. The node-lifecycle controller is disabled in the test control plane, so nothing would mark the Node NotReady;
// the heartbeat and Lease are kept anyway so that the Node looks like a live kubelet's to anything that reads them.
import { pressureCondition } from './eviction.js';
import { arch, cpus, release } from 'node:os';
import type { V1Node, V1NodeCondition, V1Taint } from '@kubernetes/client-node';
import { K8S_VERSION } from '../bins.js';
import type { GpuSpec } from './types.js';

export const GPU_RESOURCE = { amd: 'amd.com/gpu', nvidia: 'nvidia.com/gpu' } as const;

/** Every label key setGpu may set, so that switching vendors removes the old ones. */
export const GPU_LABEL_KEYS = [
  'amd.com/gpu.product-name',
  'amd.com/gpu.vram',
  'amd.com/gpu.count',
  'nvidia.com/gpu.product',
  'nvidia.com/gpu.memory',
  'nvidia.com/gpu.count',
  'nvidia.com/gpu.present',
] as const;

export function gpuLabels(gpu: GpuSpec | undefined): Record<string, string> {
  if (!gpu) return {};
  if (gpu.vendor === 'amd') {
    return {
      'amd.com/gpu.product-name': gpu.product,
      'amd.com/gpu.count': String(gpu.count),
      // The AMD node labeller reports VRAM in whole GiB with a `G` suffix (`192G`).
      ...(gpu.vramMiB !== undefined ? { 'amd.com/gpu.vram': `${Math.round(gpu.vramMiB / 1024)}G` } : {}),
    };
  }
  return {
    'nvidia.com/gpu.product': gpu.product,
    'nvidia.com/gpu.count': String(gpu.count),
    'nvidia.com/gpu.present': 'true',
    ...(gpu.vramMiB !== undefined ? { 'nvidia.com/gpu.memory': String(gpu.vramMiB) } : {}),
  };
}

export function gpuResources(gpu: GpuSpec | undefined): Record<string, string> {
  return gpu ? { [GPU_RESOURCE[gpu.vendor]]: String(gpu.count) } : {};
}

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

export const nowRfc3339 = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export function nodeConditions(
  since: string,
  heartbeat: string,
  pressure: { memory?: { since: string }; disk?: { since: string } } = {},
): V1NodeCondition[] {
  const c = (type: string, status: string, reason: string, message: string): V1NodeCondition =>
    ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: heartbeat,
      lastTransitionTime: since,
    }) as unknown as V1NodeCondition;
  const p = (type: string, signal: 'memory' | 'disk'): V1NodeCondition => {
    const under = pressure[signal];
    const { status, reason, message } = pressureCondition(signal, under !== undefined);
    return {
      ...c(type, status, reason, message),
      lastTransitionTime: under?.since ?? since,
    } as unknown as V1NodeCondition;
  };
  return [
    p('MemoryPressure', 'memory'),
    p('DiskPressure', 'disk'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
  ];
}

export interface NodeInput {
  name: string;
  labels: Record<string, string>;
  capacity: Record<string, string>;
  taints: V1Taint[];
  since: string;
}

export function baseNodeLabels(name: string): Record<string, string> {
  const goarch = GOARCH[arch()] ?? arch();
  return {
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': goarch,
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': goarch,
  };
}

export function defaultCapacity(): Record<string, string> {
  // An MI300X host's CPUs and memory (8 GPUs, 192 cores, 2 TiB): every predictor requests 4 CPUs and 32 GiB per GPU,
  // and the download Jobs must still fit beside eight of them. Nothing is enforced on the 2-core machine itself.
  return { cpu: String(Math.max(192, cpus().length)), memory: '2Ti', pods: '110', 'ephemeral-storage': '500Gi' };
}

export function buildNode(input: NodeInput): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: input.name, labels: input.labels },
    spec: { ...(input.taints.length ? { taints: input.taints } : {}) },
    // Nodes accept status on create (the kubelet registers that way).
    status: {
      capacity: input.capacity,
      allocatable: input.capacity,
      conditions: nodeConditions(input.since, input.since),
      addresses: [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: input.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
      nodeInfo: {
        architecture: GOARCH[arch()] ?? arch(),
        operatingSystem: 'linux',
        osImage: 'aim process kubelet',
        kernelVersion: release(),
        kubeletVersion: K8S_VERSION,
        kubeProxyVersion: '',
        containerRuntimeVersion: 'process://aim-process-kubelet',
        machineID: input.name,
        systemUUID: input.name,
        bootID: `${input.name}-${process.pid}`,
      },
    },
  };
}
