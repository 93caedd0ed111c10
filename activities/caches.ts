import type { V1Job, V1OwnerReference, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { API_GROUP_VERSION, FIELD_MANAGERS, LABELS } from '../schemas/constants.js';
import type { AIMModelCacheSpec, Condition, ObjectStatus } from '../schemas/types.js';
import { validateObject, type FieldError } from '../schemas/validate.js';
import { formatBytes, quantityToBytes } from '../schemas/quantity.js';
import { accessModeToWrite, buildCachePvc } from '../domain/caches.js';
import {
  buildDownloaderJob,
  buildProgressRole,
  buildProgressRoleBinding,
  CACHE_LABEL,
  DOWNLOADER_SERVICE_ACCOUNT,
  downloaderServiceAccount,
} from '../domain/jobs.js';
import { downloadJobName, probeJobName } from '../domain/naming.js';
import { setCondition } from '../domain/status.js';
import type { ActivityContext } from './context.js';
import { readOwn, readsOf } from './kube/reads.js';
import { emitTransitions } from './events.js';
import { createJobIfAbsent, jobActivities } from './jobs.js';
import { secretActivities } from './secrets.js';
import { secretRefs } from '../domain/env.js';
import { RESOURCES } from './kube/resources.js';
import { toKubeError } from './kube/errors.js';
import { toApplicationFailure } from './failures.js';
import type { ConditionInput, SourceFacts } from './modelStatus.js';

export interface CacheRef {
  name: string;
  namespace: string;
}

interface RawCache {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    deletionTimestamp?: Date;
    labels?: Record<string, string>;
  };
  spec: AIMModelCacheSpec;
  status?: {
    status?: ObjectStatus;
    conditions?: Condition[];
    probeAttempt?: number;
    attempt?: number;
    verified?: boolean;
    source?: { totalBytes: number; files: number; revision?: string };
  };
}

export interface CacheSnapshot {
  exists: boolean;
  uid?: string;
  generation?: number;
  deleting?: boolean;
  invalid?: FieldError[];
  /** Ready and verified: nothing to download. */
  ready?: boolean;
  probeAttempt?: number;
  attempt?: number;
  maxAttempts?: number;
  specSizeBytes?: number;
  huggingFace?: boolean;
  mode?: 'Dedicated' | 'Shared';
}

/** One status write of the cache workflow: conditions by type plus the fields that changed. */
export interface CacheStatusUpdate {
  status: ObjectStatus;
  conditions: Array<ConditionInput & { type: string }>;
  source?: Omit<SourceFacts, 'modelId'>;
  probeAttempt?: number;
  attempt?: number;
  persistentVolumeClaim?: string;
  allocatedSize?: string;
  displaySize?: string;
  verified?: boolean;
}

const owner = (c: RawCache): V1OwnerReference => ({
  apiVersion: API_GROUP_VERSION,
  kind: 'AIMModelCache',
  name: c.metadata.name,
  uid: c.metadata.uid,
});

