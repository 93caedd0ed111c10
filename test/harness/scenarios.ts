// Shared pieces of the scenario tests (spec section 10): `kubectl apply --server-side` of raw manifests, examples
// pointed at the test servers, a tiny model in S3, aimctl in-process, and the waits the scenario tests all need.
// `startAcceptance()` puts them together for test/e2e: the product driven only through the Kubernetes API.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchV1Api,
  type CoreV1Event,
  type KubeConfig,
  type V1Job,
  type V1PersistentVolumeClaim,
} from '@kubernetes/client-node';
import { inject } from 'vitest';
import type { CustomObjects } from '../../activities/kube/customObjects.js';
import { RESOURCES, type ResourceRef } from '../../activities/kube/resources.js';
import { run as runAimctlCli } from '../../client/aimctl.js';
import { KINDS, type KindName } from '../../schemas/kinds.js';
import { example, exampleSecret, type KubeManifest, type Manifest } from '../cases/examples.js';
import { startHfHub, type HfHub } from './hfHub.js';
import { startHttpProxy, type HttpProxy } from './httpProxy.js';
import { kubeRequest, type KubeResponse } from './kube.js';
import { startOrchestrator, waitForObject, type OperatorSettings, type OrchestratorFixture } from './orchestrator.js';
import { waitFor } from './processes.js';
import { startS3Server, type S3Server } from './s3Server.js';
import type { FixtureContent } from './fixtures.js';
import type { LifecycleTiming } from '../../domain/timing.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- objects are read field by field */

// ---------------------------------------------------------------------------------------------------------------
// Small shared helpers
// ---------------------------------------------------------------------------------------------------------------

/** The condition of `type` in an object's status, if any. */
export const condition = (obj: any, type: string): any => obj?.status?.conditions?.find((c: any) => c.type === type);

/** Polls until the object is gone (NotFound). */
export async function waitForGone(
  objects: CustomObjects,
  res: ResourceRef,
  name: string,
  namespace: string | undefined,
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(
    `${res.plural} ${name} gone`,
    async () => ((await objects.get(res, name, namespace)) ? undefined : true),
    { timeoutMs, intervalMs: 300 },
  );
}

/** A tiny model under `s3://{bucket}/{prefix}/`: a `config.json` (23 bytes) and `model.safetensors` = `weights`. */
export async function putTinyModel(
  s3: S3Server,
  bucket: string,
  prefix: string,
  weights: FixtureContent,
): Promise<void> {
  await s3.putObject(bucket, `${prefix}/config.json`, '{"model_type":"qwen2"}\n');
  await s3.putObject(bucket, `${prefix}/model.safetensors`, weights);
}

/** The first model source of an AIMService's `spec.model.custom`. */
export const customSource = (m: { spec: Record<string, unknown> }): any => (m.spec.model as any).custom.modelSources[0];

/** Points an example's S3 source at a test endpoint (and optionally another prefix of EXAMPLE_BUCKET). */
export function useS3(source: any, endpoint: string, prefix?: string): void {
  if (prefix !== undefined) source.sourceUri = `s3://${EXAMPLE_BUCKET}/${prefix}`;
  const ep = (source.env as any[] | undefined)?.find((e) => e.name === 'AWS_ENDPOINT_URL');
  if (!ep) throw new Error(`source ${source.modelId} has no AWS_ENDPOINT_URL to point at the test server`);
  ep.value = endpoint;
}

/**
 * A standalone AIMModelCache from examples/aimmodelcache.yaml on a test S3 endpoint (a prefix of EXAMPLE_BUCKET);
 * `spec` overrides fields, an `undefined` value removes one (e.g. `accessMode`, to get the default).
 */
export function standaloneCache(
  endpoint: string,
  name: string,
  prefix: string,
  spec: Record<string, unknown> = {},
): Manifest {
  const m = example('aimmodelcache.yaml');
  m.metadata.name = name;
  useS3(m.spec, endpoint, prefix);
  for (const [key, value] of Object.entries(spec)) {
    if (value === undefined) delete (m.spec as Record<string, unknown>)[key];
    else (m.spec as Record<string, unknown>)[key] = value;
  }
  return m;
}

