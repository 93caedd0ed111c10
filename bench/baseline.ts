/**
 * The "same Kubernetes calls issued back-to-back by a script" baseline of the orchestration bench.
 *
 * `recordService` reads back everything the orchestrator made for one service (model, template, cache, the
 * ServiceAccount, Role and RoleBinding, the probe and download Jobs, the PVC, the InferenceService, and the final
 * statuses); `replayService` issues the same objects into a fresh namespace, one call at a time, with the same API
 * server, identity and kubelet: apply the AIMService (as the user does), its finalizer, model, template, their
 * statuses, the service status, the cache, ServiceAccount, Role, RoleBinding, the probe Job (waiting on a watch for
 * Complete), the PVC, the download Job (waiting for Complete), the cache status, the InferenceService. Nothing decides
 * anything: the difference to the orchestrated run is Temporal, the workflows, and the orchestrator's extra reads and
 * writes (extra status updates, create-or-get reads, Job polling). The replay ends when the InferenceService exists;
 * KServe then deploys it like any other (the bench deletes it again, so that its predictor does not hold a GPU).
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { RESOURCES, type ResourceRef } from '../activities/kube/resources.js';
import { oneAtATime } from '../activities/kube/oneAtATime.js';
import { customModelOwnerPatch } from '../domain/customModel.js';
import { FIELD_MANAGERS, FINALIZER_CLEANUP } from '../schemas/constants.js';
import { kubeRequest } from '../test/harness/kube.js';
import type { Manifest } from '../test/cases/examples.js';
import { within } from './measure.js';

type Json = Record<string, unknown> & { metadata: Record<string, unknown> & { name: string; uid?: string } };

interface Step {
  what: string;
  method: 'POST' | 'APPLY';
  /** Collection path (POST) or object path (APPLY) in the recorded namespace. */
  path: string;
  body: Json;
  fieldManager?: string;
  /** UID of the recorded object: owner references to it are mapped to the replayed object's UID. */
  recordedUid?: string;
  /** After the call: wait until this Job is Complete. */
  waitForJob?: string;
}

export interface Recording {
  namespace: string;
  service: Manifest;
  serviceUid: string;
  steps: Step[];
}

const crPath = (res: ResourceRef, ns: string, name?: string) =>
  `/apis/${res.group}/${res.version}/namespaces/${ns}/${res.plural}${name ? `/${name}` : ''}`;

async function getJson(kc: KubeConfig, path: string): Promise<Json> {
  const res = await kubeRequest(kc, { method: 'GET', path });
  if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return JSON.parse(res.body) as Json;
}

/** An object as a client would send it: no server-set metadata, status, or controller-generated selectors. */
function clean(obj: Json): Json {
  const o = structuredClone(obj);
  delete o.status;
  const md = o.metadata;
  for (const k of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink'])
    delete md[k];
  const stripLabels = (labels: unknown) => {
    const l = labels as Record<string, string> | undefined;
    for (const k of Object.keys(l ?? {})) if (/(^|\/)(controller-uid|job-name)$/.test(k)) delete l![k];
  };
  stripLabels(md.labels);
  const ann = md.annotations as Record<string, string> | undefined;
  for (const k of Object.keys(ann ?? {})) if (/^(pv\.kubernetes\.io|volume\.)/.test(k)) delete ann![k];
  if (ann && Object.keys(ann).length === 0) delete md.annotations;
  if (Array.isArray(md.finalizers))
    md.finalizers = md.finalizers.filter((f) => !String(f).startsWith('kubernetes.io/'));
  const spec = o.spec as Record<string, unknown> | undefined;
  if (o.kind === 'Job' && spec) {
    delete spec.selector;
    stripLabels((spec.template as { metadata?: { labels?: unknown } }).metadata?.labels);
  }
  if (o.kind === 'PersistentVolumeClaim' && spec) delete spec.volumeName;
  return o;
}

function statusOnly(obj: Json): Json {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace },
    status: obj.status,
  } as Json;
}

const applyStep = (what: string, res: ResourceRef, obj: Json, namespace: string, fieldManager?: string): Step => ({
  what,
  method: 'APPLY',
  path: crPath(res, namespace, obj.metadata.name),
  body: clean(obj),
  ...(obj.metadata.uid ? { recordedUid: obj.metadata.uid } : {}),
  ...(fieldManager ? { fieldManager } : {}),
});

const statusStep = (what: string, res: ResourceRef, obj: Json, namespace: string): Step => ({
  what,
  method: 'APPLY',
  path: `${crPath(res, namespace, obj.metadata.name)}/status`,
  body: statusOnly(obj),
});

const postStep = (what: string, collection: string, obj: Json, waitForJob?: string): Step => ({
  what,
  method: 'POST',
  path: collection,
  body: clean(obj),
  ...(waitForJob ? { waitForJob } : {}),
});

