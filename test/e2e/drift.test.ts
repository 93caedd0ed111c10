/* eslint-disable @typescript-eslint/no-explicit-any -- objects are asserted field by field */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { deterministicBytes } from '../harness/fixtures.js';
import { kubeRequest } from '../harness/kube.js';
import { waitForObject } from '../harness/orchestrator.js';
import { waitFor } from '../harness/processes.js';
import {
  EXAMPLE_BUCKET,
  objectPath,
  putTinyModel,
  startAcceptance,
  SCENARIO,
  type AcceptanceFixture,
} from '../harness/scenarios.js';

/**
 * What the orchestrator owns converges back to the desired state (the developers' guide; issue "durable over days"):
 * a `kubectl edit` of a field it manages is reverted, a deleted template or Dedicated cache is recreated, and a
 * service whose caches changed identity leaves no old Dedicated cache or PVC behind. No test signal: the bridge sees each
 * change and nudges the owner.
 */
let e2e: AcceptanceFixture;
const WEIGHTS = deterministicBytes('e2e-drift/weights', 256 * 1024);

beforeAll(async () => {
  e2e = await startAcceptance();
  await putTinyModel(e2e.s3, EXAMPLE_BUCKET, 'qwen-drift', WEIGHTS);
}, 240_000);

afterAll(async () => {
  await e2e?.stop();
});

/** `kubectl edit`: a JSON merge patch under another field manager. */
async function kubectlEdit(
  m: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
  patch: unknown,
) {
  const res = await kubeRequest(e2e.orch.kc, {
    method: 'PATCH',
    path: `${objectPath(m as never)}?fieldManager=kubectl-edit`,
    body: JSON.stringify(patch),
    contentType: 'application/merge-patch+json',
  });
  expect(res.status, res.body).toBe(200);
}

const get = (res: (typeof RESOURCES)[keyof typeof RESOURCES], name: string) =>
  e2e.orch.objects.get<any>(res, name, e2e.namespace);
const until = (res: (typeof RESOURCES)[keyof typeof RESOURCES], name: string, ok: (o: any) => boolean, ms = 120_000) =>
  waitForObject<any>(e2e.orch.objects, res, name, e2e.namespace, ok, ms);