/** Points every secretKeyRef of a source's env at another Secret (same keys). */
export function useSecret(source: any, secretName: string): void {
  for (const e of source.env ?? []) if (e.valueFrom?.secretKeyRef) e.valueFrom.secretKeyRef.name = secretName;
}

/**
 * Points an example's Hugging Face source at the Hub fixture: `repo` from `endpoint`, keeping the example's HF_TOKEN
 * reference (Secret hf-token) when `token` is true and dropping it otherwise.
 */
export function useHub(source: any, endpoint: string, repo: string, token: boolean): void {
  source.modelId = repo;
  source.sourceUri = `hf://${repo}`;
  const tokenRef = (source.env as any[] | undefined)?.find((e) => e.name === 'HF_TOKEN');
  if (token && !tokenRef) throw new Error(`source ${repo} has no HF_TOKEN reference to keep`);
  source.env = [{ name: 'HF_ENDPOINT', value: endpoint }, ...(token ? [tokenRef] : [])];
}

/** Runs aimctl in-process (no process.exit) with the test stack's coordinates; returns its exit code and output. */
export async function runAimctl(
  argv: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runAimctlCli(argv, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env,
  });
  return { code, stdout, stderr };
}

// ---------------------------------------------------------------------------------------------------------------
// kubectl apply --server-side
// ---------------------------------------------------------------------------------------------------------------

const CORE_PLURALS: Record<string, string> = { Secret: 'secrets', ConfigMap: 'configmaps', LimitRange: 'limitranges' };

/** The REST path of a manifest's object: our kinds, KServe's InferenceService, and the core kinds users apply. */
export function objectPath(m: KubeManifest): string {
  const ns = m.metadata.namespace;
  const name = encodeURIComponent(m.metadata.name);
  if (m.apiVersion === 'v1') {
    const plural = CORE_PLURALS[m.kind];
    if (!plural || !ns) throw new Error(`cannot place ${m.kind} ${m.metadata.name}`);
    return `/api/v1/namespaces/${ns}/${plural}/${name}`;
  }
  const res: ResourceRef | undefined =
    m.kind === 'InferenceService' ? RESOURCES.InferenceService : RESOURCES[m.kind as KindName];
  if (!res || (m.kind !== 'InferenceService' && !(m.kind in KINDS))) throw new Error(`unknown kind ${m.kind}`);
  if (res.namespaced && !ns) throw new Error(`${m.kind} ${m.metadata.name} needs a namespace`);
  return `/apis/${res.group}/${res.version}/${res.namespaced ? `namespaces/${ns}/` : ''}${res.plural}/${name}`;
}

/**
 * What `kubectl apply --server-side --field-manager=kubectl -f` sends: an apply patch of the manifest as written,
 * with strict field validation. Returns the raw answer (refusals included) so a test can read the server's message.
 */
export async function kubectlApplyRaw(kc: KubeConfig, m: KubeManifest): Promise<KubeResponse> {
  return kubeRequest(kc, {
    method: 'PATCH',
    path: `${objectPath(m)}?fieldManager=kubectl&fieldValidation=Strict`,
    body: JSON.stringify(m),
    contentType: 'application/apply-patch+yaml',
  });
}

/** `kubectl apply --server-side`; throws with the server's message when it refuses. Returns the stored object. */
export async function kubectlApply<T = any>(kc: KubeConfig, m: KubeManifest): Promise<T> {
  const res = await kubectlApplyRaw(kc, m);
  if (res.status < 200 || res.status > 299) {
    const message = (() => {
      try {
        return (JSON.parse(res.body) as { message?: string }).message ?? res.body;
      } catch {
        return res.body;
      }
    })();
    throw new Error(`apply ${m.kind} ${m.metadata.name} refused (${res.status}): ${message}`);
  }
  return JSON.parse(res.body) as T;
}

