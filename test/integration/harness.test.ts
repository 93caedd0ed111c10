// Checks the test harness itself: the real API server, the controller-manager behaviours later tests rely on
// (Job -> Pod, owner-reference garbage collection), the installed CRDs, the Temporal dev server, and fault injection.
import { randomBytes } from 'node:crypto';
import {
  ApiException,
  ApiextensionsV1Api,
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { K8S_VERSION } from '../harness/bins.js';
import { stackControl } from '../harness/control.js';
import { kubeRequest, loadKubeConfig } from '../harness/kube.js';
import { AIM_SEARCH_ATTRIBUTES } from '../harness/temporal.js';

/** `IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD` */
const KEYWORD = 2;

const ns = `harness-${randomBytes(4).toString('hex')}`;
let kc: KubeConfig;
let core: CoreV1Api;
let batch: BatchV1Api;

function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

beforeAll(async () => {
  kc = loadKubeConfig(inject('kubeconfigPath'));
  core = kc.makeApiClient(CoreV1Api);
  batch = kc.makeApiClient(BatchV1Api);
  await core.createNamespace({ body: { metadata: { name: ns } } });
});

afterAll(async () => {
  await core?.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('Kubernetes control plane', () => {
  it(`serves /version ${K8S_VERSION}`, async () => {
    const res = await kubeRequest(kc, { method: 'GET', path: '/version' });
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as { gitVersion: string }).gitVersion).toBe(K8S_VERSION);
  });

  it('loads the kubeconfig with client-node and creates namespaces', async () => {
    const got = await core.readNamespace({ name: ns });
    expect(got.status?.phase).toBe('Active');
    expect(kc.getCurrentCluster()?.server).toBe(inject('kubeServer'));
  });

  it('has the KServe InferenceService CRD Established', async () => {
    const crd = await kc
      .makeApiClient(ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: 'inferenceservices.serving.kserve.io' });
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
    expect(inject('stack').crds).toContain('inferenceservices.serving.kserve.io');
  });

  it('runs the Job controller: a Job gets a Pod owned by it (Pending: there is no kubelet)', async () => {
    const job = await batch.createNamespacedJob({
      namespace: ns,
      body: {
        metadata: { name: 'hello' },
        spec: {
          backoffLimit: 0,
          template: {
            spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', command: ['true'] }] },
          },
        },
      },
    });
    const pod = await vi.waitFor(
      async () => {
        const pods = await core.listNamespacedPod({ namespace: ns });
        const owned = pods.items.find((p) => p.metadata?.ownerReferences?.some((o) => o.uid === job.metadata?.uid));
        if (!owned) throw new Error('no pod for the job yet');
        return owned;
      },
      { timeout: 60_000, interval: 250 },
    );
    const owner = pod.metadata?.ownerReferences?.find((o) => o.uid === job.metadata?.uid);
    expect(owner).toMatchObject({ apiVersion: 'batch/v1', kind: 'Job', name: 'hello', controller: true });
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.spec?.nodeName).toBeUndefined();
  });

  it('runs the garbage collector: deleting an owner deletes its dependents', async () => {
    const owner = await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'gc-owner' }, data: { a: '1' } },
    });
    const dependentBody: V1ConfigMap = {
      metadata: {
        name: 'gc-dependent',
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'gc-owner', uid: owner.metadata?.uid ?? '' }],
      },
      data: { b: '2' },
    };
    await core.createNamespacedConfigMap({ namespace: ns, body: dependentBody });
    await core.deleteNamespacedConfigMap({ namespace: ns, name: 'gc-owner' });
    await vi.waitFor(
      async () => {
        try {
          await core.readNamespacedConfigMap({ namespace: ns, name: 'gc-dependent' });
        } catch (err) {
          if (isNotFound(err)) return;
          throw err;
        }
        throw new Error('dependent ConfigMap still exists');
      },
      { timeout: 60_000, interval: 250 },
    );
  });
});

describe('Temporal dev server', () => {
  let connection: Connection;

  beforeAll(async () => {
    connection = await Connection.connect({ address: inject('temporalAddress') });
  });
  afterAll(async () => {
    await connection?.close();
  });

  it('accepts clients: describe namespace and list workflows', async () => {
    const namespace = inject('temporalNamespace');
    const desc = await connection.workflowService.describeNamespace({ namespace });
    expect(desc.namespaceInfo?.name).toBe(namespace);
    const client = new Client({ connection, namespace });
    const ids: string[] = [];
    for await (const wf of client.workflow.list({ query: 'WorkflowType = "no-such-type"' })) ids.push(wf.workflowId);
    expect(ids).toEqual([]);
  });

  it('has the Aim search attributes registered as Keyword', async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({
      namespace: inject('temporalNamespace'),
    });
    for (const name of AIM_SEARCH_ATTRIBUTES) expect(customAttributes?.[name], name).toBe(KEYWORD);
  });

  it('serves the Web UI on loopback', async () => {
    const ui = inject('temporalUiAddress');
    expect(ui).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(ui);
    expect(res.status).toBe(200);
  });
});

// Last in the file: these restart the shared servers (files run one at a time, so no other file is affected).
describe('fault injection through the stack control endpoint', () => {
  it('restarts the API server on the same port, keeping its data', async () => {
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'survivor' }, data: { x: 'y' } } });
    const control = stackControl(inject('stackControlUrl'));
    await control.restartApiServer({ kill: true });
    const cm = await core.readNamespacedConfigMap({ namespace: ns, name: 'survivor' });
    expect(cm.data).toEqual({ x: 'y' });
  });

  it('restarts Temporal (SIGKILL) on the same address, keeping workflows and search attributes', async () => {
    const namespace = inject('temporalNamespace');
    const workflowId = `harness-survivor-${randomBytes(4).toString('hex')}`;
    const before = await Connection.connect({ address: inject('temporalAddress') });
    try {
      // No worker polls this task queue: the workflow just stays Running, which is all we need to see.
      await new Client({ connection: before, namespace }).workflow.start('harnessNoSuchWorkflow', {
        taskQueue: 'harness-no-worker',
        workflowId,
      });
    } finally {
      await before.close();
    }

    await stackControl(inject('stackControlUrl')).restartTemporal({ kill: true });

    const after = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const handle = new Client({ connection: after, namespace }).workflow.getHandle(workflowId);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      await handle.terminate('harness test done');
      const { customAttributes } = await after.operatorService.listSearchAttributes({ namespace });
      expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining([...AIM_SEARCH_ATTRIBUTES]));
    } finally {
      await after.close();
    }
  });
});
