import { KINDS } from '../schemas/kinds.js';
import { quantityToBytes, volumeSizeWithHeadroom } from '../schemas/quantity.js';
import type { AIMHardwareRequirements, AIMModelSpec, AIMServiceSpec, CacheMode } from '../schemas/types.js';
import { buildCustomModel, customModelIdentityOf } from '../domain/customModel.js';
import { DEFAULT_HEADROOM_PERCENT, desiredCaches } from '../domain/caches.js';
import { inferenceServiceName, inferenceServiceNameProblem } from '../domain/naming.js';
import { buildModelTemplates, type ModelKind } from '../domain/templates.js';
import type { Manifest } from './manifests.js';

/**
 * What applying a manifest would create, computed by the same pure builders the workflows use; nothing is sent
 * anywhere. Names that hash the service UID (Dedicated caches) are exact only when the UID is known (the service
 * exists already); otherwise their hash part reads `<uid-hash>`.
 */

export const MEASURED_BY_PROBE = 'measured by the probe';
export const UID_PLACEHOLDER_HASH = '<uid-hash>';

export interface PlannedTemplate {
  name: string;
  kind: string;
  hardware: string;
  type: string;
  metric?: string;
  precision?: string;
}

export interface PlannedCache {
  /** Dedicated names without a known service UID end in `<uid-hash>`. */
  name: string;
  modelId: string;
  sourceUri: string;
  mode: CacheMode;
  accessMode: string;
  /** `12Gi`, or "measured by the probe" when the source has no `size`. */
  pvcSize: string;
}

export interface Plan {
  kind: string;
  name: string;
  namespace?: string;
  model?: { name: string; identity?: string; autoCreated: boolean; note?: string };
  templates: PlannedTemplate[];
  caches: PlannedCache[];
  inferenceService?: string;
  notes: string[];
}

export function hardwareSummary(hw: AIMHardwareRequirements | undefined): string {
  if (!hw) return '-';
  const parts: string[] = [];
  if (hw.gpu) {
    const models = hw.gpu.models?.length ? ` ${hw.gpu.models.join('|')}` : '';
    parts.push(`${hw.gpu.requests}x GPU${models}`);
    if (hw.gpu.minVram !== undefined) parts.push(`minVram ${String(hw.gpu.minVram)}`);
  }
  if (hw.cpu) {
    if (hw.cpu.requests !== undefined) parts.push(`cpu ${String(hw.cpu.requests)}`);
    if (hw.cpu.limits !== undefined) parts.push(`cpu limit ${String(hw.cpu.limits)}`);
  }
  return parts.join(', ') || '-';
}

const PLAN_UID = '00000000-0000-0000-0000-000000000000';

function templatesOf(
  kind: ModelKind,
  name: string,
  namespace: string | undefined,
  spec: AIMModelSpec,
): PlannedTemplate[] {
  return buildModelTemplates({
    apiVersion: 'aim.silogen.ai/v1alpha1',
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}), uid: PLAN_UID },
    spec,
  }).map((t) => ({
    name: t.metadata.name,
    kind: t.kind,
    hardware: hardwareSummary(t.spec.hardware),
    type: t.spec.type ?? 'unoptimized',
    ...(t.spec.metric ? { metric: t.spec.metric } : {}),
    ...(t.spec.precision ? { precision: t.spec.precision } : {}),
  }));
}