/** The orchestrator's finalizer on the service (its own field manager). */
const finalizerStep = (svc: Json, namespace: string): Step =>
  applyStep(
    'service finalizer',
    RESOURCES.AIMService,
    {
      apiVersion: svc.apiVersion,
      kind: svc.kind,
      metadata: { name: svc.metadata.name, namespace, finalizers: [FINALIZER_CLEANUP] },
    } as Json,
    namespace,
    FIELD_MANAGERS.finalizer,
  );

/** Reads back what the orchestrator made for `serviceName` (which must have its InferenceService). */
export async function recordService(kc: KubeConfig, namespace: string, serviceName: string): Promise<Recording> {
  const svc = await getJson(kc, crPath(RESOURCES.AIMService, namespace, serviceName));
  const st = svc.status as {
    resolvedModel: { name: string };
    resolvedTemplate: { name: string };
    caches: Array<{ name: string }>;
  };
  const model = await getJson(kc, crPath(RESOURCES.AIMModel, namespace, st.resolvedModel.name));
  const template = await getJson(kc, crPath(RESOURCES.AIMServiceTemplate, namespace, st.resolvedTemplate.name));
  const cacheName = st.caches[0]!.name;
  const cache = await getJson(kc, crPath(RESOURCES.AIMModelCache, namespace, cacheName));
  const cacheStatus = cache.status as { persistentVolumeClaim: string; probeAttempt?: number; attempt?: number };
  const sa = await getJson(kc, `/api/v1/namespaces/${namespace}/serviceaccounts/aim-downloader`);
  const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}`;
  const role = await getJson(kc, `${rbac}/roles/${cacheName}-progress`);
  const binding = await getJson(kc, `${rbac}/rolebindings/${cacheName}-progress`);
  const jobs = `/apis/batch/v1/namespaces/${namespace}/jobs`;
  const probe = await getJson(kc, `${jobs}/${cacheName}-probe-${cacheStatus.probeAttempt ?? 1}`);
  const download = await getJson(kc, `${jobs}/${cacheName}-dl-${cacheStatus.attempt ?? 1}`);
  const pvc = await getJson(
    kc,
    `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${cacheStatus.persistentVolumeClaim}`,
  );
  const isvc = await getJson(kc, crPath(RESOURCES.InferenceService, namespace, serviceName));
  // KServe's finalizer (added when its controller reconciled the InferenceService) is not the orchestrator's write.
  delete isvc.metadata.finalizers;

  const service = clean(svc) as unknown as Manifest;
  delete (service.metadata as Record<string, unknown>).finalizers;
  const applyCr = (what: string, res: ResourceRef, obj: Json) => applyStep(what, res, obj, namespace);
  const status = (what: string, res: ResourceRef, obj: Json) => statusStep(what, res, obj, namespace);
  const steps: Step[] = [
    finalizerStep(svc, namespace),
    applyCr('model', RESOURCES.AIMModel, model),
    applyCr('template', RESOURCES.AIMServiceTemplate, template),
    status('template status', RESOURCES.AIMServiceTemplate, template),
    status('model status', RESOURCES.AIMModel, model),
    status('service status', RESOURCES.AIMService, svc),
    applyCr('cache', RESOURCES.AIMModelCache, cache),
    postStep('serviceaccount', `/api/v1/namespaces/${namespace}/serviceaccounts`, sa),
    postStep('role', `${rbac}/roles`, role),
    postStep('rolebinding', `${rbac}/rolebindings`, binding),
    postStep('probe job', jobs, probe, probe.metadata.name),
    postStep('pvc', `/api/v1/namespaces/${namespace}/persistentvolumeclaims`, pvc),
    postStep('download job', jobs, download, download.metadata.name),
    status('cache status', RESOURCES.AIMModelCache, cache),
    applyCr('inferenceservice', RESOURCES.InferenceService, isvc),
  ];
  return { namespace, service, serviceUid: svc.metadata.uid!, steps };
}

/**
 * The fleet's per-service calls, for the fleet bench's script baseline: with Shared caching the model, template,
 * cache, PVC and download are made once (by the warm-up service: `recordService` of it replays them, untimed), and
 * each fleet service adds its finalizer, its owner entry on the model, its status, its own attach probe Job if it
 * made one (owned by the service; waited for Complete) and its InferenceService. One LIST of the namespace's Jobs,
 * then two GETs per service.
 */
export async function recordFleetServices(
  kc: KubeConfig,
  namespace: string,
  names: readonly string[],
): Promise<Recording[]> {
  const jobsPath = `/apis/batch/v1/namespaces/${namespace}/jobs`;
  const jobs = ((await getJson(kc, jobsPath)) as unknown as { items: Json[] }).items;
  const out: Recording[] = [];
  for (const name of names) {
    const svc = await getJson(kc, crPath(RESOURCES.AIMService, namespace, name));
    const isvc = await getJson(kc, crPath(RESOURCES.InferenceService, namespace, name));
    delete isvc.metadata.finalizers;
    const own = jobs.filter((j) =>
      (j.metadata.ownerReferences as Array<{ uid: string }> | undefined)?.some((o) => o.uid === svc.metadata.uid),
    );
    const service = clean(svc) as unknown as Manifest;
    delete (service.metadata as Record<string, unknown>).finalizers;
    const model = (svc.status as { resolvedModel?: { name: string } } | undefined)?.resolvedModel?.name;
    // The service's owner entry on the shared model (its own field manager), as the orchestrator adds it.
    const ownerStep: Step[] = model
      ? [
          {
            what: 'owner entry on the model',
            method: 'APPLY',
            path: crPath(RESOURCES.AIMModel, namespace, model),
            body: customModelOwnerPatch(model, namespace, {
              metadata: { name, uid: svc.metadata.uid! },
            }) as unknown as Json,
            fieldManager: FIELD_MANAGERS.owner(svc.metadata.uid!),
          },
        ]
      : [];
    out.push({
      namespace,
      service,
      serviceUid: svc.metadata.uid!,
      steps: [
        finalizerStep(svc, namespace),
        ...ownerStep,
        statusStep('service status', RESOURCES.AIMService, svc, namespace),
        ...own.map((j) => postStep('attach probe job', jobsPath, j, j.metadata.name)),
        applyStep('inferenceservice', RESOURCES.InferenceService, isvc, namespace),
      ],
    });
  }
  return out;
}

/** Writes one replay issues (the user's AIMService apply included). */
export const replayWrites = (rec: Recording): number => rec.steps.length + 1;

async function waitForJobComplete(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  let abort: AbortController | undefined;
  const done = new Promise<void>((resolve, reject) => {
    const onEvent = (_type: string, job: { status?: { conditions?: Array<{ type: string; status: string }> } }) => {
      const c = job.status?.conditions?.find(
        (x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True',
      );
      if (c?.type === 'Complete') resolve();
      else if (c) reject(new Error(`job ${namespace}/${name} failed`));
    };
    void new Watch(kc)
      .watch(
        `/apis/batch/v1/namespaces/${namespace}/jobs`,
        { fieldSelector: `metadata.name=${name}` },
        onEvent,
        (err?: unknown) => reject(err instanceof Error ? err : new Error(`watch of job ${name} ended`)),
      )
      .then((ac) => (abort = ac), reject);
  });
  try {
    await within(done, 300_000, `job ${namespace}/${name} to complete`);
  } finally {
    abort?.abort();
  }
}

/**
 * Issues the recording into `namespace` (which must exist with the credentials Secret), starting with the user's
 * apply of the AIMService. Returns once the InferenceService is created, with the UIDs it mapped.
 */
export async function replayService(
  kc: KubeConfig,
  rec: Recording,
  namespace: string,
  known: ReadonlyMap<string, string> = new Map(),
): Promise<Map<string, string>> {
  // Recorded UID → replayed UID (owner references), starting from what an earlier replay made (the fleet's shared objects).
  const uids = new Map(known);
  const retarget = (body: Json) => {
    let s = JSON.stringify(body).replaceAll(`"${rec.namespace}"`, `"${namespace}"`);
    for (const [from, to] of uids) s = s.replaceAll(from, to);
    return s;
  };
  const send = async (method: 'POST' | 'APPLY', path: string, body: Json, fieldManager: string, force: boolean) => {
    const url = `${path.replace(`/namespaces/${rec.namespace}/`, `/namespaces/${namespace}/`)}?fieldManager=${encodeURIComponent(fieldManager)}${method === 'APPLY' && force ? '&force=true' : ''}`;
    const res = await kubeRequest(kc, {
      method: method === 'APPLY' ? 'PATCH' : 'POST',
      path: url,
      // A script that measures, not one that gives up: on a loaded machine a write can outlast the default 10 s.
      timeoutMs: 60_000,
      body: retarget(body),
      ...(method === 'APPLY' ? { contentType: 'application/apply-patch+yaml' } : {}),
    });
    if (res.status >= 300) throw new Error(`${method} ${url}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
    return JSON.parse(res.body) as Json;
  };
  const created = await send(
    'APPLY',
    crPath(RESOURCES.AIMService, rec.namespace, rec.service.metadata.name),
    rec.service as unknown as Json,
    'kubectl',
    false,
  );
  uids.set(rec.serviceUid, created.metadata.uid!);
  for (const step of rec.steps) {
    const write = () => send(step.method, step.path, step.body, step.fieldManager ?? FIELD_MANAGERS.orchestrator, true);
    // Owner entries on the shared model go one at a time, as the worker sends them (activities/kube/oneAtATime.ts):
    // 20 concurrent applies to one object with hundreds of field managers ran into the API server's 60 s timeout.
    const out = step.fieldManager?.startsWith(FIELD_MANAGERS.owner(''))
      ? await oneAtATime(`${namespace} ${step.path}`, write)
      : await write();
    if (step.recordedUid && out.metadata.uid) uids.set(step.recordedUid, out.metadata.uid);
    if (step.waitForJob) await waitForJobComplete(kc, namespace, step.waitForJob);
  }
  return uids;
}
