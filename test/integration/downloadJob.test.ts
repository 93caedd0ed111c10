/* eslint-disable @typescript-eslint/no-explicit-any -- status shapes are asserted field by field */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type KubernetesObject,
  type V1Job,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_GROUP_VERSION } from '../../schemas/constants.js';
import { CustomObjects } from '../../activities/kube/customObjects.js';
import { RESOURCES } from '../../activities/kube/resources.js';
import { jobOutcome, type JobOutcome } from '../../activities/jobs.js';
import {
  buildDownloaderJob,
  buildProgressRole,
  buildProgressRoleBinding,
  DOWNLOADER_SERVICE_ACCOUNT,
} from '../../domain/jobs.js';
import { pvcName } from '../../domain/naming.js';
import { cacheDir } from '../harness/bins.js';
import {
  downloaderImageMapping,
  startProcessKubelet,
  TEST_DOWNLOADER_IMAGE,
  type ProcessKubelet,
} from '../harness/kubelet.js';
import { loadKubeConfig } from '../harness/kube.js';
import { startS3Server, type S3Server } from '../harness/s3Server.js';
import { REPO_ROOT } from '../harness/stack.js';
import { deterministicBytes } from '../harness/fixtures.js';
import { createTestNamespace } from '../harness/namespaces.js';

/**
 * The Job contract end to end: probe and download Jobs built by our builders, created in the real API server, run by
 * the process kubelet as the downloader program, finished by the real Job controller. The download writes
 * `status.progress` through the per-cache Role only.
 */
const work = mkdtempSync(join(tmpdir(), 'aim-dljob-'));
const namespace = `dljob-${Date.now().toString(36)}`;
const ACCESS = 'jobaccess';
const SECRET = 'job-secret-value-9';
const WEIGHTS = deterministicBytes('job/weights', 2 * 1024 * 1024);
let kc: KubeConfig;
let core: CoreV1Api;
let batch: BatchV1Api;
let objects: CustomObjects;
let kubelet: ProcessKubelet;
let s3: S3Server;

beforeAll(async () => {
  kc = loadKubeConfig(inject('kubeconfigPath'));
  core = kc.makeApiClient(CoreV1Api);
  batch = kc.makeApiClient(BatchV1Api);
  objects = new CustomObjects(kc);
  await createTestNamespace(core, namespace);
  [kubelet, s3] = await Promise.all([
    startProcessKubelet({
      kubeconfigPath: inject('kubeconfigPath'),
      workDir: join(work, 'kubelet'),
      nodeName: `node-${namespace}`,
      images: downloaderImageMapping(REPO_ROOT),
      extraPath: [join(cacheDir(), 'bin')],
      namespaces: [namespace],
    }),
    startS3Server({ workDir: join(work, 's3'), accessKey: ACCESS, secretKey: SECRET }),
  ]);
  await s3.createBucket('models');
  await s3.putObject('models', 'qwen/config.json', '{"a":1}\n');
  await s3.putObject('models', 'qwen/model.safetensors', WEIGHTS);
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: 's3' }, stringData: { id: ACCESS, secret: SECRET } },
  });
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: DOWNLOADER_SERVICE_ACCOUNT } } });
}, 120_000);

