import type { LifecycleTiming } from '../../domain/timing.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { CustomObjects } from '../../activities/kube/customObjects.js';
import { RESOURCES, type ResourceRef } from '../../activities/kube/resources.js';
import { startBridge, type Bridge } from '../../bridge/bridge.js';
import { createWorker, type AimWorker } from '../../worker/worker.js';
import type { WorkerSettings } from '../../activities/context.js';
import { RECONNECT_CHANNEL_ARGS } from '../../client/temporalConnection.js';
import { readCacheFromEnv } from '../../activities/kube/readCacheSetting.js';
import { changedSignal, workflowIdFor, type Nudge } from '../../workflows/signals.js';
import { modelLifecycle, serviceLifecycle, templateLifecycle } from '../../workflows/index.js';
import { cacheDir } from './bins.js';
import {
  downloaderImageMapping,
  modelServerImageMapping,
  startProcessKubelet,
  TEST_DOWNLOADER_IMAGE,
  type GpuSpec,
  type ProcessKubelet,
} from './kubelet.js';
import { loadKubeConfig } from './kube.js';
import { createTestNamespace } from './namespaces.js';
import { recordRequestsOf, type RecordedRequest } from './apiRequests.js';
import { waitFor } from './processes.js';
import {
  appendJsonLine,
  bridgeLogger,
  installWorkerLogger,
  recordNamespaceState,
  RUN_LOGS,
  stackLogDir,
} from './runLog.js';
import { serviceAccountKubeConfig } from './serviceAccount.js';
import { REPO_ROOT } from './stack.js';

/**
 * A worker (or several), a Temporal client, and a process kubelet: the orchestrator as a test sees it. The workers
 * talk to the API server as the worker's ServiceAccount of deploy/base/rbac.yaml and bridges started with `startBridge` as
 * the bridge's, each with a real token; `kc`, `objects` and `core` are the test's own admin clients (a user running
 * kubectl).
 */
export interface OrchestratorFixture {
  /** Admin: for creating objects as a user would and for assertions. */
  kc: KubeConfig;
  objects: CustomObjects;
  core: CoreV1Api;
  /** What the workers use: the worker ServiceAccount's token, or admin with AIM_TEST_ADMIN_WORKER=1. */
  workerKc: KubeConfig;
  /** The user name the API server sees for `workerKc` (`system:serviceaccount:aim-system:aim-orchestrator`). */
  workerIdentity: string;
  /** What bridges started by `startBridge` use: the bridge ServiceAccount's token, or admin as above. */
  bridgeKc: KubeConfig;
  /** The user name the API server sees for `bridgeKc` (`system:serviceaccount:aim-system:aim-orchestrator-bridge`). */
  bridgeIdentity: string;
  /** Where this run's worker, bridge and request logs go (the stack's log dir). */
  logDir: string;
  client: Client;
  taskQueue: string;
  namespace: string;
  kubelet: ProcessKubelet;
  workDir: string;
  startModel(kind: 'AIMModel' | 'AIMClusterModel', name: string, namespace?: string): Promise<void>;
  startTemplate(
    kind: 'AIMServiceTemplate' | 'AIMClusterServiceTemplate',
    name: string,
    namespace?: string,
  ): Promise<void>;
  startService(name: string, namespace: string): Promise<void>;
  /**
   * Waits until KServe reports the service's InferenceService Ready (its predictor pod serves), for tests without a
   * bridge: they nudge the service themselves afterwards, as the bridge would on that status change.
   */
  waitForServing(name: string, timeoutMs?: number): Promise<void>;
  /**
   * Starts a bridge as the bridge identity on this fixture's task queue, watching this fixture's namespace (or
   * `namespaces`), logging to the run's bridge log; `stop()` stops it. Await `ready` before relying on it.
   */
  startBridge(opts?: { namespaces?: string[] }): Bridge;
  /**
   * An operator edits the workers' settings and rolls them (a Deployment rollout): the running workers shut down
   * (in-flight activities finish), new ones start with the merged settings on the same task queue.
   */
  rollWorkers(settings: OperatorSettings): Promise<void>;
  /** Every API request the worker identity made from this process since the fixture started (not with admin). */
  workerRequests(): RecordedRequest[];
  /** Every API request the bridge identity made from this process since the fixture started (not with admin). */
  bridgeRequests(): RecordedRequest[];
  stop(): Promise<void>;
}