// ---------------------------------------------------------------------------------------------------------------
// The acceptance fixture
// ---------------------------------------------------------------------------------------------------------------

/** Test options of a scenario `describe`: a scenario waits on downloads and probes, on two busy cores. */
export const SCENARIO = { timeout: 300_000 } as const;

/** The bucket of the examples' `sourceUri`s (`s3://models/...`): the local S3 server holds it. */
export const EXAMPLE_BUCKET = 'models';

export interface AcceptanceOptions {
  /** Also start the Hugging Face Hub fixture (and apply the hf-token Secret from examples/secret-hf-token.yaml). */
  hub?: boolean;
  /** Also start a fault-injecting proxy in front of the S3 server (a second endpoint to the same data). */
  proxy?: boolean;
  /** The worker's lifecycle clocks (default: production timing). */
  timing?: LifecycleTiming;
  /** Environment of the downloader image (its ENV). */
  downloaderEnv?: Record<string, string>;
  /** Worker settings from the operator's env (AIM_DOWNLOADER_IMAGE, AIM_DOWNLOADER_MEMORY_LIMIT). */
  workerSettings?: OperatorSettings;
  /** The kubelet eviction manager's monitoring period (default 10 s). */
  evictionMonitoringPeriodMs?: number;
}

/**
 * The product as a user meets it: a worker, the bridge, a process kubelet with one 8 x MI300X node, a local S3
 * server (and optionally the Hub fixture), and the example Secrets applied with the servers' real credentials.
 * Tests only apply manifests, delete objects and play KServe; every workflow start and nudge comes from the bridge.
 */
