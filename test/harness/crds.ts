// Installing CustomResourceDefinitions into the test API server by server-side apply. Never client-side apply:
// KServe's InferenceService CRD (~1 MB) is far larger than the 256 KiB last-applied-configuration annotation allows.
import { readFile } from 'node:fs/promises';
import { ApiextensionsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { kubeRequest, loadKubeConfig } from './kube.js';
import { waitFor } from './processes.js';

export const FIELD_MANAGER = 'aim-test-harness';

export interface CrdRejection {
  crdName: string;
  status: number;
  /** The API server's Status message (or the raw body if it was not a Status). */
  message: string;
}

/** The API server rejected one or more CRDs with an error status (typically 422: the CRD itself is invalid). */
export class CrdApplyError extends Error {
  constructor(readonly rejections: readonly CrdRejection[]) {
    super(
      `server-side apply rejected ${rejections.length} CRD(s):\n` +
        rejections.map((r) => `  - ${r.crdName}: HTTP ${r.status}: ${r.message}`).join('\n'),
    );
    this.name = 'CrdApplyError';
  }
}

function statusMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON
  }
  return body.slice(0, 2000);
}

interface RawObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown };
}

function asKubeConfig(kubeconfig: string | KubeConfig): KubeConfig {
  return typeof kubeconfig === 'string' ? loadKubeConfig(kubeconfig) : kubeconfig;
}

/** Every CustomResourceDefinition document in the given YAML files (other kinds are rejected: wrong helper). */
export async function readCrdFiles(files: readonly string[]): Promise<RawObject[]> {
  const crds: RawObject[] = [];
  for (const file of files) {
    const docs = parseAllDocuments(await readFile(file, 'utf8'));
    for (const doc of docs) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      const obj = doc.toJS({ maxAliasCount: -1 }) as RawObject | null;
      if (obj === null || obj === undefined) continue; // empty document (e.g. a trailing `---`)
      if (obj.kind !== 'CustomResourceDefinition' || typeof obj.metadata?.name !== 'string') {
        throw new Error(`${file}: expected only CustomResourceDefinitions, found kind ${String(obj.kind)}`);
      }
      crds.push(obj);
    }
  }
  return crds;
}

/**
 * Server-side applies every CRD in `files` (field manager `aim-test-harness`, force) and waits until each is
 * Established. Returns the CRD names. Raw HTTPS rather than KubernetesObjectApi.patch, see kube.ts.
 */
export async function installCrds(
  kubeconfig: string | KubeConfig,
  files: readonly string[],
  opts: { timeoutMs?: number } = {},
): Promise<string[]> {
  const kc = asKubeConfig(kubeconfig);
  const crds = await readCrdFiles(files);
  // All applied even when one fails, so a broken CRD set is reported in one go.
  const results = await Promise.allSettled(
    crds.map(async (crd): Promise<string> => {
      const name = String(crd.metadata?.name);
      const query = new URLSearchParams({ fieldManager: FIELD_MANAGER, force: 'true' });
      const res = await kubeRequest(kc, {
        method: 'PATCH',
        path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}?${query}`,
        // JSON is YAML, and apply-patch+yaml is the content type that selects server-side apply.
        body: JSON.stringify(crd),
        contentType: 'application/apply-patch+yaml',
        timeoutMs: 60_000,
      });
      if (res.status < 200 || res.status >= 300) {
        throw new CrdApplyError([{ crdName: name, status: res.status, message: statusMessage(res.body) }]);
      }
      return name;
    }),
  );
  const names: string[] = [];
  const rejections: CrdRejection[] = [];
  for (const r of results) {
    if (r.status === 'fulfilled') names.push(r.value);
    else if (r.reason instanceof CrdApplyError) rejections.push(...r.reason.rejections);
    else throw r.reason; // transport problem: not the CRD's fault
  }
  if (rejections.length > 0) throw new CrdApplyError(rejections);
  await waitForCrdEstablished(kc, names, opts);
  return names;
}

/** Waits until every named CRD has condition `Established=True` (its REST endpoints are being served). */
export async function waitForCrdEstablished(
  kubeconfig: string | KubeConfig,
  names: readonly string[],
  opts: { timeoutMs?: number } = {},
): Promise<void> {
  const kc = asKubeConfig(kubeconfig);
  const api = kc.makeApiClient(ApiextensionsV1Api);
  await Promise.all(
    names.map((name) =>
      waitFor(
        `CRD ${name} Established and serving`,
        async () => {
          const crd = await api.readCustomResourceDefinition({ name });
          const established = crd.status?.conditions?.find((c) => c.type === 'Established');
          if (established?.status !== 'True') return undefined;
          // Established comes before the storage is ready: until a list answers 200 the API server says
          // "storage is (re)initializing" (429), which tests would otherwise meet as their first retry.
          const version = crd.spec.versions.find((v) => v.storage)?.name ?? crd.spec.versions[0]?.name;
          const res = await kubeRequest(kc, {
            method: 'GET',
            path: `/apis/${crd.spec.group}/${version}/${crd.spec.names.plural}?limit=1`,
          });
          return res.status === 200 ? true : undefined;
        },
        { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 200 },
      ),
    ),
  );
}
