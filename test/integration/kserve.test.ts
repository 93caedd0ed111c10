// KServe's real controller (RawDeployment) with the process kubelet running the stand-in model server: the
// InferenceService the product builds becomes a Deployment and a Service, its pod turns Ready through KServe's
// tcpSocket readiness probe, and KServe reports Ready (or, for a cache without weights, the crash loop) the way the
// product's readiness mapping (domain/inferenceService.ts inferenceServiceReady) has to read it.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import {
  buildInferenceService,
  inferenceServiceReady,
  SERVING_CONTAINER,
  type InferenceServiceInput,
} from '../../domain/inferenceService.js';
import { startKServe, type KServeController } from '../harness/kserve.js';
import { loadKubeConfig } from '../harness/kube.js';
import {
  modelServerImageMapping,
  shellImageMapping,
  startProcessKubelet,
  TEST_SHELL_IMAGE,
  type ProcessKubelet,
} from '../harness/kubelet.js';
import { REPO_ROOT } from '../harness/stack.js';

const prefix = `kserve-${randomBytes(3).toString('hex')}`;
const WAIT = { timeout: 90_000, interval: 500 };
const ISVC = { group: 'serving.kserve.io', version: 'v1beta1', plural: 'inferenceservices' } as const;
const MODEL_ID = 'test-org/tiny-model';

let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;
let custom: CustomObjectsApi;
let kubelet: ProcessKubelet;
/** Started here when the stack runs without KServe (the default, see StackOptions.kserve). */
let ownKServe: KServeController | undefined;
const namespaces: string[] = [];

beforeAll(async () => {
  kc = loadKubeConfig(inject('kubeconfigPath'));
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  const workDir = join(inject('stackWorkDir'), prefix);
  await mkdir(workDir, { recursive: true });
  if (!inject('stack').kserve) {
    ownKServe = await startKServe({ kubeconfigPath: inject('kubeconfigPath'), workDir, logDir: inject('stackLogDir') });
  }
  kubelet = await startProcessKubelet({
    kubeconfigPath: inject('kubeconfigPath'),
    workDir,
    images: { ...modelServerImageMapping(REPO_ROOT), ...shellImageMapping() },
    namespaces: (ns) => ns.startsWith(`${prefix}-`),
    backoffBaseMs: 2000,
  });
});

afterAll(async () => {
  await Promise.all(namespaces.map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
  await kubelet?.stop();
  await ownKServe?.stop();
});

async function newNamespace(suffix: string): Promise<string> {
  const ns = `${prefix}-${suffix}`;
  await core.createNamespace({ body: { metadata: { name: ns } } });
  namespaces.push(ns);
  return ns;
}

/**
 * A cache PVC laid out as the download Job leaves it (`<volume>/<modelId>/...`): a pod of the shell image binds the
 * WaitForFirstConsumer claim, then the files are written into the provisioned host directory.
 */
async function cacheWithModel(ns: string, files: Record<string, string | Buffer>): Promise<string> {
  const pvcName = 'model-cache';
  await core.createNamespacedPersistentVolumeClaim({
    namespace: ns,
    body: {
      metadata: { name: pvcName },
      spec: {
        storageClassName: kubelet.storageClassName,
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '1Gi' } },
      },
    },
  });
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name: 'bind-cache' },
      spec: {
        restartPolicy: 'Never',
        automountServiceAccountToken: false,
        containers: [
          { name: 'main', image: TEST_SHELL_IMAGE, args: ['true'], volumeMounts: [{ name: 'c', mountPath: '/c' }] },
        ],
        volumes: [{ name: 'c', persistentVolumeClaim: { claimName: pvcName } }],
      },
    },
  });
  await vi.waitFor(async () => {
    const pod = await core.readNamespacedPod({ name: 'bind-cache', namespace: ns });
    if (pod.status?.phase !== 'Succeeded') throw new Error(`bind-cache: ${pod.status?.phase}`);
  }, WAIT);
  const modelDir = join(await kubelet.volumePath(ns, pvcName), MODEL_ID);
  mkdirSync(modelDir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(modelDir, name), content);
  return pvcName;
}

