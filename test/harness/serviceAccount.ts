// The orchestrator's deploy identity in the test stack: the ServiceAccount and ClusterRole of deploy/rbac.yaml,
// applied with the admin kubeconfig, and a KubeConfig holding a real ServiceAccount token (TokenRequest API) with the
// same server and CA. Workers and the bridge of the fixture talk to the API server as that account, exactly as they
// do in-cluster, so a missing rule in deploy/rbac.yaml fails a test instead of a customer's install.
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AuthorizationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { FIELD_MANAGER } from './crds.js';
import { kubeRequest, loadKubeConfig } from './kube.js';
import { waitFor } from './processes.js';
import { REPO_ROOT } from './stack.js';

const DEPLOY = join(REPO_ROOT, 'deploy');

export interface DeployObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** The namespace kustomize puts the deploy objects into (`namespace:` of deploy/kustomization.yaml). */
export function deployNamespace(): string {
  const k = parse(readFileSync(join(DEPLOY, 'kustomization.yaml'), 'utf8')) as { namespace?: string };
  if (!k.namespace) throw new Error('deploy/kustomization.yaml sets no namespace');
  return k.namespace;
}

/** The documents of a deploy/ file as kustomize would emit them: namespaced objects get the kustomize namespace. */
export function deployObjects(file: string): DeployObject[] {
  const namespace = deployNamespace();
  return parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8')).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`deploy/${file}: ${doc.errors[0]!.message}`);
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

/** The ServiceAccount that deploy/rbac.yaml binds to the ClusterRole: the identity of the worker and the bridge. */
export function orchestratorServiceAccount(): { name: string; namespace: string; username: string } {
  const sa = deployObjects('rbac.yaml').filter((o) => o.kind === 'ServiceAccount');
  if (sa.length !== 1) throw new Error(`deploy/rbac.yaml: expected one ServiceAccount, found ${sa.length}`);
  const { name, namespace } = sa[0]!.metadata;
  return { name, namespace: namespace!, username: `system:serviceaccount:${namespace}:${name}` };
}

/** Server-side applies deploy/namespace.yaml and deploy/rbac.yaml (idempotent; field manager aim-test-harness). */
export async function applyOrchestratorRbac(admin: KubeConfig): Promise<DeployObject[]> {
  const objects = [...deployObjects('namespace.yaml'), ...deployObjects('rbac.yaml')];
  for (const obj of objects) {
    const path = PATHS[obj.kind];
    if (!path) throw new Error(`no apply path for ${obj.kind} (deploy/rbac.yaml grew a new kind: add it here)`);
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
  /** The bearer token (a secret: the secrets audit scans for it). */
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

/** Where the ServiceAccount kubeconfig of a stack lives: beside the admin kubeconfig, in the stack's work dir. */
export function serviceAccountKubeconfigPath(adminKubeconfigPath: string): string {
  return join(dirname(adminKubeconfigPath), 'aim-orchestrator-sa.kubeconfig');
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
 * The worker identity of a run: applies the RBAC objects (idempotent), then reuses the run's token (kept in the
 * stack's work dir) while it has more than an hour left, or asks the TokenRequest API for a new one. Waits until the
 * ClusterRoleBinding is in force (RBAC is read from an informer cache, so a fresh binding takes a moment).
 */
export async function serviceAccountKubeConfig(adminKubeconfigPath: string): Promise<ServiceAccountIdentity> {
  const admin = loadKubeConfig(adminKubeconfigPath);
  await applyOrchestratorRbac(admin);
  const sa = orchestratorServiceAccount();
  const kubeconfigPath = serviceAccountKubeconfigPath(adminKubeconfigPath);
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
  await writeFile(kubeconfigPath, kc.exportConfig(), { mode: 0o600 });
  // In force once the account may do something only the binding grants.
  const authz = kc.makeApiClient(AuthorizationV1Api);
  await waitFor(
    `ClusterRoleBinding of ${sa.username} in force`,
    async () => {
      const review = await authz.createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { group: 'aim.silogen.ai', resource: 'aimservices', verb: 'list' } } },
      });
      return review.status?.allowed ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  return { kc, token, username: sa.username, kubeconfigPath };
}
