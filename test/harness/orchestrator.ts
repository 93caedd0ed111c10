import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { CustomObjects } from '../../activities/kube/customObjects.js';
import { RESOURCES, type ResourceRef } from '../../activities/kube/resources.js';
import { createWorker, type AimWorker } from '../../worker/worker.js';
import { changedSignal, workflowIdFor, type Nudge } from '../../workflows/signals.js';
import { modelLifecycle, serviceLifecycle, templateLifecycle } from '../../workflows/index.js';
import { cacheDir } from './bins.js';
import {
  downloaderImageMapping,
  startProcessKubelet,
  TEST_DOWNLOADER_IMAGE,
  type GpuSpec,
  type ProcessKubelet,
} from './kubelet.js';
import { loadKubeConfig } from './kube.js';
import { waitFor } from './processes.js';
import { REPO_ROOT } from './stack.js';

/** A worker (or several), a Temporal client, and a process kubelet: the orchestrator as a test sees it. */
export interface OrchestratorFixture {
  kc: KubeConfig;
  objects: CustomObjects;
  core: CoreV1Api;
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
  /** Plays KServe (no controller runs here): the InferenceService reports Ready through its status subresource. */
  markInferenceServiceReady(name: string): Promise<void>;
  stop(): Promise<void>;
}

export interface OrchestratorOptions {
  kubeconfigPath: string;
  temporalAddress: string;
  temporalNamespace: string;
  gpu?: GpuSpec;
  workers?: number;
  nodeName?: string;
}

export async function startOrchestrator(opts: OrchestratorOptions): Promise<OrchestratorFixture> {
  const workDir = mkdtempSync(join(tmpdir(), 'aim-orch-'));
  const kc = loadKubeConfig(opts.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = `t-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const taskQueue = `aim-${namespace}`;
  const kubelet = await startProcessKubelet({
    kubeconfigPath: opts.kubeconfigPath,
    workDir: join(workDir, 'kubelet'),
    nodeName: opts.nodeName ?? `node-${namespace}`,
    ...(opts.gpu ? { gpu: opts.gpu } : {}),
    images: downloaderImageMapping(REPO_ROOT),
    namespaces: [namespace],
    extraPath: [join(cacheDir(), 'bin')],
  });
  const workers: Array<AimWorker & { running: Promise<void> }> = [];
  for (let i = 0; i < (opts.workers ?? 1); i++) {
    const w = await createWorker({
      temporalAddress: opts.temporalAddress,
      namespace: opts.temporalNamespace,
      taskQueue,
      kubeConfig: kc,
      settings: { downloaderImage: TEST_DOWNLOADER_IMAGE, submitNamespaces: [namespace] },
    });
    workers.push({ ...w, running: w.worker.run() });
  }
  const connection = await Connection.connect({ address: opts.temporalAddress });
  const client = new Client({ connection, namespace: opts.temporalNamespace });

  const objects = new CustomObjects(kc);
  return {
    kc,
    objects,
    core,
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
    async markInferenceServiceReady(name) {
      await objects.applyStatus(
        RESOURCES.InferenceService,
        {
          apiVersion: 'serving.kserve.io/v1beta1',
          kind: 'InferenceService',
          metadata: { name, namespace },
          status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }] },
        } as never,
        { fieldManager: 'kserve-test' },
      );
    },
    async stop() {
      for (const w of workers) w.worker.shutdown();
      await Promise.allSettled(workers.map((w) => w.running));
      await Promise.allSettled(workers.map((w) => w.close()));
      await connection.close();
      await kubelet.stop();
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
