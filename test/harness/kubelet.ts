// A "process kubelet" for the test control plane, which has no scheduler and no kubelet (see
// /work/shared/infra/README.md, "What no kubelet means"). `startProcessKubelet` registers a Node and then, for that
// node, does what the missing components would do, closely enough for the product's Jobs to run for real:
//   - scheduler: binds Pending pods that fit (node selector / required node affinity, taints, resources, volumes)
//     through pods/binding; pods that do not fit stay Pending with the scheduler's PodScheduled=False condition and
//     FailedScheduling Event (what PodNotStarted reports);
//   - volume provisioner: hostPath PVs for its StorageClass (WaitForFirstConsumer by default), bound by the real PV
//     binder controller; reclaims Released ones;
//   - kubelet: runs each container as a local process group (image → command mapping), resolves env from Secrets and
//     ConfigMaps, maps volumes to host directories and rewrites env paths, gives the process a kubeconfig with a
//     TokenRequest token of the pod's service account, reports status (Running, then Succeeded/Failed with exit code
//     and termination message) so the Job controller finishes Jobs, emits the kubelet's Events, and honours deletion.
//
// Usage (each test file starts its own against the shared API server):
//   const kubelet = await startProcessKubelet({
//     kubeconfigPath: inject('kubeconfigPath'), workDir,
//     images: { ...downloaderImageMapping(REPO_ROOT), ...shellImageMapping() },
//     extraPath: [join(cacheDir(), 'bin')],
//   });
//   ...
//   await kubelet.stop();
//
// Each pod gets its own loopback IP (127.x.y.z, status.podIP) that servers bind; startup, readiness and liveness
// probes (tcpSocket, httpGet, exec) drive containers' ready/started and the pod's Ready condition.
//
// Memory limits are enforced (kubelet/memory.ts): a memory cgroup per container with the limit (cgroup v2 or v1,
// whichever this host lets the test process create), else sampling the process tree's RSS; a container above its
// limit is killed and reported OOMKilled with exit code 137. Image pulls and crashing containers back off as the
// kubelet does (10 s doubling to 300 s; `backoffBaseMs` compresses it). Containers run as their securityContext's
// runAsUser/runAsGroup with fsGroup and supplementalGroups (setpriv; runAsNonRoot checked as the kubelet checks it),
// volumes get the kubelet's ownership and modes, and a non-root container sees the extraPath tools through a private
// mount namespace (kubelet/rootfs.ts). `setNodePressure` puts the node under memory or disk pressure: the eviction
// manager then evicts pods (Failed / Evicted, kubelet/eviction.ts).
//
// Not emulated (documented so nobody relies on it): readOnly mounts and readOnlyRootFilesystem, capabilities and
// seccomp, grpc probes, init containers (the pod fails), Secret/ConfigMap updates after start, image pull secrets,
// eviction driven by measured node usage (pressure is set by a test).
export { startProcessKubelet } from './kubelet/processKubelet.js';
export {
  AIM_SERVING_IMAGES,
  downloaderImageMapping,
  modelServerImageMapping,
  qualifiedImage,
  resolveImage,
  shellImageMapping,
  TEST_DOWNLOADER_IMAGE,
  TEST_SHELL_IMAGE,
} from './kubelet/images.js';
export { GPU_RESOURCE, gpuLabels } from './kubelet/node.js';
export { PROVISIONER, ANN_SELECTED_NODE } from './kubelet/volumes.js';
export {
  failedSchedulingMessage,
  insufficientResources,
  nodeAffinityMatches,
  unschedulableReasons,
  untoleratedTaint,
} from './kubelet/scheduling.js';
export { expandVars } from './kubelet/env.js';
export { liveGroupMembers } from './kubelet/runtime.js';
export type {
  ContainerSpec,
  GpuSpec,
  ImageMapping,
  ImageMappings,
  ProcessCommand,
  ProcessInfo,
  ProcessKubelet,
  ProcessKubeletOptions,
  VolumeBindingMode,
} from './kubelet/types.js';
