// One pod on the process kubelet's node: volumes, container processes and the pod status, following the real
// kubelet's pod worker closely enough that the Job controller, garbage collector and product watchdogs see what they
// would see on a cluster:
// - containers start independently, in order; an unmapped image is ErrImagePull (then ImagePullBackOff between
//   retries), a missing Secret/ConfigMap is CreateContainerConfigError, both retried until they go away;
// - a container above its memory limit is killed by its memory cgroup (memory.ts) and terminates as OOMKilled, 137;
// - status phases follow kubelet's getPhase (Pending while a container waits, Running, Succeeded/Failed when all have
//   terminated under restartPolicy Never/OnFailure); a terminal phase is final;
// - the termination message is the last 4 KiB of the file, or with FallbackToLogsOnError and a failure and an empty
//   file, the last 80 lines / 2 KiB of the log;
// - each pod has its own loopback address (podIPs.ts), reported as status.podIP and handed to the image mapping;
// - startup, readiness and liveness probes run as the kubelet's prober runs them (probes.ts): a container is ready when
//   it runs, its startup probe (if any) has succeeded and its readiness probe (if any) reports success; a failed
//   startup or liveness probe kills the container, which then restarts under the pod's restart policy;
// - a deletion (deletionTimestamp) stops the containers with SIGTERM, SIGKILL after the grace period (capped), writes
//   the final status and finishes the deletion with gracePeriodSeconds 0, as the kubelet's status manager does.
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { ContainerConfigError, expandVars, resolveEnv, rewriteEnvPaths, toHostPath, type PathMap } from './env.js';
import { backoffDelay } from './backoff.js';
import type { EventRecorder } from './events.js';
import { qualifiedImage, resolveImage } from './images.js';
import type { ContainerUsage } from './eviction.js';
import { memoryLimitBytes, treeRssBytes, type MemoryEnforcement } from './memory.js';
import { containerUser, parseImageUser, runAsNonRootError } from './securityContext.js';
import { nowRfc3339 } from './node.js';
import { allocatePodIP, NODE_IP, releasePodIP } from './podIPs.js';
import { probeLoop, type ProbeKind, type ProbeResult, type ProbeTarget } from './probes.js';
import {
  ContainerProcess,
  fallbackLogTail,
  MAX_TERMINATION_MESSAGE_BYTES,
  readLastBytes,
  type ProcessExit,
} from './runtime.js';
import type { ContainerSpec, ImageMappings, ProcessInfo } from './types.js';
import {
  apiErrorMessage,
  isApiStatus,
  MountError,
  mountHostPath,
  mountVolumes,
  type MountedVolumes,
} from './volumes.js';

export interface WorkerDeps {
  core: CoreV1Api;
  events: EventRecorder;
  nodeName: string;
  images: ImageMappings;
  extraPath: readonly string[];
  workDir: string;
  server: string;
  caData: string;
  maxGraceMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  memory: MemoryEnforcement;
  /** rootfs.ts's mount script for non-root containers (undefined: their tools are reachable as they are). */
  rootfsScript?: string;
  log(line: string): void;
  isStopped(): boolean;
}

/** Container state as written to the API (timestamps as RFC 3339 strings). */
interface Waiting {
  waiting: { reason: string; message?: string };
}
interface Running {
  running: { startedAt: string };
}
interface Terminated {
  terminated: {
    exitCode: number;
    reason: string;
    message?: string;
    startedAt?: string;
    finishedAt: string;
    containerID?: string;
  };
}
type State = Waiting | Running | Terminated;

interface Condition {
  type: string;
  status: 'True' | 'False';
  reason?: string;
  message?: string;
  lastProbeTime: null;
  lastTransitionTime: string;
}

interface ContainerRun {
  spec: V1Container;
  restartCount: number;
  state: State;
  lastState: State | Record<string, never>;
  proc?: ContainerProcess;
  logFile?: string;
  containerID?: string;
  /** No earlier retry (image pull back-off, config error retry, crash-loop back-off). */
  nextAttemptAt: number;
  failures: number;
  /** When the last pull failure was reported (ErrImagePull shows until the back-off message takes over). */
  pullFailedAt?: number;
  /** Terminated for good (restart policy says so, or the pod is being deleted). */
  done: boolean;
  /** The current instance's startup probe has succeeded (or it has none): containerStatuses[].started. */
  started: boolean;
  /** The current instance runs, has started and its readiness probe (if any) reports success. */
  ready: boolean;
}

