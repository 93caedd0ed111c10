// The orchestrator's deploy identities in the test stack: the ServiceAccounts and ClusterRoles of
// deploy/base/rbac.yaml, applied with the admin kubeconfig, and per identity a KubeConfig holding a real ServiceAccount
// token (TokenRequest API) with the same server and CA. The worker runs as the account deploy/base/worker.yaml names, the bridge as the one
// deploy/base/bridge.yaml names, and both talk to the API server exactly as they do in-cluster, so a missing rule in
// deploy/base/rbac.yaml fails a test instead of a customer's install.
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AuthorizationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { FIELD_MANAGER } from './crds.js';
import { kubeRequest, loadKubeConfig } from './kube.js';
import { waitFor } from './processes.js';
import { REPO_ROOT } from './stack.js';

const DEPLOY = join(REPO_ROOT, 'deploy', 'base');

export interface DeployObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** The namespace kustomize puts the deploy objects into (`namespace:` of deploy/base/kustomization.yaml). */
export function deployNamespace(): string {
  const k = parse(readFileSync(join(DEPLOY, 'kustomization.yaml'), 'utf8')) as { namespace?: string };
  if (!k.namespace) throw new Error('deploy/base/kustomization.yaml sets no namespace');
  return k.namespace;
}

/** The documents of a deploy/ file as kustomize would emit them: namespaced objects get the kustomize namespace. */
export function deployObjects(file: string): DeployObject[] {
  const namespace = deployNamespace();
  return parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8')).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`deploy/base/${file}: ${doc.errors[0]!.message}`);
    const obj = doc.toJS() as DeployObject | null;
    if (!obj) return [];
    return [NAMESPACED.has(obj.kind) ? { ...obj, metadata: { ...obj.metadata, namespace } } : obj];
  });
}

const NAMESPACED = new Set(['ServiceAccount', 'Role', 'RoleBinding']);
const PATHS: Record<string, (o: DeployObject) => string> = {
  Namespace: (o) => `/api/v1/namespaces/${o.metadata.name}`,
  ServiceAccount: (o) => `/api/v1/namespaces/${o.metadata.namespace}/serviceaccounts/${o.metadata.name}`,
  ClusterRole: (o) => `/apis/rbac.authorization.k8s.io/v1/clusterroles/${o.metadata.name}`,
  ClusterRoleBinding: (o) => `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${o.metadata.name}`,
};

/** The two processes of the orchestrator, each with its own ServiceAccount and ClusterRole. */
export type OrchestratorIdentity = 'worker' | 'bridge';
export const ORCHESTRATOR_IDENTITIES: readonly OrchestratorIdentity[] = ['worker', 'bridge'];

const DEPLOYMENT_FILES: Record<OrchestratorIdentity, string> = { worker: 'worker.yaml', bridge: 'bridge.yaml' };

export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export interface OrchestratorServiceAccount {
  name: string;
  namespace: string;
  /** `system:serviceaccount:<namespace>:<name>`. */
  username: string;
  /** The ClusterRole deploy/base/rbac.yaml binds to it (one ClusterRoleBinding). */
  clusterRole: string;
  rules: RbacRule[];
}

/**
 * The ServiceAccount an identity runs as: the `serviceAccountName` of its Deployment (deploy/base/worker.yaml,
 * deploy/base/bridge.yaml), which deploy/base/rbac.yaml must declare and bind to exactly one ClusterRole.
 */
export function orchestratorServiceAccount(identity: OrchestratorIdentity = 'worker'): OrchestratorServiceAccount {
  const file = DEPLOYMENT_FILES[identity];
  const deployment = deployObjects(file).find((o) => o.kind === 'Deployment');
  const pod = (deployment?.spec as { template?: { spec?: { serviceAccountName?: string } } } | undefined)?.template
    ?.spec;
  const name = pod?.serviceAccountName;
  if (!name) throw new Error(`deploy/base/${file}: no Deployment with a serviceAccountName`);
  const rbac = deployObjects('rbac.yaml');
  const sa = rbac.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === name);
  if (!sa) throw new Error(`deploy/base/rbac.yaml declares no ServiceAccount ${name} (deploy/base/${file} runs as it)`);
  const namespace = sa.metadata.namespace!;
  const bindings = rbac.filter(
    (o) =>
      o.kind === 'ClusterRoleBinding' &&
      ((o.subjects ?? []) as Array<{ kind: string; name: string; namespace?: string }>).some(
        (s) => s.kind === 'ServiceAccount' && s.name === name && s.namespace === namespace,
      ),
  );
  if (bindings.length !== 1)
    throw new Error(`deploy/base/rbac.yaml: expected one ClusterRoleBinding of ${name}, found ${bindings.length}`);
  const clusterRole = (bindings[0]!.roleRef as { kind: string; name: string }).name;
  const role = rbac.find((o) => o.kind === 'ClusterRole' && o.metadata.name === clusterRole);
  if (!role) throw new Error(`deploy/base/rbac.yaml: ClusterRole ${clusterRole} (bound to ${name}) is missing`);
  return {
    name,
    namespace,
    username: `system:serviceaccount:${namespace}:${name}`,
    clusterRole,
    rules: (role.rules ?? []) as RbacRule[],
  };
}

