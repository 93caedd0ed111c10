// The process kubelet's control loop. It plays three cluster components for one Node:
//   - the scheduler (binds Pending pods that fit this node, via the pods/binding subresource),
//   - a hostPath volume provisioner for one StorageClass (volumes.ts),
//   - the kubelet (pod workers that run containers as local processes, podWorker.ts).
//
// Every `pollIntervalMs` (250 ms) it reconciles, level-triggered, what its watch-backed view of pods, PVCs, PVs and
// StorageClasses holds (clusterView.ts). A round reads memory, not the API server: the cost of a round no longer
// grows with the API server's work, only with the objects in the view. 250 ms is well below anything the product
// waits for.
import { appendFileSync, chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  CoordinationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  StorageV1Api,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1StorageClass,
  type V1Taint,
} from '@kubernetes/client-node';
import { loadKubeConfig } from '../kube.js';
import { startKubeletView, type ViewChange } from './clusterView.js';
import { EventRecorder } from './events.js';
import {
  baseNodeLabels,
  buildNode,
  defaultCapacity,
  GPU_LABEL_KEYS,
  GPU_RESOURCE,
  gpuLabels,
  gpuResources,
  nodeConditions,
  nowRfc3339,
} from './node.js';
import { evictionMessage, rankForEviction, SIGNAL_RESOURCE, type PressureSignal } from './eviction.js';
import { detectMemoryEnforcement } from './memory.js';
import { exposuresFor, makeTraversable, rootfsScript, toolPaths } from './rootfs.js';
import { PodWorker } from './podWorker.js';
import { SchedulingQueue } from './schedulingQueue.js';
import {
  failedSchedulingMessage,
  matchesNodeSelectorTerm,
  unschedulableReasons,
  type NodeFacts,
} from './scheduling.js';
import type { GpuSpec, ProcessInfo, ProcessKubelet, ProcessKubeletOptions } from './types.js';
import {
  ANN_PROVISIONED_BY,
  ANN_SELECTED_NODE,
  apiErrorMessage,
  buildPersistentVolume,
  acquireStorageClass,
  isApiStatus,
  PROVISIONER,
  releaseStorageClass,
  removeVolumeDir,
  servesClass,
  wantsProvisioning,
} from './volumes.js';
import {
  classCapacity,
  mountsUnder,
  mountTmpfs,
  provisioningRefusal,
  requestBytes,
  unmount,
  type ClassCapacity,
} from './volumeCapacity.js';

const HEARTBEAT_MS = 10_000;
const TERMINAL = new Set(['Succeeded', 'Failed']);
const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategicPatch = () => setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const microNow = (): string => new Date().toISOString().replace(/Z$/, '000Z');

