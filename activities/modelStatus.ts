import { containsDesired } from './kube/applyIfChanged.js';
import type { V1Node, V1OwnerReference } from '@kubernetes/client-node';
import { API_GROUP_VERSION, FIELD_MANAGERS, LABELS } from '../schemas/constants.js';
import type { AIMModelSpec, Condition, ObjectStatus } from '../schemas/types.js';
import type { FieldError } from '../schemas/validate.js';
import { buildModelTemplates, staleTemplates, templateNameConflicts } from '../domain/templates.js';
import { writeTemplateStatus, type TemplateVerdict } from './templates.js';
import { aggregateModelStatus, setCondition } from '../domain/status.js';
import type { ActivityContext } from './context.js';
import { readsOf } from './kube/reads.js';
import { emitTransitions } from './events.js';
import { RESOURCES } from './kube/resources.js';
import { toKubeError } from './kube/errors.js';
import { toApplicationFailure } from './failures.js';
import type { ModelRef } from './models.js';

export interface ConditionInput {
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export interface SourceFacts {
  modelId: string;
  totalBytes: number;
  files: number;
  revision?: string;
}

export type { TemplateVerdict } from './templates.js';

/** Everything the model workflow learned in one pass; `writeModelStatus` turns it into conditions and a status. */
export type ModelReport =
  | { invalid: FieldError[] }
  | {
      invalid?: undefined;
      sourceType: 'Custom' | 'Image';
      templates: TemplateVerdict[];
      conflicts?: Array<{ name: string; heldBy: string }>;
      auth?: ConditionInput;
      sources?: ConditionInput & { facts?: SourceFacts[] };
    };

interface RawObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    generation?: number;
    labels?: Record<string, string>;
    ownerReferences?: V1OwnerReference[];
  };
  spec: Record<string, unknown>;
  status?: { conditions?: Condition[]; status?: ObjectStatus };
}

const templateResource = (ref: ModelRef) =>
  ref.kind === 'AIMClusterModel' ? RESOURCES.AIMClusterServiceTemplate : RESOURCES.AIMServiceTemplate;
const templateKind = (ref: ModelRef) =>
  ref.kind === 'AIMClusterModel' ? 'AIMClusterServiceTemplate' : 'AIMServiceTemplate';

