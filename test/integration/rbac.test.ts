/* eslint-disable @typescript-eslint/no-explicit-any -- statuses are read field by field */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthenticationV1Api, AuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import type { Bridge } from '../../bridge/bridge.js';
import { pingCluster } from '../../workflows/index.js';
import { example, exampleSecret } from '../cases/examples.js';
import { authorizedAs, rbacTriple } from '../harness/apiRequests.js';
import { deterministicBytes } from '../harness/fixtures.js';
import { startOrchestrator, waitForObject, type OrchestratorFixture } from '../harness/orchestrator.js';
import { waitFor } from '../harness/processes.js';
import { customSource, EXAMPLE_BUCKET, kubectlApply, putTinyModel, useS3, waitForGone } from '../harness/scenarios.js';
import { startS3Server, type S3Server } from '../harness/s3Server.js';
import { deployObjects, orchestratorServiceAccount } from '../harness/serviceAccount.js';
import { REPO_ROOT } from '../harness/stack.js';

/**
 * The orchestrator runs as the deploy ServiceAccount of deploy/rbac.yaml (the fixture's default), and that account's
 * ClusterRole is exactly what the code needs: every rule is exercised here by the worker and the bridge (recorded
 * from the HTTP client), none of their requests is refused, and what the role does not grant stays refused.
 *
 * Rules that one scenario cannot exercise are listed in NOT_EXERCISED with the reason, and where the code uses them,
 * the call that does (checked against the source, so the list cannot outlive the code).
 */
let orch: OrchestratorFixture;
let s3: S3Server;
let bridge: Bridge;
const work = mkdtempSync(join(tmpdir(), 'aim-rbac-it-'));
const ACCESS = 'rbacaccess';
const SECRET = 'rbac-secret-value-5';
const adminWorker = process.env.AIM_TEST_ADMIN_WORKER === '1';

const NOT_EXERCISED: Record<string, { why: string; code?: { file: string; call: string } }> = {
  [rbacTriple('aim.silogen.ai', 'aimmodelcaches/status', 'get')]: {
    why: 'held only so that the worker may create the per-cache Role granting it (RBAC escalation check)',
  },
  ...Object.fromEntries(
    ['aimmodels', 'aimclustermodels', 'aimmodelcaches', 'aimservices'].map((p) => [
      rbacTriple('aim.silogen.ai', `${p}/finalizers`, 'update'),
      { why: 'checked only under OwnerReferencesPermissionEnforcement, which the test API server does not enable' },
    ]),
  ),
  [rbacTriple('aim.silogen.ai', 'aimmodelcaches', 'delete')]: {
    why: 'the Shared-cache TTL sweeper (days by default; test/integration/sweeper.test.ts runs it as this account)',
    code: { file: 'activities/sweeper.ts', call: 'api.deleteNamespacedCustomObject(' },
  },
  [rbacTriple('batch', 'jobs', 'delete')]: {
    why: 'a Job of a deleted cache still in the way, or attempt numbers wrapping past 999',
    code: { file: 'activities/jobs.ts', call: 'ctx.batch.deleteNamespacedJob(' },
  },
  [rbacTriple('', 'persistentvolumeclaims', 'get')]: {
    why: 'create-or-get of a cache PVC that exists already (a retried step), and VolumeNotBound',
    code: { file: 'activities/caches.ts', call: 'ctx.core.readNamespacedPersistentVolumeClaim(' },
  },
  [rbacTriple('', 'events', 'list')]: {
    why: "VolumeNotBound names the claim's last Event, after 5 minutes pending",
    code: { file: 'activities/jobs.ts', call: 'ctx.core.listNamespacedEvent(' },
  },
};

/** Every (group, resource, verb) the ClusterRole of deploy/rbac.yaml grants. */
function granted(): Set<string> {
  const roles = deployObjects('rbac.yaml').filter((o) => o.kind === 'ClusterRole');
  const rules = roles.flatMap(
    (r) => (r.rules ?? []) as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>,
  );
  return new Set(
    rules.flatMap((r) =>
      r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => rbacTriple(g, res, v)))),
    ),
  );
}