/**
 * Server-side applies deploy/base/namespace.yaml and deploy/base/rbac.yaml, both identities (idempotent; field manager
 * aim-test-harness).
 */
export async function applyOrchestratorRbac(admin: KubeConfig): Promise<DeployObject[]> {
  const objects = [...deployObjects('namespace.yaml'), ...deployObjects('rbac.yaml')];
  for (const obj of objects) {
    const path = PATHS[obj.kind];
    if (!path) throw new Error(`no apply path for ${obj.kind} (deploy/base/rbac.yaml grew a new kind: add it here)`);
    const query = new URLSearchParams({ fieldManager: FIELD_MANAGER, force: 'true' });
    const res = await kubeRequest(admin, {
      method: 'PATCH',
      path: `${path(obj)}?${query}`,
      body: JSON.stringify(obj),
      contentType: 'application/apply-patch+yaml',
    });
    if (res.status < 200 || res.status >= 300)
      throw new Error(`apply ${obj.kind} ${obj.metadata.name}: HTTP ${res.status}: ${res.body.slice(0, 500)}`);
  }
  return objects;
}

export interface ServiceAccountIdentity {
  kc: KubeConfig;
  /** The bearer token (a secret: test/integration/zz-secretsAudit.test.ts scans the run's logs for the worker's). */
  token: string;
  /** `system:serviceaccount:<namespace>:<name>`. */
  username: string;
  /** A kubeconfig file with the token, for `kubectl --kubeconfig` while debugging. */
  kubeconfigPath: string;
}

const TOKEN_SECONDS = 12 * 3600;

/** Seconds since the epoch at which a JWT expires (0 when unreadable). */
function jwtExpiry(token: string): number {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      exp?: number;
    };
    return payload.exp ?? 0;
  } catch {
    return 0;
  }
}

/**
 * Where an identity's ServiceAccount kubeconfig of a stack lives: beside the admin kubeconfig, in the stack's work dir
 * (`aim-orchestrator-sa.kubeconfig` for the worker, `aim-orchestrator-bridge-sa.kubeconfig` for the bridge).
 */
export function serviceAccountKubeconfigPath(
  adminKubeconfigPath: string,
  identity: OrchestratorIdentity = 'worker',
): string {
  return join(dirname(adminKubeconfigPath), `${orchestratorServiceAccount(identity).name}-sa.kubeconfig`);
}

/** A KubeConfig for `server`/CA of `admin` authenticated by a bearer token. */
function tokenKubeConfig(admin: KubeConfig, user: string, token: string): KubeConfig {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('admin kubeconfig has no current cluster');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster, name: 'aim-test' }],
    users: [{ name: user, token }],
    contexts: [{ name: user, cluster: 'aim-test', user, namespace: 'default' }],
    currentContext: user,
  });
  return kc;
}

/**
 * An identity of a run (the worker's by default): applies the RBAC objects (idempotent), then reuses the identity's
 * token (kept in the stack's work dir) while it has more than an hour left, or asks the TokenRequest API for a new
 * one. Waits until its ClusterRoleBinding is in force (RBAC is read from an informer cache, so a fresh binding takes a
 * moment), asking for the first rule its own role grants.
 */
export async function serviceAccountKubeConfig(
  adminKubeconfigPath: string,
  identity: OrchestratorIdentity = 'worker',
): Promise<ServiceAccountIdentity> {
  const admin = loadKubeConfig(adminKubeconfigPath);
  await applyOrchestratorRbac(admin);
  const sa = orchestratorServiceAccount(identity);
  const kubeconfigPath = serviceAccountKubeconfigPath(adminKubeconfigPath, identity);
  let token: string | undefined;
  if (existsSync(kubeconfigPath)) {
    const cached = loadKubeConfig(kubeconfigPath).getCurrentUser()?.token;
    if (cached && jwtExpiry(cached) > Date.now() / 1000 + 3600) token = cached;
  }
  if (!token) {
    const res = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
      name: sa.name,
      namespace: sa.namespace,
      body: { spec: { audiences: [], expirationSeconds: TOKEN_SECONDS } },
    });
    token = res.status?.token;
    if (!token) throw new Error(`TokenRequest for ${sa.username} returned no token`);
  }
  const kc = tokenKubeConfig(admin, sa.name, token);
  // Written aside and renamed: fixtures started concurrently in one process must never read a half-written file.
  const partial = `${kubeconfigPath}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(partial, kc.exportConfig(), { mode: 0o600 });
  await rename(partial, kubeconfigPath);
  // In force once the account may do something only its binding grants.
  const [rule] = sa.rules;
  if (!rule) throw new Error(`ClusterRole ${sa.clusterRole} grants nothing`);
  const [resource, subresource] = rule.resources[0]!.split('/');
  const attrs = {
    group: rule.apiGroups[0]!,
    resource: resource!,
    ...(subresource ? { subresource } : {}),
    verb: rule.verbs[0]!,
  };
  const authz = kc.makeApiClient(AuthorizationV1Api);
  await waitFor(
    `ClusterRoleBinding of ${sa.username} in force (${attrs.verb} ${rule.resources[0]})`,
    async () => {
      const review = await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attrs } } });
      return review.status?.allowed ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  return { kc, token, username: sa.username, kubeconfigPath };
}