export function modelStatusActivities(ctx: ActivityContext) {
  const fail = (action: string) => (err: unknown) => {
    throw toApplicationFailure(toKubeError(err), action);
  };
  const listTemplates = (ref: ModelRef) =>
    readsOf(ctx)
      .list<RawObject>(templateKind(ref), ref.namespace, `${LABELS.model}=${ref.name}`)
      .catch(fail(`list templates of ${ref.name}`));

  return {
    /**
     * Builds the model's templates (pure builders), applies them with server-side apply, and deletes generated
     * templates that left the spec. A name held by another model's template is reported, never overwritten.
     */
    async applyModelTemplates(
      ref: ModelRef,
      uid: string,
    ): Promise<{ templates: string[]; conflicts: Array<{ name: string; heldBy: string }> }> {
      const model = await readsOf(ctx)
        .get<RawObject>(ref.kind, ref.name, ref.namespace)
        .catch(fail(`get ${ref.name}`));
      if (!model || model.metadata.uid !== uid) return { templates: [], conflicts: [] };
      const desired = buildModelTemplates({
        apiVersion: model.apiVersion,
        kind: ref.kind,
        metadata: model.metadata,
        spec: model.spec as AIMModelSpec,
      });
      const res = templateResource(ref);
      const existingByName = new Map<string, RawObject>();
      for (const d of desired) {
        const current = await readsOf(ctx)
          .get<RawObject>(templateKind(ref), d.metadata.name, ref.namespace)
          .catch(fail(`get template ${d.metadata.name}`));
        if (current) existingByName.set(d.metadata.name, current);
      }
      const conflicts = templateNameConflicts(desired, existingByName, uid);
      const conflicting = new Set(conflicts.map((c) => c.name));
      for (const d of desired.filter((t) => !conflicting.has(t.metadata.name))) {
        // Unchanged templates are not written again; an edited or deleted one is put back (drift healing).
        if (containsDesired(existingByName.get(d.metadata.name), d)) continue;
        await ctx.objects.apply(res, d as never).catch(fail(`apply template ${d.metadata.name}`));
      }
      const mine = (await listTemplates(ref)).filter((t) => t.metadata.ownerReferences?.some((o) => o.uid === uid));
      for (const name of staleTemplates(mine, desired))
        await ctx.objects.delete(res, name, ref.namespace).catch(fail(`delete template ${name}`));
      return { templates: desired.map((d) => d.metadata.name).filter((n) => !conflicting.has(n)), conflicts };
    },

    /** Template availability against the cluster's nodes (spec 5.2); writes each template's status and Events. */
    async evaluateModelTemplates(ref: ModelRef, uid: string): Promise<TemplateVerdict[]> {
      const nodes = await readsOf(ctx).list<V1Node>('Node').catch(fail('list nodes'));
      const templates = (await listTemplates(ref)).filter((t) =>
        t.metadata.ownerReferences?.some((o) => o.uid === uid),
      );
      const verdicts: TemplateVerdict[] = [];
      for (const t of templates.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
        verdicts.push(
          await writeTemplateStatus(ctx, templateResource(ref), t, nodes, { exists: true, name: ref.name }),
        );
      }
      return verdicts;
    },

    /** Conditions (spec 8) and the aggregated status (spec 5.1 step 5) through the status subresource; Events on transitions. */
    async writeModelStatus(ref: ModelRef, uid: string, generation: number, report: ModelReport): Promise<ObjectStatus> {
      const model = await readsOf(ctx)
        .get<RawObject>(ref.kind, ref.name, ref.namespace)
        .catch(fail(`get ${ref.name}`));
      if (!model || model.metadata.uid !== uid) return 'Failed';
      const now = new Date().toISOString();
      const before = model.status?.conditions ?? [];
      let conditions = before;
      const set = (c: ConditionInput & { type: string }) => (conditions = setCondition(conditions, c, now, generation));
      let status: ObjectStatus;
      let extra: Record<string, unknown> = {};
      if (report.invalid) {
        const message = report.invalid.map((e) => `${e.path}: ${e.message}`).join('; ');
        set({ type: 'ConfigValid', status: 'False', reason: 'InvalidSpec', message });
        set({ type: 'Ready', status: 'False', reason: 'InvalidSpec', message });
        status = 'Failed';
      } else {
        set({ type: 'ConfigValid', status: 'True', reason: 'Valid', message: 'the spec is valid' });
        set(
          report.sourceType === 'Custom'
            ? {
                type: 'ImageMetadataReady',
                status: 'True',
                reason: 'CustomModelSkipped',
                message: 'custom models take their metadata from spec; no registry is contacted',
              }
            : {
                type: 'ImageMetadataReady',
                status: 'True',
                reason: 'ImageDiscoveryNotSupported',
                message: 'image discovery is not supported; create AIMServiceTemplates by hand',
              },
        );
        if (report.auth) set({ type: 'AuthValid', ...report.auth });
        if (report.sources)
          set({
            type: 'SourcesValid',
            status: report.sources.status,
            reason: report.sources.reason,
            message: report.sources.message,
          });
        const conflictMessage = report.conflicts
          ?.map((c) => `template name ${c.name} is held by ${c.heldBy}`)
          .join('; ');
        const agg = aggregateModelStatus({
          configValid: true,
          authValid: report.auth?.status !== 'False',
          sourcesValid: report.sources?.status !== 'False',
          templates: report.templates.map((t) => ({ status: t.status })),
        });
        set(
          report.conflicts?.length
            ? { type: 'TemplatesReady', status: 'False', reason: 'TemplateNameConflict', message: conflictMessage! }
            : {
                type: 'TemplatesReady',
                status: agg.templatesReady ? 'True' : 'False',
                reason: agg.templatesReason,
                message: agg.templatesMessage,
              },
        );
        status = report.conflicts?.length ? 'Failed' : agg.status;
        const failure = [report.auth, report.sources].find((c) => c?.status === 'False');
        set(
          status === 'Ready'
            ? { type: 'Ready', status: 'True', reason: 'Ready', message: agg.message }
            : {
                type: 'Ready',
                status: 'False',
                reason: failure?.reason ?? (report.conflicts?.length ? 'TemplateNameConflict' : agg.reason),
                message: failure?.message ?? conflictMessage ?? agg.message,
              },
        );
        extra = {
          sourceType: report.sourceType,
          templates: report.templates.map((t) => ({ name: t.name, status: t.status })),
          ...(report.sources?.facts ? { source: report.sources.facts } : {}),
        };
      }
      await ctx.objects
        .applyStatus(
          RESOURCES[ref.kind],
          {
            apiVersion: API_GROUP_VERSION,
            kind: ref.kind,
            metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
            status: { status, observedGeneration: generation, conditions, ...extra },
          } as never,
          { fieldManager: FIELD_MANAGERS.orchestrator },
        )
        .catch(fail(`write status of ${ref.kind} ${ref.name}`));
      await emitTransitions(
        ctx,
        { apiVersion: API_GROUP_VERSION, kind: ref.kind, name: ref.name, namespace: ref.namespace, uid },
        before,
        conditions,
      );
      return status;
    },
  };
}