/** The InferenceService exactly as the product builds it for a one-replica service of MODEL_ID. */
function productInferenceService(ns: string, service: string, pvcName: string) {
  const input: InferenceServiceInput = {
    service: {
      metadata: { name: service, namespace: ns, uid: `uid-${service}` },
      spec: { model: { name: 'tiny' }, caching: { mode: 'Dedicated' }, replicas: 1 } as never,
    },
    model: {
      metadata: { name: 'tiny' },
      spec: { image: 'ghcr.io/silogen/aim-base:0.8', modelSources: [{ modelId: MODEL_ID, sourceUri: 's3://m/tiny' }] },
    } as never,
    template: { metadata: { name: 'tiny-default' }, spec: { modelName: 'tiny' } as never },
    caches: [{ modelId: MODEL_ID, pvcName }],
  };
  const manifest = buildInferenceService(input);
  // The owner (an AIMService) does not exist in this test: without the reference the garbage collector would
  // delete the InferenceService at once as an orphan of a missing owner.
  return { ...manifest, metadata: { ...manifest.metadata, ownerReferences: [] } };
}

interface IsvcStatus {
  url?: string;
  address?: { url?: string };
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  components?: Record<string, { url?: string }>;
  modelStatus?: {
    transitionStatus?: string;
    states?: { activeModelState?: string; targetModelState?: string };
    lastFailureInfo?: { reason?: string; message?: string; exitCode?: number };
    copies?: { totalCopies?: number };
  };
}
interface Isvc {
  metadata: { name: string; namespace: string };
  status?: IsvcStatus;
}

async function readIsvc(ns: string, name: string): Promise<Isvc> {
  return (await custom.getNamespacedCustomObject({ ...ISVC, namespace: ns, name })) as Isvc;
}

async function waitForIsvc(ns: string, name: string, check: (s: IsvcStatus) => boolean, what: string) {
  return vi.waitFor(async () => {
    const isvc = await readIsvc(ns, name);
    if (!check(isvc.status ?? {})) throw new Error(`${name} not ${what}: ${JSON.stringify(isvc.status)}`);
    return isvc;
  }, WAIT);
}

const condition = (s: IsvcStatus, type: string) => s.conditions?.find((c) => c.type === type);

async function predictorPod(ns: string, isvc: string): Promise<V1Pod> {
  return vi.waitFor(async () => {
    const pods = await core.listNamespacedPod({
      namespace: ns,
      labelSelector: `serving.kserve.io/inferenceservice=${isvc}`,
    });
    const pod = pods.items.find((p) => !p.metadata?.deletionTimestamp);
    if (!pod) throw new Error(`no predictor pod for ${isvc}`);
    return pod;
  }, WAIT);
}

async function createIsvc(ns: string, manifest: ReturnType<typeof productInferenceService>): Promise<void> {
  await custom.createNamespacedCustomObject({ ...ISVC, namespace: ns, body: manifest });
}