afterAll(async () => {
  await kubelet?.stop();
  await s3?.stop();
  await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

async function waitForJob(name: string, timeoutMs = 90_000): Promise<JobOutcome> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await batch.readNamespacedJob({ name, namespace });
    const pods = (await core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` })).items;
    const outcome = jobOutcome(job, pods, 0, 3600);
    if (outcome) return outcome;
    if (Date.now() > deadline) throw new Error(`job ${name} did not finish: ${JSON.stringify(job.status)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('probe and download Jobs through the process kubelet', () => {
  it('probe, then download onto the volume with progress written under the per-cache Role', async () => {
    const cache = await objects.create(RESOURCES.AIMModelCache, {
      apiVersion: API_GROUP_VERSION,
      kind: 'AIMModelCache',
      metadata: { name: 'qwen-cache', namespace },
      spec: { modelId: 'Qwen/Qwen2-0.5B', sourceUri: 's3://models/qwen', accessMode: 'ReadWriteOnce' },
    } as KubernetesObject);
    const uid = cache.metadata!.uid!;
    const owner = { apiVersion: API_GROUP_VERSION, kind: 'AIMModelCache', name: 'qwen-cache', uid };
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({ namespace, body: buildProgressRole('qwen-cache', namespace, owner) });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: buildProgressRoleBinding('qwen-cache', namespace, DOWNLOADER_SERVICE_ACCOUNT, owner),
    });
    const pvc = pvcName('qwen-cache', uid);
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: {
        metadata: { name: pvc, ownerReferences: [{ ...owner, controller: true }] },
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: '1Gi' } },
          storageClassName: 'local-path',
        },
      },
    });
    const source = {
      modelId: 'Qwen/Qwen2-0.5B',
      sourceUri: 's3://models/qwen',
      env: [
        { name: 'AWS_ENDPOINT_URL', value: s3.endpoint },
        { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3', key: 'id' } } },
        { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 's3', key: 'secret' } } },
      ],
    };
    const common = {
      namespace,
      owner,
      image: TEST_DOWNLOADER_IMAGE,
      serviceAccountName: DOWNLOADER_SERVICE_ACCOUNT,
      sources: [source],
    };

    const probe: V1Job = buildDownloaderJob({
      ...common,
      mode: 'probe',
      name: 'qwen-cache-probe-1',
      cache: { name: 'qwen-cache', stallTimeoutSeconds: 30, attempt: 1 },
    });
    await batch.createNamespacedJob({ namespace, body: probe });
    const probed = await waitForJob('qwen-cache-probe-1');
    expect(probed.phase).toBe('Succeeded');
    expect(probed.containers[0]!.result).toEqual({ totalBytes: WEIGHTS.length + 8, files: 2 });

    const dl = buildDownloaderJob({
      ...common,
      mode: 'download',
      name: 'qwen-cache-dl-1',
      cache: { name: 'qwen-cache', pvcName: pvc, stallTimeoutSeconds: 30, attempt: 1 },
    });
    await batch.createNamespacedJob({ namespace, body: dl });
    const downloaded = await waitForJob('qwen-cache-dl-1');
    expect(downloaded.phase, JSON.stringify(downloaded)).toBe('Succeeded');
    expect(downloaded.containers[0]!.result).toMatchObject({
      verified: true,
      totalBytes: WEIGHTS.length + 8,
      files: 2,
    });

    const volume = await kubelet.volumePath(namespace, pvc);
    expect(readFileSync(join(volume, 'Qwen/Qwen2-0.5B/model.safetensors')).equals(WEIGHTS)).toBe(true);

    const after = await objects.get<any>(RESOURCES.AIMModelCache, 'qwen-cache', namespace);
    expect(after.status.progress).toMatchObject({
      downloadedBytes: WEIGHTS.length + 8,
      totalBytes: WEIGHTS.length + 8,
      percent: 100,
    });
    const managers = after.metadata.managedFields.map((f: any) => `${f.manager}:${f.subresource ?? ''}`);
    expect(managers).toContain('aim-downloader:status');
  });

  it('the download fails with a typed reason from its pod when the keys are wrong', async () => {
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 's3-wrong' }, stringData: { id: 'nope', secret: 'wrong-key-value' } },
    });
    const owner = {
      apiVersion: 'v1',
      kind: 'Secret',
      name: 's3-wrong',
      uid: (await core.readNamespacedSecret({ name: 's3-wrong', namespace })).metadata!.uid!,
    };
    const job = buildDownloaderJob({
      namespace,
      owner,
      image: TEST_DOWNLOADER_IMAGE,
      serviceAccountName: DOWNLOADER_SERVICE_ACCOUNT,
      mode: 'probe',
      name: 'wrong-keys-probe-1',
      sources: [
        {
          modelId: 'Qwen/Qwen2-0.5B',
          sourceUri: 's3://models/qwen',
          env: [
            { name: 'AWS_ENDPOINT_URL', value: s3.endpoint },
            { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3-wrong', key: 'id' } } },
            { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 's3-wrong', key: 'secret' } } },
          ],
        },
      ],
    });
    await batch.createNamespacedJob({ namespace, body: job });
    const outcome = await waitForJob('wrong-keys-probe-1');
    expect(outcome.phase).toBe('Failed');
    expect(outcome.containers[0]!.result).toMatchObject({ reason: 'AuthFailed' });
    expect(JSON.stringify(outcome)).not.toContain('wrong-key-value');
  });
});
