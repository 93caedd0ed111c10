// Renders the install artifacts of deploy/ as a user would (`kubectl kustomize`, `helm template`) and sends rendered
// objects to the API server. Used by test/integration/install.test.ts.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { binPath } from './bins.js';
import { kubeRequest, type KubeResponse } from './kube.js';
import { REPO_ROOT } from './stack.js';

const run = promisify(execFile);

export const DEPLOY = join(REPO_ROOT, 'deploy');
export const CHART = join(DEPLOY, 'helm', 'aim-orchestrator');

export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** Every non-empty document of a multi-document YAML text (a parse error throws). */
export function parseObjects(text: string, what: string): RenderedObject[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${what}: ${doc.errors[0]!.message}`);
    const obj = doc.toJS({ maxAliasCount: -1 }) as RenderedObject | null;
    return obj ? [obj] : [];
  });
}

/** `kubectl kustomize deploy/<dir>` with the kubectl of the tool cache (kustomize built in). */
export async function renderKustomize(dir: string): Promise<RenderedObject[]> {
  const { stdout } = await run(binPath('kubectl'), ['kustomize', join(DEPLOY, dir)], { maxBuffer: 64 << 20 });
  return parseObjects(stdout, `kubectl kustomize deploy/${dir}`);
}

/** `helm template` of deploy/helm/aim-orchestrator into `namespace`, with the CRDs of its crds/ directory. */
export async function renderHelm(
  release: string,
  namespace: string,
  valuesFiles: readonly string[] = [],
): Promise<RenderedObject[]> {
  const args = ['template', release, CHART, '--namespace', namespace, '--include-crds'];
  for (const f of valuesFiles) args.push('--values', join(CHART, f));
  const { stdout } = await run(binPath('helm'), args, { maxBuffer: 64 << 20 });
  return parseObjects(stdout, `helm template ${args.slice(3).join(' ')}`);
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

/** The REST collection of an object's kind, found by API discovery (so that any kind the server serves works). */
export class ResourcePaths {
  private readonly discovered = new Map<string, ApiResource[]>();

  constructor(private readonly kc: KubeConfig) {}

  async path(obj: RenderedObject, defaultNamespace: string): Promise<string> {
    const groupVersion = obj.apiVersion;
    let resources = this.discovered.get(groupVersion);
    if (!resources) {
      const base = groupVersion.includes('/') ? `/apis/${groupVersion}` : `/api/${groupVersion}`;
      const res = await kubeRequest(this.kc, { method: 'GET', path: base });
      if (res.status !== 200) throw new Error(`discovery of ${groupVersion}: HTTP ${res.status}: ${res.body}`);
      resources = (JSON.parse(res.body) as { resources: ApiResource[] }).resources;
      this.discovered.set(groupVersion, resources);
    }
    const resource = resources.find((r) => r.kind === obj.kind && !r.name.includes('/'));
    if (!resource) throw new Error(`the API server serves no ${obj.kind} in ${groupVersion}`);
    const root = groupVersion.includes('/') ? `/apis/${groupVersion}` : `/api/${groupVersion}`;
    const scope = resource.namespaced ? `/namespaces/${obj.metadata.namespace ?? defaultNamespace}` : '';
    return `${root}${scope}/${resource.name}/${encodeURIComponent(obj.metadata.name)}`;
  }
}

/**
 * Server-side apply of one object as `kubectl apply --server-side` would send it, with strict field validation (an
 * unknown or misspelt field is an error, not a silent drop). `dryRun`: the API server runs validation and admission
 * (Pod Security included) and persists nothing.
 */
export async function serverSideApply(
  kc: KubeConfig,
  paths: ResourcePaths,
  obj: RenderedObject,
  opts: { namespace: string; dryRun: boolean; fieldManager: string },
): Promise<KubeResponse> {
  const query = new URLSearchParams({ fieldManager: opts.fieldManager, force: 'true', fieldValidation: 'Strict' });
  if (opts.dryRun) query.set('dryRun', 'All');
  return kubeRequest(kc, {
    method: 'PATCH',
    path: `${await paths.path(obj, opts.namespace)}?${query}`,
    body: JSON.stringify(obj),
    contentType: 'application/apply-patch+yaml',
    timeoutMs: 60_000,
  });
}
