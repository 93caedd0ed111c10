/**
 * The orchestrator as it runs in production, on the test stack, for the orchestration benches: the real control
 * plane, Temporal and KServe's controller manager in RawDeployment mode (test/harness/stack.ts), the worker and the
 * bridge as separate processes (the compiled `worker/cli.ts`, as the image runs it: so the worker's memory can be read
 * from /proc), the process kubelet on one 8 × MI300X node running the download and probe Jobs with the compiled
 * downloader and KServe's predictor pods with the compiled model server (the stand-in for vLLM in the AIM serving
 * image: it serves the downloaded files on the pod's own loopback IP, port 8000), and a local S3 server holding tiny
 * model sources. Services are applied with server-side apply as `kubectl apply --server-side` would; the bridge starts
 * their workflows. Nothing here writes an InferenceService's status: KServe reports Ready when the predictor's
 * Deployment is Available (a pod started and passed KServe's tcpSocket readiness probe, period 10 s), and only then is
 * a service Running.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CoreV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { CustomObjects } from '../activities/kube/customObjects.js';
import { RESOURCES } from '../activities/kube/resources.js';
import { KSERVE_ISVC_LABEL } from '../domain/inferenceService.js';
import { example, type Manifest } from '../test/cases/examples.js';
import { cacheDir } from '../test/harness/bins.js';
import { deterministicBytes } from '../test/harness/fixtures.js';
import {
  modelServerImageMapping,
  startProcessKubelet,
  TEST_DOWNLOADER_IMAGE,
  type ImageMappings,
  type ProcessKubelet,
} from '../test/harness/kubelet.js';
import { loadKubeConfig } from '../test/harness/kube.js';
import { createTestNamespace } from '../test/harness/namespaces.js';
import { freePort, ManagedProcess, waitFor } from '../test/harness/processes.js';
import { startS3Server, type S3Server } from '../test/harness/s3Server.js';
import { serviceAccountKubeConfig } from '../test/harness/serviceAccount.js';
import { REPO_ROOT, startStack, type Stack } from '../test/harness/stack.js';
import { compileForBench } from './compile.js';
import { IMAGE_ENV } from './imageEnv.js';
import { memoryCgroup } from './memoryCgroup.js';
import { kserveClientWrites, RssSampler } from './measure.js';

const ACCESS = 'benchaccess';
const SECRET = 'bench-secret-value-1';
export const SECRET_NAME = 's3-credentials';
export const BUCKET = 'models';
/** Namespaces the kubelet serves; the bridge watches only the ones named at start (baseline namespaces stay quiet). */
export const NAMESPACE_PREFIX = 'bench-';
/**
 * The bench node: 8 × MI300X (192 GiB each) with the host of such a server (192 cores, 2 TiB), so that GPUs are what
 * limits serving: each predictor asks for 1 GPU, 4 cpu and 32 Gi (domain/inferenceService.ts), each Job pod for
 * 250m and 256Mi. (The kubelet's default 32 cpu / 256 Gi would let 8 predictors starve every later Job.)
 */
export const BENCH_NODE = {
  name: 'bench-node-mi300x',
  gpus: 8,
  capacity: { cpu: '192', memory: '2Ti', pods: '110' },
} as const;
/** The node's GPUs (what `setGpu` replaces when a bench lets more predictors serve). */
export const BENCH_GPU = { vendor: 'amd', product: 'AMD_Instinct_MI300X_OAM', vramMiB: 192 * 1024 } as const;

/**
 * The node's cpu, memory and pods when it must hold `predictors` predictors (4 cpu and 32 Gi each) besides the Job
 * pods: never less than BENCH_NODE's, so that GPUs stay what limits serving (the fleet's steady phase raises them).
 */