export interface AcceptanceFixture {
  orch: OrchestratorFixture;
  namespace: string;
  s3: S3Server;
  hub: HfHub | undefined;
  proxy: HttpProxy | undefined;
  batch: BatchV1Api;
  /** The S3 secret key the fixture's Secret holds (for "never leaks" assertions). */
  s3SecretKey: string;
  /**
   * An S3 AIMService example (default examples/aimservice-custom-s3.yaml) named `name`, its source pointed at the local
   * S3 server (or `endpoint`), optionally at another prefix of EXAMPLE_BUCKET and another Secret.
   */
  s3Service(name: string, opts?: { file?: string; prefix?: string; endpoint?: string; secret?: string }): Manifest;
  /** `kubectl apply --server-side` into the fixture's namespace (cluster kinds stay cluster-scoped). */
  apply<T = any>(m: KubeManifest): Promise<T>;
  /** Waits for an AIMService of the namespace to satisfy `until`. */
  service(name: string, until: (s: any) => boolean, timeoutMs?: number): Promise<any>;
  /** Waits for Running: KServe reports the InferenceService Ready once its predictor pod serves, the bridge nudges. */
  runToRunning(name: string, timeoutMs?: number): Promise<any>;
  jobsOf(cacheName: string): Promise<V1Job[]>;
  pvcsOf(cacheName: string): Promise<V1PersistentVolumeClaim[]>;
  /** Events recorded for an object of the namespace. */
  eventsFor(name: string): Promise<CoreV1Event[]>;
  /** Waits for an Event of `reason` on an object of the namespace (Events follow the status write they report). */
  eventFor(name: string, reason: string, timeoutMs?: number): Promise<CoreV1Event>;
  gone(res: ResourceRef, name: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startAcceptance(opts: AcceptanceOptions = {}): Promise<AcceptanceFixture> {
  const work = mkdtempSync(join(tmpdir(), 'aim-e2e-'));
  const accessKey = `e2e-access-${Math.random().toString(36).slice(2, 8)}`;
  const secretKey = `e2e-secret-${Math.random().toString(36).slice(2, 14)}`;
  const [orch, s3, hub] = await Promise.all([
    startOrchestrator({
      kubeconfigPath: inject('kubeconfigPath'),
      temporalAddress: inject('temporalAddress'),
      temporalNamespace: inject('temporalNamespace'),
      gpu: { vendor: 'amd', product: 'AMD_Instinct_MI300X_OAM', vramMiB: 192 * 1024, count: 8 },
      ...(opts.timing ? { timing: opts.timing } : {}),
      ...(opts.downloaderEnv ? { downloaderEnv: opts.downloaderEnv } : {}),
      ...(opts.workerSettings ? { workerSettings: opts.workerSettings } : {}),
      ...(opts.evictionMonitoringPeriodMs ? { evictionMonitoringPeriodMs: opts.evictionMonitoringPeriodMs } : {}),
    }),
    startS3Server({ workDir: join(work, 's3'), accessKey, secretKey }),
    opts.hub ? startHfHub() : Promise.resolve(undefined),
  ]);
  const proxy = opts.proxy ? await startHttpProxy({ target: s3.endpoint }) : undefined;
  await s3.createBucket(EXAMPLE_BUCKET);
  const namespace = orch.namespace;
  const batch = orch.kc.makeApiClient(BatchV1Api);

  const apply = <T>(m: KubeManifest): Promise<T> => {
    const placed = structuredClone(m);
    const clusterScoped = m.kind in KINDS && KINDS[m.kind as KindName].scope === 'Cluster';
    if (!clusterScoped) placed.metadata.namespace = namespace;
    return kubectlApply<T>(orch.kc, placed);
  };
  await apply(exampleSecret('secret-s3-credentials.yaml', { 'access-key': accessKey, 'secret-key': secretKey }));
  if (hub) await apply(exampleSecret('secret-hf-token.yaml', { token: hub.token }));
  const bridge = orch.startBridge();
  await bridge.ready;

  const service = (name: string, until: (s: any) => boolean, timeoutMs = 150_000) =>
    waitForObject<any>(orch.objects, RESOURCES.AIMService, name, namespace, until, timeoutMs);
  const eventsFor = async (name: string) =>
    (await orch.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })).items;
  const byCache = (cacheName: string) => ({ namespace, labelSelector: `aim.silogen.ai/cache=${cacheName}` });

  return {
    orch,
    namespace,
    s3,
    hub,
    proxy,
    batch,
    s3SecretKey: secretKey,
    s3Service(name, o = {}) {
      const m = example(o.file ?? 'aimservice-custom-s3.yaml');
      m.metadata.name = name;
      useS3(customSource(m), o.endpoint ?? s3.endpoint, o.prefix);
      if (o.secret) useSecret(customSource(m), o.secret);
      return m;
    },
    apply,
    service,
    async runToRunning(name, timeoutMs = 240_000) {
      // KServe deploys the predictor, the process kubelet runs the serving image, KServe reports Ready, the bridge
      // nudges the service: nothing here plays a part.
      return service(name, (s) => s.status?.status === 'Running', timeoutMs);
    },
    async jobsOf(cacheName) {
      return (await batch.listNamespacedJob(byCache(cacheName))).items;
    },
    async pvcsOf(cacheName) {
      return (await orch.core.listNamespacedPersistentVolumeClaim(byCache(cacheName))).items;
    },
    eventsFor,
    eventFor: (name, reason, timeoutMs = 30_000) =>
      waitFor(`a ${reason} Event on ${name}`, async () => (await eventsFor(name)).find((e) => e.reason === reason), {
        timeoutMs,
        intervalMs: 300,
      }),
    gone: (res, name, timeoutMs) =>
      waitForGone(orch.objects, res, name, res.namespaced ? namespace : undefined, timeoutMs),
    async stop() {
      // orch.stop() stops the bridge first, then the worker.
      await Promise.allSettled([orch.stop(), s3.stop(), proxy?.stop(), hub?.stop()]);
      rmSync(work, { recursive: true, force: true });
    },
  };
}
