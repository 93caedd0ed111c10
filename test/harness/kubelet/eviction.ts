// Node-pressure eviction as the kubelet's eviction manager does it (pkg/kubelet/eviction): while a signal is below
// its threshold the node reports the pressure condition and, once per monitoring period, evicts one pod, ranked
// first by whether its usage exceeds its requests, then by priority. The evicted pod is killed without grace (hard
// threshold) and ends Failed with reason Evicted, a DisruptionTarget condition and an Evicted Event, all with the
// kubelet's message. Pressure is switched on by a test (ProcessKubelet.setNodePressure): nothing here measures the
// host.
import type { V1Pod } from '@kubernetes/client-node';

export type PressureSignal = 'memory' | 'disk';

/** Kubelet defaults: memory.available<100Mi, nodefs.available<10%. */
export const EVICTION_THRESHOLD: Record<PressureSignal, string> = { memory: '100Mi', disk: '10%' };
export const SIGNAL_RESOURCE: Record<PressureSignal, string> = { memory: 'memory', disk: 'ephemeral-storage' };

export interface ContainerUsage {
  name: string;
  /** Bytes in use (RSS of the container's processes for memory); undefined when unknown. */
  usageBytes?: number;
  /** `resources.requests[resource]`, as written (`0` when unset). */
  request: string;
}

const ki = (bytes: number): string => `${Math.ceil(bytes / 1024)}Ki`;

/**
 * The eviction message (evictionMessage in pkg/kubelet/eviction/helpers.go): the resource, the threshold and what
 * was available, then each container whose usage is known, with its request.
 */
export function evictionMessage(signal: PressureSignal, available: string, containers: ContainerUsage[]): string {
  const resource = SIGNAL_RESOURCE[signal];
  let message = `The node was low on resource: ${resource}. Threshold quantity: ${EVICTION_THRESHOLD[signal]}, available: ${available}. `;
  for (const c of containers) {
    if (c.usageBytes === undefined) continue;
    message += `Container ${c.name} was using ${ki(c.usageBytes)}, request is ${c.request}, has larger consumption of ${resource}. `;
  }
  return message;
}

/** The node condition for a signal, as the kubelet writes it. */
export function pressureCondition(
  signal: PressureSignal,
  under: boolean,
): { status: string; reason: string; message: string } {
  if (signal === 'memory')
    return under
      ? { status: 'True', reason: 'KubeletHasInsufficientMemory', message: 'kubelet has insufficient memory available' }
      : { status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' };
  return under
    ? { status: 'True', reason: 'KubeletHasDiskPressure', message: 'kubelet has disk pressure' }
    : { status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' };
}

/** Whether any container of the pod has no request for the resource (its usage then exceeds its request). */
function exceedsRequests(pod: V1Pod, resource: string): boolean {
  return (pod.spec?.containers ?? []).some((c) => c.resources?.requests?.[resource] === undefined);
}

/** Pods in eviction order (rankMemoryPressure / rankDiskPressureFunc, without usage data): first is evicted first. */
export function rankForEviction(pods: V1Pod[], signal: PressureSignal): V1Pod[] {
  const resource = SIGNAL_RESOURCE[signal];
  return [...pods].sort((a, b) => {
    const ea = exceedsRequests(a, resource) ? 0 : 1;
    const eb = exceedsRequests(b, resource) ? 0 : 1;
    if (ea !== eb) return ea - eb;
    return (a.spec?.priority ?? 0) - (b.spec?.priority ?? 0);
  });
}
