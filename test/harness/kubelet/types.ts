// Public types of the process kubelet (see ../kubelet.ts for the overview).
import type { V1Container, V1Pod, V1Taint } from '@kubernetes/client-node';
import type { MemoryEnforcementKind } from './memory.js';

/** GPUs the Node advertises: labels as the AMD GPU operator / NVIDIA GPU feature discovery set them, plus allocatable. */
export interface GpuSpec {
  vendor: 'amd' | 'nvidia';
  /** `MI300X`, `AMD_Instinct_MI300X_OAM`, `NVIDIA-H100-80GB-HBM3`, ... (label value, verbatim). */
  product: string;
  /** Memory per GPU; AMD labels it in whole GiB (`192G`), NVIDIA in MiB. Omitted: no memory label. */
  vramMiB?: number;
  count: number;
}

/** What an image mapping sees: the container as the runtime would start it. */
export interface ContainerSpec {
  pod: V1Pod;
  container: V1Container;
  /** `container.command` / `container.args` after `$(VAR)` expansion, as a runtime passes them to the entrypoint. */
  command: string[];
  args: string[];
  /** The container's final environment (paths already rewritten to host paths). */
  env: Record<string, string>;
  /** Maps a path inside the "container" (under a volume mount or the termination message path) to the host path. */
  hostPath(containerPath: string): string;
  /**
   * The pod's own loopback address (`status.podIP`). A server image binds it (a real container listens on 0.0.0.0
   * inside its network namespace; here every pod shares the host's, so two pods can use one port only this way).
   */
  podIP: string;
}

/** The local process that stands in for an image's entrypoint. */
export interface ProcessCommand {
  command: string;
  args: string[];
  /** Working directory; default: the container's `workingDir` when it lies under a mount, else a per-container dir. */
  cwd?: string;
  /** The image's own `ENV` (lowest precedence: the pod's env overrides it). */
  env?: Record<string, string>;
  /** The image's `USER` (`1000:1000`, `1000`, a name); default root, as for most images. */
  user?: string;
}

export type ImageMapping = (c: ContainerSpec) => ProcessCommand;

/** Image name (exact, or a prefix: the longest matching prefix wins) → local command. */
export type ImageMappings = Record<string, ImageMapping>;

export type VolumeBindingMode = 'WaitForFirstConsumer' | 'Immediate';

export interface ProcessKubeletOptions {
  /** Admin kubeconfig (the kubelet, scheduler and provisioner it emulates all use it). */
  kubeconfigPath: string;
  /** Volumes, pod directories, container logs and the kubelet's own log go here. Created if missing. */
  workDir: string;
  /** Default `aim-node-1`. */
  nodeName?: string;
  nodeLabels?: Record<string, string>;
  gpu?: GpuSpec;
  /** Node taints (default none); pods must tolerate NoSchedule/NoExecute ones to be bound. */
  taints?: V1Taint[];
  /** Capacity (= allocatable) besides GPUs; defaults are generous so that fit never surprises a test. */
  capacity?: { cpu?: string; memory?: string; pods?: string; 'ephemeral-storage'?: string };
  images: ImageMappings;
  /** Prepended to the PATH of every container process (e.g. the cache dir holding `s5cmd` and `hf`). */
  extraPath?: string[];
  /** Where the image mappings' files live (made traversable for non-root containers); default the repository root. */
  imageRoot?: string;
  /** StorageClass this node provisions hostPath volumes for; default `local-path`. Created if missing. */
  storageClassName?: string;
  /**
   * Longest back-off of a claim the provisioner refused (ProvisioningFailed; volumeCapacity.ts), doubling from 1 s;
   * default 300 000 ms, the external-provisioner's. Classes with `parameters.nodeStorage` / `filesystem` get real
   * capacity (volumeCapacity.ts); any class of this provisioner that no kubelet of the process owns is served too.
   */
  provisioningRetryMaxMs?: number;
  /** Used only when the StorageClass is created here; default `WaitForFirstConsumer` (see volumes.ts). */
  volumeBindingMode?: VolumeBindingMode;
  /** Mark a StorageClass created here as the cluster default (default true: "cluster default" class tests need one). */
  defaultStorageClass?: boolean;
  /** Only handle pods and PVCs in these namespaces (list or predicate); default: all namespaces. */
  namespaces?: readonly string[] | ((namespace: string) => boolean);
  /** Poll interval of the sync loop (default 250 ms). */
  pollIntervalMs?: number;
  /** Cap on the termination grace period honoured on pod deletion (default 5000 ms; real default 30 s). */
  maxGracePeriodMs?: number;
  /** First image-pull / crash-loop back-off, doubling per failure (default 10 000 ms, the kubelet's). */
  backoffBaseMs?: number;
  /** The eviction manager's monitoring period under node pressure (default 10 000 ms, the kubelet's). */
  evictionMonitoringPeriodMs?: number;
  /** Cap of that back-off (default 30 × the base: the kubelet's 300 s for its 10 s). */
  backoffMaxMs?: number;
  /**
   * How `resources.limits.memory` is enforced (memory.ts); default: the first that works of a cgroup v2 / v1 memory
   * cgroup per container, else sampling the process tree's RSS.
   */
  memoryEnforcement?: MemoryEnforcementKind;
}

export interface ProcessInfo {
  namespace: string;
  pod: string;
  podUid: string;
  container: string;
  /** Process id, which is also the process group id (the container's processes are that group). */
  pid: number;
  logFile: string;
}

export interface ProcessKubelet {
  nodeName: string;
  storageClassName: string;
  workDir: string;
  /** The kubelet's own log (binding decisions, API errors). */
  logFile: string;
  /** How memory limits are enforced on this host (see ProcessKubeletOptions.memoryEnforcement). */
  memoryEnforcement: MemoryEnforcementKind;
  /** Replaces the GPU labels and allocatable (`undefined` removes the GPUs). */
  setGpu(gpu: GpuSpec | undefined): Promise<void>;
  /** Merges labels into the Node; a `null` value removes that label. */
  updateNodeLabels(labels: Record<string, string | null>): Promise<void>;
  /**
   * Puts the node under memory or disk pressure (`available`: what the kubelet reports as left, default 50Mi / 4Gi)
   * or takes it off (`undefined`): the pressure condition, the NoSchedule taint, and the eviction manager evicting one
   * pod per monitoring period (eviction.ts) while it lasts.
   */
  setNodePressure(signal: 'memory' | 'disk', pressure: { available?: string } | undefined): Promise<void>;
  /** Stop binding pods (the "scheduler" half); pods already bound keep running. */
  pause(): void;
  resume(): void;
  /** Host directory of a bound PVC's volume (reads the PVC and its PV from the API server). */
  volumePath(namespace: string, pvcName: string): Promise<string>;
  /** Output of a container (its current or last instance); default: the pod's first container. */
  logs(namespace: string, pod: string, container?: string): string;
  /** Container processes currently running. */
  processes(): ProcessInfo[];
  /** The last round's error, if the most recent round failed (a write refused, or failing while the API is down). */
  lastError(): string | undefined;
  /**
   * Kills every process it started (SIGTERM, SIGKILL after 2 s) and deletes its Node and Lease. Idempotent.
   * `{ deleteNode: false }` leaves the Node and the pods' last reported status as they are: a crashed kubelet, which a
   * new instance with the same node name then takes over (its lost containers are reported ContainerStatusUnknown).
   */
  stop(opts?: { deleteNode?: boolean }): Promise<void>;
}