const TERMINAL = new Set(['Succeeded', 'Failed']);
const isRunning = (s: State): s is Running => 'running' in s;
const isTerminated = (s: State | Record<string, never>): s is Terminated => 'terminated' in s;
const isWaiting = (s: State): s is Waiting => 'waiting' in s;
const waiting = (reason: string, message?: string): Waiting => ({
  waiting: { reason, ...(message ? { message } : {}) },
});

export class PodWorker {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly podDir: string;
  readonly logDir: string;
  pod: V1Pod;
  private readonly containers: ContainerRun[];
  private startTime?: string;
  private mounted?: MountedVolumes;
  private nextMountAt = 0;
  private mountFailures = 0;
  private syncing = false;
  private started = false;
  /** Pod was already terminal when this worker first saw it (e.g. a previous kubelet's): never rewrite its status. */
  private readOnly = false;
  private finalPhase?: 'Succeeded' | 'Failed';
  private failMessage?: string;
  /** Set when the eviction manager evicted the pod: the pod's reason Evicted and this message. */
  private evictedMessage?: string;
  private terminating?: Promise<void>;
  private stopping = false;
  private gone = false;
  private statusChain: Promise<void> = Promise.resolve();
  private lastWritten = '';
  private readonly transitions = new Map<string, { status: string; at: string }>();
  /** This pod's own loopback address (the node's for hostNetwork pods); set when the worker adopts the pod. */
  podIP?: string;

  constructor(
    pod: V1Pod,
    private readonly deps: WorkerDeps,
  ) {
    this.pod = pod;
    this.uid = pod.metadata?.uid ?? '';
    this.namespace = pod.metadata?.namespace ?? '';
    this.name = pod.metadata?.name ?? '';
    this.podDir = join(deps.workDir, 'pods', this.uid);
    this.logDir = join(deps.workDir, 'logs', 'pods', `${this.namespace}_${this.name}_${this.uid}`);
    this.containers = (pod.spec?.containers ?? []).map((spec) => ({
      spec,
      restartCount: 0,
      state: waiting('ContainerCreating'),
      lastState: {},
      nextAttemptAt: 0,
      failures: 0,
      done: false,
      started: false,
      ready: false,
    }));
  }

  /** Log file of a container's current (or last) instance. */
  logFile(container?: string): string | undefined {
    const c = container ? this.containers.find((x) => x.spec.name === container) : this.containers[0];
    return c?.logFile;
  }

  processes(): ProcessInfo[] {
    return this.containers
      .filter((c) => c.proc?.running && c.proc.pid !== undefined)
      .map((c) => ({
        namespace: this.namespace,
        pod: this.name,
        podUid: this.uid,
        container: c.spec.name,
        pid: c.proc!.pid!,
        logFile: c.logFile ?? '',
      }));
  }

  /** One reconciliation against the latest pod object; concurrent calls just refresh the pod. */
  async sync(pod: V1Pod): Promise<void> {
    this.pod = pod;
    if (this.syncing) return;
    this.syncing = true;
    try {
      if (pod.metadata?.deletionTimestamp) {
        await this.terminate();
        return;
      }
      if (!this.started) this.adopt();
      if (this.finalPhase || this.readOnly) return;
      const now = Date.now();
      if (!this.mounted) {
        if (now < this.nextMountAt) return;
        if (!(await this.mount())) return;
      }
      for (const c of this.containers) {
        if (this.stopping || this.deps.isStopped()) break;
        if (c.done || c.proc) continue;
        if (now >= c.nextAttemptAt) {
          await this.startContainer(c);
        } else if (
          isWaiting(c.state) &&
          c.state.waiting.reason === 'ErrImagePull' &&
          now - (c.pullFailedAt ?? 0) >= 2000
        ) {
          // Between pull attempts the kubelet reports the back-off, then tries again: ErrImagePull ↔ ImagePullBackOff.
          const image = c.spec.image ?? '';
          c.state = waiting(
            'ImagePullBackOff',
            `Back-off pulling image "${image}": ErrImagePull: ${c.state.waiting.message ?? ''}`,
          );
          void this.event(c, 'Normal', 'BackOff', `Back-off pulling image "${image}"`);
          void this.event(c, 'Warning', 'Failed', 'Error: ImagePullBackOff');
        }
      }
    } finally {
      this.syncing = false;
      await this.flush();
    }
  }