beforeAll(async () => {
  [orch, s3] = await Promise.all([
    startOrchestrator({
      kubeconfigPath: inject('kubeconfigPath'),
      temporalAddress: inject('temporalAddress'),
      temporalNamespace: inject('temporalNamespace'),
      gpu: { vendor: 'amd', product: 'AMD_Instinct_MI300X_OAM', vramMiB: 192 * 1024, count: 8 },
    }),
    startS3Server({ workDir: join(work, 's3'), accessKey: ACCESS, secretKey: SECRET }),
  ]);
  await s3.createBucket(EXAMPLE_BUCKET);
  await putTinyModel(s3, EXAMPLE_BUCKET, 'qwen2-0.5b', deterministicBytes('rbac/weights', 256 * 1024));
  const secret = exampleSecret('secret-s3-credentials.yaml', { 'access-key': ACCESS, 'secret-key': SECRET });
  await kubectlApply(orch.kc, { ...secret, metadata: { ...secret.metadata, namespace: orch.namespace } });
  bridge = orch.startBridge();
  await bridge.ready;
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([orch?.stop(), s3?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

const templateNames = async (res: typeof RESOURCES.AIMServiceTemplate, model: string, namespace?: string) =>
  (await orch.objects.list<any>(res, namespace, { labelSelector: `aim.silogen.ai/model=${model}` }))
    .map((t) => t.metadata.name as string)
    .sort();

const waitForTemplates = (
  res: typeof RESOURCES.AIMServiceTemplate,
  model: string,
  namespace: string | undefined,
  until: (names: string[]) => boolean,
): Promise<string[]> =>
  waitFor(
    `templates of ${model}`,
    async () => {
      const names = await templateNames(res, model, namespace);
      return until(names) ? names : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 300 },
  );

/** Replaces an object's spec as `kubectl replace` would, keeping its resourceVersion. */
async function replaceSpec(res: typeof RESOURCES.AIMModel, name: string, namespace: string | undefined, spec: unknown) {
  const live = await orch.objects.get<any>(res, name, namespace);
  await orch.objects.replace(res, { ...live, spec } as never);
}

describe.skipIf(adminWorker)('the fixture runs workers and bridges as the deploy ServiceAccount', () => {
  const sa = orchestratorServiceAccount();

  it('the API server sees the worker identity as system:serviceaccount:aim-system:aim-orchestrator', async () => {
    const review = await orch.workerKc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe('system:serviceaccount:aim-system:aim-orchestrator');
    expect(review.status?.userInfo?.username).toBe(sa.username);
    expect(review.status?.userInfo?.groups).toEqual(
      expect.arrayContaining(['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`]),
    );
    expect(orch.workerIdentity).toBe(sa.username);
    // The test's own client is someone else (the admin user), so the two are really apart.
    const admin = await orch.kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(admin.status?.userInfo?.username).not.toBe(sa.username);
  });

  const can = async (attrs: {
    group?: string;
    resource: string;
    verb: string;
    namespace?: string;
    subresource?: string;
  }) =>
    (
      await orch.workerKc
        .makeApiClient(AuthorizationV1Api)
        .createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attrs } } })
    ).status?.allowed === true;

  it('may do everything deploy/rbac.yaml grants, in any namespace', async () => {
    const refused: string[] = [];
    for (const t of granted()) {
      const [g, full, verb] = t.split(' ') as [string, string, string];
      const [resource, subresource] = full.split('/') as [string, string | undefined];
      const attrs = { group: g === 'core' ? '' : g, resource, verb, ...(subresource ? { subresource } : {}) };
      for (const namespace of [orch.namespace, 'some-other-namespace'])
        if (!(await can({ ...attrs, namespace }))) refused.push(`${t} in ${namespace}`);
    }
    expect(refused).toEqual([]);
  });

  it.each([
    ['delete namespaces', { resource: 'namespaces', verb: 'delete' }],
    ['list secrets (read every value in the cluster)', { resource: 'secrets', verb: 'list' }],
    ['watch secrets', { resource: 'secrets', verb: 'watch' }],
    ['create pods (run anything)', { resource: 'pods', verb: 'create' }],
    ['create pods/exec', { resource: 'pods', verb: 'create', subresource: 'exec' }],
    ['mint tokens for service accounts', { resource: 'serviceaccounts', verb: 'create', subresource: 'token' }],
    ['update a user AIMService spec', { group: 'aim.silogen.ai', resource: 'aimservices', verb: 'update' }],
    ['delete a user AIMService', { group: 'aim.silogen.ai', resource: 'aimservices', verb: 'delete' }],
    ['delete AIMModels', { group: 'aim.silogen.ai', resource: 'aimmodels', verb: 'delete' }],
    ['create ClusterRoles', { group: 'rbac.authorization.k8s.io', resource: 'clusterroles', verb: 'create' }],
    ['bind roles it does not hold', { group: 'rbac.authorization.k8s.io', resource: 'roles', verb: 'bind' }],
    ['escalate roles', { group: 'rbac.authorization.k8s.io', resource: 'roles', verb: 'escalate' }],
    ['delete Roles', { group: 'rbac.authorization.k8s.io', resource: 'roles', verb: 'delete' }],
    ['impersonate users', { resource: 'users', verb: 'impersonate' }],
    ['patch Nodes', { resource: 'nodes', verb: 'patch' }],
    ['read ConfigMaps', { resource: 'configmaps', verb: 'get' }],
    ['delete PVCs (user data)', { resource: 'persistentvolumeclaims', verb: 'delete' }],
    ['change CRDs', { group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', verb: 'update' }],
  ])('may not %s', async (_what, attrs) => {
    expect(await can({ ...attrs, namespace: orch.namespace })).toBe(false);
  });
});

describe.skipIf(adminWorker)('every rule of deploy/rbac.yaml is used, and no request is refused', () => {
  it('a submitted custom service, template edits of a model and a cluster model, a deletion and pingCluster', async () => {
    // pingCluster: GET /version and the namespace.
    const ping = await orch.client.workflow.execute(pingCluster, {
      taskQueue: orch.taskQueue,
      workflowId: `ping-rbac-${orch.namespace}`,
      args: [orch.namespace],
    });
    expect(ping.namespace).toMatchObject({ name: orch.namespace });

    // A custom S3 service through Running: model, template, cache, PVC, Jobs, RBAC for the downloader, Events.
    const svc = example('aimservice-custom-s3.yaml');
    svc.metadata = { name: 'chat', namespace: orch.namespace };
    useS3(customSource(svc), s3.endpoint);
    // Through the submit workflow (AIM_SUBMIT_NAMESPACES holds the fixture's namespace): applied with the worker's rights.
    await orch.client.workflow.execute('submit', {
      taskQueue: orch.taskQueue,
      workflowId: `submit-rbac-${orch.namespace}`,
      args: [svc],
    });
    await orch.startService('chat', orch.namespace);
    await waitForObject<any>(orch.objects, RESOURCES.InferenceService, 'chat', orch.namespace, () => true, 180_000);
    await orch.markInferenceServiceReady('chat');
    await waitForObject<any>(
      orch.objects,
      RESOURCES.AIMService,
      'chat',
      orch.namespace,
      (s) => s.status?.status === 'Running',
    );

    // A namespaced model with four custom templates, cut to one: the other three are deleted as stale.
    const model = example('aimmodel-s3-custom-templates.yaml');
    model.metadata = { name: 'small', namespace: orch.namespace };
    useS3((model.spec.modelSources as any[])[0], s3.endpoint);
    await orch.objects.create(RESOURCES.AIMModel, model as never);
    await orch.startModel('AIMModel', 'small', orch.namespace);
    await waitForTemplates(RESOURCES.AIMServiceTemplate, 'small', orch.namespace, (n) => n.length === 4);
    const [first] = model.spec.customTemplates as Array<{ name: string }>;
    await replaceSpec(RESOURCES.AIMModel, 'small', orch.namespace, { ...model.spec, customTemplates: [first] });
    await orch.startModel('AIMModel', 'small', orch.namespace);
    expect(
      await waitForTemplates(RESOURCES.AIMServiceTemplate, 'small', orch.namespace, (n) => n.length === 1),
    ).toEqual([`small-${first!.name}`]);

    // The same for a cluster model (cluster-scoped templates), which also gets a status.
    const cm = example('aimclustermodel-hf.yaml');
    const cmName = `rbac-${orch.namespace}`;
    cm.metadata = { name: cmName };
    (cm.spec as any).hardware = { gpu: { requests: 1, models: ['MI300X'] } };
    await orch.objects.create(RESOURCES.AIMClusterModel, cm as never);
    try {
      await orch.startModel('AIMClusterModel', cmName);
      const [cgenerated] = await waitForTemplates(
        RESOURCES.AIMClusterServiceTemplate,
        cmName,
        undefined,
        (n) => n.length === 1,
      );
      await waitForObject<any>(orch.objects, RESOURCES.AIMClusterModel, cmName, undefined, (o) =>
        Boolean(o.status?.status),
      );
      await replaceSpec(RESOURCES.AIMClusterModel, cmName, undefined, {
        ...cm.spec,
        customTemplates: [{ name: 'only' }],
      });
      await orch.startModel('AIMClusterModel', cmName);
      expect(
        await waitForTemplates(RESOURCES.AIMClusterServiceTemplate, cmName, undefined, (n) => !n.includes(cgenerated!)),
      ).toEqual([`${cmName}-only`]);
    } finally {
      await orch.objects.delete(RESOURCES.AIMClusterModel, cmName);
    }

    // Deleting the service: the cleanup deletes the InferenceService and drops the finalizer.
    await orch.objects.delete(RESOURCES.AIMService, 'chat', orch.namespace);
    await waitForGone(orch.objects, RESOURCES.AIMService, 'chat', orch.namespace);
    expect(await orch.objects.get(RESOURCES.InferenceService, 'chat', orch.namespace)).toBeUndefined();

    // What the worker and the bridge asked, as the API server authorizes it.
    const requests = orch.workerRequests();
    const refused = requests.filter((r) => r.status === 403).map((r) => `${r.method} ${r.path}`);
    expect(refused).toEqual([]);
    const used = new Set<string>();
    for (const a of requests.flatMap(authorizedAs)) {
      if ('nonResourceURL' in a) continue; // /version: system:public-info-viewer, not our role
      // Self reviews are every identity's right (system:basic-user); they are this test's, not the worker's.
      if (a.group === 'authentication.k8s.io' || a.group === 'authorization.k8s.io') continue;
      used.add(rbacTriple(a.group, a.resource, a.verb));
    }
    const grants = granted();
    expect([...used].filter((t) => !grants.has(t)).sort(), 'used but not granted').toEqual([]);
    expect(
      [...grants].filter((t) => !used.has(t) && !(t in NOT_EXERCISED)).sort(),
      'granted but never used (drop the rule, or exercise it here)',
    ).toEqual([]);
    for (const [t, { code }] of Object.entries(NOT_EXERCISED)) {
      expect(grants, `NOT_EXERCISED lists ${t}, which the role does not grant`).toContain(t);
      if (!code) continue;
      // Whitespace before `.` dropped, so that a call chained over two lines still reads as one.
      const source = readFileSync(join(REPO_ROOT, code.file), 'utf8').replace(/\s+\./g, '.');
      expect(source, `${t}: ${code.file}`).toContain(code.call);
    }
  }, 600_000);
});
