import type { V1Node, V1OwnerReference } from '@kubernetes/client-node';
import { API_GROUP_VERSION, LABELS, ORIGIN_AUTO_GENERATED } from '../schemas/constants.js';
import type { AIMServiceTemplateSpec, Condition, ObjectStatus } from '../schemas/types.js';
import { validateObject, type FieldError } from '../schemas/validate.js';
import { evaluateTemplateHardware } from '../domain/hardware.js';
import { setCondition } from '../domain/status.js';
import type { ActivityContext } from './context.js';
import { readOwn, readsOf } from './kube/reads.js';
import { emitTransitions } from './events.js';
import type { ResourceRef } from './kube/resources.js';
import { RESOURCES } from './kube/resources.js';
import { toKubeError } from './kube/errors.js';
import { toApplicationFailure } from './failures.js';

export interface RawTemplate {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    generation?: number;
    labels?: Record<string, string>;
    ownerReferences?: V1OwnerReference[];
    deletionTimestamp?: Date;
  };
  spec: Record<string, unknown>;
  status?: { conditions?: Condition[]; status?: ObjectStatus };
}

export interface TemplateVerdict {
  name: string;
  status: ObjectStatus;
  reason?: string;
  message?: string;
}

/**
 * Availability of one template against the cluster's nodes (spec 5.2), written through the status subresource with
 * its conditions; Events on transitions. Used for generated templates (by the model workflow) and hand-made ones.
 */
export async function writeTemplateStatus(
  ctx: ActivityContext,
  res: ResourceRef,
  t: RawTemplate,
  nodes: V1Node[],
  model: { exists: boolean; name: string },
  invalid?: FieldError[],
): Promise<TemplateVerdict> {
  const spec = t.spec as AIMServiceTemplateSpec;
  const hw = !invalid && spec.hardware ? evaluateTemplateHardware(spec.hardware, nodes) : undefined;
  const status: ObjectStatus = invalid
    ? 'Failed'
    : !model.exists
      ? 'Pending'
      : !hw || hw.available
        ? 'Ready'
        : 'NotAvailable';
  const now = new Date().toISOString();
  const generation = t.metadata.generation ?? 0;
  const before = t.status?.conditions ?? [];
  let conditions = before;
  const set = (c: { type: string; status: Condition['status']; reason: string; message: string }) =>
    (conditions = setCondition(conditions, c, now, generation));
  const invalidMessage = invalid?.map((e) => `${e.path}: ${e.message}`).join('; ');
  set(
    invalid
      ? { type: 'ConfigValid', status: 'False', reason: 'InvalidSpec', message: invalidMessage! }
      : { type: 'ConfigValid', status: 'True', reason: 'Valid', message: 'the template spec is valid' },
  );
  set(
    model.exists
      ? { type: 'ModelReady', status: 'True', reason: 'ModelFound', message: `model ${model.name} exists` }
      : { type: 'ModelReady', status: 'False', reason: 'ModelNotFound', message: `model ${model.name} not found` },
  );
  if (!invalid) {
    set(
      hw && !hw.available
        ? { type: 'HardwareAvailable', status: 'False', reason: hw.reason ?? 'GPUNotAvailable', message: hw.message }
        : {
            type: 'HardwareAvailable',
            status: 'True',
            reason: 'HardwareAvailable',
            message: hw?.message ?? 'no hardware requirements',
          },
    );
  }
  set(
    status === 'Ready'
      ? { type: 'Ready', status: 'True', reason: 'Ready', message: 'the template can be deployed' }
      : {
          type: 'Ready',
          status: 'False',
          reason: invalid ? 'InvalidSpec' : !model.exists ? 'ModelNotFound' : (hw?.reason ?? 'NotAvailable'),
          message: invalidMessage ?? (!model.exists ? `model ${model.name} not found` : (hw?.message ?? '')),
        },
  );
  await ctx.objects
    .applyStatus(res, {
      apiVersion: API_GROUP_VERSION,
      kind: t.kind,
      metadata: { name: t.metadata.name, ...(t.metadata.namespace ? { namespace: t.metadata.namespace } : {}) },
      status: {
        status,
        observedGeneration: generation,
        conditions,
        ...(hw?.resolvedHardware ? { resolvedHardware: hw.resolvedHardware } : {}),
        ...(hw?.hardwareSummary ? { hardwareSummary: hw.hardwareSummary } : {}),
        ...(hw?.resolvedNodeAffinity ? { resolvedNodeAffinity: hw.resolvedNodeAffinity } : {}),
      },
    } as never)
    .catch((err: unknown) => {
      throw toApplicationFailure(toKubeError(err), `write status of template ${t.metadata.name}`);
    });
  await emitTransitions(
    ctx,
    {
      apiVersion: API_GROUP_VERSION,
      kind: t.kind,
      name: t.metadata.name,
      namespace: t.metadata.namespace,
      uid: t.metadata.uid,
    },
    before,
    conditions,
  );
  return { name: t.metadata.name, status, ...(hw && !hw.available ? { reason: hw.reason, message: hw.message } : {}) };
}

export type TemplateKind = 'AIMServiceTemplate' | 'AIMClusterServiceTemplate';
export interface TemplateRef {
  kind: TemplateKind;
  name: string;
  namespace?: string;
}

export interface TemplateSnapshot {
  exists: boolean;
  uid?: string;
  generation?: number;
  deleting?: boolean;
  /** Generated by a model: its model workflow writes the status, not the template workflow. */
  generated?: boolean;
}

export function templateActivities(ctx: ActivityContext) {
  const read = (ref: TemplateRef) =>
    readsOf(ctx)
      .get<RawTemplate>(ref.kind, ref.name, ref.namespace)
      .catch((err: unknown) => {
        throw toApplicationFailure(toKubeError(err), `get ${ref.kind} ${ref.name}`);
      });
  return {
    async readTemplate(ref: TemplateRef): Promise<TemplateSnapshot> {
      const t = await readOwn<RawTemplate>(ctx, ref.kind, ref.name, ref.namespace).catch((err: unknown) => {
        throw toApplicationFailure(toKubeError(err), `get ${ref.kind} ${ref.name}`);
      });
      if (!t) return { exists: false };
      return {
        exists: true,
        uid: t.metadata.uid,
        generation: t.metadata.generation,
        deleting: Boolean(t.metadata.deletionTimestamp),
        generated: t.metadata.labels?.[LABELS.origin] === ORIGIN_AUTO_GENERATED,
      };
    },

    /** A hand-made template: validation, its model's existence (same scope), availability → status. */
    async evaluateHandmadeTemplate(ref: TemplateRef, uid: string): Promise<TemplateVerdict | undefined> {
      const t = await read(ref);
      if (!t || t.metadata.uid !== uid) return undefined;
      const v = validateObject(ref.kind, t);
      const modelName = String(t.spec.modelName ?? '');
      const modelKind = ref.kind === 'AIMClusterServiceTemplate' ? 'AIMClusterModel' : 'AIMModel';
      const model = modelName
        ? await readsOf(ctx)
            .get(modelKind, modelName, ref.namespace)
            .catch(() => undefined)
        : undefined;
      const nodes = await readsOf(ctx).list<V1Node>('Node');
      return writeTemplateStatus(
        ctx,
        RESOURCES[ref.kind],
        t,
        nodes,
        { exists: Boolean(model), name: modelName },
        v.ok ? undefined : v.errors,
      );
    },
  };
}