  /**
   * First sight of the pod: take over what a previous kubelet instance (same node name) reported. Its processes died
   * with it (the watchdog), so a container it reported as running is lost, like a container whose runtime state is
   * gone after a node reboot: terminated with ContainerStatusUnknown / 137.
   */
  private adopt(): void {
    this.started = true;
    const status = this.pod.status;
    if (status?.phase && TERMINAL.has(status.phase)) {
      this.readOnly = true;
      return;
    }
    this.podIP = this.pod.spec?.hostNetwork ? NODE_IP : allocatePodIP(this.uid, status?.podIP);
    this.startTime = status?.startTime
      ? new Date(status.startTime).toISOString().replace(/\.\d{3}Z$/, 'Z')
      : nowRfc3339();
    if ((this.pod.spec?.initContainers ?? []).length > 0) {
      // Not needed by the product; failing loudly beats silently skipping them.
      this.failMessage = 'the process kubelet does not run init containers';
      for (const c of this.containers)
        this.finish(c, { exitCode: 128, reason: 'StartError', message: this.failMessage });
      return;
    }
    for (const c of this.containers) {
      const prev = status?.containerStatuses?.find((s) => s.name === c.spec.name);
      if (!prev) continue;
      c.restartCount = prev.restartCount ?? 0;
      if (prev.state?.running || prev.state?.terminated) {
        const t = prev.state.terminated;
        const lost = t
          ? { exitCode: t.exitCode, reason: t.reason ?? 'Error', ...(t.message ? { message: t.message } : {}) }
          : {
              exitCode: 137,
              reason: 'ContainerStatusUnknown',
              message: 'The container could not be located when the pod was terminated',
            };
        this.onTerminated(c, lost);
      }
    }
  }

  private async mount(): Promise<boolean> {
    try {
      this.mounted = await mountVolumes({
        core: this.deps.core,
        pod: this.pod,
        podDir: this.podDir,
        server: this.deps.server,
        caData: this.deps.caData,
      });
      return true;
    } catch (err) {
      this.mountFailures += 1;
      this.nextMountAt = Date.now() + Math.min(1000 * 2 ** (this.mountFailures - 1), 8000);
      if (err instanceof MountError) {
        void this.event(
          undefined,
          'Warning',
          'FailedMount',
          `MountVolume.SetUp failed for volume "${err.volume}" : ${err.message}`,
        );
      } else {
        this.deps.log(`${this.namespace}/${this.name}: volume setup error: ${apiErrorMessage(err)}`);
      }
      return false;
    }
  }

  private backoff(failures: number): number {
    return backoffDelay(this.deps.backoffBaseMs, this.deps.backoffMaxMs, failures);
  }