export interface OrchestratorOptions {
  kubeconfigPath: string;
  temporalAddress: string;
  temporalNamespace: string;
  gpu?: GpuSpec;
  workers?: number;
  nodeName?: string;
  /**
   * Run the workers and bridges as admin instead of their deploy ServiceAccounts (default: AIM_TEST_ADMIN_WORKER=1,
   * for debugging).
   */
  adminWorker?: boolean;
  /** The lifecycles' clocks (time compressed by configuration, as AIM_TIME_SCALE does for a worker process). */
  timing?: LifecycleTiming;
  /** Environment of the downloader image (its ENV), e.g. AIM_PROGRESS_INTERVAL_MS. */
  downloaderEnv?: Record<string, string>;
  /** Worker settings an operator sets in its env (AIM_DOWNLOADER_IMAGE, AIM_DOWNLOADER_MEMORY_LIMIT, AIM_READ_CACHE). */
  workerSettings?: OperatorSettings;
  /** The kubelet eviction manager's monitoring period (default the kubelet's 10 s). */
  evictionMonitoringPeriodMs?: number;
}

/** The worker settings a test may change as an operator would, by editing the worker's env and rolling it. */
export type OperatorSettings = Partial<Pick<WorkerSettings, 'downloaderImage' | 'downloadMemoryLimit' | 'readCache'>>;

