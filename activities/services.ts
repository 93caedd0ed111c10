import { ApplicationFailure } from '@temporalio/common';
import { API_GROUP_VERSION, FIELD_MANAGERS, FINALIZER_CLEANUP, LABELS } from '../schemas/constants.js';
import type {
  AIMModelSpec,
  AIMServiceSpec,
  AIMServiceTemplateSpec,
  AIMServiceTemplateStatus,
  Condition,
} from '../schemas/types.js';
import { validateObject, type FieldError } from '../schemas/validate.js';
import { buildCustomModel, customModelMatches, customModelOwnerPatch } from '../domain/customModel.js';
import { desiredCaches } from '../domain/caches.js';
import { overlayEnv, secretRefs } from '../domain/env.js';
import {
  buildInferenceService,
  inferenceServiceReady,
  inferenceServiceUrls,
  KSERVE_ISVC_LABEL,
  type PredictorPodView,
} from '../domain/inferenceService.js';
import {
  fitName,
  inferenceServiceNameIfAny,
  inferenceServiceNameProblem,
  labelPart,
  probeJobName,
} from '../domain/naming.js';
import { selectTemplate, type TemplateCandidate } from '../domain/selection.js';
import type { ActivityContext } from './context.js';
import { readOwn, readsOf } from './kube/reads.js';
import { oneAtATime } from './kube/oneAtATime.js';
import {
  readCacheViews,
  writeServiceStatus,
  type CacheView,
  type ObjectRef,
  type ServiceRef,
  type ServiceReport,
} from './serviceStatus.js';

export type { CacheView, ObjectRef, ServiceRef, ServiceReport };
import { markSharedCachesUsed } from './cacheUsage.js';
import { RESOURCES } from './kube/resources.js';
import { toKubeError } from './kube/errors.js';
import { toApplicationFailure } from './failures.js';
import { applyIfChanged, sameContent } from './kube/applyIfChanged.js';
import type { ConditionInput } from './modelStatus.js';
import { secretActivities } from './secrets.js';
import { createJobIfAbsent, jobActivities } from './jobs.js';
import { buildDownloaderJob, downloaderServiceAccount } from '../domain/jobs.js';

interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  generation?: number;
  creationTimestamp?: Date;
  deletionTimestamp?: Date;
  labels?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string }>;
  finalizers?: string[];
}
interface RawService {
  apiVersion: string;
  kind: string;
  metadata: Meta & { namespace: string };
  spec: AIMServiceSpec;
  status?: { conditions?: Condition[] };
}
interface RawModel {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec: AIMModelSpec;
  status?: { status?: string; sourceType?: string };
}
interface RawTemplate {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec: AIMServiceTemplateSpec;
  status?: AIMServiceTemplateStatus;
}

export interface ServiceSnapshot {
  exists: boolean;
  uid?: string;
  generation?: number;
  deleting?: boolean;
  invalid?: FieldError[];
  hasFinalizer?: boolean;
}

export type Resolution<T> = { ok: T } | { failure: ConditionInput & { retryable: boolean } };

/** No workflow has written this object's status yet. */
const unprocessed = (o: unknown) => !(o as { status?: { status?: string } }).status?.status;
/** The UID of an object no workflow has reported on yet (its nudge may have to end a predecessor's run). */
const freshUid = (o: unknown): string | undefined =>
  unprocessed(o) ? (o as { metadata?: { uid?: string } }).metadata?.uid : undefined;

const byAgeThenName = (a: { metadata: Meta }, b: { metadata: Meta }) =>
  String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)) ||
  a.metadata.name.localeCompare(b.metadata.name);