  private async startContainer(c: ContainerRun): Promise<void> {
    const image = c.spec.image ?? '';
    const mapping = resolveImage(this.deps.images, image);
    if (!mapping) {
      // What containerd answers for an image it cannot resolve; the kubelet then backs off between pulls.
      const ref = qualifiedImage(image);
      const message =
        `rpc error: code = NotFound desc = failed to pull and unpack image "${ref}": failed to resolve reference ` +
        `"${ref}": ${ref}: not found (process kubelet: no local command is mapped to this image)`;
      c.failures += 1;
      c.pullFailedAt = Date.now();
      c.nextAttemptAt = Date.now() + this.backoff(c.failures);
      c.state = waiting('ErrImagePull', message);
      void this.event(c, 'Normal', 'Pulling', `Pulling image "${image}"`);
      void this.event(c, 'Warning', 'Failed', `Failed to pull image "${image}": ${message}`);
      void this.event(c, 'Warning', 'Failed', 'Error: ErrImagePull');
      return;
    }
    void this.event(c, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);

    const name = c.spec.name;
    const containerDir = join(this.podDir, 'containers', name);
    const home = join(containerDir, 'home');
    const mounts: PathMap['mounts'] = [];
    for (const m of c.spec.volumeMounts ?? []) {
      const vol = this.mounted?.paths.get(m.name);
      if (vol !== undefined) mounts.push({ containerPath: m.mountPath, hostPath: await mountHostPath(vol, m.subPath) });
    }
    // The kubelet gives every container instance its own termination-log file, mounted at terminationMessagePath.
    const terminationFile = join(containerDir, `${c.restartCount}.termination-log`);
    const paths: PathMap = {
      mounts,
      terminationMessagePath: c.spec.terminationMessagePath ?? '/dev/termination-log',
      terminationMessageHostPath: terminationFile,
    };
    const url = new URL(this.deps.server);
    const base: Record<string, string> = {
      PATH: [...this.deps.extraPath, process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'].join(':'),
      HOME: home,
      HOSTNAME: this.pod.spec?.hostname ?? this.name,
      // The service env the kubelet injects for the `kubernetes` Service (here: the API server itself).
      KUBERNETES_SERVICE_HOST: url.hostname,
      KUBERNETES_SERVICE_PORT: url.port || '443',
      KUBERNETES_SERVICE_PORT_HTTPS: url.port || '443',
      ...(this.mounted?.kubeconfigPath ? { KUBECONFIG: this.mounted.kubeconfigPath } : {}),
    };

    let podEnv: Record<string, string>;
    try {
      podEnv = await resolveEnv(this.pod, c.spec, this.objectSource(), base, {
        podIP: this.podIP ?? NODE_IP,
        hostIP: NODE_IP,
      });
    } catch (err) {
      if (!(err instanceof ContainerConfigError) && !isApiStatus(err, 403)) {
        this.deps.log(`${this.namespace}/${this.name}/${name}: env: ${apiErrorMessage(err)}`);
        c.nextAttemptAt = Date.now() + 1000;
        return;
      }
      const message = err instanceof ContainerConfigError ? err.message : apiErrorMessage(err);
      c.state = waiting('CreateContainerConfigError', message);
      c.nextAttemptAt = Date.now() + 1000;
      void this.event(c, 'Warning', 'Failed', `Error: ${message}`);
      return;
    }
    const env = rewriteEnvPaths(podEnv, paths);
    const lookup = (n: string): string | undefined => env[n] ?? base[n];
    const spec: ContainerSpec = {
      pod: this.pod,
      container: c.spec,
      command: (c.spec.command ?? []).map((a) => expandVars(a, lookup)),
      args: (c.spec.args ?? []).map((a) => expandVars(a, lookup)),
      env,
      hostPath: (p) => toHostPath(paths, p),
      podIP: this.podIP ?? NODE_IP,
    };
    const cmd = mapping(spec);
    const imageUser = parseImageUser(cmd.user);
    const nonRoot = runAsNonRootError(this.pod, c.spec, imageUser);
    if (nonRoot) {
      // The kubelet's generateContainerConfig refuses it; retried like any CreateContainerConfigError.
      c.state = waiting('CreateContainerConfigError', nonRoot);
      c.nextAttemptAt = Date.now() + 1000;
      void this.event(c, 'Warning', 'Failed', `Error: ${nonRoot}`);
      return;
    }
    const user = containerUser(this.pod, c.spec, imageUser);
    const workingDir = c.spec.workingDir ? toHostPath(paths, c.spec.workingDir) : undefined;
    const cwd = cmd.cwd ?? (workingDir && workingDir !== c.spec.workingDir ? workingDir : join(containerDir, 'rootfs'));
    // Re-checked after the awaits above: a deletion or stop() that came meanwhile must not be followed by a spawn.
    if (this.stopping || this.gone || this.deps.isStopped()) return;
    mkdirSync(home, { recursive: true });
    mkdirSync(cwd, { recursive: true });
    writeFileSync(terminationFile, '');
    // The kubelet makes the termination-log file writable by any container user.
    chmodSync(terminationFile, 0o666);
    if (user) {
      // The container's own writable layer (its home and default working directory) belongs to its user.
      for (const d of [home, cwd]) if (d.startsWith(`${containerDir}/`)) chownSync(d, user.uid, user.gid);
    }

    c.logFile = join(this.logDir, name, `${c.restartCount}.log`);
    const processEnv = { ...base, ...rewriteEnvPaths(cmd.env ?? {}, paths), ...env };
    const limit = memoryLimitBytes(c.spec.resources?.limits);
    const proc = new ContainerProcess({
      command: cmd.command,
      args: cmd.args,
      cwd,
      env: processEnv,
      logFile: c.logFile,
      ...(user ? { user } : {}),
      ...(this.deps.rootfsScript ? { rootfsScript: this.deps.rootfsScript } : {}),
      ...(limit !== undefined
        ? { memory: this.deps.memory.forContainer(`${this.uid}_${name}_${c.restartCount}`, limit) }
        : {}),
    });
    c.proc = proc;
    void proc.exited.then((info) => this.onExit(c, proc, info, terminationFile));
    if (proc.pid === undefined) return; // StartError: onExit reports it
    c.containerID = `process://${proc.pid}`;
    c.failures = 0;
    c.state = { running: { startedAt: nowRfc3339() } };
    this.startProbes(c, proc, { podIP: this.podIP ?? NODE_IP, container: c.spec, env: processEnv, cwd });
    this.deps.log(
      `${this.namespace}/${this.name}/${name}: started pid ${proc.pid}` +
        `${user ? ` as ${user.uid}:${user.gid} (groups ${user.groups.join(',')})` : ''}` +
        `${limit !== undefined ? `, memory limit ${limit} (${this.deps.memory.kind})` : ''}: ${cmd.command} ${cmd.args.join(' ')}`,
    );
    void this.event(c, 'Normal', 'Created', `Created container: ${name}`);
    void this.event(c, 'Normal', 'Started', `Started container ${name}`);
  }

  /**
   * Starts the container instance's probe loops. Without a startup probe the container counts as started at once,
   * without a readiness probe as ready once started (as the kubelet's prober manager reports it).
   */
  private startProbes(c: ContainerRun, proc: ContainerProcess, target: ProbeTarget): void {
    const { startupProbe, readinessProbe, livenessProbe } = c.spec;
    const alive = (): boolean => c.proc === proc && proc.running && !this.stopping && !this.deps.isStopped();
    const updateReady = (readiness: ProbeResult): void => {
      c.ready = c.started && (!readinessProbe || readiness === 'success');
    };
    let readiness: ProbeResult = 'failure';
    c.started = !startupProbe;
    updateReady(readiness);
    const startedAt = proc.startedAt.getTime();
    const run = (kind: ProbeKind, probe: V1Container['readinessProbe']): void => {
      if (!probe) return;
      const label = `${kind[0]!.toUpperCase()}${kind.slice(1)}`;
      void probeLoop(kind, probe, target, startedAt, {
        alive,
        started: () => c.started,
        onFailure: (output) => void this.event(c, 'Warning', 'Unhealthy', `${label} probe failed: ${output}`),
        onChange: (result) => {
          if (!alive()) return;
          if (kind === 'readiness') readiness = result;
          if (kind === 'startup' && result === 'success') c.started = true;
          updateReady(readiness);
          if (kind !== 'readiness' && result === 'failure') {
            // The kubelet kills the container and lets the restart policy decide what comes next.
            this.deps.log(`${this.namespace}/${this.name}/${c.spec.name}: ${kind} probe failed, killing`);
            void this.event(c, 'Normal', 'Killing', `Container ${c.spec.name} failed ${kind} probe, will be restarted`);
            void proc.kill(this.graceMs());
          }
          void this.flush();
        },
      });
    };
    run('startup', startupProbe);
    run('readiness', readinessProbe);
    run('liveness', livenessProbe);
  }

  private objectSource(): {
    secret(n: string): Promise<Record<string, string> | undefined>;
    configMap(n: string): Promise<Record<string, string> | undefined>;
  } {
    const { core } = this.deps;
    const namespace = this.namespace;
    const read = async <T>(f: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await f();
      } catch (err) {
        if (isApiStatus(err, 404)) return undefined;
        throw err;
      }
    };
    return {
      secret: async (name) => {
        const s = await read(() => core.readNamespacedSecret({ name, namespace }));
        return (
          s &&
          Object.fromEntries(
            Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
          )
        );
      },
      configMap: async (name) => {
        const cm = await read(() => core.readNamespacedConfigMap({ name, namespace }));
        // Only `data`: the kubelet does not read binaryData for env.
        return cm && { ...cm.data };
      },
    };
  }

