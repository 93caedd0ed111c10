/* eslint-disable @typescript-eslint/no-explicit-any -- objects are asserted field by field */
import { cp, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AppsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { KSERVE_ISVC_LABEL } from '../../domain/inferenceService.js';
import { example, type Manifest } from '../cases/examples.js';
import { deterministicBytes, PRIVATE_REPO } from '../harness/fixtures.js';
import { waitFor } from '../harness/processes.js';
import {
  condition,
  customSource,
  EXAMPLE_BUCKET,
  putTinyModel,
  startAcceptance,
  SCENARIO,
  useHub,
  type AcceptanceFixture,
} from '../harness/scenarios.js';

/**
 * Real serving (issue "Real serving"): KServe's controller turns each InferenceService into a Deployment and a
 * Service, the process kubelet runs the AIM serving image (images/model-server/, a stand-in for vLLM that reads the
 * files the cache downloaded) and KServe reports Ready from the Deployment. Nothing here writes an InferenceService's
 * status; the tests read what the served pod answers.
 */
let e2e: AcceptanceFixture;
let apps: AppsV1Api;
const WEIGHTS = deterministicBytes('e2e-serving/weights', 512 * 1024);
const CONFIG = '{"model_type":"qwen2"}\n';

beforeAll(async () => {
  e2e = await startAcceptance({ hub: true });
  apps = e2e.orch.kc.makeApiClient(AppsV1Api);
  await putTinyModel(e2e.s3, EXAMPLE_BUCKET, 'qwen-serve', WEIGHTS);
}, 240_000);

afterAll(async () => {
  await e2e?.stop();
});

const isvcOf = (name: string) => e2e.orch.objects.get<any>(RESOURCES.InferenceService, name, e2e.namespace);

/** The predictor pods of a service's InferenceService that are Ready (KServe's readiness probe passed). */
async function readyPods(name: string) {
  const pods = await e2e.orch.core.listNamespacedPod({
    namespace: e2e.namespace,
    labelSelector: `${KSERVE_ISVC_LABEL}=${name}`,
  });
  return pods.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

/** `fetch` that names why a connection failed (undici's "fetch failed" hides it in `cause`). */
async function fetchPod(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`${init?.method ?? 'GET'} ${url}: ${cause?.code ?? cause?.message ?? String(err)}`, { cause: err });
  }
}

/** `GET /v1/models` of a Ready predictor pod, at its pod IP and container port as the process kubelet runs it. */
async function servedModels(name: string): Promise<any[]> {
  const [pod] = await readyPods(name);
  if (!pod?.status?.podIP) throw new Error(`no Ready predictor pod of ${name}`);
  const res = await fetchPod(`http://${pod.status.podIP}:8000/v1/models`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: any[] }).data;
}

function hfService(name: string): Manifest {
  const m = example('aimservice-custom-hf.yaml');
  m.metadata.name = name;
  useHub(customSource(m), e2e.hub!.endpoint, PRIVATE_REPO, true);
  return m;
}