/** The plan of one valid manifest. `namespace` is used when the manifest has none; `uid` when the object exists. */
export function planManifest(manifest: Manifest, opts: { namespace?: string; uid?: string } = {}): Plan {
  const def = KINDS[manifest.kind];
  const name = manifest.metadata.name;
  const namespace =
    def.scope === 'Namespaced' ? (manifest.metadata.namespace ?? opts.namespace ?? 'default') : undefined;
  const plan: Plan = {
    kind: manifest.kind,
    name,
    ...(namespace ? { namespace } : {}),
    templates: [],
    caches: [],
    notes: [],
  };

  if (manifest.kind === 'AIMModel' || manifest.kind === 'AIMClusterModel') {
    const spec = manifest.spec as AIMModelSpec;
    plan.templates = templatesOf(manifest.kind, name, namespace, spec);
    if (!spec.modelSources?.length) plan.notes.push('an image model generates no templates: write them by hand');
    return plan;
  }

  if (manifest.kind !== 'AIMService') {
    plan.notes.push(`${manifest.kind} ${name} is applied as written; its workflow reports its status`);
    return plan;
  }

  const spec = manifest.spec as AIMServiceSpec;
  const ns = namespace ?? 'default';
  const nameProblem = inferenceServiceNameProblem(ns);
  if (nameProblem) {
    plan.notes.push(`refused: ${nameProblem}`);
    return plan;
  }
  plan.inferenceService = inferenceServiceName(ns, name);
  const uid = opts.uid ?? PLAN_UID;
  const service = { metadata: { name, namespace: ns, uid }, spec };
  if (!spec.model.custom) {
    const by = spec.model.name !== undefined ? `name ${spec.model.name}` : `image ${spec.model.image ?? ''}`;
    plan.model = { name: spec.model.name ?? '-', autoCreated: false, note: `resolved at run time by ${by}` };
    plan.notes.push('templates and caches depend on the resolved model: run plan on the model, or apply and describe');
    return plan;
  }

  const model = buildCustomModel(service);
  plan.model = { name: model.metadata.name, identity: customModelIdentityOf(service), autoCreated: true };
  plan.templates = templatesOf('AIMModel', model.metadata.name, ns, model.spec as AIMModelSpec);
  const headroom = spec.storage?.headroomPercent ?? DEFAULT_HEADROOM_PERCENT;
  const caches = desiredCaches({ service, modelSources: model.spec.modelSources ?? [], template: {} });
  plan.caches = caches.map((c) => {
    const mode: CacheMode = c.metadata.labels['aim.silogen.ai/cache-mode'] === 'shared' ? 'Shared' : 'Dedicated';
    const cacheName =
      mode === 'Dedicated' && opts.uid === undefined
        ? c.metadata.name.replace(/[0-9a-f]{8}$/, UID_PLACEHOLDER_HASH)
        : c.metadata.name;
    return {
      name: cacheName,
      modelId: c.spec.modelId,
      sourceUri: c.spec.sourceUri,
      mode,
      accessMode: c.spec.accessMode ?? '-',
      pvcSize:
        c.spec.size !== undefined ? volumeSizeWithHeadroom(quantityToBytes(c.spec.size), headroom) : MEASURED_BY_PROBE,
    };
  });
  if (plan.caches.some((c) => c.name.endsWith(UID_PLACEHOLDER_HASH))) {
    plan.notes.push('Dedicated cache names end in a hash of the service UID, known once the service exists');
  }
  return plan;
}

/** Human-readable plan, one line per object. */
export function formatPlan(plan: Plan): string {
  const where = plan.namespace ? ` (namespace ${plan.namespace})` : '';
  const lines = [`${plan.kind} ${plan.name}${where}`];
  if (plan.model) {
    const m = plan.model;
    lines.push(
      m.autoCreated
        ? `  + AIMModel ${m.name}  (auto-created, identity ${m.identity ?? '-'})`
        : `  = model ${m.name}  (${m.note ?? 'existing'})`,
    );
  }
  for (const t of plan.templates) {
    const profile = [t.metric, t.precision].filter(Boolean).join('/');
    lines.push(
      `  + ${t.kind} ${t.name}  hardware: ${t.hardware}  type: ${t.type}${profile ? `  profile: ${profile}` : ''}`,
    );
  }
  for (const c of plan.caches) {
    lines.push(`  + AIMModelCache ${c.name}  model: ${c.modelId}  mode: ${c.mode}  access: ${c.accessMode}`);
    lines.push(`      PVC size: ${c.pvcSize}`);
  }
  if (plan.inferenceService) lines.push(`  + InferenceService ${plan.inferenceService}`);
  for (const n of plan.notes) lines.push(`  note: ${n}`);
  return lines.join('\n');
}
