/* eslint-disable @typescript-eslint/no-explicit-any -- statuses are read field by field */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  RbacAuthorizationV1Api,
  type V1PolicyRule,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeApiError } from '../../activities/kube/errors.js';
import { RESOURCES } from '../../activities/kube/resources.js';
import type { Bridge } from '../../bridge/bridge.js';
import { DEFAULT_TIMING, type LifecycleTiming } from '../../domain/timing.js';
import { pingCluster } from '../../workflows/index.js';
import { example, exampleSecret } from '../cases/examples.js';
import { authorizedAs, rbacTriple, type RecordedRequest } from '../harness/apiRequests.js';
import { deterministicBytes } from '../harness/fixtures.js';
import { startOrchestrator, waitForObject, type OrchestratorFixture } from '../harness/orchestrator.js';
import { waitFor } from '../harness/processes.js';
import {
  condition,
  customSource,
  EXAMPLE_BUCKET,
  kubectlApply,
  putTinyModel,
  standaloneCache,
  useS3,
  waitForGone,
} from '../harness/scenarios.js';
import { startS3Server, type S3Server } from '../harness/s3Server.js';
import {
  ORCHESTRATOR_IDENTITIES,
  orchestratorServiceAccount,
  type OrchestratorIdentity,
} from '../harness/serviceAccount.js';
import { REPO_ROOT } from '../harness/stack.js';

/**
 * The worker and the bridge run as their own deploy ServiceAccounts of deploy/base/rbac.yaml (the fixture's default), and
 * each account's ClusterRole is exactly what its code needs: every rule of the worker's role is exercised here by the
 * worker and every rule of the bridge's role by the bridge (recorded from the HTTP client, per token), none of their
 * requests is refused, and what a role does not grant stays refused — the bridge's role is list and watch only, and
 * the worker may still not list or watch Secrets.
 *
 * Rules that one scenario cannot exercise are listed in NOT_EXERCISED per identity with the reason, and where the
 * code uses them, the call that does (checked against the source, so the list cannot outlive the code).
 */
let orch: OrchestratorFixture;
let s3: S3Server;
let bridge: Bridge;
const work = mkdtempSync(join(tmpdir(), 'aim-rbac-it-'));
const ACCESS = 'rbacaccess';
const SECRET = 'rbac-secret-value-5';
const adminWorker = process.env.AIM_TEST_ADMIN_WORKER === '1';
/**
 * The fix back-off compressed by configuration (1 minute → 3 s, 30 minutes → 90 s), as AIM_TIME_SCALE does for a
 * worker, so that the OrchestratorForbidden case below sees its re-checks within seconds.
 */
const TIMING: LifecycleTiming = { ...DEFAULT_TIMING, backoffBaseSeconds: 3, backoffMaxSeconds: 90 };

type NotExercised = Record<string, { why: string; code?: { file: string; call: string } }>;

const WORKER_NOT_EXERCISED: NotExercised = {
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
  [rbacTriple('batch', 'jobs', 'get')]: {
    why: "a miss of the worker's read cache (a Job its watch has not brought yet), or AIM_READ_CACHE=off",
    code: { file: 'activities/kube/directReads.ts', call: 'batch.readNamespacedJob(' },
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

/** The bridge lists and watches what it follows; all of it happens as soon as it starts. */
const NOT_EXERCISED: Record<OrchestratorIdentity, NotExercised> = { worker: WORKER_NOT_EXERCISED, bridge: {} };

/** Every (group, resource, verb) the ClusterRole of deploy/base/rbac.yaml bound to an identity's ServiceAccount grants. */
function granted(identity: OrchestratorIdentity): Set<string> {
  return new Set(
    orchestratorServiceAccount(identity).rules.flatMap((r) =>
      r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => rbacTriple(g, res, v)))),
    ),
  );
}

const kcOf = (identity: OrchestratorIdentity) => (identity === 'worker' ? orch.workerKc : orch.bridgeKc);
const usernameOf = (identity: OrchestratorIdentity) =>
  identity === 'worker' ? orch.workerIdentity : orch.bridgeIdentity;
const requestsOf = (identity: OrchestratorIdentity): RecordedRequest[] =>
  identity === 'worker' ? orch.workerRequests() : orch.bridgeRequests();

type Attrs = {
  group?: string;
  resource: string;
  verb: string;
  namespace?: string;
  subresource?: string;
  name?: string;
};

/** What an identity may do, as the API server's SelfSubjectAccessReview answers it. */
const can = async (identity: OrchestratorIdentity, attrs: Attrs) =>
  (
    await kcOf(identity)
      .makeApiClient(AuthorizationV1Api)
      .createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attrs } } })
  ).status?.allowed === true;