describe('KServe RawDeployment serving the cached model', () => {
  it('deploys the product InferenceService: Deployment and Service, the pod Ready by its tcpSocket probe, Ready=True with URLs, and the model server lists the cached files', async () => {
    const ns = await newNamespace('ready');
    const config = `${JSON.stringify({ model_type: 'llama', hidden_size: 64 })}\n`;
    const weights = randomBytes(64 * 1024);
    const pvcName = await cacheWithModel(ns, { 'config.json': config, 'model.safetensors': weights });
    const manifest = productInferenceService(ns, 'chat', pvcName);
    await createIsvc(ns, manifest);
    const name = manifest.metadata.name;

    // What KServe makes of it: a Deployment and a Service named {isvc}-predictor.
    const deployment: V1Deployment = await vi.waitFor(
      () => apps.readNamespacedDeployment({ name: `${name}-predictor`, namespace: ns }),
      WAIT,
    );
    const container = deployment.spec?.template.spec?.containers.find((c) => c.name === SERVING_CONTAINER);
    expect(container?.image).toBe('ghcr.io/silogen/aim-base:0.8');
    // KServe adds a tcpSocket readiness probe on the first container port (deployment_reconciler setDefaultPodSpec).
    expect(container?.readinessProbe).toMatchObject({
      tcpSocket: { port: 8000 },
      periodSeconds: 10,
      timeoutSeconds: 1,
      failureThreshold: 3,
      successThreshold: 1,
    });
    expect(container?.livenessProbe).toBeUndefined();
    expect(container?.startupProbe).toBeUndefined();
    const svc = await vi.waitFor(() => core.readNamespacedService({ name: `${name}-predictor`, namespace: ns }), WAIT);
    expect(svc.spec?.ports?.[0]).toMatchObject({ port: 80, targetPort: 8000 });

    // The pod turns Ready only through the probe, once the model server listens on the pod's own IP.
    const pod = await vi.waitFor(async () => {
      const p = await predictorPod(ns, name);
      const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status !== 'True') throw new Error(`pod not Ready: ${JSON.stringify(p.status?.conditions)}`);
      return p;
    }, WAIT);
    const podIP = pod.status?.podIP ?? '';
    expect(podIP).toMatch(/^127\.(\d+)\.(\d+)\.(\d+)$/);
    expect(podIP).not.toBe('127.0.0.1');
    expect(pod.status?.podIPs).toEqual([{ ip: podIP }]);
    expect(pod.status?.containerStatuses?.[0]).toMatchObject({ ready: true, started: true, restartCount: 0 });
    expect(pod.status?.conditions?.find((c) => c.type === 'ContainersReady')?.status).toBe('True');

    const ready = await waitForIsvc(ns, name, (s) => condition(s, 'Ready')?.status === 'True', 'Ready');
    const status = ready.status!;
    expect(condition(status, 'PredictorReady')?.status).toBe('True');
    expect(condition(status, 'IngressReady')?.status).toBe('True');
    expect(status.url).toBe(`http://${name}-${ns}.example.com`);
    expect(status.address?.url).toBe(`http://${name}-predictor.${ns}.svc.cluster.local`);
    expect(status.modelStatus).toMatchObject({
      transitionStatus: 'UpToDate',
      states: { activeModelState: 'Loaded', targetModelState: 'Loaded' },
      copies: { totalCopies: 1 },
    });
    expect(inferenceServiceReady(ready)).toEqual({ ready: true, failed: false });

    // The Deployment is Available and the Service's endpoints name the pod's IP.
    const available = await apps.readNamespacedDeployment({ name: `${name}-predictor`, namespace: ns });
    expect(available.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');

    const models = (await (await fetch(`http://${podIP}:8000/v1/models`)).json()) as {
      data: Array<{ id: string; object: string; total_bytes: number; files: Array<{ path: string; bytes: number }> }>;
    };
    expect(models.data).toHaveLength(1);
    expect(models.data[0]).toMatchObject({
      id: MODEL_ID,
      object: 'model',
      root: `/workspace/model-cache/${MODEL_ID}`,
      total_bytes: config.length + weights.length,
    });
    expect(models.data[0]?.files).toEqual([
      { path: 'config.json', bytes: config.length },
      { path: 'model.safetensors', bytes: weights.length },
    ]);
    const completion = (await (
      await fetch(`http://${podIP}:8000/v1/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: MODEL_ID, prompt: 'Hello' }),
      })
    ).json()) as { choices: Array<{ text: string }> };
    expect(completion.choices[0]?.text).toContain('not a language model');
  });

  it('a cache without weights: the model server exits, the pod crash-loops, KServe reports Ready=False and BlockedByFailedLoad with the termination message', async () => {
    const ns = await newNamespace('empty');
    const pvcName = await cacheWithModel(ns, {});
    const manifest = productInferenceService(ns, 'chat', pvcName);
    await createIsvc(ns, manifest);
    const name = manifest.metadata.name;

    const pod = await vi.waitFor(async () => {
      const p = await predictorPod(ns, name);
      const cs = p.status?.containerStatuses?.[0];
      if (cs?.state?.waiting?.reason !== 'CrashLoopBackOff')
        throw new Error(`not crash-looping: ${JSON.stringify(cs)}`);
      return p;
    }, WAIT);
    const lastTerminated = pod.status?.containerStatuses?.[0]?.lastState?.terminated;
    expect(lastTerminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    // In the container's terms (the server reads a host directory, but names the path the InferenceService mounts).
    expect(lastTerminated?.message).toBe(
      `cannot load model ${MODEL_ID}: model directory /workspace/model-cache/${MODEL_ID} is empty: no weights to load`,
    );
    expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');

    // Meanwhile KServe mirrors the Deployment's Available=False: not ready, but nothing says failed yet.
    const waiting = await waitForIsvc(ns, name, (s) => condition(s, 'Ready')?.status === 'False', 'Ready=False');
    expect(condition(waiting.status!, 'PredictorReady')).toMatchObject({
      status: 'False',
      reason: 'MinimumReplicasUnavailable',
      message: 'Deployment does not have minimum availability.',
    });

    // KServe (v0.15.2) does not watch Pods: it reads the predictor pods' container states only when something it
    // watches changes (the InferenceService, its Deployment or Service). A crash loop changes none of them, so on a
    // cluster the failure surfaces at the Deployment's progress deadline (600 s, ProgressDeadlineExceeded) or at any
    // earlier update. Here an annotation on the Deployment is that update (metadata only: no rollout).
    await apps.patchNamespacedDeployment(
      {
        name: `${name}-predictor`,
        namespace: ns,
        body: { metadata: { annotations: { 'aim-test/nudge': new Date().toISOString() } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const failed = await waitForIsvc(
      ns,
      name,
      (s) => s.modelStatus?.transitionStatus === 'BlockedByFailedLoad',
      'BlockedByFailedLoad',
    );
    const status = failed.status!;
    expect(condition(status, 'Ready')?.status).toBe('False');
    expect(condition(status, 'PredictorReady')?.status).toBe('False');
    expect(status.modelStatus).toMatchObject({
      transitionStatus: 'BlockedByFailedLoad',
      states: { targetModelState: 'FailedToLoad' },
      lastFailureInfo: { reason: 'ModelLoadFailed', exitCode: 1, message: lastTerminated?.message },
    });
    const readiness = inferenceServiceReady(failed);
    expect(readiness).toMatchObject({ ready: false, failed: true, reason: 'InferenceServiceFailed' });
    expect(readiness.message).toMatch(/^ModelLoadFailed: cannot load model .* is empty.* \(exit code 1\)$/s);
  });

  it('deleting the InferenceService removes its Deployment and Service (garbage collection of what KServe owns)', async () => {
    const ns = await newNamespace('delete');
    const pvcName = await cacheWithModel(ns, { 'config.json': '{}' });
    const manifest = productInferenceService(ns, 'chat', pvcName);
    await createIsvc(ns, manifest);
    const name = manifest.metadata.name;
    const deployment = await vi.waitFor(
      () => apps.readNamespacedDeployment({ name: `${name}-predictor`, namespace: ns }),
      WAIT,
    );
    expect(deployment.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'InferenceService',
      name,
      controller: true,
    });
    await vi.waitFor(() => core.readNamespacedService({ name: `${name}-predictor`, namespace: ns }), WAIT);

    await custom.deleteNamespacedCustomObject({ ...ISVC, namespace: ns, name });
    await vi.waitFor(async () => {
      const [deployments, services, pods] = await Promise.all([
        apps.listNamespacedDeployment({ namespace: ns }),
        core.listNamespacedService({ namespace: ns }),
        core.listNamespacedPod({ namespace: ns, labelSelector: `serving.kserve.io/inferenceservice=${name}` }),
      ]);
      const left = [...deployments.items, ...services.items, ...pods.items].map(
        (o) => `${o.kind ?? ''} ${o.metadata?.name}`,
      );
      if (left.length > 0) throw new Error(`still there: ${left.join(', ')}`);
    }, WAIT);
  });
});
