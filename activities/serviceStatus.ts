import { Context } from '@temporalio/activity';
import { API_GROUP_VERSION } from '../schemas/constants.js';
import type { Condition } from '../schemas/types.js';
import { setCondition } from '../domain/status.js';
import type { UsedCache } from './cacheUsage.js';
import type { ActivityContext } from './context.js';
import { readsOf } from './kube/reads.js';
import { emitTransitions } from './events.js';
import { toApplicationFailure } from './failures.js';
import { sameContent } from './kube/applyIfChanged.js';
import { toKubeError } from './kube/errors.js';
import { RESOURCES } from './kube/resources.js';
import type { ConditionInput } from './modelStatus.js';

export interface ServiceRef {
  name: string;
  namespace: string;
}

export interface ObjectRef {
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/** A cache as a service shows it: state, progress, volume and why it is not Ready. */
export interface CacheView {
  name: string;
  modelId: string;
  status: string;
  percent?: number;
  display?: string;
  pvcName?: string;
  reason?: string;
  message?: string;
}

export interface ServiceReport {
  status: 'Pending' | 'Starting' | 'Running' | 'Degraded' | 'Failed';
  conditions: Array<ConditionInput & { type: string }>;
  resolvedModel?: ObjectRef;
  resolvedTemplate?: ObjectRef;
  caches?: CacheView[];
  progressDisplay?: string;
  /** Where the model is served, once the InferenceService step was reached. */
  endpoint?: { inferenceService: string; url?: string; internalUrl?: string };
}

interface LiveCache {
  apiVersion: string;
  kind: string;
  metadata: { name: string; uid?: string; labels?: Record<string, string> };
  status?: {
    status?: string;
    persistentVolumeClaim?: string;
    progress?: { percent?: number; display?: string };
    conditions?: Condition[];
    lastUsed?: string;
  };
}

/** The caches a service lists, as it shows them; `seen` are the live objects (for the Shared caches' lastUsed). */
export async function readCacheViews(
  ctx: ActivityContext,
  namespace: string,
  caches: Array<{ name: string; modelId: string }>,
): Promise<{ views: CacheView[]; seen: Array<UsedCache | undefined> }> {
  const views: CacheView[] = [];
  const seen: Array<UsedCache | undefined> = [];
  for (const c of caches) {
    const obj = await readsOf(ctx)
      .get<LiveCache>('AIMModelCache', c.name, namespace)
      .catch((err: unknown) => {
        throw toApplicationFailure(toKubeError(err), `get cache ${c.name}`);
      });
    seen.push(obj);
    const ready = obj?.status?.conditions?.find((x) => x.type === 'Ready');
    views.push({
      name: c.name,
      modelId: c.modelId,
      status: obj?.status?.status ?? (obj ? 'Pending' : 'Missing'),
      ...(obj?.status?.progress?.percent !== undefined ? { percent: obj.status.progress.percent } : {}),
      ...(obj?.status?.progress?.display ? { display: obj.status.progress.display } : {}),
      ...(obj?.status?.persistentVolumeClaim ? { pvcName: obj.status.persistentVolumeClaim } : {}),
      ...(ready && ready.status === 'False' ? { reason: ready.reason, message: ready.message } : {}),
    });
  }
  return { views, seen };
}

/**
 * A service's status with every condition of spec 8, resolved objects, cache progress and the writing workflow's
 * id, through the status subresource; Events on condition transitions. Skipped when nothing would change.
 */
export async function writeServiceStatus(
  ctx: ActivityContext,
  ref: ServiceRef,
  uid: string,
  generation: number,
  report: ServiceReport,
): Promise<void> {
  const s = await readsOf(ctx).get<{
    apiVersion: string;
    kind: string;
    metadata: { uid: string };
    status?: { conditions?: Condition[] };
  }>('AIMService', ref.name, ref.namespace);
  if (!s || s.metadata.uid !== uid) return;
  const now = new Date().toISOString();
  const before = s.status?.conditions ?? [];
  let conditions = before;
  for (const c of report.conditions) conditions = setCondition(conditions, c, now, generation);
  const wf = Context.current().info.workflowExecution ?? { workflowId: '', runId: '' };
  const status = {
    status: report.status,
    observedGeneration: generation,
    conditions,
    ...(report.resolvedModel ? { resolvedModel: report.resolvedModel } : {}),
    ...(report.resolvedTemplate ? { resolvedTemplate: report.resolvedTemplate } : {}),
    ...(report.caches
      ? {
          caches: report.caches.map((c) => ({
            name: c.name,
            modelId: c.modelId,
            status: c.status,
            ...(c.percent !== undefined ? { percent: c.percent } : {}),
          })),
        }
      : {}),
    ...(report.progressDisplay ? { progressDisplay: report.progressDisplay } : {}),
    ...(report.endpoint ? { endpoint: report.endpoint } : {}),
    workflow: { id: wf.workflowId, runId: wf.runId },
  };
  // Most passes of a converged service report what is already there: skip the write (no transition either).
  if (sameContent(s.status, status)) return;
  await ctx.objects
    .applyStatus(RESOURCES.AIMService, {
      apiVersion: API_GROUP_VERSION,
      kind: 'AIMService',
      metadata: { name: ref.name, namespace: ref.namespace },
      status,
    } as never)
    .catch((err: unknown) => {
      throw toApplicationFailure(toKubeError(err), `write status of service ${ref.name}`);
    });
  await emitTransitions(
    ctx,
    { apiVersion: API_GROUP_VERSION, kind: 'AIMService', name: ref.name, namespace: ref.namespace, uid },
    before,
    conditions,
  );
}