/** `core secrets get` → SelfSubjectAccessReview attributes. */
function attrsOf(triple: string): Attrs {
  const [g, full, verb] = triple.split(' ') as [string, string, string];
  const [resource, subresource] = full.split('/') as [string, string | undefined];
  return { group: g === 'core' ? '' : g, resource, verb, ...(subresource ? { subresource } : {}) };
}

beforeAll(async () => {
  [orch, s3] = await Promise.all([
    startOrchestrator({
      kubeconfigPath: inject('kubeconfigPath'),
      temporalAddress: inject('temporalAddress'),
      temporalNamespace: inject('temporalNamespace'),
      gpu: { vendor: 'amd', product: 'AMD_Instinct_MI300X_OAM', vramMiB: 192 * 1024, count: 8 },
      // The read cache on (opt-in), so that its list and watch rules are exercised like every other rule.
      workerSettings: { readCache: true },
      timing: TIMING,
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

/**
 * Replaces an object's spec as `kubectl replace` would, keeping its resourceVersion; on a Conflict (the worker wrote
 * the object's status in between) read again and retry, as a user would.
 */
async function replaceSpec(res: typeof RESOURCES.AIMModel, name: string, namespace: string | undefined, spec: unknown) {
  for (let attempt = 1; ; attempt++) {
    const live = await orch.objects.get<any>(res, name, namespace);
    try {
      await orch.objects.replace(res, { ...live, spec } as never);
      return;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.kind === 'Conflict') || attempt >= 5) throw err;
    }
  }
}

const USERNAMES: Record<OrchestratorIdentity, string> = {
  worker: 'system:serviceaccount:aim-system:aim-orchestrator',
  bridge: 'system:serviceaccount:aim-system:aim-orchestrator-bridge',
};

describe.skipIf(adminWorker).each(ORCHESTRATOR_IDENTITIES)(
  'the fixture runs the %s as its deploy ServiceAccount',
  (identity) => {
    const sa = orchestratorServiceAccount(identity);

    it(`the API server sees it as ${USERNAMES[identity]}`, async () => {
      const review = await kcOf(identity).makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
      expect(review.status?.userInfo?.username).toBe(USERNAMES[identity]);
      expect(review.status?.userInfo?.username).toBe(sa.username);
      expect(review.status?.userInfo?.groups).toEqual(
        expect.arrayContaining(['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`]),
      );
      expect(usernameOf(identity)).toBe(sa.username);
      expect(sa.clusterRole).toBe(sa.name); // each account bound to its own role of the same name
      // The test's own client is someone else (the admin user), and the worker and the bridge are not each other.
      const admin = await orch.kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
      expect(admin.status?.userInfo?.username).not.toBe(sa.username);
      expect(orch.workerIdentity).not.toBe(orch.bridgeIdentity);
    });

    it('may do everything its ClusterRole grants, in any namespace', async () => {
      const refused: string[] = [];
      for (const t of granted(identity))
        for (const namespace of [orch.namespace, 'some-other-namespace'])
          if (!(await can(identity, { ...attrsOf(t), namespace }))) refused.push(`${t} in ${namespace}`);
      expect(refused).toEqual([]);
    });

    it("may not do what only the other identity's role grants", async () => {
      const other: OrchestratorIdentity = identity === 'worker' ? 'bridge' : 'worker';
      const mine = granted(identity);
      const onlyOther = [...granted(other)].filter((t) => !mine.has(t));
      // Each role has rules of its own: the worker writes, the bridge watches.
      expect(onlyOther.length).toBeGreaterThan(0);
      const allowed: string[] = [];
      for (const t of onlyOther)
        for (const namespace of [orch.namespace, 'some-other-namespace'])
          if (await can(identity, { ...attrsOf(t), namespace })) allowed.push(`${t} in ${namespace}`);
      expect(allowed).toEqual([]);
    });
  },
);

describe.skipIf(adminWorker)('what each identity may not do', () => {
  it.each([
    ['delete namespaces', { resource: 'namespaces', verb: 'delete' }],
    ['list secrets (read every value in the cluster)', { resource: 'secrets', verb: 'list' }],
    ['watch secrets', { resource: 'secrets', verb: 'watch' }],
    // It lists and watches what its read cache holds (activities/kube/readCacheSources.ts), and nothing else.
    ['list ResourceQuotas (only the bridge follows them)', { resource: 'resourcequotas', verb: 'list' }],
    ['watch ResourceQuotas', { resource: 'resourcequotas', verb: 'watch' }],
    ['watch ConfigMaps', { resource: 'configmaps', verb: 'watch' }],
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
  ] satisfies Array<[string, Attrs]>)('the worker may not %s', async (_what, attrs) => {
    expect(await can('worker', { ...attrs, namespace: orch.namespace })).toBe(false);
  });

  it.each([
    [
      'get a Secret by name (it sees Secrets as metadata only)',
      { resource: 'secrets', verb: 'get', name: 's3-credentials' },
    ],
    ['get any Secret', { resource: 'secrets', verb: 'get' }],
    ['create Secrets', { resource: 'secrets', verb: 'create' }],
    ['patch Secrets', { resource: 'secrets', verb: 'patch' }],
    ['delete Secrets', { resource: 'secrets', verb: 'delete' }],
    [
      'get an AIMService by name (it reads nothing one by one)',
      {
        group: 'aim.silogen.ai',
        resource: 'aimservices',
        verb: 'get',
      },
    ],
    ['create AIMServices', { group: 'aim.silogen.ai', resource: 'aimservices', verb: 'create' }],
    ['patch AIMServices', { group: 'aim.silogen.ai', resource: 'aimservices', verb: 'patch' }],
    ['update AIMServices', { group: 'aim.silogen.ai', resource: 'aimservices', verb: 'update' }],
    ['delete AIMServices', { group: 'aim.silogen.ai', resource: 'aimservices', verb: 'delete' }],
    [
      'patch an AIMService status',
      {
        group: 'aim.silogen.ai',
        resource: 'aimservices',
        subresource: 'status',
        verb: 'patch',
      },
    ],
    ['create AIMModels', { group: 'aim.silogen.ai', resource: 'aimmodels', verb: 'create' }],
    ['delete AIMModelCaches', { group: 'aim.silogen.ai', resource: 'aimmodelcaches', verb: 'delete' }],
    ['patch InferenceServices', { group: 'serving.kserve.io', resource: 'inferenceservices', verb: 'patch' }],
    ['create Jobs', { group: 'batch', resource: 'jobs', verb: 'create' }],
    ['delete Jobs', { group: 'batch', resource: 'jobs', verb: 'delete' }],
    ['create PVCs', { resource: 'persistentvolumeclaims', verb: 'create' }],
    ['delete PVCs (user data)', { resource: 'persistentvolumeclaims', verb: 'delete' }],
    ['create pods (run anything)', { resource: 'pods', verb: 'create' }],
    ['create pods/exec', { resource: 'pods', verb: 'create', subresource: 'exec' }],
    ['list pods', { resource: 'pods', verb: 'list' }],
    ['create ServiceAccounts', { resource: 'serviceaccounts', verb: 'create' }],
    ['mint tokens for service accounts', { resource: 'serviceaccounts', verb: 'create', subresource: 'token' }],
    ['create Events', { resource: 'events', verb: 'create' }],
    ['create Roles', { group: 'rbac.authorization.k8s.io', resource: 'roles', verb: 'create' }],
    ['create RoleBindings', { group: 'rbac.authorization.k8s.io', resource: 'rolebindings', verb: 'create' }],
    ['patch Nodes', { resource: 'nodes', verb: 'patch' }],
    ['patch ResourceQuotas', { resource: 'resourcequotas', verb: 'patch' }],
    ['read ConfigMaps', { resource: 'configmaps', verb: 'list' }],
    ['get namespaces', { resource: 'namespaces', verb: 'get' }],
    ['delete namespaces', { resource: 'namespaces', verb: 'delete' }],
    ['impersonate users', { resource: 'users', verb: 'impersonate' }],
    ['change CRDs', { group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', verb: 'update' }],
  ] satisfies Array<[string, Attrs]>)('the bridge may not %s', async (_what, attrs) => {
    expect(await can('bridge', { ...attrs, namespace: orch.namespace })).toBe(false);
  });
});

describe.skipIf(adminWorker)(
  'every rule of deploy/base/rbac.yaml is used by its identity, and no request is refused',
  () => {
    let scenarioDone = false;

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
      // KServe reports the InferenceService Ready; the bridge nudges the service.
      await waitForObject<any>(
        orch.objects,
        RESOURCES.AIMService,
        'chat',
        orch.namespace,
        (s) => s.status?.status === 'Running',
        240_000,
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
          await waitForTemplates(
            RESOURCES.AIMClusterServiceTemplate,
            cmName,
            undefined,
            (n) => !n.includes(cgenerated!),
          ),
        ).toEqual([`${cmName}-only`]);
      } finally {
        await orch.objects.delete(RESOURCES.AIMClusterModel, cmName);
      }

      // A service naming only an image no model has: the worker lists the namespace's AIMModels, then the
      // AIMClusterModels (spec.model.image), finds none and waits with ModelNotFound. Then it is deleted.
      await orch.objects.create(RESOURCES.AIMService, {
        apiVersion: 'aim.silogen.ai/v1alpha1',
        kind: 'AIMService',
        metadata: { name: 'by-image', namespace: orch.namespace },
        spec: { model: { image: `ghcr.io/example/no-such-model:${orch.namespace}` } },
      } as never);
      await orch.startService('by-image', orch.namespace);
      const waiting = await waitForObject<any>(
        orch.objects,
        RESOURCES.AIMService,
        'by-image',
        orch.namespace,
        (o) => condition(o, 'ModelReady')?.reason === 'ModelNotFound',
      );
      expect(condition(waiting, 'ModelReady')).toMatchObject({ status: 'False', reason: 'ModelNotFound' });
      await orch.objects.delete(RESOURCES.AIMService, 'by-image', orch.namespace);
      await waitForGone(orch.objects, RESOURCES.AIMService, 'by-image', orch.namespace);

      // Deleting the service: the cleanup deletes the InferenceService and drops the finalizer.
      await orch.objects.delete(RESOURCES.AIMService, 'chat', orch.namespace);
      await waitForGone(orch.objects, RESOURCES.AIMService, 'chat', orch.namespace);
      expect(await orch.objects.get(RESOURCES.InferenceService, 'chat', orch.namespace)).toBeUndefined();

      scenarioDone = true;
    }, 600_000);

    it.each(ORCHESTRATOR_IDENTITIES)(
      'the %s: every rule of its role used by its own requests, none refused',
      (identity) => {
        expect(scenarioDone, 'the scenario above ran to its end').toBe(true);
        // What this identity asked (its own token only), as the API server authorizes it.
        const requests = requestsOf(identity);
        expect(requests.length).toBeGreaterThan(0);
        const refused = requests.filter((r) => r.status === 403).map((r) => `${r.method} ${r.path}`);
        expect(refused).toEqual([]);
        const used = new Set<string>();
        for (const a of requests.flatMap(authorizedAs)) {
          if ('nonResourceURL' in a) continue; // /version: system:public-info-viewer, not our role
          // Self reviews are every identity's right (system:basic-user); they are this test's, not the process's.
          if (a.group === 'authentication.k8s.io' || a.group === 'authorization.k8s.io') continue;
          used.add(rbacTriple(a.group, a.resource, a.verb));
        }
        const grants = granted(identity);
        const notExercised = NOT_EXERCISED[identity];
        expect([...used].filter((t) => !grants.has(t)).sort(), 'used but not granted').toEqual([]);
        expect(
          [...grants].filter((t) => !used.has(t) && !(t in notExercised)).sort(),
          'granted but never used (drop the rule, or exercise it here)',
        ).toEqual([]);
        for (const [t, { code }] of Object.entries(notExercised)) {
          expect(grants, `NOT_EXERCISED.${identity} lists ${t}, which its role does not grant`).toContain(t);
          if (!code) continue;
          // Whitespace before `.` dropped, so that a call chained over two lines still reads as one.
          const source = readFileSync(join(REPO_ROOT, code.file), 'utf8').replace(/\s+\./g, '.');
          expect(source, `${t}: ${code.file}`).toContain(code.call);
        }
      },
    );
  },
);

/**
 * Spec 7 OrchestratorForbidden end to end: the worker's ClusterRole loses `create` on PersistentVolumeClaims (a role
 * of an older release), so a cache's claim is refused with 403. The cache shows the reason naming verb, resource and
 * namespace, a Warning Event, and is re-checked on the fix back-off (no storm); the role applied again is the fix,
 * picked up by the next re-check with nobody touching the cache. It runs after the assertions above (which count
 * every refused request as a failure) and restores the role whatever happens.
 */
describe.skipIf(adminWorker)('OrchestratorForbidden: a verb missing from the worker role, then restored', () => {
  /** How long the verb stays missing after the first refusal (long enough for two re-checks at 3 s, 6 s). */
  const HOLD_MS = 10_000;

  it('a cache names the refused verb, re-checks on the back-off, and is Ready once the role is fixed', async () => {
    const rbac = orch.kc.makeApiClient(RbacAuthorizationV1Api);
    const roleName = orchestratorServiceAccount('worker').clusterRole;
    const shipped = await rbac.readClusterRole({ name: roleName });
    const withoutPvcCreate: V1PolicyRule[] = (shipped.rules ?? []).map((r) =>
      r.resources?.includes('persistentvolumeclaims') && (r.apiGroups ?? []).includes('')
        ? { ...r, verbs: r.verbs.filter((v) => v !== 'create') }
        : r,
    );
    const pvcPath = `/api/v1/namespaces/${orch.namespace}/persistentvolumeclaims`;
    const refusedClaims = () =>
      orch.workerRequests().filter((r) => r.method === 'POST' && r.path.startsWith(pvcPath) && r.status === 403);
    const setRules = async (rules: V1PolicyRule[]) => {
      const live = await rbac.readClusterRole({ name: roleName });
      await rbac.replaceClusterRole({ name: roleName, body: { ...live, rules } });
    };
    const events = async () =>
      (
        await orch.core.listNamespacedEvent({ namespace: orch.namespace, fieldSelector: 'involvedObject.name=denied' })
      ).items.filter((e) => e.reason === 'OrchestratorForbidden' && e.type === 'Warning');

    await setRules(withoutPvcCreate);
    try {
      // RBAC is read from an informer: wait until the API server itself refuses the verb.
      await waitFor(
        'the worker refused create on PVCs',
        async () =>
          (await can('worker', { resource: 'persistentvolumeclaims', verb: 'create', namespace: orch.namespace }))
            ? undefined
            : true,
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      const started = Date.now();
      await kubectlApply(orch.kc, {
        ...standaloneCache(s3.endpoint, 'denied', 'qwen2-0.5b'),
        metadata: { name: 'denied', namespace: orch.namespace },
      });
      const failed = await waitForObject<any>(
        orch.objects,
        RESOURCES.AIMModelCache,
        'denied',
        orch.namespace,
        (o) => condition(o, 'Ready')?.reason === 'OrchestratorForbidden',
        120_000,
      );
      const failedAt = Date.now();
      expect(failed.status.status).toBe('Failed');
      const message = condition(failed, 'Ready').message as string;
      expect(message).toContain('cannot create resource "persistentvolumeclaims"');
      expect(message).toContain(`in the namespace "${orch.namespace}"`);
      expect(condition(failed, 'VolumeReady')).toMatchObject({ status: 'False', reason: 'OrchestratorForbidden' });
      const event = await waitFor('a Warning OrchestratorForbidden Event', async () => (await events())[0], {
        timeoutMs: 30_000,
        intervalMs: 300,
      });
      expect(event.message).toContain('persistentvolumeclaims');

      // Re-checked on the fix back-off (3 s, 6 s, …) and refused again, never in a storm.
      await waitFor('a re-check refused again', async () => (refusedClaims().length >= 2 ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 200,
      });
      await new Promise((r) => setTimeout(r, Math.max(0, HOLD_MS - (Date.now() - failedAt))));
      const window = Date.now() - failedAt;
      const attempts = refusedClaims().length;
      const bound = 1 + Math.floor(Math.log2((window + 2000) / 1000 / TIMING.backoffBaseSeconds + 1));
      expect(attempts, `refused PVC creates ${window} ms after the failure`).toBeLessThanOrEqual(bound);
      const warnings = (await events()).reduce((n, e) => n + (e.count ?? 1), 0);
      expect(warnings).toBeLessThanOrEqual(attempts);

      // The fix: the shipped role applied again. Nobody touches the cache; its next re-check finds the verb.
      await setRules(shipped.rules ?? []);
      const fixedAt = Date.now();
      const ready = await waitForObject<any>(
        orch.objects,
        RESOURCES.AIMModelCache,
        'denied',
        orch.namespace,
        (o) => o.status?.status === 'Ready',
        120_000,
      );
      const recovered = (Date.now() - fixedAt) / 1000;
      expect(ready.status.persistentVolumeClaim).toBeTruthy();
      expect(condition(ready, 'Ready')).toMatchObject({ status: 'True' });
      expect(recovered).toBeLessThan(90);
      console.log(
        `[rbac] OrchestratorForbidden: failed ${((failedAt - started) / 1000).toFixed(1)} s after apply, ` +
          `${attempts} refused creates in ${(window / 1000).toFixed(1)} s (bound ${bound}), ${warnings} Warning Events, ` +
          `Ready ${recovered.toFixed(1)} s after the role was fixed; message: ${message}; event: ${event.message}`,
      );
    } finally {
      await setRules(shipped.rules ?? []);
    }
  }, 240_000);
});