/** The checkout this harness runs from (test/harness/kubelet/ → the repository root). */
const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export async function startProcessKubelet(opts: ProcessKubeletOptions): Promise<ProcessKubelet> {
  const kc = loadKubeConfig(opts.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const storage = kc.makeApiClient(StorageV1Api);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const nodeName = opts.nodeName ?? 'aim-node-1';
  const storageClassName = opts.storageClassName ?? 'local-path';
  const workDir = opts.workDir;
  const volumesRoot = join(workDir, 'volumes');
  const pollMs = opts.pollIntervalMs ?? 250;
  mkdirSync(volumesRoot, { recursive: true });
  const logFile = join(workDir, `kubelet-${nodeName}.log`);
  const log = (line: string): void => {
    try {
      appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
    } catch {
      // work dir removed during teardown
    }
  };
  const inScope =
    typeof opts.namespaces === 'function'
      ? opts.namespaces
      : opts.namespaces
        ? (ns: string) => (opts.namespaces as readonly string[]).includes(ns)
        : () => true;

  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${opts.kubeconfigPath} has no current cluster`);
  const caData = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : '');

  const storageClass = await acquireStorageClass(
    storage,
    storageClassName,
    opts.volumeBindingMode ?? 'WaitForFirstConsumer',
    opts.defaultStorageClass ?? true,
  );

  // ---- the Node -------------------------------------------------------------------------------------------------
  let gpu: GpuSpec | undefined = opts.gpu;
  let labels: Record<string, string> = { ...baseNodeLabels(nodeName), ...opts.nodeLabels, ...gpuLabels(gpu) };
  const baseCapacity: Record<string, string> = {
    ...defaultCapacity(),
    ...(opts.capacity as Record<string, string> | undefined),
  };
  let capacity: Record<string, string> = { ...baseCapacity, ...gpuResources(gpu) };
  const taints: V1Taint[] = [...(opts.taints ?? [])];
  const since = nowRfc3339();
  /** Signals under pressure (setNodePressure) and since when; the eviction manager acts while one is set. */
  const pressureSince: { memory?: { since: string }; disk?: { since: string } } = {};

  try {
    await registerNode();
  } catch (err) {
    await releaseStorageClass(storage, storageClassName, false).catch(() => undefined);
    throw err;
  }
  await renewLease().catch((err: unknown) => log(`lease: ${apiErrorMessage(err)}`));
  log(`node ${nodeName} registered (class ${storageClassName}, ${storageClass.volumeBindingMode})`);

  async function registerNode(): Promise<void> {
    try {
      await core.createNode({ body: buildNode({ name: nodeName, labels, capacity, taints, since }) });
    } catch (err) {
      if (!isApiStatus(err, 409)) throw err;
      // A Node of that name exists (a previous instance of this kubelet, e.g. a restart test): take it over, as a
      // kubelet re-registering does. Stale GPU labels/resources are removed.
      const stale = Object.fromEntries(GPU_LABEL_KEYS.filter((k) => !(k in labels)).map((k) => [k, null]));
      await core.patchNode(
        { name: nodeName, body: { metadata: { labels: { ...stale, ...labels } }, spec: { taints } } },
        mergePatch(),
      );
      await writeNodeStatus();
    }
  }

  async function writeNodeStatus(): Promise<void> {
    const resources = Object.fromEntries(
      Object.values(GPU_RESOURCE)
        .filter((r) => !(r in capacity))
        .map((r) => [r, null]),
    );
    await core.patchNodeStatus(
      {
        name: nodeName,
        body: {
          status: {
            capacity: { ...resources, ...capacity },
            allocatable: { ...resources, ...capacity },
            conditions: nodeConditions(since, nowRfc3339(), pressureSince),
          },
        },
      },
      mergePatch(),
    );
  }

  async function renewLease(): Promise<void> {
    // Server-side apply creates or updates; MicroTime needs microseconds, hence a hand-written timestamp.
    await coordination.patchNamespacedLease(
      {
        name: nodeName,
        namespace: 'kube-node-lease',
        fieldManager: 'aim-process-kubelet',
        force: true,
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: nodeName, namespace: 'kube-node-lease' },
          spec: { holderIdentity: nodeName, leaseDurationSeconds: 40, renewTime: microNow() },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    );
  }

  const nodeFacts = (): NodeFacts => ({ name: nodeName, labels, taints, allocatable: capacity });

  // ---- state ----------------------------------------------------------------------------------------------------
  const events = new EventRecorder(kc, nodeName, log);
  const memory = detectMemoryEnforcement(opts.memoryEnforcement ? { force: opts.memoryEnforcement } : {});
  log(`memory limits: ${memory.kind} (${memory.why})`);
  const backoffBaseMs = opts.backoffBaseMs ?? 10_000;
  // Containers may run as another user (securityContext): the pod directories must be reachable for it, and the
  // image tools (extraPath) visible as an image would have them (rootfs.ts).
  makeTraversable(workDir, log);
  // The images' files are this repository's sources (images.ts runs them with node): a checkout in a 0700 directory
  // (`mktemp -d`, as CI clones) would be unreadable to a uid-1000 container where an image's files are not.
  makeTraversable(opts.imageRoot ?? REPO_ROOT, log);
  const imageView = rootfsScript(exposuresFor(toolPaths(opts.extraPath ?? [])), join(workDir, 'image-view'));
  if (imageView) log(`non-root containers see the tools through a private mount namespace:\n${imageView}`);
  const workers = new Map<string, PodWorker>();
  /** `ns/pod` → the last worker of that name, kept after the pod is gone so that logs() still works. */
  const byName = new Map<string, PodWorker>();
  /** Pods that did not fit wait for a change that may let them (schedulingQueue.ts), as in the scheduler. */
  const queue = new SchedulingQueue();
  /** Set by the view when something changed that may let a parked pod fit; the next round moves them back. */
  let mayFitNow = false;
  /**
   * Pods bound here that the view still shows unbound (the scheduler cache's "assumed" pods): they count on the
   * node, so a lagging view never places a second pod on the same GPUs, and are not bound again.
   */
  const assumed = new Map<string, V1Pod>();
  let paused = false;
  const pressureAvailable: Partial<Record<PressureSignal, string>> = {};
  const evictionPeriodMs = opts.evictionMonitoringPeriodMs ?? 10_000;
  let nextEvictionAt = 0;
  let stopped = false;
  let lastError: string | undefined;
  let lastHeartbeat = Date.now();

  const deps = {
    core,
    events,
    nodeName,
    images: opts.images,
    extraPath: opts.extraPath ?? [],
    workDir,
    server: cluster.server,
    caData,
    maxGraceMs: opts.maxGracePeriodMs ?? 5000,
    backoffBaseMs,
    // The kubelet's cap is 30 × its 10 s base; a compressed base compresses the cap too.
    backoffMaxMs: opts.backoffMaxMs ?? backoffBaseMs * 30,
    memory,
    ...(imageView ? { rootfsScript: imageView } : {}),
    log,
    isStopped: () => stopped,
  };

  // ---- provisioner ----------------------------------------------------------------------------------------------
  /**
   * Claims refused for capacity (volumeCapacity.ts) are retried with the external-provisioner's exponential back-off
   * (1 s doubling to `provisioningRetryMaxMs`); a change of the class (recreated or edited) retries at once.
   */
  const provisionBackoff = new Map<string, { next: number; delayMs: number; classVersion: string }>();
  /**
   * Claims whose volume this kubelet created, and volumes it deleted by reclaim, that the view does not show yet: a
   * round never does either twice.
   */
  const provisioned = new Set<string>();
  const reclaimed = new Set<string>();
  const provisioningRetryMaxMs = opts.provisioningRetryMaxMs ?? 300_000;

  async function provision(
    pvcs: V1PersistentVolumeClaim[],
    pvs: Map<string, V1PersistentVolume>,
    classes: Map<string, V1StorageClass>,
  ): Promise<void> {
    const ours = [...pvs.values()].filter((pv) => pv.metadata?.annotations?.[ANN_PROVISIONED_BY] === PROVISIONER);
    for (const pvc of pvcs) {
      const sc = classes.get(pvc.spec?.storageClassName ?? '');
      if (!sc || !servesClass(sc, storageClassName) || !wantsProvisioning(pvc, sc, nodeName)) continue;
      const uid = pvc.metadata?.uid ?? '';
      const pvName = `pvc-${uid}`;
      if (pvs.has(pvName)) provisioned.delete(uid);
      if (pvs.has(pvName) || provisioned.has(uid)) continue;
      const classVersion = sc.metadata?.resourceVersion ?? '';
      const backoff = provisionBackoff.get(uid);
      if (backoff && backoff.classVersion === classVersion && Date.now() < backoff.next) continue;
      const ref = {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        namespace: pvc.metadata?.namespace,
        name: pvc.metadata?.name,
        uid,
      };
      let dir: string;
      try {
        const capacity = classCapacity(sc);
        const refusal = provisioningRefusal(pvc, sc, capacity, ours);
        if (refusal) throw new Error(refusal);
        dir = await volumeDirFor(uid, sc, capacity, requestBytes(pvc));
      } catch (err) {
        const delayMs =
          backoff?.classVersion === classVersion ? Math.min(backoff.delayMs * 2, provisioningRetryMaxMs) : 1000;
        provisionBackoff.set(uid, { next: Date.now() + delayMs, delayMs, classVersion });
        const message = err instanceof Error ? err.message : String(err);
        log(`cannot provision ${ref.namespace}/${ref.name}: ${message}`);
        void events.record({
          object: ref,
          type: 'Warning',
          reason: 'ProvisioningFailed',
          message,
          component: PROVISIONER,
        });
        continue;
      }
      provisionBackoff.delete(uid);
      try {
        await core.createPersistentVolume({ body: buildPersistentVolume(pvc, sc, dir, nodeName) });
        provisioned.add(uid);
        log(`provisioned ${pvName} at ${dir} for ${ref.namespace}/${ref.name}`);
        void events.record({
          object: ref,
          type: 'Normal',
          reason: 'ProvisioningSucceeded',
          message: `Successfully provisioned volume ${pvName}`,
          component: PROVISIONER,
        });
      } catch (err) {
        if (!isApiStatus(err, 409)) throw err; // another kubelet of the same class got there first
      }
    }
    const live = new Set(pvcs.map((p) => p.metadata?.uid));
    for (const uid of provisionBackoff.keys()) if (!live.has(uid)) provisionBackoff.delete(uid);
    for (const uid of provisioned) if (!live.has(uid)) provisioned.delete(uid);
  }

  /**
   * The volume's directory, with the class's real capacity (volumeCapacity.ts): a tmpfs of the request per volume,
   * a directory on the class's node disk, or (no parameters) a plain directory.
   */
  async function volumeDirFor(uid: string, sc: V1StorageClass, capacity: ClassCapacity, size: bigint): Promise<string> {
    if (capacity.filesystem === 'perVolume') {
      const dir = join(volumesRoot, uid);
      await mountTmpfs(dir, size);
      return dir;
    }
    const parent =
      capacity.filesystem === 'nodeDisk' ? join(volumesRoot, `disk-${sc.metadata?.name ?? ''}`) : volumesRoot;
    if (capacity.filesystem === 'nodeDisk') await mountTmpfs(parent, capacity.nodeStorageBytes ?? 0n);
    const dir = join(parent, uid);
    mkdirSync(dir, { recursive: true });
    // As local-path's helper does (`mkdir -m 0777`): hostPath volumes get no fsGroup, any container user may write.
    chmodSync(dir, 0o777);
    return dir;
  }

  /** Released volumes of ours with reclaim policy Delete: remove the directory, then the PV (local-path does this). */
  async function reclaim(pvs: Map<string, V1PersistentVolume>): Promise<void> {
    for (const name of reclaimed) if (!pvs.has(name)) reclaimed.delete(name);
    for (const pv of pvs.values()) {
      if (reclaimed.has(pv.metadata?.name ?? '')) continue;
      if (pv.metadata?.annotations?.[ANN_PROVISIONED_BY] !== PROVISIONER || pv.metadata.deletionTimestamp) continue;
      if (pv.status?.phase !== 'Released' || pv.spec?.persistentVolumeReclaimPolicy !== 'Delete') continue;
      const dir = pv.spec.hostPath?.path ?? '';
      if (!dir.startsWith(`${volumesRoot}/`)) continue; // another kubelet's volume
      await unmount(dir); // a perVolume tmpfs: its bytes go with it
      if (!(await removeVolumeDir(volumesRoot, dir))) continue;
      await core.deletePersistentVolume({ name: pv.metadata.name ?? '' }).catch((err: unknown) => {
        if (!isApiStatus(err, 404)) throw err;
      });
      reclaimed.add(pv.metadata.name ?? '');
      log(`reclaimed ${pv.metadata.name} (${dir})`);
    }
  }

  // ---- scheduler ------------------------------------------------------------------------------------------------
  /** Volume predicates (VolumeBinding / VolumeRestrictions): reasons, or 'wait' while a WFFC claim gets its volume. */
  async function volumeCheck(
    pod: V1Pod,
    pvcs: Map<string, V1PersistentVolumeClaim>,
    pvs: Map<string, V1PersistentVolume>,
    classes: Map<string, V1StorageClass>,
  ): Promise<string[] | 'wait'> {
    const ns = pod.metadata?.namespace ?? '';
    const reasons: string[] = [];
    let wait = false;
    for (const v of pod.spec?.volumes ?? []) {
      const claimName = v.persistentVolumeClaim?.claimName;
      if (!claimName) continue;
      const pvc = pvcs.get(`${ns}/${claimName}`);
      if (!pvc) {
        reasons.push(`persistentvolumeclaim "${claimName}" not found`);
        continue;
      }
      if (pvc.metadata?.deletionTimestamp) {
        reasons.push(`persistentvolumeclaim "${claimName}" is being deleted`);
        continue;
      }
      if (pvc.spec?.volumeName) {
        const pv = pvs.get(pvc.spec.volumeName);
        const terms = pv?.spec?.nodeAffinity?.required?.nodeSelectorTerms;
        if (pvc.status?.phase !== 'Bound')
          wait = true; // binder still finishing
        else if (terms && !terms.some((t) => matchesNodeSelectorTerm(t, { name: nodeName, labels }))) {
          reasons.push('1 node(s) had volume node affinity conflict');
        }
        continue;
      }
      const className = pvc.spec?.storageClassName;
      const sc = className ? classes.get(className) : undefined;
      if (!className || sc?.volumeBindingMode !== 'WaitForFirstConsumer') {
        if (className && !sc) reasons.push(`storageclass.storage.k8s.io "${className}" not found`);
        else reasons.push('pod has unbound immediate PersistentVolumeClaims');
        continue;
      }
      // WaitForFirstConsumer: choose this node for the claim (the scheduler's VolumeBinding PreBind does it with the
      // same annotation) and wait until its provisioner and the PV binder have bound it.
      wait = true;
      const selected = pvc.metadata?.annotations?.[ANN_SELECTED_NODE];
      if (!selected && sc.provisioner !== 'kubernetes.io/no-provisioner') {
        await core.patchNamespacedPersistentVolumeClaim(
          { name: claimName, namespace: ns, body: { metadata: { annotations: { [ANN_SELECTED_NODE]: nodeName } } } },
          mergePatch(),
        );
        log(`${ns}/${claimName}: selected node ${nodeName} for pod ${pod.metadata?.name}`);
      } else if (selected && selected !== nodeName) {
        reasons.push('1 node(s) had volume node affinity conflict');
      }
    }
    return reasons.length ? reasons : wait ? 'wait' : [];
  }

  async function markUnschedulable(pod: V1Pod, message: string): Promise<void> {
    const cond = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (cond?.status === 'False' && cond.message === message) return;
    log(`${pod.metadata?.namespace}/${pod.metadata?.name} unschedulable: ${message}`);
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    await core.patchNamespacedPodStatus(
      {
        name,
        namespace: ns,
        body: {
          status: {
            conditions: [
              {
                type: 'PodScheduled',
                status: 'False',
                reason: 'Unschedulable',
                message,
                lastProbeTime: null,
                lastTransitionTime: nowRfc3339(),
              },
            ],
          },
        },
      },
      strategicPatch(),
    );
  }

  async function schedule(
    pods: V1Pod[],
    pvcs: Map<string, V1PersistentVolumeClaim>,
    pvs: Map<string, V1PersistentVolume>,
    classes: Map<string, V1StorageClass>,
  ): Promise<void> {
    for (const pod of pods) if (pod.spec?.nodeName) assumed.delete(pod.metadata?.uid ?? '');
    const onNode = [
      ...pods.filter((p) => p.spec?.nodeName === nodeName && !TERMINAL.has(p.status?.phase ?? '')),
      ...assumed.values(),
    ];
    const now = Date.now();
    for (const pod of pods) {
      if (paused || stopped) return;
      const spec = pod.spec;
      if (!spec || spec.nodeName || pod.metadata?.deletionTimestamp || TERMINAL.has(pod.status?.phase ?? '')) continue;
      if (assumed.has(pod.metadata?.uid ?? '')) continue;
      if ((spec.schedulerName ?? 'default-scheduler') !== 'default-scheduler' || spec.schedulingGates?.length) continue;
      const uid = pod.metadata?.uid ?? '';
      const generation = String(pod.metadata?.generation ?? '');
      if (!queue.due(uid, generation, now)) continue;
      const ref = { apiVersion: 'v1', kind: 'Pod', namespace: pod.metadata?.namespace, name: pod.metadata?.name, uid };

      let reasons = unschedulableReasons(pod, nodeFacts(), onNode);
      if (reasons.length === 0) {
        const volumes = await volumeCheck(pod, pvcs, pvs, classes);
        if (volumes === 'wait') continue;
        reasons = volumes;
      }
      if (reasons.length > 0) {
        const message = failedSchedulingMessage(reasons);
        queue.failed(uid, generation, now);
        await markUnschedulable(pod, message);
        void events.record({
          object: ref,
          type: 'Warning',
          reason: 'FailedScheduling',
          message,
          component: 'default-scheduler',
        });
        continue;
      }
      try {
        await core.createNamespacedPodBinding({
          name: ref.name ?? '',
          namespace: ref.namespace ?? '',
          body: {
            apiVersion: 'v1',
            kind: 'Binding',
            metadata: { name: ref.name, namespace: ref.namespace, uid },
            target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
          },
        });
      } catch (err) {
        // 409: bound meanwhile (another process kubelet), or the pod was replaced; 404: deleted.
        if (isApiStatus(err, 409) || isApiStatus(err, 404)) continue;
        throw err;
      }
      queue.forget(uid);
      const bound = { ...pod, spec: { ...spec, nodeName } };
      assumed.set(uid, bound);
      onNode.push(bound);
      log(`bound ${ref.namespace}/${ref.name}`);
      void events.record({
        object: ref,
        type: 'Normal',
        reason: 'Scheduled',
        message: `Successfully assigned ${ref.namespace}/${ref.name} to ${nodeName}`,
        component: 'default-scheduler',
      });
    }
  }

  // ---- kubelet --------------------------------------------------------------------------------------------------
  function syncPods(pods: V1Pod[]): void {
    const seen = new Set<string>();
    for (const pod of pods) {
      if (pod.spec?.nodeName !== nodeName) continue;
      const uid = pod.metadata?.uid ?? '';
      seen.add(uid);
      let w = workers.get(uid);
      if (!w) {
        w = new PodWorker(pod, deps);
        workers.set(uid, w);
        byName.set(`${w.namespace}/${w.name}`, w);
      }
      const worker = w;
      worker
        .sync(pod)
        .catch((err: unknown) => log(`${worker.namespace}/${worker.name}: sync failed: ${apiErrorMessage(err)}`));
    }
    // Gone from the API server (force-deleted, or deletion finished): nothing of it may keep running.
    for (const [uid, w] of workers) {
      if (seen.has(uid)) continue;
      workers.delete(uid);
      void w.forget(deps.maxGraceMs);
    }
  }

  /** The eviction manager's synchronize: under pressure, one pod per monitoring period. */
  function evictUnderPressure(): void {
    const signal = (['memory', 'disk'] as const).find((s) => pressureSince[s]);
    if (!signal || Date.now() < nextEvictionAt) return;
    nextEvictionAt = Date.now() + evictionPeriodMs;
    const candidates = [...workers.values()].filter((w) => w.evictable);
    const [victim] = rankForEviction(
      candidates.map((w) => w.pod),
      signal,
    );
    const worker = candidates.find((w) => w.pod === victim);
    void events.record({
      object: { apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeName },
      type: 'Warning',
      reason: 'EvictionThresholdMet',
      message: `Attempting to reclaim ${SIGNAL_RESOURCE[signal]}`,
      component: 'kubelet',
    });
    if (!worker) return;
    const message = evictionMessage(signal, pressureAvailable[signal] ?? '0', worker.usage(SIGNAL_RESOURCE[signal]));
    log(`evicting ${worker.namespace}/${worker.name}: ${message}`);
    worker.evict(message).catch((err: unknown) => log(`evicting ${worker.name}: ${apiErrorMessage(err)}`));
  }

  async function tick(): Promise<void> {
    // Taken before the view is read: a change that lands during this round (after its snapshot, perhaps just before
    // a pod fails on the older state) moves the pods again next round, as the scheduler's in-flight events do.
    const moved = mayFitNow;
    mayFitNow = false;
    const pods = view.pods().filter((p) => inScope(p.metadata?.namespace ?? ''));
    const pvcs = view.claims().filter((p) => inScope(p.metadata?.namespace ?? ''));
    const pvs = view.volumes();
    const classes = view.classes();

    // Kubelet first: status and deletions of running pods must not wait behind scheduling work.
    syncPods(pods);
    evictUnderPressure();
    await provision(pvcs, pvs, classes);
    await reclaim(pvs);
    if (moved) queue.moveAll();
    await schedule(pods, new Map(pvcs.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p])), pvs, classes);
    const live = new Set(pods.map((p) => p.metadata?.uid));
    queue.retain(live);
    for (const uid of assumed.keys()) if (!live.has(uid)) assumed.delete(uid);

    if (Date.now() - lastHeartbeat >= HEARTBEAT_MS) {
      lastHeartbeat = Date.now();
      await Promise.all([writeNodeStatus(), renewLease()]);
    }
  }

  /**
   * The cluster events on which the scheduler moves unschedulable pods back (its plugins' events, coarsely): a pod
   * deleted or finished frees room, and any claim, volume or class change may settle a volume reason.
   */
  const onViewChange: ViewChange = (kind, type, old, obj) => {
    if (kind !== 'Pod') mayFitNow = true;
    else if (type === 'DELETED') mayFitNow = true;
    else {
      const phase = (p: unknown) => (p as V1Pod | undefined)?.status?.phase ?? '';
      if (TERMINAL.has(phase(obj)) && !TERMINAL.has(phase(old))) mayFitNow = true;
    }
  };
  const view = startKubeletView(kc, log, onViewChange);
  const loop = (async () => {
    await view.listed;
    while (!stopped) {
      try {
        await tick();
        lastError = undefined;
      } catch (err) {
        const message = apiErrorMessage(err);
        if (message !== lastError) log(`sync error: ${message}`);
        lastError = message;
      }
      if (!stopped) await sleep(pollMs);
    }
  })();

  let stopping: Promise<void> | undefined;
  const kubelet: ProcessKubelet = {
    nodeName,
    storageClassName,
    workDir,
    logFile,
    memoryEnforcement: memory.kind,

    async setGpu(next) {
      gpu = next;
      const newLabels = gpuLabels(gpu);
      const removed = Object.fromEntries(GPU_LABEL_KEYS.filter((k) => !(k in newLabels)).map((k) => [k, null]));
      labels = { ...Object.fromEntries(Object.entries(labels).filter(([k]) => !(k in removed))), ...newLabels };
      capacity = { ...baseCapacity, ...gpuResources(gpu) };
      await core.patchNode(
        { name: nodeName, body: { metadata: { labels: { ...removed, ...newLabels } } } },
        mergePatch(),
      );
      await writeNodeStatus();
      queue.clear(); // a node change re-queues unschedulable pods, as in the scheduler
      log(`gpu set to ${JSON.stringify(gpu ?? null)}`);
    },

    async updateNodeLabels(changes) {
      const next = { ...labels };
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) delete next[k];
        else next[k] = v;
      }
      labels = next;
      await core.patchNode({ name: nodeName, body: { metadata: { labels: changes } } }, mergePatch());
      queue.clear();
    },

    async setNodePressure(signal, pressure) {
      if (pressure) {
        pressureSince[signal] ??= { since: nowRfc3339() };
        pressureAvailable[signal] = pressure.available ?? (signal === 'memory' ? '51200Ki' : '4Gi');
      } else {
        delete pressureSince[signal];
        delete pressureAvailable[signal];
      }
      // The node lifecycle controller taints a node under pressure; the scheduler here keeps new pods off it too.
      const taint = `node.kubernetes.io/${signal}-pressure`;
      const others = taints.filter((t) => t.key !== taint);
      taints.splice(0, taints.length, ...others, ...(pressure ? [{ key: taint, effect: 'NoSchedule' }] : []));
      await writeNodeStatus();
      queue.clear(); // the taint's removal is a node change: pods it kept off are tried again
      log(`${signal} pressure ${pressure ? `on (available ${pressureAvailable[signal]})` : 'off'}`);
    },

    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      queue.clear();
    },

    async volumePath(namespace, pvcName) {
      const pvc = await core.readNamespacedPersistentVolumeClaim({ name: pvcName, namespace });
      const volumeName = pvc.spec?.volumeName;
      if (!volumeName || pvc.status?.phase !== 'Bound')
        throw new Error(`PVC ${namespace}/${pvcName} is not bound (${pvc.status?.phase})`);
      const pv = await core.readPersistentVolume({ name: volumeName });
      const path = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
      if (!path) throw new Error(`PV ${volumeName} is not a hostPath volume`);
      return path;
    },

    logs(namespace, pod, container) {
      const w = byName.get(`${namespace}/${pod}`);
      if (!w) throw new Error(`no pod ${namespace}/${pod} has run on ${nodeName}`);
      const file = w.logFile(container);
      if (!file) return '';
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return '';
      }
    },

    processes(): ProcessInfo[] {
      return [...workers.values()].flatMap((w) => w.processes());
    },

    lastError: () => lastError,

    stop(stopOpts) {
      stopping ??= (async () => {
        stopped = true;
        await view.stop();
        await loop;
        await Promise.all([...workers.values()].map((w) => w.forget(2000)));
        memory.close();
        const crash = stopOpts?.deleteNode === false;
        // Volume filesystems go with the node; a simulated crash keeps them for the next instance (a node's disks).
        if (!crash)
          for (const m of mountsUnder(volumesRoot).reverse())
            await unmount(m).catch((err: unknown) => log(`umount ${m}: ${String(err)}`));
        await releaseStorageClass(storage, storageClassName, crash).catch((err: unknown) =>
          log(`deleting storage class: ${apiErrorMessage(err)}`),
        );
        if (crash) {
          log('stopped (node kept)');
          return;
        }
        await core.deleteNode({ name: nodeName }).catch((err: unknown) => {
          if (!isApiStatus(err, 404)) log(`deleting node: ${apiErrorMessage(err)}`);
        });
        await coordination
          .deleteNamespacedLease({ name: nodeName, namespace: 'kube-node-lease' })
          .catch(() => undefined);
        log('stopped');
      })();
      return stopping;
    },
  };
  return kubelet;
}