export async function startOrchestrator(opts: OrchestratorOptions): Promise<OrchestratorFixture> {
  const workDir = mkdtempSync(join(tmpdir(), 'aim-orch-'));
  const logDir = stackLogDir(opts.kubeconfigPath);
  installWorkerLogger(logDir); // before the first worker connects: the Runtime is per process
  const kc = loadKubeConfig(opts.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const adminWorker = opts.adminWorker ?? process.env.AIM_TEST_ADMIN_WORKER === '1';
  const adminName = kc.getCurrentUser()?.name || 'admin';
  const sa = adminWorker ? undefined : await serviceAccountKubeConfig(opts.kubeconfigPath, 'worker');
  const workerKc = sa?.kc ?? kc;
  const workerIdentity = sa?.username ?? adminName;
  const workerRequests = sa ? recordRequestsOf(sa.token) : () => [];
  const bridgeSa = adminWorker ? undefined : await serviceAccountKubeConfig(opts.kubeconfigPath, 'bridge');
  const bridgeKc = bridgeSa?.kc ?? kc;
  const bridgeIdentity = bridgeSa?.username ?? adminName;
  const bridgeRequests = bridgeSa ? recordRequestsOf(bridgeSa.token) : () => [];
  const namespace = `t-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  // Enforcing the restricted Pod Security Standard, as the orchestrator's Job pods must meet it (spec 6).
  await createTestNamespace(core, namespace);
  const taskQueue = `aim-${namespace}`;
  const kubelet = await startProcessKubelet({
    kubeconfigPath: opts.kubeconfigPath,
    workDir: join(workDir, 'kubelet'),
    nodeName: opts.nodeName ?? `node-${namespace}`,
    // Crash-loop and image-pull back-off compressed as before the kubelet's own 10 s → 300 s became the default:
    // lifecycle tests wait for pods to come back, not for the kubelet's wall-clock schedule.
    backoffBaseMs: 4000,
    backoffMaxMs: 60_000,
    ...(opts.evictionMonitoringPeriodMs ? { evictionMonitoringPeriodMs: opts.evictionMonitoringPeriodMs } : {}),
    ...(opts.gpu ? { gpu: opts.gpu } : {}),
    // The downloader for Jobs; the AIM serving images run the model server KServe's predictor pods start.
    images: { ...downloaderImageMapping(REPO_ROOT, opts.downloaderEnv), ...modelServerImageMapping(REPO_ROOT) },
    namespaces: [namespace],
    extraPath: [join(cacheDir(), 'bin')],
  });
  const workers: Array<AimWorker & { running: Promise<void> }> = [];
  // AIM_READ_CACHE in the test run's env turns the workers' read cache on for every file that does not set it.
  let operatorSettings: OperatorSettings = {
    downloaderImage: TEST_DOWNLOADER_IMAGE,
    readCache: readCacheFromEnv(process.env),
    ...opts.workerSettings,
  };
  const startWorkers = async () => {
    for (let i = 0; i < (opts.workers ?? 1); i++) {
      const w = await createWorker({
        temporalAddress: opts.temporalAddress,
        namespace: opts.temporalNamespace,
        taskQueue,
        kubeConfig: workerKc,
        settings: {
          downloaderImage: TEST_DOWNLOADER_IMAGE,
          ...operatorSettings,
          submitNamespaces: [namespace],
          ...(opts.timing ? { timing: opts.timing } : {}),
        },
      });
      workers.push({ ...w, running: w.worker.run() });
    }
  };
  const stopWorkers = async () => {
    const stopping = workers.splice(0);
    for (const w of stopping) w.worker.shutdown();
    await Promise.allSettled(stopping.map((w) => w.running));
    await Promise.allSettled(stopping.map((w) => w.close()));
  };
  await startWorkers();
  const connection = await Connection.connect({
    address: opts.temporalAddress,
    channelArgs: { ...RECONNECT_CHANNEL_ARGS },
  });
  const client = new Client({ connection, namespace: opts.temporalNamespace });

  const objects = new CustomObjects(kc);
  const bridges: Bridge[] = [];
  return {
    kc,
    objects,
    core,
    workerKc,
    workerIdentity,
    bridgeKc,
    bridgeIdentity,
    logDir,
    client,
    taskQueue,
    namespace,
    kubelet,
    workDir,
    async startModel(kind, name, ns) {
      const nudge: Nudge = { uid: '' };
      await client.workflow.signalWithStart(modelLifecycle, {
        workflowId: workflowIdFor(kind, name, ns),
        taskQueue,
        args: [{ kind, name, ...(ns ? { namespace: ns } : {}) }],
        signal: changedSignal,
        signalArgs: [nudge],
      });
    },
    async startTemplate(kind, name, ns) {
      await client.workflow.signalWithStart(templateLifecycle, {
        workflowId: workflowIdFor(kind, name, ns),
        taskQueue,
        args: [{ kind, name, ...(ns ? { namespace: ns } : {}) }],
        signal: changedSignal,
        signalArgs: [{ uid: '' }],
      });
    },
    async startService(name, ns) {
      await client.workflow.signalWithStart(serviceLifecycle, {
        workflowId: workflowIdFor('AIMService', name, ns),
        taskQueue,
        args: [{ name, namespace: ns }],
        signal: changedSignal,
        signalArgs: [{ uid: '' }],
      });
    },
    async waitForServing(name, timeoutMs = 180_000) {
      await waitForObject<{ metadata?: object; status?: { conditions?: Array<{ type: string; status: string }> } }>(
        objects,
        RESOURCES.InferenceService,
        name,
        namespace,
        (i) => i.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
        timeoutMs,
      );
    },
    startBridge(o = {}) {
      const bridge = startBridge({
        kubeConfig: bridgeKc,
        client,
        taskQueue,
        namespaces: o.namespaces ?? [namespace],
        healthPort: 0,
        log: bridgeLogger(logDir, { namespace }),
      });
      bridges.push(bridge);
      return bridge;
    },
    async rollWorkers(settings) {
      await stopWorkers();
      operatorSettings = { ...operatorSettings, ...settings };
      await startWorkers();
    },
    workerRequests,
    bridgeRequests,
    async stop() {
      await Promise.allSettled(bridges.map((b) => b.stop()));
      await stopWorkers();
      await connection.close();
      await kubelet.stop();
      // For the secrets audit at the end of the run: what this namespace showed, and what each identity asked.
      await recordNamespaceState(kc, namespace, logDir).catch((err: unknown) =>
        console.error(`[orchestrator] could not record the state of ${namespace}: ${String(err)}`),
      );
      for (const [identity, requests] of [
        [workerIdentity, workerRequests()],
        [bridgeIdentity, bridgeRequests()],
      ] as const) {
        for (const r of requests) appendJsonLine(join(logDir, RUN_LOGS.requests), { namespace, identity, ...r });
        const forbidden = requests.filter((r) => r.status === 403);
        if (forbidden.length > 0)
          console.error(
            `[orchestrator] ${identity} was refused ${forbidden.length} request(s) (a rule missing in ` +
              `deploy/base/rbac.yaml, or an API server restarting before its RBAC cache synced): ` +
              [...new Set(forbidden.map((r) => `${r.method} ${r.path}`))].join(', '),
          );
      }
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** Polls an object until `until` holds; the failure message shows the last state seen. */
export async function waitForObject<T extends KubernetesObject>(
  objects: CustomObjects,
  res: ResourceRef,
  name: string,
  namespace: string | undefined,
  until: (o: T) => boolean,
  timeoutMs = 90_000,
): Promise<T> {
  let last: T | undefined;
  try {
    return await waitFor(
      `${res.plural} ${name}`,
      async () => {
        last = await objects.get<T>(res, name, namespace);
        return last && until(last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 300 },
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}; last seen: ${JSON.stringify((last as { status?: unknown } | undefined)?.status ?? last)}`,
    );
  }
}