export function serviceActivities(ctx: ActivityContext) {
  const fail = (action: string) => (err: unknown) => {
    throw toApplicationFailure(toKubeError(err), action);
  };
  const secrets = secretActivities(ctx);
  const jobs = jobActivities(ctx);
  async function service(ref: ServiceRef, uid: string): Promise<RawService> {
    const s = await readsOf(ctx)
      .get<RawService>('AIMService', ref.name, ref.namespace)
      .catch(fail(`get service ${ref.name}`));
    if (!s || s.metadata.uid !== uid)
      throw ApplicationFailure.nonRetryable(`AIMService ${ref.namespace}/${ref.name} is gone`, 'ObjectGone');
    const v = validateObject('AIMService', s);
    return v.ok ? ({ ...s, spec: v.value.spec } as RawService) : s;
  }
  async function model(ref: ObjectRef): Promise<RawModel | undefined> {
    const kind = ref.kind === 'AIMClusterModel' ? 'AIMClusterModel' : 'AIMModel';
    return readsOf(ctx)
      .get<RawModel>(kind, ref.name, ref.namespace)
      .catch(fail(`get model ${ref.name}`));
  }
  async function template(ref: ObjectRef): Promise<RawTemplate | undefined> {
    const kind = ref.kind === 'AIMClusterServiceTemplate' ? 'AIMClusterServiceTemplate' : 'AIMServiceTemplate';
    return readsOf(ctx)
      .get<RawTemplate>(kind, ref.name, ref.namespace)
      .catch(fail(`get template ${ref.name}`));
  }

  /** A user's model that no workflow has reported on yet gets its workflow started; one with a status drives itself. */
  async function nudgeIfUnprocessed(found: ObjectRef, hit: RawModel): Promise<void> {
    if (unprocessed(hit))
      await ctx.nudger?.nudge(found.kind as 'AIMModel', found.name, found.namespace, hit.metadata.uid);
  }

  /**
   * Create-or-get of an auto-created model: a POST, so of two services asking at once exactly one creates it and the
   * other reads the creator's object (an apply would let the last one rewrite it with its own spelling).
   */
  async function createCustomModel(
    desired: RawModel,
  ): Promise<{ object: RawModel; changed: boolean } | { failure: ConditionInput & { retryable: boolean } }> {
    try {
      return { object: await ctx.objects.create(RESOURCES.AIMModel, desired), changed: true };
    } catch (err) {
      if (toKubeError(err).kind !== 'AlreadyExists') fail(`create model ${desired.metadata.name}`)(err);
    }
    const raced = await model({ kind: 'AIMModel', name: desired.metadata.name, namespace: desired.metadata.namespace });
    const identity = desired.metadata.labels?.[LABELS.customIdentity] ?? '';
    if (!raced || !customModelMatches(raced, identity)) {
      return {
        failure: {
          status: 'False',
          reason: raced ? 'ModelNameConflict' : 'ModelDeleting',
          message: raced
            ? `AIMModel ${desired.metadata.namespace}/${desired.metadata.name} exists and was not created for this custom model`
            : `AIMModel ${desired.metadata.name} was deleted while it was being created; it is created again`,
          retryable: !raced,
        },
      };
    }
    return { object: raced, changed: false };
  }

  /** Deletes the Dedicated caches this service owns that are not in `keep`; returns their names. */
  async function pruneDedicatedCaches(ref: ServiceRef, uid: string, keep: ReadonlySet<string>): Promise<string[]> {
    const owned = await readsOf(ctx)
      .list<{
        apiVersion: string;
        kind: string;
        metadata: Meta;
      }>('AIMModelCache', ref.namespace, `${LABELS.service}=${ref.name}`)
      .catch(fail('list caches'));
    const stale = owned.filter(
      (c) =>
        !keep.has(c.metadata.name) &&
        !c.metadata.deletionTimestamp &&
        c.metadata.labels?.[LABELS.cacheMode] === 'dedicated' &&
        c.metadata.ownerReferences?.some((o) => o.uid === uid),
    );
    for (const c of stale)
      await ctx.objects
        .delete(RESOURCES.AIMModelCache, c.metadata.name, ref.namespace)
        .catch(fail(`delete cache ${c.metadata.name}`));
    return stale.map((c) => c.metadata.name);
  }

  /** The caches this service wants (pure builders) and the names that exist already. */
  async function planCaches(
    ref: ServiceRef,
    uid: string,
    modelRef: ObjectRef,
    templateRef: ObjectRef,
    dedicatedFor: string[],
  ) {
    const s = await service(ref, uid);
    const m = await model(modelRef);
    const t = await template(templateRef);
    if (!m || !t) return { desired: [], existingNames: new Set<string>(), existingByName: new Map() };
    const existing = await readsOf(ctx)
      .list<{
        apiVersion: string;
        kind: string;
        metadata: { name: string };
        spec: { accessMode?: 'ReadWriteOnce'; env?: unknown; serviceAccountName?: string; caBundle?: unknown };
      }>('AIMModelCache', ref.namespace)
      .catch(fail('list caches'));
    const desired = desiredCaches({
      service: { metadata: { name: ref.name, namespace: ref.namespace, uid }, spec: s.spec },
      modelSources: m.spec.modelSources ?? [],
      ...(m.spec.env ? { modelEnv: m.spec.env } : {}),
      ...(m.spec.serviceAccountName ? { modelServiceAccountName: m.spec.serviceAccountName } : {}),
      template: {
        ...(t.status?.resolvedNodeAffinity ? { resolvedNodeAffinity: t.status.resolvedNodeAffinity } : {}),
        ...(t.status?.resolvedHardware ? { resolvedHardware: t.status.resolvedHardware } : {}),
      },
      existing,
      dedicatedFor,
    });
    return {
      desired,
      existingNames: new Set(existing.map((e) => e.metadata.name)),
      existingByName: new Map(existing.map((e) => [e.metadata.name, e])),
    };
  }

  return {
    async readService(ref: ServiceRef): Promise<ServiceSnapshot> {
      const s = await readOwn<RawService>(ctx, 'AIMService', ref.name, ref.namespace).catch(
        fail(`get service ${ref.name}`),
      );
      if (!s) return { exists: false };
      const v = validateObject('AIMService', s);
      // Refused up front, before a model, cache or download: no InferenceService name fits this namespace.
      const nameProblem = inferenceServiceNameProblem(ref.namespace);
      const invalid = [
        ...(v.ok ? [] : v.errors),
        ...(nameProblem ? [{ path: 'metadata.namespace', message: nameProblem }] : []),
      ];
      return {
        exists: true,
        uid: s.metadata.uid,
        generation: s.metadata.generation,
        deleting: Boolean(s.metadata.deletionTimestamp),
        hasFinalizer: s.metadata.finalizers?.includes(FINALIZER_CLEANUP) ?? false,
        ...(invalid.length ? { invalid } : {}),
      };
    },

    /** Our finalizer, under its own field manager so that removing it touches nobody else's (spec 4). */
    async setServiceFinalizer(ref: ServiceRef, uid: string, present: boolean): Promise<void> {
      await service(ref, uid);
      await ctx.objects
        .apply(
          RESOURCES.AIMService,
          {
            apiVersion: API_GROUP_VERSION,
            kind: 'AIMService',
            metadata: { name: ref.name, namespace: ref.namespace, uid, finalizers: present ? [FINALIZER_CLEANUP] : [] },
          } as never,
          { fieldManager: FIELD_MANAGERS.finalizer },
        )
        .catch((err: unknown) => {
          if (!present && toKubeError(err).kind === 'NotFound') return;
          fail(`set finalizer of ${ref.name}`)(err);
        });
    },

    /**
     * spec.model → a model (spec 5.3 step 2). `custom`: the model named by the canonical identity is applied (spec
     * exactly {image, modelSources, hardware}, no credentials) and this service adds only its own owner entry under
     * its own field manager, so two services asking at once end with one model owned by both.
     */
    async resolveServiceModel(ref: ServiceRef, uid: string): Promise<Resolution<ObjectRef>> {
      const s = await service(ref, uid);
      const m = s.spec.model;
      let found: ObjectRef | undefined;
      if (m.name) {
        const ns = await model({ kind: 'AIMModel', name: m.name, namespace: ref.namespace });
        const cl = ns ? undefined : await model({ kind: 'AIMClusterModel', name: m.name });
        const hit = ns ?? cl;
        if (!hit)
          return {
            failure: {
              status: 'False',
              reason: 'ModelNotFound',
              message: `no AIMModel ${ref.namespace}/${m.name} and no AIMClusterModel ${m.name}`,
              retryable: true,
            },
          };
        found = {
          kind: ns ? 'AIMModel' : 'AIMClusterModel',
          name: m.name,
          ...(ns ? { namespace: ref.namespace } : {}),
          uid: hit.metadata.uid,
        };
        await nudgeIfUnprocessed(found, hit);
      } else if (m.image) {
        const local = (await readsOf(ctx).list<RawModel>('AIMModel', ref.namespace))
          .filter((x) => x.spec.image === m.image)
          .sort(byAgeThenName);
        const cluster = local.length
          ? []
          : (await readsOf(ctx).list<RawModel>('AIMClusterModel'))
              .filter((x) => x.spec.image === m.image)
              .sort(byAgeThenName);
        const hit = local[0] ?? cluster[0];
        if (!hit)
          return {
            failure: {
              status: 'False',
              reason: 'ModelNotFound',
              message: `no AIMModel in ${ref.namespace} or AIMClusterModel has image ${m.image}`,
              retryable: true,
            },
          };
        found = {
          kind: local[0] ? 'AIMModel' : 'AIMClusterModel',
          name: hit.metadata.name,
          ...(local[0] ? { namespace: ref.namespace } : {}),
          uid: hit.metadata.uid,
        };
        await nudgeIfUnprocessed(found, hit);
      } else {
        const desired = buildCustomModel({ metadata: { name: ref.name, namespace: ref.namespace, uid }, spec: s.spec });
        const existing = await model({ kind: 'AIMModel', name: desired.metadata.name, namespace: ref.namespace });
        if (existing && !customModelMatches(existing, desired.metadata.labels[LABELS.customIdentity]!)) {
          return {
            failure: {
              status: 'False',
              reason: 'ModelNameConflict',
              message: `AIMModel ${ref.namespace}/${desired.metadata.name} exists and was not created for this custom model`,
              retryable: false,
            },
          };
        }
        if (existing?.metadata.deletionTimestamp) {
          return {
            failure: {
              status: 'False',
              reason: 'ModelDeleting',
              message: `AIMModel ${desired.metadata.name} is being deleted; it is recreated once it is gone`,
              retryable: true,
            },
          };
        }
        // Create, never re-apply: equal requests may be spelled differently (a trailing `/`, bytes for `64Gi`), and
        // the creator's spelling stays (spec 4). Nothing a later service does changes the model's spec.
        const applied = existing
          ? { object: existing, changed: false }
          : await createCustomModel(desired as unknown as RawModel);
        if ('failure' in applied) return applied;
        const owned = (applied.object as RawModel).metadata.ownerReferences?.some((o) => o.uid === uid);
        if (!owned) {
          // Services of one shared model queue their owner entries in this worker (oneAtATime.ts says why).
          await oneAtATime(`AIMModel/${ref.namespace}/${desired.metadata.name}`, () =>
            ctx.objects.apply(
              RESOURCES.AIMModel,
              customModelOwnerPatch(desired.metadata.name, ref.namespace, {
                metadata: { name: ref.name, uid },
              }) as never,
              { fieldManager: FIELD_MANAGERS.owner(uid) },
            ),
          ).catch(fail(`add owner of ${desired.metadata.name}`));
        }
        found = {
          kind: 'AIMModel',
          name: desired.metadata.name,
          namespace: ref.namespace,
          uid: (applied.object as { metadata?: { uid?: string } }).metadata?.uid,
        };
        // The model's own workflow learns of a change from our nudge (or the bridge); an unchanged model needs none.
        if (applied.changed || unprocessed(applied.object))
          await ctx.nudger?.nudge('AIMModel', found.name, found.namespace, freshUid(applied.object));
      }
      return { ok: found };
    },

    /** Template selection (spec 5.3 step 3) with the reason when nothing is eligible. */
    async selectServiceTemplate(ref: ServiceRef, uid: string, modelRef: ObjectRef): Promise<Resolution<ObjectRef>> {
      const s = await service(ref, uid);
      const m = await model(modelRef);
      if (!m)
        return {
          failure: {
            status: 'False',
            reason: 'ModelNotFound',
            message: `model ${modelRef.name} is gone`,
            retryable: true,
          },
        };
      const cluster = modelRef.kind === 'AIMClusterModel';
      const lists = await Promise.all([
        readsOf(ctx).list<RawTemplate>('AIMServiceTemplate', ref.namespace),
        readsOf(ctx).list<RawTemplate>('AIMClusterServiceTemplate'),
      ]);
      const candidates: TemplateCandidate[] = [
        ...lists[0].filter(() => !cluster).map((t) => ({ t, scope: 'Namespaced' as const })),
        ...lists[1].map((t) => ({ t, scope: 'Cluster' as const })),
      ]
        .filter(({ t }) => t.spec.modelName === modelRef.name)
        .map(({ t, scope }) => ({
          name: t.metadata.name,
          scope,
          ...(scope === 'Namespaced' ? { namespace: ref.namespace } : {}),
          ...(t.metadata.labels?.[LABELS.templateAlias] ? { alias: t.metadata.labels[LABELS.templateAlias] } : {}),
          ...(t.status?.status ? { status: t.status.status } : {}),
          ...(t.spec.type ? { type: t.spec.type } : {}),
          ...(t.spec.metric ? { metric: t.spec.metric } : {}),
          ...(t.spec.precision ? { precision: t.spec.precision } : {}),
          gpuCount: t.spec.hardware?.gpu?.requests ?? 0,
          ...(t.status?.conditions?.find((c) => c.type === 'HardwareAvailable' && c.status === 'False')
            ? { notAvailableReason: t.status.conditions.find((c) => c.type === 'HardwareAvailable')!.message }
            : {}),
        }));
      const result = selectTemplate(candidates, {
        ...(s.spec.template?.name ? { requestedName: s.spec.template.name } : {}),
        allowUnoptimized: s.spec.template?.allowUnoptimized ?? false,
        modelIsCustom: (m.spec.modelSources?.length ?? 0) > 0,
        serviceNamespace: ref.namespace,
        modelName: modelRef.name,
      });
      if ('reason' in result) {
        // While the model's own workflow is still building and evaluating its templates, no template is not a
        // failure yet: Unknown (a Normal Event), not a Warning on every healthy start.
        const building = !m.status?.status || m.status.status === 'Pending' || m.status.status === 'Progressing';
        return building
          ? {
              failure: {
                status: 'Unknown',
                reason: 'AwaitingTemplates',
                message: `${modelRef.kind} ${modelRef.name} is still building its templates`,
                retryable: true,
              },
            }
          : { failure: { status: 'False', reason: 'TemplateNotFound', message: result.reason, retryable: true } };
      }
      const sel = result.selected;
      return {
        ok: {
          kind: sel.scope === 'Cluster' ? 'AIMClusterServiceTemplate' : 'AIMServiceTemplate',
          name: sel.name,
          ...(sel.scope === 'Cluster' ? {} : { namespace: ref.namespace }),
        },
      };
    },

    /** Every secretKeyRef of the effective download env must exist in the service's namespace (spec 5.3 step 4). */
    async checkServiceCredentials(
      ref: ServiceRef,
      uid: string,
      modelRef: ObjectRef,
    ): Promise<{ missing: number; message: string }> {
      const s = await service(ref, uid);
      const m = await model(modelRef);
      const refs = (m?.spec.modelSources ?? []).flatMap((src) => {
        const own = s.spec.model.custom?.modelSources.find((c) => c.modelId === src.modelId)?.env;
        return secretRefs(overlayEnv(m?.spec.env, s.spec.env, src.env, own));
      });
      const r = await secrets.checkSecretRefs(ref.namespace, refs);
      return { missing: r.missing.length, message: r.message || `${refs.length} secret reference(s) resolved` };
    },

    /**
     * Shared caches of this service's sources that already exist: before attaching, the service's own credentials
     * must pass a probe of the source (spec 5.3 step 5), so a Shared cache never lends bytes to a service that
     * could not read them itself.
     */
    async sharedCachesOfService(
      ref: ServiceRef,
      uid: string,
      modelRef: ObjectRef,
      templateRef: ObjectRef,
    ): Promise<Array<{ modelId: string; cache: string; exists: boolean; sameCredentials?: boolean }>> {
      const { desired, existingByName } = await planCaches(ref, uid, modelRef, templateRef, []);
      return desired
        .filter((c) => c.metadata.labels[LABELS.cacheMode] === 'shared')
        .map((c) => {
          const live = existingByName.get(c.metadata.name);
          // The same secret references, service account and CA bundle as the cache's creator used: the very
          // credentials the cache's own probe already accepted, so a second probe could not say anything new.
          const sameCredentials =
            !!live &&
            sameContent(live.spec.env ?? [], c.spec.env ?? []) &&
            (live.spec.serviceAccountName ?? '') === (c.spec.serviceAccountName ?? '') &&
            sameContent(live.spec.caBundle ?? null, c.spec.caBundle ?? null);
          return {
            modelId: c.spec.modelId,
            cache: c.metadata.name,
            exists: !!live,
            ...(sameCredentials ? { sameCredentials } : {}),
          };
        });
    },

    /** A metadata-only probe of one source with this service's own download env, owned by the service. */
    async startSharedAttachProbe(
      ref: ServiceRef,
      uid: string,
      modelRef: ObjectRef,
      templateRef: ObjectRef,
      modelId: string,
      attempt: number,
    ): Promise<string> {
      const { desired } = await planCaches(ref, uid, modelRef, templateRef, []);
      const c = desired.find((d) => d.spec.modelId === modelId);
      if (!c) throw ApplicationFailure.nonRetryable(`no source ${modelId} in the model`, 'ObjectGone');
      const job = buildDownloaderJob({
        mode: 'probe',
        name: probeJobName(fitName([{ text: ref.name }, { text: labelPart(modelId) }], 40), attempt),
        namespace: ref.namespace,
        owner: { apiVersion: API_GROUP_VERSION, kind: 'AIMService', name: ref.name, uid },
        image: ctx.settings.downloaderImage,
        serviceAccountName: downloaderServiceAccount(c.spec.serviceAccountName),
        sources: [
          {
            modelId,
            sourceUri: c.spec.sourceUri,
            env: c.spec.env ?? [],
            ...(c.spec.caBundle ? { caBundle: c.spec.caBundle } : {}),
          },
        ],
        labels: { [LABELS.service]: ref.name },
      });
      await jobs.ensureDownloaderServiceAccount(ref.namespace);
      return (await createJobIfAbsent(ctx, job)).name;
    },

    /**
     * One AIMModelCache per source, applied, and each cache's workflow nudged (signal-with-start). Sources listed in
     * `dedicatedFor` get a Dedicated cache even when Shared was asked for (their shared probe failed).
     */
    async ensureServiceCaches(
      ref: ServiceRef,
      uid: string,
      modelRef: ObjectRef,
      templateRef: ObjectRef,
      dedicatedFor: string[] = [],
    ): Promise<Array<{ name: string; modelId: string }>> {
      const { desired, existingNames } = await planCaches(ref, uid, modelRef, templateRef, dedicatedFor);
      for (const c of desired) {
        // A Shared cache keeps its creator's spec: later services attach to it, they never re-apply it.
        const shared = c.metadata.labels[LABELS.cacheMode] === 'shared';
        if (!(shared && existingNames.has(c.metadata.name))) {
          const readCache = () => readsOf(ctx).get<never>('AIMModelCache', c.metadata.name, ref.namespace);
          const applied = await applyIfChanged(ctx.objects, RESOURCES.AIMModelCache, c as never, readCache).catch(
            fail(`apply cache ${c.metadata.name}`),
          );
          // A new or changed cache needs its workflow nudged, and so does one no workflow has reported on yet (a
          // nudge can reach the run of a deleted predecessor just as it exits); an existing one drives itself.
          if (applied.changed || unprocessed(applied.object)) {
            await ctx.nudger?.nudge('AIMModelCache', c.metadata.name, ref.namespace, freshUid(applied.object));
          }
        }
      }
      return desired.map((c) => ({ name: c.metadata.name, modelId: c.spec.modelId }));
    },

    async readServiceCaches(namespace: string, caches: Array<{ name: string; modelId: string }>): Promise<CacheView[]> {
      const { views, seen } = await readCacheViews(ctx, namespace, caches);
      // Shared caches this service lists are in use: refresh their status.lastUsed (spec 4; throttled, best effort).
      await markSharedCachesUsed(ctx, namespace, seen);
      return views;
    },

    /** The InferenceService (spec 5.5), server-side applied; returns its name and readiness. */
    async applyInferenceService(
      ref: ServiceRef,
      uid: string,
      modelRef: ObjectRef,
      templateRef: ObjectRef,
      caches: CacheView[],
    ): Promise<{
      name: string;
      ready: boolean;
      reason?: string;
      message?: string;
      url?: string;
      internalUrl?: string;
    }> {
      const s = await service(ref, uid);
      const m = await model(modelRef);
      const t = await template(templateRef);
      if (!m || !t) throw ApplicationFailure.create({ message: 'model or template disappeared', type: 'UpstreamGone' });
      const isvc = buildInferenceService({
        service: { metadata: { name: ref.name, namespace: ref.namespace, uid }, spec: s.spec },
        model: { metadata: { name: m.metadata.name }, spec: m.spec },
        template: { metadata: { name: t.metadata.name }, spec: t.spec, ...(t.status ? { status: t.status } : {}) },
        caches: caches.map((c) => ({ modelId: c.modelId, pvcName: c.pvcName! })),
      });
      const readIsvc = () => readsOf(ctx).get<never>('InferenceService', isvc.metadata.name, ref.namespace);
      const applied = await applyIfChanged(ctx.objects, RESOURCES.InferenceService, isvc as never, readIsvc).catch(
        fail(`apply InferenceService ${isvc.metadata.name}`),
      );
      let r = inferenceServiceReady(applied.object as never);
      if (!r.ready && !r.failed) {
        // Not Ready yet: its predictor pods may already show why (KServe reads them only when its Deployment changes).
        const pods = await readsOf(ctx)
          .list<PredictorPodView>('Pod', ref.namespace, `${KSERVE_ISVC_LABEL}=${isvc.metadata.name}`)
          .catch(fail(`list predictor pods of ${isvc.metadata.name}`));
        r = inferenceServiceReady(applied.object as never, pods);
      }
      // Once the InferenceService serves from these caches, this service's other Dedicated caches (a source that
      // changed) are no longer needed: deleted, their PVCs with them (owner references). Shared ones follow the TTL.
      if (r.ready) await pruneDedicatedCaches(ref, uid, new Set(caches.map((c) => c.name)));
      return {
        name: isvc.metadata.name,
        ready: r.ready,
        ...(r.reason ? { reason: r.reason } : {}),
        ...(r.message ? { message: r.message } : {}),
        ...inferenceServiceUrls(applied.object as never),
      };
    },

    /** Deletion (spec 5.6): delete what we own that GC would not reach in time, then drop the finalizer. */
    async cleanupService(ref: ServiceRef, uid: string): Promise<void> {
      const isvc = inferenceServiceNameIfAny(ref.namespace, ref.name);
      if (isvc) await ctx.objects.delete(RESOURCES.InferenceService, isvc, ref.namespace);
      const s = await ctx.objects.get<RawService>(RESOURCES.AIMService, ref.name, ref.namespace);
      if (!s || s.metadata.uid !== uid) return;
      await ctx.objects
        .apply(
          RESOURCES.AIMService,
          {
            apiVersion: API_GROUP_VERSION,
            kind: 'AIMService',
            metadata: { name: ref.name, namespace: ref.namespace, uid, finalizers: [] },
          } as never,
          { fieldManager: FIELD_MANAGERS.finalizer },
        )
        .catch((err: unknown) => {
          if (toKubeError(err).kind !== 'NotFound') fail(`remove finalizer of ${ref.name}`)(err);
        });
    },

    /**
     * A cache that reached an outcome (Ready, Failed) wakes the services using it at once: its Dedicated service (by
     * label) and every service listing it in `status.caches` (Shared caches have no owner for the bridge to follow).
     */
    async nudgeCacheUsers(cache: { name: string; namespace: string }): Promise<number> {
      const services = await readsOf(ctx)
        .list<RawService & { status?: { caches?: Array<{ name: string }> } }>('AIMService', cache.namespace)
        .catch(fail('list services'));
      const live = await readsOf(ctx)
        .get<{ metadata: Meta }>('AIMModelCache', cache.name, cache.namespace)
        .catch(fail(`get cache ${cache.name}`));
      const labelled = live?.metadata.labels?.[LABELS.service];
      const users = services.filter(
        (s) => s.metadata.name === labelled || s.status?.caches?.some((c) => c.name === cache.name),
      );
      for (const s of users) await ctx.nudger?.nudge('AIMService', s.metadata.name, cache.namespace);
      return users.length;
    },

    /** Status with every condition of spec 8, resolved objects, cache progress and this workflow's id; Events on transitions. */
    async writeServiceStatus(ref: ServiceRef, uid: string, generation: number, report: ServiceReport): Promise<void> {
      await writeServiceStatus(ctx, ref, uid, generation, report);
    },
  };
}