export function cacheActivities(ctx: ActivityContext) {
  const fail = (action: string) => (err: unknown) => {
    throw toApplicationFailure(toKubeError(err), action);
  };
  async function read(ref: CacheRef, uid?: string): Promise<RawCache | undefined> {
    const c = await readsOf(ctx)
      .get<RawCache>('AIMModelCache', ref.name, ref.namespace)
      .catch(fail(`get cache ${ref.name}`));
    if (uid && c && c.metadata.uid !== uid) return undefined;
    return c;
  }
  const secrets = secretActivities(ctx);
  /** Deletes a Job of this cache (owner checked: never someone else's Job of the same name); gone is fine. */
  async function deleteOwnedJob(ref: CacheRef, uid: string, job: V1Job): Promise<void> {
    const name = job.metadata?.name ?? '';
    if (!job.metadata?.ownerReferences?.some((o) => o.uid === uid)) return;
    await ctx.batch
      .deleteNamespacedJob({ name, namespace: ref.namespace, propagationPolicy: 'Background' })
      .catch((err: unknown) => {
        if (toKubeError(err).kind !== 'NotFound') fail(`delete job ${name}`)(err);
      });
    ctx.reads?.noteDelete('Job', name, ref.namespace);
  }
  async function mustRead(ref: CacheRef, uid: string): Promise<RawCache> {
    const c = await read(ref, uid);
    if (!c) throw ApplicationFailure.nonRetryable(`AIMModelCache ${ref.namespace}/${ref.name} is gone`, 'ObjectGone');
    return c;
  }
  const jobSource = (c: RawCache) => ({
    modelId: c.spec.modelId,
    sourceUri: c.spec.sourceUri,
    env: c.spec.env ?? [],
    ...(c.spec.size !== undefined ? { expectedSizeBytes: Number(quantityToBytes(c.spec.size)) } : {}),
    ...(c.spec.caBundle ? { caBundle: c.spec.caBundle } : {}),
  });
  const common = (c: RawCache) => ({
    namespace: c.metadata.namespace,
    owner: owner(c),
    image: ctx.settings.downloaderImage,
    serviceAccountName: downloaderServiceAccount(c.spec.serviceAccountName),
    sources: [jobSource(c)],
    labels: { [CACHE_LABEL]: c.metadata.name },
    ...(c.spec.nodeAffinity ? { nodeAffinity: c.spec.nodeAffinity } : {}),
    ...(c.spec.tolerations ? { tolerations: c.spec.tolerations } : {}),
  });

  return {
    async readCache(ref: CacheRef): Promise<CacheSnapshot> {
      const c = await readOwn<RawCache>(ctx, 'AIMModelCache', ref.name, ref.namespace).catch(
        fail(`get cache ${ref.name}`),
      );
      if (!c) return { exists: false };
      const base = {
        exists: true,
        uid: c.metadata.uid,
        generation: c.metadata.generation,
        deleting: Boolean(c.metadata.deletionTimestamp),
      };
      const v = validateObject('AIMModelCache', c);
      if (!v.ok) return { ...base, invalid: v.errors };
      return {
        ...base,
        ready: c.status?.status === 'Ready' && c.status.verified === true,
        probeAttempt: c.status?.probeAttempt ?? 0,
        attempt: c.status?.attempt ?? 0,
        maxAttempts: v.value.spec.maxAttempts,
        ...(c.spec.size !== undefined ? { specSizeBytes: Number(quantityToBytes(c.spec.size)) } : {}),
        huggingFace: c.spec.sourceUri.startsWith('hf://'),
        mode: c.metadata.labels?.[LABELS.cacheMode] === 'shared' ? 'Shared' : 'Dedicated',
      };
    },

    /** The downloader's identity and its right to write this cache's progress, and nothing else (spec 6). */
    async ensureCacheRbac(ref: CacheRef, uid: string): Promise<void> {
      const c = await mustRead(ref, uid);
      const sa = downloaderServiceAccount(c.spec.serviceAccountName);
      // Read before create: the account exists in all but the first cache of a namespace, and a refused create is
      // still a write request.
      if (sa === DOWNLOADER_SERVICE_ACCOUNT) await jobActivities(ctx).ensureDownloaderServiceAccount(ref.namespace);
      for (const create of [
        () =>
          ctx.rbac.createNamespacedRole({
            namespace: ref.namespace,
            body: buildProgressRole(ref.name, ref.namespace, owner(c)),
          }),
        () =>
          ctx.rbac.createNamespacedRoleBinding({
            namespace: ref.namespace,
            body: buildProgressRoleBinding(ref.name, ref.namespace, sa, owner(c)),
          }),
      ]) {
        await create().catch((err: unknown) => {
          if (toKubeError(err).kind !== 'AlreadyExists') fail(`create progress RBAC of ${ref.name}`)(err);
        });
      }
    },

    /** Every secretKeyRef of the cache's env must exist (namespace/secret/key named when not): no Job before that. */
    async checkCacheSecrets(ref: CacheRef, uid: string): Promise<{ missing: number; message: string }> {
      const c = await mustRead(ref, uid);
      const r = await secrets.checkSecretRefs(ref.namespace, secretRefs(c.spec.env));
      return { missing: r.missing.length, message: r.message };
    },

    async startCacheProbe(ref: CacheRef, uid: string, attempt: number): Promise<string> {
      const c = await mustRead(ref, uid);
      const job = buildDownloaderJob({ ...common(c), mode: 'probe', name: probeJobName(ref.name, attempt) });
      return (await createJobIfAbsent(ctx, job)).name;
    },

    /**
     * Create-or-get of the cache's volume, sized `ceil_GiB(bytes × (1 + headroom))` (spec 5.4 step 2). A cache
     * without an access mode gets one written into its spec first (chosen once), so the volume and the spec agree.
     * `bound` says whether the claim is Bound yet: WaitForFirstConsumer classes bind only when the download pod is
     * scheduled, so an unbound claim is not yet a failure, but not a ready volume either.
     */
    async ensureCachePvc(
      ref: CacheRef,
      uid: string,
      bytes: number,
    ): Promise<{ name: string; size: string; bound: boolean; className?: string; accessMode: string }> {
      let c = await mustRead(ref, uid);
      const chosen = accessModeToWrite(c);
      if (chosen) {
        c = await ctx.objects
          .apply<RawCache>(
            RESOURCES.AIMModelCache,
            {
              apiVersion: API_GROUP_VERSION,
              kind: 'AIMModelCache',
              metadata: { name: ref.name, namespace: ref.namespace, uid },
              spec: { accessMode: chosen },
            } as never,
            { fieldManager: FIELD_MANAGERS.orchestrator },
          )
          .catch(fail(`write the access mode of cache ${ref.name}`));
      }
      const desired = buildCachePvc(c, uid, BigInt(bytes));
      const name = desired.metadata!.name!;
      const facts = (pvc: V1PersistentVolumeClaim) => ({
        name,
        size: String(pvc.spec?.resources?.requests?.storage ?? ''),
        bound: pvc.status?.phase === 'Bound',
        accessMode: pvc.spec?.accessModes?.[0] ?? c.spec.accessMode!,
        ...(pvc.spec?.storageClassName ? { className: pvc.spec.storageClassName } : {}),
      });
      try {
        const created = await ctx.core.createNamespacedPersistentVolumeClaim({
          namespace: ref.namespace,
          body: desired,
        });
        ctx.reads?.noteWrite('PersistentVolumeClaim', name, ref.namespace, created.metadata?.resourceVersion);
        return facts(created);
      } catch (err) {
        if (toKubeError(err).kind !== 'AlreadyExists') fail(`create pvc ${name}`)(err);
        const existing = await readsOf(ctx)
          .get<V1PersistentVolumeClaim>('PersistentVolumeClaim', name, ref.namespace)
          .catch(fail(`get pvc ${name}`));
        // Gone again since the create was refused (a deleted cache's claim): the typed NotFound of a GET.
        return facts(
          existing ??
            (await ctx.core
              .readNamespacedPersistentVolumeClaim({ name, namespace: ref.namespace })
              .catch(fail(`get pvc ${name}`))),
        );
      }
    },

    async startDownload(
      ref: CacheRef,
      uid: string,
      attempt: number,
      hfDisableXet: boolean,
      pvc: string,
    ): Promise<string> {
      const c = await mustRead(ref, uid);
      const job = buildDownloaderJob({
        ...common(c),
        mode: 'download',
        name: downloadJobName(ref.name, attempt),
        ...(ctx.settings.downloadMemoryLimit ? { downloadMemoryLimit: ctx.settings.downloadMemoryLimit } : {}),
        cache: {
          name: ref.name,
          pvcName: pvc,
          stallTimeoutSeconds: c.spec.stallTimeoutSeconds ?? 120,
          attempt,
          hfDisableXet,
        },
      });
      return (await createJobIfAbsent(ctx, job)).name;
    },

    /**
     * Deletes one of this cache's Jobs whose pod never started (PodNotStarted, ImagePullFailed, VolumeNotBound), so
     * that Kubernetes cannot start it later beside the next attempt. Only a Job this cache owns; gone counts as done.
     */
    async deleteCacheJob(ref: CacheRef, uid: string, name: string): Promise<void> {
      const job = await readsOf(ctx)
        .get<V1Job>('Job', name, ref.namespace)
        .catch(fail(`get job ${name}`));
      if (job) await deleteOwnedJob(ref, uid, job);
    },

    /**
     * Before an attempt counter would pass 999: delete that kind's finished Jobs of this cache so that numbering can
     * start again at 1 without create-or-get ever meeting an old Job (spec 3).
     */
    async deleteFinishedCacheJobs(ref: CacheRef, uid: string, kind: 'probe' | 'dl'): Promise<number> {
      const jobs = await readsOf(ctx)
        .list<V1Job>('Job', ref.namespace, `${CACHE_LABEL}=${ref.name}`)
        .catch(fail(`list jobs of ${ref.name}`));
      const finished = jobs.filter(
        (j) =>
          j.metadata?.name?.startsWith(`${ref.name}-${kind}-`) &&
          j.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True'),
      );
      for (const j of finished) await deleteOwnedJob(ref, uid, j);
      return finished.length;
    },

    /** Conditions and fields through the status subresource (field manager aim-orchestrator); Events on transitions. */
    async writeCacheStatus(ref: CacheRef, uid: string, generation: number, update: CacheStatusUpdate): Promise<void> {
      const c = await read(ref, uid);
      if (!c) return;
      const now = new Date().toISOString();
      const before = c.status?.conditions ?? [];
      let conditions = before;
      for (const cond of update.conditions) conditions = setCondition(conditions, cond, now, generation);
      const { conditions: _ignored, ...fields } = update;
      // Server-side apply drops fields a manager stops sending: carry over what earlier writes set. Not `progress`
      // (the downloader's) nor `lastUsed` (services', under its own manager: activities/cacheUsage.ts).
      const {
        progress: _progress,
        conditions: _old,
        lastUsed: _lastUsed,
        ...previous
      } = (c.status ?? {}) as Record<string, unknown>;
      await ctx.objects
        .applyStatus(
          RESOURCES.AIMModelCache,
          {
            apiVersion: API_GROUP_VERSION,
            kind: 'AIMModelCache',
            metadata: { name: ref.name, namespace: ref.namespace },
            status: {
              ...previous,
              ...fields,
              mode: c.metadata.labels?.[LABELS.cacheMode] === 'shared' ? 'Shared' : 'Dedicated',
              observedGeneration: generation,
              conditions,
              ...(update.source ? { displaySize: formatBytes(update.source.totalBytes) } : {}),
            },
          } as never,
          { fieldManager: FIELD_MANAGERS.orchestrator },
        )
        .catch(fail(`write status of cache ${ref.name}`));
      await emitTransitions(
        ctx,
        { apiVersion: API_GROUP_VERSION, kind: 'AIMModelCache', name: ref.name, namespace: ref.namespace, uid },
        before,
        conditions,
      );
    },
  };
}
