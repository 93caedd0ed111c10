import type { V1Job, V1OwnerReference } from '@kubernetes/client-node';
import { API_GROUP_VERSION, LABELS } from '../schemas/constants.js';
import type { AIMModelSpec } from '../schemas/types.js';
import { validateObject, type FieldError } from '../schemas/validate.js';
import { buildDownloaderJob, downloaderServiceAccount, JOB_KIND_LABEL } from '../domain/jobs.js';
import { overlayEnv, secretRefs } from '../domain/env.js';
import { probeJobName } from '../domain/naming.js';
import { quantityToBytes } from '../schemas/quantity.js';
import type { ActivityContext } from './context.js';
import { readOwn, readsOf } from './kube/reads.js';
import { toKubeError } from './kube/errors.js';
import { toApplicationFailure } from './failures.js';
import type { SecretRef } from './secrets.js';
import { createJobIfAbsent } from './jobs.js';
import { ApplicationFailure } from '@temporalio/common';

export type ModelKind = 'AIMModel' | 'AIMClusterModel';

export interface ModelRef {
  kind: ModelKind;
  name: string;
  namespace?: string;
}

/** How a model's sources are validated (spec 5.1 step 3). */
export type SourceValidation = 'probe' | 'perNamespace' | 'perService' | 'none';

/** What a workflow needs to know about its model: plain data, so that zod never runs in workflow code. */
export interface ModelSnapshot {
  exists: boolean;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  deleting?: boolean;
  invalid?: FieldError[];
  sourceType?: 'Custom' | 'Image';
  sourceValidation?: SourceValidation;
  secretRefs?: SecretRef[];
  modelIds?: string[];
}

interface RawModel {
  apiVersion: string;
  kind: ModelKind;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: Date;
    labels?: Record<string, string>;
  };
  spec: AIMModelSpec;
}

export function modelOwner(ref: ModelRef, uid: string): V1OwnerReference {
  return { apiVersion: API_GROUP_VERSION, kind: ref.kind, name: ref.name, uid };
}

export function modelActivities(ctx: ActivityContext) {
  const read = (ref: ModelRef) => readsOf(ctx).get<RawModel>(ref.kind, ref.name, ref.namespace);

  return {
    /** Reads and validates the model: invalid objects come back with field errors, never as a thrown failure. */
    async readModel(ref: ModelRef): Promise<ModelSnapshot> {
      let obj: RawModel | undefined;
      try {
        obj = await readOwn<RawModel>(ctx, ref.kind, ref.name, ref.namespace);
      } catch (err) {
        throw toApplicationFailure(toKubeError(err), `get ${ref.kind} ${ref.namespace ?? ''}/${ref.name}`);
      }
      if (!obj) return { exists: false };
      const base = {
        exists: true,
        uid: obj.metadata.uid,
        generation: obj.metadata.generation,
        resourceVersion: obj.metadata.resourceVersion,
        deleting: Boolean(obj.metadata.deletionTimestamp),
      };
      const v = validateObject(ref.kind, obj);
      if (!v.ok) return { ...base, invalid: v.errors };
      const spec = v.value.spec;
      const custom = (spec.modelSources?.length ?? 0) > 0;
      const autoCreated = obj.metadata.labels?.[LABELS.customModel] === 'true';
      const sourceValidation: SourceValidation = !custom
        ? 'none'
        : ref.kind === 'AIMClusterModel'
          ? 'perNamespace'
          : autoCreated
            ? 'perService'
            : 'probe';
      return {
        ...base,
        sourceType: custom ? 'Custom' : 'Image',
        sourceValidation,
        secretRefs: (spec.modelSources ?? []).flatMap((s) => secretRefs(overlayEnv(spec.env, s.env))),
        modelIds: (spec.modelSources ?? []).map((s) => s.modelId),
      };
    },

    /** The next probe attempt number: above every probe Job of this model that exists, so an old one is never mistaken. */
    async nextModelProbeAttempt(ref: ModelRef, uid: string, atLeast: number): Promise<number> {
      // From the cache, which shows the Jobs this worker created (read-your-writes, kube/readCache.ts rule 4).
      const jobs = await readsOf(ctx).list<V1Job>(
        'Job',
        ref.namespace!,
        `${JOB_KIND_LABEL}=probe,${LABELS.model}=${ref.name}`,
      );
      const numbers = jobs
        .filter((j) => j.metadata?.ownerReferences?.some((o) => o.uid === uid))
        .map((j) => Number(/-probe-(\d+)$/.exec(j.metadata?.name ?? '')?.[1] ?? 0));
      return Math.max(atLeast, ...numbers) + 1;
    },

    /** Creates the metadata-only probe Job of a model: one container per source, run as the model's service account. */
    async startModelProbe(ref: ModelRef, uid: string, attempt: number): Promise<string> {
      const obj = await read(ref);
      if (!obj || obj.metadata.uid !== uid)
        throw ApplicationFailure.nonRetryable(`${ref.kind} ${ref.name} is gone`, 'ObjectGone');
      const spec = obj.spec;
      const namespace = ref.namespace!;
      const serviceAccountName = downloaderServiceAccount(spec.serviceAccountName);
      const job = buildDownloaderJob({
        mode: 'probe',
        name: probeJobName(ref.name, attempt),
        namespace,
        owner: modelOwner(ref, uid),
        image: ctx.settings.downloaderImage,
        imagePullSecrets: spec.imagePullSecrets,
        serviceAccountName,
        sources: (spec.modelSources ?? []).map((s) => ({
          modelId: s.modelId,
          sourceUri: s.sourceUri,
          env: overlayEnv(spec.env, s.env),
          ...(s.size !== undefined ? { expectedSizeBytes: Number(quantityToBytes(s.size)) } : {}),
          ...(s.caBundle ? { caBundle: s.caBundle } : {}),
        })),
        labels: { [LABELS.model]: ref.name },
      });
      return (await createJobIfAbsent(ctx, job)).name;
    },
  };
}
