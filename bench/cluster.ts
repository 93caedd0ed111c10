/**
 * The orchestrator as it runs in production, on the test stack, for the orchestration benches: the real control
 * plane and Temporal (test/harness/stack.ts), the worker and the bridge as separate processes (the compiled
 * `worker/cli.ts`, as the image runs it: so the worker's memory can be read from /proc), the process kubelet running
 * the download and probe Jobs with the compiled downloader, and a local S3 server holding tiny model sources.
 * Services are applied with server-side apply as `kubectl apply --server-side` would; the bridge starts their workflows.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { CustomObjects } from '../activities/kube/customObjects.js';
import { RESOURCES } from '../activities/kube/resources.js';
import { example, type Manifest } from '../test/cases/examples.js';
import { cacheDir } from '../test/harness/bins.js';
import { deterministicBytes } from '../test/harness/fixtures.js';
import { startProcessKubelet, TEST_DOWNLOADER_IMAGE, type ProcessKubelet } from '../test/harness/kubelet.js';
import { loadKubeConfig } from '../test/harness/kube.js';
import { freePort, ManagedProcess, waitFor } from '../test/harness/processes.js';
import { startS3Server, type S3Server } from '../test/harness/s3Server.js';
import { REPO_ROOT, startStack, type Stack } from '../test/harness/stack.js';
import { compileForBench } from './compile.js';
import { RssSampler } from './measure.js';

const ACCESS = 'benchaccess';
const SECRET = 'bench-secret-value-1';
export const SECRET_NAME = 's3-credentials';
export const BUCKET = 'models';
/** Namespaces the kubelet serves; the bridge watches only the ones named at start (baseline namespaces stay quiet). */
export const NAMESPACE_PREFIX = 'bench-';

export interface BenchCluster {
  stack: Stack;
  s3: S3Server;
  kubelet: ProcessKubelet;
  worker: ManagedProcess;
  bridge: ManagedProcess;
  /** Samples the worker's VmRSS / VmHWM from /proc. */
  workerRss: RssSampler;
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
  /** Plays KServe (no controller runs here): the InferenceService reports Ready through its status subresource. */
  markReady(name: string, namespace: string): Promise<void>;
  /** Workflow ids of a service and of the model and caches its status names. */
  workflowsOf(name: string, namespace: string): Promise<string[]>;
  /** Polls until the AIMService is Running. */
  waitRunning(name: string, namespace: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export type ServiceWithStatus = KubernetesObject & {
  status?: { status?: string; resolvedModel?: { name: string }; caches?: Array<{ name: string }> };
};

export interface BenchClusterOptions {
  /** Namespaces the bridge watches (created here, with the credentials Secret). */
  watchedNamespaces: string[];
}

export async function startBenchCluster(opts: BenchClusterOptions): Promise<BenchCluster> {
  const programs = compileForBench();
  const work = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'aim-bench-orch-'));
  const stack = await startStack({ workDir: join(work, 'stack'), temporalHeadless: true });
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
      nodeName: 'bench-node-mi300x',
      gpu: { vendor: 'amd', product: 'AMD_Instinct_MI300X_OAM', vramMiB: 192 * 1024, count: 8 },
      images: {
        [TEST_DOWNLOADER_IMAGE]: () => ({ command: process.execPath, args: [programs.downloader], cwd: REPO_ROOT }),
      },
      namespaces: (ns) => ns.startsWith(NAMESPACE_PREFIX),
      extraPath: [join(cacheDir(), 'bin')],
    });
    cleanups.push(() => kubelet.stop());

    const createNamespace = async (name: string) => {
      await core.createNamespace({ body: { metadata: { name } } });
      await core.createNamespacedSecret({
        namespace: name,
        body: { metadata: { name: SECRET_NAME }, stringData: { 'access-key': ACCESS, 'secret-key': SECRET } },
      });
    };
    for (const ns of opts.watchedNamespaces) await createNamespace(ns);

    const taskQueue = 'aim-bench';
    const env = {
      KUBECONFIG: stack.kubeconfigPath,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      TEMPORAL_NAMESPACE: stack.temporalNamespace,
      AIM_TASK_QUEUE: taskQueue,
      AIM_DOWNLOADER_IMAGE: TEST_DOWNLOADER_IMAGE,
      NODE_ENV: 'production',
    };
    const worker = ManagedProcess.start({
      name: 'aim-worker',
      command: process.execPath,
      args: [programs.cli, 'worker'],
      env,
      cwd: REPO_ROOT,
      logFile: join(work, 'logs', 'worker.log'),
    });
    cleanups.push(() => worker.stop(10_000));
    const workerRss = new RssSampler(worker.pid!);
    cleanups.push(async () => workerRss.stop());
    const healthPort = await freePort();
    const bridge = ManagedProcess.start({
      name: 'aim-bridge',
      command: process.execPath,
      args: [programs.cli, 'bridge'],
      env: {
        ...env,
        AIM_BRIDGE_HEALTH_PORT: String(healthPort),
        AIM_BRIDGE_NAMESPACES: opts.watchedNamespaces.join(','),
      },
      cwd: REPO_ROOT,
      logFile: join(work, 'logs', 'bridge.log'),
    });
    cleanups.push(() => bridge.stop(10_000));
    // The worker bundles the workflows with webpack first: on two busy cores that takes a while.
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
      async markReady(name, namespace) {
        await objects.applyStatus(
          RESOURCES.InferenceService,
          {
            apiVersion: 'serving.kserve.io/v1beta1',
            kind: 'InferenceService',
            metadata: { name, namespace },
            status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }] },
          } as never,
          { fieldManager: 'kserve-bench' },
        );
      },
      async workflowsOf(name, namespace) {
        const svc = await objects.get<ServiceWithStatus>(RESOURCES.AIMService, name, namespace);
        return [
          `aim/AIMService/${namespace}/${name}`,
          ...(svc?.status?.resolvedModel ? [`aim/AIMModel/${namespace}/${svc.status.resolvedModel.name}`] : []),
          ...(svc?.status?.caches ?? []).map((x) => `aim/AIMModelCache/${namespace}/${x.name}`),
        ];
      },
      async waitRunning(name, namespace, timeoutMs = 180_000) {
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
