/* eslint-disable @typescript-eslint/no-explicit-any -- manifests and status shapes are handled loosely here */
// Shared by the fault-injection files (test/faults): the test bed (a namespace with a process kubelet, an S3 server,
// a Secret; no in-process worker: the worker under test is a separate process, see workerProcess.ts), AIMServices on
// custom S3 sources, starting their workflows on a given task queue (what the bridge would do), the KServe stand-in,
// and an inventory of everything one source led to, for the "no duplicated object" assertions.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchV1Api, type KubernetesObject, type V1Job } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { inject } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { temporalNudger, type WorkflowNudger } from '../../activities/nudges.js';
import { workflowIdFor } from '../../workflows/signals.js';
import { example, type Manifest } from '../cases/examples.js';
import { deterministicBytes } from '../harness/fixtures.js';
import { startOrchestrator, waitForObject, type OrchestratorFixture } from '../harness/orchestrator.js';
import { startS3Server, type S3Server } from '../harness/s3Server.js';
import { putTinyModel } from '../harness/scenarios.js';
import { serviceAccountKubeconfigPath } from '../harness/serviceAccount.js';

export interface S3Source {
  /** `org/name` */
  modelId: string;
  /** `s3://bucket/prefix` */
  uri: string;
  endpoint: string;
  /** Secret with keys `id` and `secret`. */
  secret: string;
}

/** The Secret every fault test's sources name (keys `id` and `secret`), and its values. */
export const S3_SECRET = 'fault-s3';
const S3_ACCESS_KEY = 'faultaccess';
const S3_SECRET_KEY = 'fault-secret-value-5';

/** What every fault file starts from: a namespace with a process kubelet and a GPU node, an S3 server, a Secret. */
export interface FaultBed {
  orch: OrchestratorFixture;
  /**
   * What the worker process under test runs as: a kubeconfig (and its bearer token) of the worker's deploy
   * ServiceAccount (deploy/base/rbac.yaml), never the admin's, so a fault meets the RBAC a customer installs.
   */
  worker: { kubeconfigPath: string; token: string; identity: string };
  s3: S3Server;
  workDir: string;
  /**
   * Puts a tiny model (config.json, model.safetensors of `weightBytes`) under `s3://models/<prefix>` and returns
   * it as a source `faults/<prefix>`, reached through `endpoint` (default: the S3 server itself).
   */
  addSource(prefix: string, opts?: { endpoint?: string; weightBytes?: number }): Promise<S3Source>;
  /** Another Secret with the same credentials (other references, same keys). */
  copySecret(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** The global stack's addresses, as the vitest global setup provides them. */
/** The admin kubeconfig (the test's own client): a worker process gets `FaultBed.worker` instead. */
export function stackConnection(): { kubeconfigPath: string; temporalAddress: string; temporalNamespace: string } {
  return {
    kubeconfigPath: inject('kubeconfigPath'),
    temporalAddress: inject('temporalAddress'),
    temporalNamespace: inject('temporalNamespace'),
  };
}

export async function startFaultBed(conn = stackConnection()): Promise<FaultBed> {
  const workDir = mkdtempSync(join(tmpdir(), 'aim-faults-'));
  const [orch, s3] = await Promise.all([
    startOrchestrator({
      ...conn,
      gpu: { vendor: 'amd', product: 'AMD_Instinct_MI300X_OAM', vramMiB: 192 * 1024, count: 8 },
      workers: 0, // the worker under test runs as a separate process
    }),
    startS3Server({ workDir: join(workDir, 's3'), accessKey: S3_ACCESS_KEY, secretKey: S3_SECRET_KEY }),
  ]);
  await s3.createBucket('models');
  const credentials = { id: S3_ACCESS_KEY, secret: S3_SECRET_KEY };
  await createSecret(orch, S3_SECRET, credentials);
  const token = orch.workerKc.getCurrentUser()?.token;
  if (!token) throw new Error('the fault bed has no worker token (AIM_TEST_ADMIN_WORKER=1 runs the worker as admin)');
  return {
    orch,
    worker: {
      kubeconfigPath: serviceAccountKubeconfigPath(conn.kubeconfigPath, 'worker'),
      token,
      identity: orch.workerIdentity,
    },
    s3,
    workDir,
    async addSource(prefix, opts = {}) {
      await putTinyModel(s3, 'models', prefix, deterministicBytes(`faults/${prefix}`, opts.weightBytes ?? 256 * 1024));
      return {
        modelId: `faults/${prefix}`,
        uri: `s3://models/${prefix}`,
        endpoint: opts.endpoint ?? s3.endpoint,
        secret: S3_SECRET,
      };
    },
    copySecret: (name) => createSecret(orch, name, credentials),
    async stop() {
      await Promise.allSettled([orch.stop(), s3.stop()]);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

export function s3SourceEnv(src: S3Source) {
  return [
    { name: 'AWS_ENDPOINT_URL', value: src.endpoint },
    { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: src.secret, key: 'id' } } },
    { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: src.secret, key: 'secret' } } },
  ];
}

/** Path 2: an AIMService with `spec.model.custom` on one S3 source (Dedicated unless `shared`). */
export function customS3Service(
  name: string,
  namespace: string,
  src: S3Source,
  opts: { shared?: boolean; stallTimeoutSeconds?: number } = {},
): Manifest {
  const m = example('aimservice-custom-s3.yaml');
  m.metadata = { name, namespace };
  (m.spec.model as any).custom.modelSources = [{ modelId: src.modelId, sourceUri: src.uri, env: s3SourceEnv(src) }];
  if (opts.shared) m.spec.caching = { mode: 'Shared' };
  if (opts.stallTimeoutSeconds) m.spec.download = { stallTimeoutSeconds: opts.stallTimeoutSeconds };
  return m;
}

/** Path 1: a user AIMModel on one S3 source (probed by its own workflow), one template from `spec.hardware`. */
export function userS3Model(name: string, namespace: string, src: S3Source): Manifest {
  const m = example('aimmodel-s3-default-template.yaml');
  m.metadata = { name, namespace };
  m.spec.modelSources = [{ modelId: src.modelId, sourceUri: src.uri, env: s3SourceEnv(src) }];
  return m;
}

export async function createSecret(
  orch: OrchestratorFixture,
  name: string,
  creds: { id: string; secret: string },
): Promise<void> {
  await orch.core.createNamespacedSecret({
    namespace: orch.namespace,
    body: { metadata: { name }, stringData: creds },
  });
}

/** Signal-with-start of objects' lifecycle workflows on `taskQueue`: what the bridge does when an object changes. */
export function lifecycleStarter(client: Client, taskQueue: string): WorkflowNudger {
  return temporalNudger(client, taskQueue);
}

/**
 * The bridge's part for one service (no bridge runs in the fault tests): once KServe reports its InferenceService
 * Ready, nudges the service's workflow. Returns when done or when `signal` aborts; rides out server restarts.
 */
export async function nudgeWhenServing(
  orch: OrchestratorFixture,
  nudger: WorkflowNudger,
  service: string,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const isvc = await orch.objects.get<{
        metadata?: object;
        status?: { conditions?: Array<{ type: string; status: string }> };
      }>(RESOURCES.InferenceService, service, orch.namespace);
      if (isvc?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) {
        await nudger.nudge('AIMService', service, orch.namespace);
        return;
      }
    } catch {
      // A server being restarted by the test: try again.
    }
    await sleep(1000, undefined, { signal }).catch(() => undefined);
  }
}