  private onExit(c: ContainerRun, proc: ContainerProcess, info: ProcessExit, terminationFile: string): void {
    if (c.proc !== proc) return;
    c.proc = undefined;
    c.started = false;
    c.ready = false;
    let message: string;
    let reason: string;
    if (info.startError) {
      reason = 'StartError';
      message = `failed to start container process: exec: "${info.startError}"`;
      void this.event(c, 'Warning', 'Failed', `Error: ${message}`);
    } else {
      // containerd reports OOMKilled when the container's cgroup saw an OOM kill, whatever the exit code.
      reason = info.oomKilled ? 'OOMKilled' : info.exitCode === 0 ? 'Completed' : 'Error';
      message = readLastBytes(terminationFile, MAX_TERMINATION_MESSAGE_BYTES);
      if (!message && info.exitCode !== 0 && c.spec.terminationMessagePolicy === 'FallbackToLogsOnError' && c.logFile) {
        message = fallbackLogTail(c.logFile);
      }
    }
    this.deps.log(`${this.namespace}/${this.name}/${c.spec.name}: exited ${info.signal ?? info.exitCode} (${reason})`);
    this.onTerminated(c, {
      exitCode: info.exitCode,
      reason,
      ...(message ? { message } : {}),
      startedAt: proc.startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      finishedAt: info.finishedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
    void this.flush();
  }

  /** A container instance ended: restart it (policy Always/OnFailure) after a back-off, or finish it. */
  private onTerminated(
    c: ContainerRun,
    t: Partial<Terminated['terminated']> & { exitCode: number; reason: string },
  ): void {
    const terminated: Terminated = {
      terminated: {
        ...t,
        finishedAt: t.finishedAt ?? nowRfc3339(),
        ...(c.containerID ? { containerID: c.containerID } : {}),
      },
    };
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    const restart =
      !this.stopping && !this.failMessage && (policy === 'Always' || (policy === 'OnFailure' && t.exitCode !== 0));
    if (!restart) {
      this.finish(c, terminated.terminated);
      return;
    }
    c.lastState = terminated;
    c.restartCount += 1;
    c.failures += 1;
    const delay = this.backoff(c.failures);
    c.nextAttemptAt = Date.now() + delay;
    c.state = waiting(
      'CrashLoopBackOff',
      `back-off ${Math.round(delay / 1000)}s restarting failed container=${c.spec.name} pod=${this.name}_${this.namespace}(${this.uid})`,
    );
    void this.event(
      c,
      'Warning',
      'BackOff',
      `Back-off restarting failed container ${c.spec.name} in pod ${this.name}_${this.namespace}(${this.uid})`,
    );
  }

  private finish(
    c: ContainerRun,
    t: { exitCode: number; reason: string; message?: string; finishedAt?: string },
  ): void {
    c.state = {
      terminated: {
        ...t,
        finishedAt: t.finishedAt ?? nowRfc3339(),
        ...(c.containerID ? { containerID: c.containerID } : {}),
      },
    };
    c.done = true;
  }

  /** kubelet getPhase for one pod (restartable init containers do not exist here). */
  private phase(): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
    if (this.finalPhase) return this.finalPhase;
    if (this.failMessage) return 'Failed';
    let waitingCount = 0;
    let running = 0;
    let stopped = 0;
    let succeeded = 0;
    for (const c of this.containers) {
      if (isRunning(c.state)) running++;
      else if (isTerminated(c.state)) {
        stopped++;
        if (c.state.terminated.exitCode === 0) succeeded++;
      } else if (isTerminated(c.lastState)) {
        stopped++;
        if (c.lastState.terminated.exitCode === 0) succeeded++;
      } else waitingCount++;
    }
    if (waitingCount > 0) return 'Pending';
    if (running > 0) return 'Running';
    if (stopped > 0) {
      const policy = this.pod.spec?.restartPolicy ?? 'Always';
      if (policy === 'Always') return this.stopping ? (stopped === succeeded ? 'Succeeded' : 'Failed') : 'Running';
      if (stopped === succeeded) return 'Succeeded';
      if (policy === 'Never' || this.stopping) return 'Failed';
      return 'Running';
    }
    return 'Pending';
  }

  private condition(type: string, ok: boolean, reason?: string, message?: string): Condition {
    const status = ok ? 'True' : 'False';
    const prev = this.transitions.get(type) ?? this.existingTransition(type, status);
    const at = prev && prev.status === status ? prev.at : nowRfc3339();
    this.transitions.set(type, { status, at });
    return {
      type,
      status,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
      lastProbeTime: null,
      lastTransitionTime: at,
    };
  }

  private existingTransition(type: string, status: string): { status: string; at: string } | undefined {
    const c = this.pod.status?.conditions?.find((x) => x.type === type);
    if (!c || c.status !== status || !c.lastTransitionTime) return undefined;
    return { status, at: new Date(c.lastTransitionTime).toISOString().replace(/\.\d{3}Z$/, 'Z') };
  }

  private buildStatus(): Record<string, unknown> {
    const phase = this.phase();
    if (TERMINAL.has(phase)) this.finalPhase = phase as 'Succeeded' | 'Failed';
    const terminal = TERMINAL.has(phase);
    const unready = this.containers.filter((c) => !isRunning(c.state) || !c.ready).map((c) => c.spec.name);
    const ready = unready.length === 0 && !terminal;
    const notReadyReason = terminal ? 'PodCompleted' : 'ContainersNotReady';
    const notReadyMessage = terminal ? undefined : `containers with unready status: [${unready.join(' ')}]`;
    const ours = [
      this.condition('PodReadyToStartContainers', this.mounted !== undefined && !terminal),
      this.condition('Initialized', true),
      this.condition('Ready', ready, ready ? undefined : notReadyReason, ready ? undefined : notReadyMessage),
      this.condition('ContainersReady', ready, ready ? undefined : notReadyReason, ready ? undefined : notReadyMessage),
      this.condition('PodScheduled', true),
    ];
    const foreign = (this.pod.status?.conditions ?? []).filter((c) => !ours.some((o) => o.type === c.type));
    // Reported once the pod's "sandbox" (its volumes) is set up, as the kubelet reports it after the sandbox starts.
    const ip = this.mounted && this.podIP ? { podIP: this.podIP, podIPs: [{ ip: this.podIP }] } : {};
    return {
      phase,
      ...(this.failMessage ? { reason: 'UnexpectedAdmissionError', message: this.failMessage } : {}),
      ...(this.evictedMessage ? { reason: 'Evicted', message: this.evictedMessage } : {}),
      conditions: [
        ...foreign.filter((c) => !(this.evictedMessage && c.type === 'DisruptionTarget')),
        ...(this.evictedMessage
          ? [this.condition('DisruptionTarget', true, 'TerminationByKubelet', this.evictedMessage)]
          : []),
        ...ours,
      ],
      hostIP: NODE_IP,
      hostIPs: [{ ip: NODE_IP }],
      ...ip,
      ...(this.startTime ? { startTime: this.startTime } : {}),
      containerStatuses: this.containers.map((c) => ({
        name: c.spec.name,
        image: c.spec.image ?? '',
        imageID: c.containerID ? `process-kubelet://${c.spec.image ?? ''}` : '',
        ...(c.containerID ? { containerID: c.containerID } : {}),
        ready: isRunning(c.state) && c.ready && !terminal,
        started: isRunning(c.state) && c.started,
        restartCount: c.restartCount,
        state: c.state,
        lastState: c.lastState,
      })),
    };
  }

  /** Writes the status if it changed; serialised, and retried by the next sync after a failure. */
  flush(): Promise<void> {
    this.statusChain = this.statusChain.then(async () => {
      if (this.gone || this.readOnly || !this.started || this.deps.isStopped()) return;
      const status = this.buildStatus();
      const json = JSON.stringify(status);
      if (json === this.lastWritten) return;
      try {
        await this.deps.core.patchNamespacedPodStatus(
          { name: this.name, namespace: this.namespace, body: { status } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        this.lastWritten = json;
      } catch (err) {
        if (isApiStatus(err, 404)) this.gone = true;
        else this.deps.log(`${this.namespace}/${this.name}: status update failed: ${apiErrorMessage(err)}`);
      }
    });
    return this.statusChain;
  }

  /** A candidate for eviction: running here, not finished, not being deleted. */
  get evictable(): boolean {
    return this.started && !this.readOnly && !this.finalPhase && !this.stopping && !this.gone && !this.terminating;
  }

  /** Each container's memory in use (its process tree's RSS) and request, for the eviction message. */
  usage(resource: string): ContainerUsage[] {
    return this.containers.map((c) => ({
      name: c.spec.name,
      ...(resource === 'memory' && c.proc?.pid !== undefined ? { usageBytes: treeRssBytes(c.proc.pid) } : {}),
      request: c.spec.resources?.requests?.[resource] ?? '0',
    }));
  }

  /**
   * Evicted by the eviction manager under node pressure: killed at once (a hard threshold grants no grace), never
   * restarted, and reported Failed / Evicted with the message.
   */
  async evict(message: string): Promise<void> {
    this.evictedMessage = message;
    void this.event(undefined, 'Warning', 'Evicted', message);
    await this.killAll(0);
    this.finishUnfinished();
    this.finalPhase = 'Failed';
    await this.flush();
  }

  /** Containers that never started (or were waiting to restart): what the kubelet reports for a stopped pod's. */
  private finishUnfinished(): void {
    for (const c of this.containers) {
      if (c.done) continue;
      this.finish(c, {
        exitCode: 137,
        reason: 'ContainerStatusUnknown',
        message: 'The container could not be located when the pod was terminated',
      });
    }
  }

  /** Graceful deletion: stop the containers, report the final status, then finish the deletion. */
  terminate(): Promise<void> {
    this.terminating ??= (async () => {
      const alreadyTerminal = this.readOnly || this.finalPhase !== undefined;
      await this.killAll(this.graceMs());
      if (!alreadyTerminal && this.started) {
        this.finishUnfinished();
        await this.flush();
      }
      if (this.deps.isStopped() || this.gone) return;
      try {
        await this.deps.core.deleteNamespacedPod({
          name: this.name,
          namespace: this.namespace,
          gracePeriodSeconds: 0,
          body: { gracePeriodSeconds: 0, preconditions: { uid: this.uid } },
        });
      } catch (err) {
        if (isApiStatus(err, 404) || isApiStatus(err, 409)) this.gone = true;
        else {
          this.terminating = undefined; // retried by the next sync
          this.deps.log(`${this.namespace}/${this.name}: finishing deletion failed: ${apiErrorMessage(err)}`);
        }
      }
      if (this.gone) releasePodIP(this.podIP);
    })();
    return this.terminating;
  }

  private graceMs(): number {
    const seconds = this.pod.metadata?.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
    return Math.min(seconds * 1000, this.deps.maxGraceMs);
  }

  /** SIGTERM every running container, SIGKILL after `graceMs`; no restarts from here on. */
  async killAll(graceMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.containers.map(async (c) => {
        if (!c.proc) return;
        if (!this.deps.isStopped() && !this.gone)
          void this.event(c, 'Normal', 'Killing', `Stopping container ${c.spec.name}`);
        await c.proc.kill(graceMs);
      }),
    );
    // Let the exit handlers record the final states before anyone reads them.
    await Promise.resolve();
  }

  /** The pod is gone from the API server (force-deleted): kill everything, write nothing. */
  async forget(graceMs: number): Promise<void> {
    this.gone = true;
    await this.killAll(graceMs);
    releasePodIP(this.podIP);
  }

  private event(
    c: ContainerRun | undefined,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    if (this.deps.isStopped() || this.gone) return Promise.resolve();
    return this.deps.events.record({
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        namespace: this.namespace,
        name: this.name,
        uid: this.uid,
        ...(c ? { fieldPath: `spec.containers{${c.spec.name}}` } : {}),
      },
      type,
      reason,
      message,
      component: 'kubelet',
    });
  }
}