// Each case of a block has services of its own, so they run concurrently; the second block changes the services the
// first brought to Running, so it runs after it. The blocks are plain `describe`s on purpose: vitest runs consecutive
// `describe.concurrent` siblings at the same time, which once had the failure case below delete serve-s3's pod while
// the first case fetched from it, and two cases apply serve-shared-a with different replicas.
describe('a custom model answers at its endpoint', SCENARIO, () => {
  it.concurrent(
    'S3: Running through KServe; the served pod lists the model ID and the downloaded bytes, and answers',
    async () => {
      await e2e.apply(e2e.s3Service('serve-s3', { prefix: 'qwen-serve' }));
      const running = await e2e.runToRunning('serve-s3');
      expect(running.status.endpoint).toEqual({
        inferenceService: 'serve-s3',
        url: `http://serve-s3-${e2e.namespace}.example.com`,
        internalUrl: `http://serve-s3-predictor.${e2e.namespace}.svc.cluster.local`,
      });
      // KServe said Ready, from a Deployment it made.
      const isvc = await isvcOf('serve-s3');
      expect(condition(isvc, 'Ready')).toMatchObject({ status: 'True' });
      expect(isvc.status.modelStatus.states.activeModelState).toBe('Loaded');
      const deployment = await apps.readNamespacedDeployment({ name: 'serve-s3-predictor', namespace: e2e.namespace });
      expect(deployment.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'InferenceService', name: 'serve-s3' });

      const [model] = await servedModels('serve-s3');
      expect(model.id).toBe('Qwen/Qwen2-0.5B');
      expect(model.root).toBe('/workspace/model-cache/Qwen/Qwen2-0.5B');
      expect(model.total_bytes).toBe(WEIGHTS.length + Buffer.byteLength(CONFIG));
      const [pod] = await readyPods('serve-s3');
      const reply = await fetchPod(`http://${pod!.status!.podIP}:8000/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: model.id, prompt: 'hello' }),
      });
      expect(reply.status).toBe(200);
      expect(((await reply.json()) as any).choices[0].text).toContain('not a language model');
    },
  );

  it.concurrent(
    'Hugging Face: Running through KServe; the served pod lists the repo and the bytes the probe measured',
    async () => {
      await e2e.apply(hfService('serve-hf'));
      const running = await e2e.runToRunning('serve-hf');
      const cache = await e2e.orch.objects.get<any>(
        RESOURCES.AIMModelCache,
        running.status.caches[0].name,
        e2e.namespace,
      );
      const [model] = await servedModels('serve-hf');
      expect(model.id).toBe(PRIVATE_REPO);
      expect(model.total_bytes).toBe(Number(cache.status.source.totalBytes));
    },
  );

  it.concurrent('a Shared cache serves two services from one download', async () => {
    for (const name of ['serve-shared-a', 'serve-shared-b']) {
      const m = e2e.s3Service(name, { file: 'aimservice-custom-s3-shared.yaml', prefix: 'qwen-serve' });
      await e2e.apply(m);
    }
    const [a, b] = await Promise.all([e2e.runToRunning('serve-shared-a'), e2e.runToRunning('serve-shared-b')]);
    expect(a.status.caches[0].name).toBe(b.status.caches[0].name);
    const [ma, mb] = await Promise.all([servedModels('serve-shared-a'), servedModels('serve-shared-b')]);
    expect(ma[0].weights_digest).toBe(mb[0].weights_digest);
    expect(ma[0].total_bytes).toBe(WEIGHTS.length + Buffer.byteLength(CONFIG));
  });
});

describe('serving changes and failures', SCENARIO, () => {
  // The Shared pair: scaled, then one of them deleted while the other still serves (in order, beside the failure).
  describe.concurrent('serve-shared-a and serve-shared-b', () => {
    it.sequential('replicas: 2 on the AIMService reaches the Deployment, and both pods serve', async () => {
      const m = e2e.s3Service('serve-shared-a', { file: 'aimservice-custom-s3-shared.yaml', prefix: 'qwen-serve' });
      (m.spec as any).replicas = 2;
      await e2e.apply(m);
      // Rolled out: two replicas of the current pod template, both Ready (an old pod may serve until then).
      await waitFor(
        'two ready replicas',
        async () => {
          const d = await apps.readNamespacedDeployment({ name: 'serve-shared-a-predictor', namespace: e2e.namespace });
          const rolledOut =
            d.spec?.replicas === 2 &&
            d.status?.updatedReplicas === 2 &&
            d.status.readyReplicas === 2 &&
            d.status.replicas === 2 &&
            (await readyPods('serve-shared-a')).length === 2;
          return rolledOut ? d : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );
      const ips = (await readyPods('serve-shared-a')).map((p) => p.status?.podIP);
      expect(new Set(ips).size).toBe(2);
      await e2e.service('serve-shared-a', (s) => s.status?.status === 'Running');
    });

    it.sequential(
      'deleting the AIMService removes its InferenceService, and KServe its Deployment and Service',
      async () => {
        await e2e.orch.objects.delete(RESOURCES.AIMService, 'serve-shared-b', e2e.namespace);
        await e2e.gone(RESOURCES.AIMService, 'serve-shared-b', 60_000);
        await e2e.gone(RESOURCES.InferenceService, 'serve-shared-b', 60_000);
        await waitFor(
          'the predictor Deployment and Service gone',
          async () => {
            const gone = (p: Promise<unknown>) =>
              p.then(
                () => false,
                (err: { code?: number }) => err.code === 404,
              );
            const [d, s] = await Promise.all([
              gone(apps.readNamespacedDeployment({ name: 'serve-shared-b-predictor', namespace: e2e.namespace })),
              gone(e2e.orch.core.readNamespacedService({ name: 'serve-shared-b-predictor', namespace: e2e.namespace })),
            ]);
            return d && s ? true : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 500 },
        );
        // The other service of the Shared cache still serves.
        expect((await servedModels('serve-shared-a'))[0].id).toBe('Qwen/Qwen2-0.5B');
      },
    );
  });

  it.concurrent(
    'a model server that exits at start is InferenceServiceFailed with its reason; fixed, Running again unnudged',
    async () => {
      // The cache volume's files are swapped away under the Running service and its pod restarts (a node drain, an
      // eviction): the serving image finds an empty model directory and exits, as vLLM would.
      const svc = await e2e.service('serve-s3', (s) => s.status?.status === 'Running');
      const pvcName = (await e2e.pvcsOf(svc.status.caches[0].name))[0]!.metadata!.name!;
      const pvc = await e2e.orch.core.readNamespacedPersistentVolumeClaim({ name: pvcName, namespace: e2e.namespace });
      const pv = await e2e.orch.core.readPersistentVolume({ name: pvc.spec!.volumeName! });
      const modelDir = join(pv.spec!.hostPath!.path, 'Qwen/Qwen2-0.5B');
      const aside = `${modelDir}.aside`;
      await cp(modelDir, aside, { recursive: true });
      for (const f of await readdir(modelDir)) await rm(join(modelDir, f), { recursive: true, force: true });
      for (const p of await readyPods('serve-s3'))
        await e2e.orch.core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: e2e.namespace });

      const failed = await e2e.service(
        'serve-s3',
        (s) => condition(s, 'InferenceServiceReady')?.reason === 'InferenceServiceFailed',
        120_000,
      );
      expect(failed.status.status).toBe('Degraded'); // it was Running: a loss is Degraded, never a teardown
      expect(condition(failed, 'InferenceServiceReady').message).toContain('ModelLoadFailed');
      expect(condition(failed, 'InferenceServiceReady').message).toContain('is empty');
      expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'InferenceServiceFailed' });

      // Fixed: the files are back; the kubelet restarts the container on its back-off, KServe reports Ready, the
      // bridge nudges the service. Nobody annotates or signals anything.
      await mkdir(modelDir, { recursive: true });
      await cp(aside, modelDir, { recursive: true });
      await rm(aside, { recursive: true, force: true });
      const again = await e2e.service('serve-s3', (s) => s.status?.status === 'Running', 180_000);
      expect(condition(again, 'InferenceServiceReady')).toMatchObject({ status: 'True' });
      expect((await servedModels('serve-s3'))[0].total_bytes).toBe(WEIGHTS.length + Buffer.byteLength(CONFIG));
    },
  );
});
