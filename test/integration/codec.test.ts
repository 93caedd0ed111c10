/* eslint-disable @typescript-eslint/no-explicit-any -- objects are asserted field by field */
import { randomBytes } from 'node:crypto';
import { ActivityFailure, ApplicationFailure, Client, WorkflowFailedError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { EXIT, run } from '../../client/aimctl.js';
import { dataConverterFromEnv, ENCRYPTED_ENCODING } from '../../client/dataConverter.js';
import { createWorker, type AimWorker } from '../../worker/worker.js';
import { modelLifecycle, pingCluster } from '../../workflows/index.js';
import { TEST_DOWNLOADER_IMAGE } from '../harness/kubelet.js';
import { startOrchestrator, type OrchestratorFixture } from '../harness/orchestrator.js';
import { encodingOf, payloadsIn } from '../harness/payloads.js';
import { waitFor } from '../harness/processes.js';

/**
 * Payload encryption against the real Temporal server: a worker and a client with AIM_PAYLOAD_KEY run workflows; a
 * client without the key (the fixture's) fetches the raw history and finds only `binary/encrypted` payloads and
 * "Encoded failure" messages, never the plaintext. The workflows here use IDs outside `aim/` so that clients without
 * the key (the bridge's orphan sweep, the secrets audit) never list their encrypted memos.
 */
const KEY_ENV = { AIM_PAYLOAD_KEY: randomBytes(32).toString('base64'), AIM_PAYLOAD_KEY_ID: 'it-key-1' };
const rand = () => Math.random().toString(36).slice(2, 8);
let orch: OrchestratorFixture;
let encrypted: AimWorker & { running: Promise<void> };
let codecClient: Client;
let taskQueue: string;
const started: string[] = [];

beforeAll(async () => {
  orch = await startOrchestrator({
    kubeconfigPath: inject('kubeconfigPath'),
    temporalAddress: inject('temporalAddress'),
    temporalNamespace: inject('temporalNamespace'),
  });
  taskQueue = `${orch.taskQueue}-enc`;
  const w = await createWorker({
    temporalAddress: inject('temporalAddress'),
    namespace: inject('temporalNamespace'),
    taskQueue,
    kubeConfig: orch.workerKc,
    settings: { downloaderImage: TEST_DOWNLOADER_IMAGE, submitNamespaces: [orch.namespace] },
    dataConverter: dataConverterFromEnv(KEY_ENV),
  });
  encrypted = { ...w, running: w.worker.run() };
  codecClient = new Client({
    connection: orch.client.connection,
    namespace: inject('temporalNamespace'),
    dataConverter: dataConverterFromEnv(KEY_ENV),
  });
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(started.map((id) => codecClient?.workflow.getHandle(id).terminate('test over')));
  encrypted?.worker.shutdown();
  await encrypted?.running.catch(() => undefined);
  await encrypted?.close();
  await orch?.stop();
});

/** The history as the server stores it, and its protobuf bytes. */
async function rawHistory(workflowId: string) {
  const history = await orch.client.workflow.getHandle(workflowId).fetchHistory();
  return { history, bytes: Buffer.from(temporal.api.history.v1.History.encode(history).finish()) };
}

describe('payload encryption (AIM_PAYLOAD_KEY)', () => {
  it('stores workflow and activity payloads encrypted; only a client with the key reads them', async () => {
    const marker = `codec-plaintext-${rand()}`; // a namespace name that exists nowhere: the workflow's only input
    const workflowId = `codec-it/ping/${rand()}`;
    const result = await codecClient.workflow.execute(pingCluster, { taskQueue, workflowId, args: [marker] });
    expect(result.namespace).toBeNull();
    expect(result.serverVersion).toMatch(/^v1\./);

    const { history, bytes } = await rawHistory(workflowId);
    const found = payloadsIn(history);
    // Workflow input and result, two activity inputs and results at least.
    expect(found.length).toBeGreaterThanOrEqual(5);
    expect(found.filter((p) => encodingOf(p.payload) !== ENCRYPTED_ENCODING).map((p) => p.path)).toEqual([]);
    expect(bytes.includes(marker)).toBe(false);

    // Without the key the result cannot be read; with it the stored input decodes to the argument.
    await expect(orch.client.workflow.getHandle(workflowId).result()).rejects.toThrow(/Unknown encoding/);
    const input = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads!;
    const [codec] = dataConverterFromEnv(KEY_ENV).payloadCodecs!;
    expect((await codec!.decode(input)).map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([marker]);
  });

  it('encrypts failure messages too: the history says "Encoded failure", the client with the key gets the real one', async () => {
    const forbidden = `codec-forbidden-${rand()}`; // not in AIM_SUBMIT_NAMESPACES: SubmitNotAllowed names it
    const workflowId = `codec-it/submit/${rand()}`;
    const manifest = {
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModel',
      metadata: { name: 'm', namespace: forbidden },
      spec: { image: 'ghcr.io/silogen/llama:1' },
    };
    const err = await codecClient.workflow.execute('submit', { taskQueue, workflowId, args: [manifest] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const activity = (err as WorkflowFailedError).cause;
    expect(activity).toBeInstanceOf(ActivityFailure);
    const app = (activity as ActivityFailure).cause as ApplicationFailure;
    expect(app).toBeInstanceOf(ApplicationFailure);
    expect(app.type).toBe('SubmitNotAllowed');
    expect(app.message).toContain(forbidden);

    const { history, bytes } = await rawHistory(workflowId);
    const failures = (history.events ?? [])
      .map((e) => e.activityTaskFailedEventAttributes?.failure ?? e.workflowExecutionFailedEventAttributes?.failure)
      .filter((f) => !!f);
    expect(failures.length).toBeGreaterThanOrEqual(2); // the activity's failure and the workflow's
    for (const f of failures) {
      expect(f.message).toBe('Encoded failure');
      expect(encodingOf(f.encodedAttributes!)).toBe(ENCRYPTED_ENCODING);
    }
    expect(bytes.includes(forbidden)).toBe(false);
    expect(bytes.includes('SubmitNotAllowed')).toBe(true); // the failure type stays readable (retry policies use it)
  });

  it('records the model UID in the memo, encrypted at rest', async () => {
    const name = `memo-${rand()}`;
    const obj = await orch.objects.create<any>(RESOURCES.AIMModel, {
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModel',
      metadata: { name, namespace: orch.namespace },
      spec: { image: 'ghcr.io/silogen/llama:1' },
    } as never);
    const workflowId = `codec-it/model/${orch.namespace}/${name}`;
    started.push(workflowId);
    await codecClient.workflow.start(modelLifecycle, {
      taskQueue,
      workflowId,
      args: [{ kind: 'AIMModel', name, namespace: orch.namespace }],
    });
    const memo = await waitFor(
      'the memo uid',
      async () => {
        const m = (await codecClient.workflow.getHandle(workflowId).describe()).memo;
        return m?.uid ? m : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );
    expect(memo).toEqual({ uid: obj.metadata.uid });

    const raw = await orch.client.workflowService.describeWorkflowExecution({
      namespace: inject('temporalNamespace'),
      execution: { workflowId },
    });
    const stored = raw.workflowExecutionInfo?.memo?.fields?.uid;
    expect(stored && encodingOf(stored)).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(stored!.data!).includes(obj.metadata.uid)).toBe(false);
  });
});

describe('aimctl describe', () => {
  it('shows the UID its workflow recorded in the memo (here a worker without a key: plain payloads pass through)', async () => {
    const name = `described-${rand()}`;
    const obj = await orch.objects.create<any>(RESOURCES.AIMModel, {
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModel',
      metadata: { name, namespace: orch.namespace },
      spec: { image: 'ghcr.io/silogen/llama:1' },
    } as never);
    await orch.startModel('AIMModel', name, orch.namespace);
    let stdout = '';
    const describe = async () => {
      stdout = '';
      const code = await run(['describe', 'aimmodel', name, '-n', orch.namespace], {
        stdout: { write: (t: string) => (stdout += t) },
        stderr: { write: () => true },
        env: {
          ...KEY_ENV,
          KUBECONFIG: inject('kubeconfigPath'),
          TEMPORAL_ADDRESS: inject('temporalAddress'),
          TEMPORAL_NAMESPACE: inject('temporalNamespace'),
          AIM_TASK_QUEUE: orch.taskQueue,
        },
      });
      expect(code).toBe(EXIT.ok);
      return stdout.includes('Workflow UID:') ? stdout : undefined;
    };
    await waitFor('aimctl describe with the memo', describe, { timeoutMs: 60_000, intervalMs: 500 });
    expect(stdout).toContain(`Workflow UID:  ${String(obj.metadata.uid)}\n`);
  });
});