describe('drift heals', SCENARIO, () => {
  let svc: any;

  it('a Running service', async () => {
    await e2e.apply(e2e.s3Service('drift', { prefix: 'qwen-drift' }));
    svc = await e2e.runToRunning('drift');
    expect(svc.status.status).toBe('Running');
  });

  it('kubectl edit of the InferenceService replicas is reverted', async () => {
    const isvc = await get(RESOURCES.InferenceService, 'drift');
    await kubectlEdit(isvc, { spec: { predictor: { minReplicas: 3, maxReplicas: 3 } } });
    const healed = await until(RESOURCES.InferenceService, 'drift', (o) => o.spec.predictor.minReplicas === 1, 60_000);
    expect(healed.spec.predictor.maxReplicas).toBe(1);
  });

  it('kubectl edit of the template spec is reverted, and a deleted template is recreated', async () => {
    const name = svc.status.resolvedTemplate.name;
    const template = await get(RESOURCES.AIMServiceTemplate, name);
    const type = template.spec.type;
    await kubectlEdit(template, { spec: { type: type === 'optimized' ? 'preview' : 'optimized' } });
    await until(RESOURCES.AIMServiceTemplate, name, (t) => t.spec.type === type, 60_000);

    await e2e.orch.objects.delete(RESOURCES.AIMServiceTemplate, name, e2e.namespace);
    await until(
      RESOURCES.AIMServiceTemplate,
      name,
      (t) => t.metadata.uid !== template.metadata.uid && t.spec.type === type,
      60_000,
    );
  });

  it('a Dedicated cache deleted by hand is recreated and the service is Running again', async () => {
    const cacheName = svc.status.caches[0].name;
    const old = await get(RESOURCES.AIMModelCache, cacheName);
    await e2e.orch.objects.delete(RESOURCES.AIMModelCache, cacheName, e2e.namespace);
    const again = await until(
      RESOURCES.AIMModelCache,
      cacheName,
      (c) => c.metadata.uid !== old.metadata.uid && c.status?.status === 'Ready',
      180_000,
    );
    expect(again.status.verified).toBe(true);
    await e2e.service('drift', (s) => s.status?.status === 'Running', 120_000);
  });

  it('a service moved to another cache identity (storage class) leaves no old Dedicated cache or PVC behind', async () => {
    // The model of a service is immutable; its storage class is not, and it is part of the cache identity.
    const oldCache = (await get(RESOURCES.AIMService, 'drift')).status.caches[0].name;
    const moved = e2e.s3Service('drift', { prefix: 'qwen-drift' });
    moved.spec.storage = { storageClassName: e2e.orch.kubelet.storageClassName };
    await e2e.apply(moved);
    // The new cache downloads; the InferenceService rolls to it once it is Ready (KServe rolls its Deployment).
    await e2e.service('drift', (s) => s.status?.caches?.[0]?.name && s.status.caches[0].name !== oldCache, 120_000);
    await waitFor(
      'the InferenceService on the new cache',
      async () => {
        const s = await get(RESOURCES.AIMService, 'drift');
        const isvc = await get(RESOURCES.InferenceService, 'drift');
        const newCache = s?.status?.caches?.[0];
        if (newCache?.status !== 'Ready') return undefined;
        const claims = JSON.stringify(isvc?.spec?.predictor?.volumes ?? []);
        return claims.includes(newCache.name) ? true : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    await e2e.gone(RESOURCES.AIMModelCache, oldCache, 120_000);
    await waitFor(
      'the old cache PVC gone',
      async () => ((await e2e.pvcsOf(oldCache)).length === 0 ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const caches = await e2e.orch.objects.list<any>(RESOURCES.AIMModelCache, e2e.namespace);
    expect(caches.map((c) => c.metadata.name)).not.toContain(oldCache);
  });

  it('a deletion that cannot finish says why in the status and an Event, and completes once unblocked', async () => {
    // A cluster policy refuses to delete InferenceServices in this namespace, as an admission webhook or a
    // ValidatingAdmissionPolicy of a platform team can: the service's cleanup cannot delete its InferenceService.
    const name = `protect-isvc-${e2e.namespace}`;
    const api = '/apis/admissionregistration.k8s.io/v1';
    const create = async (plural: string, body: unknown) => {
      const res = await kubeRequest(e2e.orch.kc, {
        method: 'POST',
        path: `${api}/${plural}`,
        body: JSON.stringify(body),
      });
      expect(res.status, res.body).toBe(201);
    };
    await create('validatingadmissionpolicies', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: ['serving.kserve.io'],
              apiVersions: ['*'],
              operations: ['DELETE'],
              resources: ['inferenceservices'],
            },
          ],
        },
        validations: [{ expression: 'false', message: 'InferenceServices here are protected' }],
      },
    });
    await create('validatingadmissionpolicybindings', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name },
      spec: {
        policyName: name,
        validationActions: ['Deny'],
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': e2e.namespace } } },
      },
    });
    const isvcPath = objectPath({ ...(await get(RESOURCES.InferenceService, 'drift')) });
    try {
      await waitFor(
        'the policy in force (a dry-run delete refused)',
        async () => {
          const res = await kubeRequest(e2e.orch.kc, { method: 'DELETE', path: `${isvcPath}?dryRun=All` });
          return res.status >= 400 ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );

      await e2e.orch.objects.delete(RESOURCES.AIMService, 'drift', e2e.namespace);
      const stuck = await e2e.service(
        'drift',
        (s) => s.status?.conditions?.some((c: any) => c.type === 'Ready' && /deletion cannot finish/.test(c.message)),
        60_000,
      );
      const ready = stuck.status.conditions.find((c: any) => c.type === 'Ready');
      expect(ready.message).toContain('InferenceServices here are protected');
      expect(ready.message).toContain('aimctl delete --force');
      const event = await e2e.eventFor('drift', ready.reason, 30_000);
      expect(event.type).toBe('Warning');
      expect(event.message).toContain('deletion cannot finish');
    } finally {
      await kubeRequest(e2e.orch.kc, { method: 'DELETE', path: `${api}/validatingadmissionpolicybindings/${name}` });
      await kubeRequest(e2e.orch.kc, { method: 'DELETE', path: `${api}/validatingadmissionpolicies/${name}` });
    }
    await waitFor(
      'the policy out of force (a dry-run delete allowed)',
      async () => {
        const res = await kubeRequest(e2e.orch.kc, { method: 'DELETE', path: `${isvcPath}?dryRun=All` });
        return res.status < 400 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    // Unblocked: `kubectl annotate aimservice drift aim.silogen.ai/retry=...` retries the cleanup now.
    await kubectlEdit(
      {
        apiVersion: 'aim.silogen.ai/v1alpha1',
        kind: 'AIMService',
        metadata: { name: 'drift', namespace: e2e.namespace },
      },
      { metadata: { annotations: { 'aim.silogen.ai/retry': String(Date.now()) } } },
    );
    await e2e.gone(RESOURCES.AIMService, 'drift', 60_000);
    await e2e.gone(RESOURCES.InferenceService, 'drift', 30_000);
  });
});