export function nodeCapacityFor(predictors: number): { cpu: string; memory: string; pods: string } {
  const base = BENCH_NODE.capacity;
  return {
    cpu: String(Math.max(Number(base.cpu), 4 * predictors + 64)),
    memory: predictors * 32 + 512 > 2048 ? `${predictors * 32 + 512}Gi` : base.memory,
    pods: String(Math.max(Number(base.pods), predictors + 110)),
  };
}
const isReady = (o: { status?: { conditions?: Array<{ type: string; status: string }> } } | undefined) =>
  o?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

export interface BenchCluster {
  stack: Stack;
  s3: S3Server;
  kubelet: ProcessKubelet;
  worker: ManagedProcess;
  bridge: ManagedProcess;
  /** Samples the worker's VmRSS / VmHWM from /proc. */
  workerRss: RssSampler;
  /** The worker's and the bridge's own Kubernetes API requests, one line each (bench/requestTap.ts, requestLog.ts). */
  requestLogs: { worker: string; bridge: string };
  /** The worker's memory each second: RSS, V8 heap, external (bench/memoryTap.ts, memoryLog.ts). */
  workerMemoryLog: string;
  kc: KubeConfig;
  objects: CustomObjects;
  core: CoreV1Api;
  client: Client;
  taskQueue: string;
  /** A namespace with the S3 credentials Secret (not yet watched by the bridge unless named at start). */
  createNamespace(name: string): Promise<void>;
  /** Puts a tiny model (config.json + weights of `bytes`) under `s3://models/{prefix}/`; returns the URI. */
  putTinySource(prefix: string, bytes: number): Promise<string>;
  /** examples/aimservice-custom-s3.yaml pointed at the local S3 and `sourceUri`, optionally with Shared caching. */
  customService(name: string, namespace: string, sourceUri: string, opts?: { shared?: boolean }): Manifest;
  /** Server-side apply of an AIMService, field manager `kubectl`, no force: what `kubectl apply --server-side` sends. */
  applyService(manifest: Manifest): Promise<void>;
  /**
   * Deletes an AIMService as `kubectl delete` would and waits until it is gone (the bridge signals its workflow,
   * which cleans up and drops the finalizer) and no predictor pod of its InferenceService is left: frees its GPU.
   */
  deleteService(name: string, namespace: string, timeoutMs?: number): Promise<void>;
  /** Deletes an InferenceService (KServe drops its finalizer) and waits until it and its predictor pods are gone. */
  deleteInferenceService(name: string, namespace: string, timeoutMs?: number): Promise<void>;
  /** Predictor pods of a namespace (label `serving.kserve.io/inferenceservice`). */
  predictorPods(namespace: string): Promise<PredictorPod[]>;
  /** KServe's controller's own count of its write requests (its client metrics), if it exposes them. */
  kserveWrites(): Promise<number | undefined>;
  /** Workflow ids of a service and of the model and caches its status names. */
  workflowsOf(name: string, namespace: string): Promise<string[]>;
  /** Polls until the AIMService is Running (which needs KServe's Ready: a predictor pod serving). */
  waitRunning(name: string, namespace: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export type ServiceWithStatus = KubernetesObject & {
  status?: {
    status?: string;
    resolvedModel?: { name: string };
    caches?: Array<{ name: string }>;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  };
};

export type InferenceServiceWithStatus = KubernetesObject & {
  status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
};

export interface PredictorPod {
  name: string;
  /** The InferenceService it serves. */
  service: string;
  phase: string;
  scheduled: boolean;
  ready: boolean;
  /** The PodScheduled=False message (e.g. `0/1 nodes are available: 1 Insufficient amd.com/gpu.`). */
  unschedulable?: string;
}

/** KServe's Ready condition on an InferenceService. */
export const inferenceServiceReady = (o: InferenceServiceWithStatus | undefined): boolean => isReady(o);

export interface BenchClusterOptions {
  /** Namespaces the bridge watches (created here, with the credentials Secret). */
  watchedNamespaces: string[];
  /** Size the node's cpu, memory and pods for this many predictors (GPUs stay BENCH_NODE.gpus): nodeCapacityFor. */
  predictorCapacity?: number;
}

export async function startBenchCluster(opts: BenchClusterOptions): Promise<BenchCluster> {
  const programs = compileForBench();
  const work = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'aim-bench-orch-'));
  // KServe on explicitly (whatever AIM_STACK_KSERVE says): without its controller no InferenceService is ever Ready.
  const stack = await startStack({
    workDir: join(work, 'stack'),
    temporalHeadless: true,
    kserve: true,
    apiServerProfiling: process.env.BENCH_APISERVER_PROF !== undefined,
  });
  const cleanups: Array<() => Promise<unknown>> = [() => stack.stop()];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  };
  try {
    const kc = loadKubeConfig(stack.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const objects = new CustomObjects(kc);
    const s3 = await startS3Server({ workDir: join(work, 's3'), accessKey: ACCESS, secretKey: SECRET });
    cleanups.push(() => s3.stop());
    await s3.createBucket(BUCKET);
    const kubelet = await startProcessKubelet({
      kubeconfigPath: stack.kubeconfigPath,
      workDir: join(work, 'kubelet'),
      nodeName: BENCH_NODE.name,
      // Crash-loop and image-pull back-off compressed as before the kubelet's own 10 s → 300 s became the default:
      // lifecycle tests wait for pods to come back, not for the kubelet's wall-clock schedule.
      backoffBaseMs: 4000,
      backoffMaxMs: 60_000,
      gpu: { ...BENCH_GPU, count: BENCH_NODE.gpus },
      capacity: nodeCapacityFor(opts.predictorCapacity ?? 0),
      images: {
        [TEST_DOWNLOADER_IMAGE]: () => ({ command: process.execPath, args: [programs.downloader], cwd: REPO_ROOT }),
        ...compiledModelServer(programs.modelServer),
      },
      namespaces: (ns) => ns.startsWith(NAMESPACE_PREFIX),
      extraPath: [join(cacheDir(), 'bin')],
    });
    cleanups.push(() => kubelet.stop());

    const predictorPods = async (namespace: string): Promise<PredictorPod[]> =>
      (await core.listNamespacedPod({ namespace, labelSelector: KSERVE_ISVC_LABEL })).items.map((p) => {
        const scheduled = p.status?.conditions?.find((c) => c.type === 'PodScheduled');
        return {
          name: p.metadata?.name ?? '',
          service: p.metadata?.labels?.[KSERVE_ISVC_LABEL] ?? '',
          phase: p.status?.phase ?? '',
          scheduled: Boolean(p.spec?.nodeName),
          ready: isReady(p),
          ...(scheduled?.status === 'False' && scheduled.message ? { unschedulable: scheduled.message } : {}),
        };
      });
    const hasPredictorPods = async (name: string, namespace: string) =>
      (await core.listNamespacedPod({ namespace, labelSelector: `${KSERVE_ISVC_LABEL}=${name}` })).items.length > 0;

    const createNamespace = async (name: string) => {
      // Restricted Pod Security enforced, as the orchestrator's Job pods must meet it.
      await createTestNamespace(core, name);
      await core.createNamespacedSecret({
        namespace: name,
        body: { metadata: { name: SECRET_NAME }, stringData: { 'access-key': ACCESS, 'secret-key': SECRET } },
      });
    };
    for (const ns of opts.watchedNamespaces) await createNamespace(ns);

    // The worker and the bridge as their deploy ServiceAccounts (deploy/base/rbac.yaml), as in a cluster.
    const [workerIdentity, bridgeIdentity] = await Promise.all([
      serviceAccountKubeConfig(stack.kubeconfigPath, 'worker'),
      serviceAccountKubeConfig(stack.kubeconfigPath, 'bridge'),
    ]);
    const taskQueue = 'aim-bench';
    const requestLogs = {
      worker: join(work, 'logs', 'worker-requests.tsv'),
      bridge: join(work, 'logs', 'bridge-requests.tsv'),
    };
    const workerMemoryLog = join(work, 'logs', 'worker-memory.tsv');
    // Each process logs its own API requests (by its token) from Node's HTTP client diagnostics channel.
    const tapped = (role: 'worker' | 'bridge') => [
      '--import',
      pathToFileURL(programs.requestTap).href,
      programs.cli,
      role,
    ];
    const env = {
      KUBECONFIG: workerIdentity.kubeconfigPath,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      TEMPORAL_NAMESPACE: stack.temporalNamespace,
      AIM_TASK_QUEUE: taskQueue,
      AIM_DOWNLOADER_IMAGE: TEST_DOWNLOADER_IMAGE,
      ...IMAGE_ENV,
    };
    const workerArgs = [
      // BENCH_WORKER_CPU_PROF=DIR: V8's CPU profile of the worker, written to DIR when it stops
      // (bench/cpuProfileTop.ts).
      ...(process.env.BENCH_WORKER_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_WORKER_CPU_PROF] : []),
      '--import',
      pathToFileURL(programs.memoryTap).href,
      ...tapped('worker'),
    ];
    const limit = process.env.BENCH_WORKER_MEMORY_LIMIT;
    const cgroup = limit ? memoryCgroup(`aim-bench-worker-${process.pid}`, limit) : undefined;
    const worker = ManagedProcess.start({
      name: 'aim-worker',
      ...(cgroup ? cgroup.wrap(process.execPath, workerArgs) : { command: process.execPath, args: workerArgs }),
      env: { ...env, AIM_BENCH_REQUEST_LOG: requestLogs.worker, AIM_BENCH_MEMORY_LOG: workerMemoryLog },
      cwd: REPO_ROOT,
      logFile: join(work, 'logs', 'worker.log'),
    });
    cleanups.push(async () => {
      await worker.stop(10_000);
      cgroup?.remove();
    });
    const workerRss = new RssSampler(worker.pid!);
    cleanups.push(async () => workerRss.stop());
    const healthPort = await freePort();
    const bridge = ManagedProcess.start({
      name: 'aim-bridge',
      command: process.execPath,
      args: tapped('bridge'),
      env: {
        ...env,
        AIM_BENCH_REQUEST_LOG: requestLogs.bridge,
        KUBECONFIG: bridgeIdentity.kubeconfigPath,
        AIM_BRIDGE_HEALTH_PORT: String(healthPort),
        AIM_BRIDGE_NAMESPACES: opts.watchedNamespaces.join(','),
      },
      cwd: REPO_ROOT,
      logFile: join(work, 'logs', 'bridge.log'),
    });
    cleanups.push(() => bridge.stop(10_000));
    // The worker loads the prebuilt workflow bundle (bench/compile.ts), as the image does; two busy cores still take a while.
    await waitFor(
      'the worker polling its task queue',
      async () => (/Worker state changed.*RUNNING/.test(readFileSync(worker.logFile, 'utf8')) ? true : undefined),
      { timeoutMs: 300_000, intervalMs: 500, watch: [worker] },
    );
    await waitFor(
      'the bridge /readyz',
      async () => ((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 250, watch: [bridge] },
    );
    const connection = await Connection.connect({ address: stack.temporalAddress });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: stack.temporalNamespace });

    return {
      stack,
      s3,
      kubelet,
      worker,
      bridge,
      workerRss,
      requestLogs,
      workerMemoryLog,
      kc,
      objects,
      core,
      client,
      taskQueue,
      createNamespace,
      async putTinySource(prefix, bytes) {
        await s3.putObject(BUCKET, `${prefix}/config.json`, `{"model_type":"qwen2","bench":"${prefix}"}\n`);
        await s3.putObject(BUCKET, `${prefix}/model.safetensors`, deterministicBytes(`bench/${prefix}`, bytes));
        return `s3://${BUCKET}/${prefix}`;
      },
      customService(name, namespace, sourceUri, o = {}) {
        const m = example('aimservice-custom-s3.yaml');
        m.metadata = { name, namespace };
        const source = (m.spec.model as { custom: { modelSources: Array<Record<string, unknown>> } }).custom
          .modelSources[0]!;
        source.sourceUri = sourceUri;
        source.env = [
          { name: 'AWS_ENDPOINT_URL', value: s3.endpoint },
          { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: SECRET_NAME, key: 'access-key' } } },
          { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: SECRET_NAME, key: 'secret-key' } } },
        ];
        if (o.shared) m.spec.caching = { mode: 'Shared' };
        return m;
      },
      async applyService(manifest) {
        await objects.apply(RESOURCES.AIMService, manifest as never, { fieldManager: 'kubectl', force: false });
      },
      async deleteService(name, namespace, timeoutMs = 180_000) {
        await objects.delete(RESOURCES.AIMService, name, namespace);
        await waitFor(
          `AIMService ${namespace}/${name} and its predictor pods gone`,
          async () =>
            !(await objects.get(RESOURCES.AIMService, name, namespace)) && !(await hasPredictorPods(name, namespace))
              ? true
              : undefined,
          { timeoutMs, intervalMs: 200 },
        );
      },
      async deleteInferenceService(name, namespace, timeoutMs = 120_000) {
        await objects.delete(RESOURCES.InferenceService, name, namespace);
        await waitFor(
          `InferenceService ${namespace}/${name} and its predictor pods gone`,
          async () =>
            !(await objects.get(RESOURCES.InferenceService, name, namespace)) &&
            !(await hasPredictorPods(name, namespace))
              ? true
              : undefined,
          { timeoutMs, intervalMs: 200 },
        );
      },
      predictorPods,
      kserveWrites: () => kserveClientWrites(stack.kserve?.metricsUrl),
      async workflowsOf(name, namespace) {
        const svc = await objects.get<ServiceWithStatus>(RESOURCES.AIMService, name, namespace);
        return [
          `aim/AIMService/${namespace}/${name}`,
          ...(svc?.status?.resolvedModel ? [`aim/AIMModel/${namespace}/${svc.status.resolvedModel.name}`] : []),
          ...(svc?.status?.caches ?? []).map((x) => `aim/AIMModelCache/${namespace}/${x.name}`),
        ];
      },
      async waitRunning(name, namespace, timeoutMs = 300_000) {
        let last: ServiceWithStatus | undefined;
        await waitFor(
          `AIMService ${namespace}/${name} Running`,
          async () => {
            last = await objects.get<ServiceWithStatus>(RESOURCES.AIMService, name, namespace);
            return last?.status?.status === 'Running' ? true : undefined;
          },
          { timeoutMs, intervalMs: 100 },
        ).catch((err: unknown) => {
          throw new Error(`${(err as Error).message}; last status ${JSON.stringify(last?.status)}`);
        });
      },
      stop: stopAll,
    };
  } catch (err) {
    console.error(`bench cluster failed to start; log tails:\n${stack.logs(30)}`);
    await stopAll();
    throw err;
  }
}

/**
 * The AIM serving images (`ghcr.io/silogen/aim-base:*`) → the compiled model server, with the arguments the test
 * harness's mapping passes (the model directory behind the cache mount, the pod IP, the port, the termination log).
 */
function compiledModelServer(program: string): ImageMappings {
  const entry = join('images', 'model-server', 'main.ts');
  return Object.fromEntries(
    Object.entries(modelServerImageMapping(REPO_ROOT)).map(([image, mapping]) => [
      image,
      (c: Parameters<typeof mapping>[0]) => {
        const cmd = mapping(c);
        const at = cmd.args.findIndex((a) => a.endsWith(entry));
        if (at < 0) throw new Error(`the model server mapping no longer runs ${entry}: ${cmd.args.join(' ')}`);
        return { ...cmd, args: [program, ...cmd.args.slice(at + 1)] };
      },
    ]),
  );
}