/** Creates a service, starts its workflow on the nudger's task queue and plays KServe for it (in the background). */
export async function deployService(
  orch: OrchestratorFixture,
  nudger: WorkflowNudger,
  manifest: Manifest,
  signal: AbortSignal,
): Promise<{ kserve: Promise<void> }> {
  await orch.objects.create(RESOURCES.AIMService, manifest as never);
  await nudger.nudge('AIMService', manifest.metadata.name, orch.namespace);
  return { kserve: nudgeWhenServing(orch, nudger, manifest.metadata.name, signal) };
}

export function serviceWorkflowId(namespace: string, service: string): string {
  return workflowIdFor('AIMService', service, namespace);
}

export async function waitForRunning(orch: OrchestratorFixture, service: string, timeoutMs: number): Promise<any> {
  return waitForObject<any>(
    orch.objects,
    RESOURCES.AIMService,
    service,
    orch.namespace,
    (s) => s.status?.status === 'Running',
    timeoutMs,
  );
}

export interface JobSummary {
  name: string;
  succeeded: boolean;
  failed: boolean;
}

/** Everything one source led to in the namespace (matched by sourceUri), for the no-duplicates assertions. */
export interface SourceInventory {
  models: string[];
  templates: string[];
  caches: string[];
  pvcs: string[];
  /** Jobs of those caches and the models' own probes, sorted by name. */
  jobs: JobSummary[];
}

export function summariseJob(j: V1Job): JobSummary {
  return {
    name: j.metadata?.name ?? '',
    succeeded: (j.status?.succeeded ?? 0) > 0,
    failed: (j.status?.failed ?? 0) > 0,
  };
}

export async function sourceInventory(orch: OrchestratorFixture, uri: string): Promise<SourceInventory> {
  const ns = orch.namespace;
  const models = (await orch.objects.list<any>(RESOURCES.AIMModel, ns)).filter((m) =>
    (m.spec.modelSources ?? []).some((s: any) => s.sourceUri === uri),
  );
  const caches = (await orch.objects.list<any>(RESOURCES.AIMModelCache, ns)).filter((c) => c.spec.sourceUri === uri);
  const templates: string[] = [];
  for (const m of models) {
    const items = await orch.objects.list<KubernetesObject>(RESOURCES.AIMServiceTemplate, ns, {
      labelSelector: `aim.silogen.ai/model=${m.metadata.name}`,
    });
    templates.push(...items.map((t) => t.metadata!.name!));
  }
  const pvcs: string[] = [];
  for (const c of caches) {
    const items = await orch.core.listNamespacedPersistentVolumeClaim({
      namespace: ns,
      labelSelector: `aim.silogen.ai/cache=${c.metadata.name}`,
    });
    pvcs.push(...items.items.map((p) => p.metadata!.name!));
  }
  const prefixes = [...caches.map((c) => `${c.metadata.name}-`), ...models.map((m) => `${m.metadata.name}-probe-`)];
  const jobs = (await orch.kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns })).items
    .filter((j) => prefixes.some((p) => j.metadata?.name?.startsWith(p)))
    .map(summariseJob)
    .sort((a, b) => a.name.localeCompare(b.name));
  return {
    models: models.map((m) => m.metadata.name).sort(),
    templates: templates.sort(),
    caches: caches.map((c) => c.metadata.name).sort(),
    pvcs: pvcs.sort(),
    jobs,
  };
}
