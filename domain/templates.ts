import type { V1OwnerReference } from '@kubernetes/client-node';
import { API_GROUP_VERSION, LABELS, MANAGED_BY, NAMING_VERSION, ORIGIN_AUTO_GENERATED } from '../schemas/constants.js';
import { canonicalQuantity } from '../schemas/quantity.js';
import type {
  AIMCustomTemplate,
  AIMModelSource,
  AIMModelSpec,
  AIMServiceTemplateSpec,
  EnvVar,
} from '../schemas/types.js';
import { overlayEnv } from './env.js';
import { mergeHardware } from './hardware.js';
import { namedTemplateName, normaliseSourceUri, unnamedTemplateName } from './naming.js';

/**
 * The templates a model generates (spec sections 3, 4 and 5.1 step 4): one per `customTemplates[i]`, or exactly one
 * from `spec.hardware` when there are none. Pure: the same model (as read back from the API server) gives the same
 * manifests, so a retried activity applies the same objects.
 */

export type ModelKind = 'AIMModel' | 'AIMClusterModel';
export type TemplateKind = 'AIMServiceTemplate' | 'AIMClusterServiceTemplate';

/** The parts of an AIMModel / AIMClusterModel that its templates are built from. */
export interface TemplateOwnerModel {
  apiVersion: string;
  kind: ModelKind;
  metadata: { name: string; namespace?: string; uid: string };
  spec: AIMModelSpec;
}

/** A generated template, ready for server-side apply: undefined and empty fields are omitted. */
export interface GeneratedTemplate {
  apiVersion: typeof API_GROUP_VERSION;
  kind: TemplateKind;
  metadata: {
    name: string;
    namespace?: string;
    labels: Record<string, string>;
    ownerReferences: V1OwnerReference[];
  };
  spec: AIMServiceTemplateSpec;
}

export function templateKindFor(modelKind: ModelKind): TemplateKind {
  return modelKind === 'AIMClusterModel' ? 'AIMClusterServiceTemplate' : 'AIMServiceTemplate';
}

/**
 * Builds the model's templates. An image model (no `modelSources`) generates none: users write its templates by
 * hand. Two unnamed custom templates that merge to the same spec get the same name; the first is kept.
 */
export function buildModelTemplates(model: TemplateOwnerModel): GeneratedTemplate[] {
  const { spec, metadata } = model;
  if (!spec.modelSources?.length) return [];
  const namespaced = model.kind === 'AIMModel';
  if (namespaced && !metadata.namespace) throw new Error(`AIMModel ${metadata.name} has no namespace`);
  const customs: AIMCustomTemplate[] = spec.customTemplates?.length ? spec.customTemplates : [{}];
  const owner: V1OwnerReference = {
    apiVersion: model.apiVersion,
    kind: model.kind,
    name: metadata.name,
    uid: metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };

  const out: GeneratedTemplate[] = [];
  const seen = new Set<string>();
  for (const custom of customs) {
    const body = templateBody(spec, custom);
    const name =
      custom.name !== undefined
        ? namedTemplateName(metadata.name, custom.name)
        : unnamedTemplateName(metadata.name, templateIdentity(body));
    if (seen.has(name)) continue;
    seen.add(name);
    out.push({
      apiVersion: API_GROUP_VERSION,
      kind: templateKindFor(model.kind),
      metadata: {
        name,
        ...(namespaced && { namespace: metadata.namespace! }),
        labels: {
          [LABELS.model]: metadata.name,
          [LABELS.origin]: ORIGIN_AUTO_GENERATED,
          [LABELS.naming]: NAMING_VERSION,
          [LABELS.managedBy]: MANAGED_BY,
          ...(custom.name !== undefined && { [LABELS.templateAlias]: custom.name }),
        },
        ownerReferences: [{ ...owner }],
      },
      spec: { modelName: metadata.name, ...body },
    });
  }
  return out;
}

type TemplateBody = Omit<AIMServiceTemplateSpec, 'modelName'>;

/** The merged template spec without `modelName` (spec 5.1 step 4), fields in a fixed order, empties omitted. */
function templateBody(spec: AIMModelSpec, custom: AIMCustomTemplate): TemplateBody {
  const hardware = mergeHardware(spec.hardware, custom.hardware);
  const env = overlayEnv(spec.env, custom.env);
  const body: TemplateBody = {
    modelSources: structuredClone(spec.modelSources),
    hardware,
    type: custom.type ?? spec.type ?? 'unoptimized',
    metric: custom.profile?.metric,
    precision: custom.profile?.precision,
    env: env.length > 0 ? structuredClone(env) : undefined,
    imagePullSecrets: spec.imagePullSecrets?.length ? structuredClone(spec.imagePullSecrets) : undefined,
    serviceAccountName: spec.serviceAccountName,
  };
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as TemplateBody;
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const sortEnv = (env: EnvVar[] | undefined) => (env ? [...env].sort(byName) : undefined);

/**
 * The canonical identity of an unnamed template (spec section 3): the merged spec with env lists sorted by name,
 * source sizes canonicalised and one trailing `/` removed from source URIs, so that equal specs hash alike however
 * they were written. (Hardware quantities are canonicalised by `unnamedTemplateName`.)
 */
export function templateIdentity(body: TemplateBody): TemplateBody {
  return {
    ...body,
    env: sortEnv(body.env),
    modelSources: body.modelSources?.map((s): AIMModelSource => ({
      ...s,
      sourceUri: normaliseSourceUri(s.sourceUri),
      size: s.size === undefined ? undefined : canonicalQuantity(s.size),
      env: sortEnv(s.env),
    })),
  };
}

// --- existing templates -----------------------------------------------------------------------------------------

/** What is needed of a template read from the API server (typed loosely: any object with metadata fits). */
export interface ExistingTemplate {
  metadata?: { name?: string; labels?: Record<string, string>; ownerReferences?: unknown };
}

interface OwnerRef {
  uid: string;
  kind?: string;
  name?: string;
  controller?: boolean;
}

function ownerRefsOf(t: ExistingTemplate): OwnerRef[] {
  const refs = t.metadata?.ownerReferences;
  if (!Array.isArray(refs)) return [];
  return refs.filter((r): r is OwnerRef => typeof r === 'object' && r !== null && typeof r.uid === 'string');
}

function controllerOf(t: ExistingTemplate): OwnerRef | undefined {
  return ownerRefsOf(t).find((r) => r.controller === true);
}

/** The model a generated template was built for: its model label and controller owner. */
function ownerModelOf(desired: GeneratedTemplate): { name: string; uid?: string } {
  const controller = desired.metadata.ownerReferences.find((r) => r.controller);
  return { name: desired.metadata.labels[LABELS.model] ?? '', ...(controller && { uid: controller.uid }) };
}

/**
 * Names of existing templates generated for this model (label `aim.silogen.ai/model`, origin auto-generated, and —
 * when the owner uid is known — controlled by that model) that are no longer desired: to delete. Without `owner`, the
 * model is read from the desired templates; with neither, the caller must have listed this model's templates only.
 * Sorted.
 */
export function staleTemplates(
  existing: readonly ExistingTemplate[],
  desired: readonly GeneratedTemplate[],
  owner?: { name: string; uid?: string },
): string[] {
  const model = owner ?? (desired[0] ? ownerModelOf(desired[0]) : undefined);
  const wanted = new Set(desired.map((d) => d.metadata.name));
  const names = existing.flatMap((t) => {
    const name = t.metadata?.name;
    const labels = t.metadata?.labels ?? {};
    if (!name || wanted.has(name)) return [];
    if (labels[LABELS.origin] !== ORIGIN_AUTO_GENERATED) return [];
    if (model && labels[LABELS.model] !== model.name) return [];
    if (model?.uid !== undefined && !ownerRefsOf(t).some((r) => r.uid === model.uid)) return [];
    return [name];
  });
  return [...new Set(names)].sort();
}

export interface TemplateNameConflict {
  reason: 'TemplateNameConflict';
  /** The desired template name. */
  name: string;
  /** Who holds it: `AIMModel other`, `an earlier AIMModel m (uid …)`, `a template not generated by aim-orchestrator`. */
  heldBy: string;
  message: string;
}

type ByName<T> = ReadonlyMap<string, T> | Readonly<Record<string, T | undefined>>;

function lookup<T>(map: ByName<T>, name: string): T | undefined {
  if (map instanceof Map) return (map as ReadonlyMap<string, T>).get(name);
  return Object.prototype.hasOwnProperty.call(map, name) ? (map as Record<string, T | undefined>)[name] : undefined;
}

/**
 * Desired names already held by a template that is not this model's (spec section 3: never overwritten): one
 * generated for another model, a hand-made one, or one still controlled by an earlier model of the same name that
 * is being deleted. A template with this model's labels and no controller is ours to adopt. The model's uid is read
 * from the desired templates' owner reference unless given.
 */
export function templateNameConflicts(
  desired: readonly GeneratedTemplate[],
  existingByName: ByName<ExistingTemplate>,
  modelUid?: string,
): TemplateNameConflict[] {
  const out: TemplateNameConflict[] = [];
  for (const d of desired) {
    const current = lookup(existingByName, d.metadata.name);
    if (!current) continue;
    const model = ownerModelOf(d);
    const uid = modelUid ?? model.uid;
    const labels = current.metadata?.labels ?? {};
    const controller = controllerOf(current);
    const ourLabels = labels[LABELS.origin] === ORIGIN_AUTO_GENERATED && labels[LABELS.model] === model.name;
    const ourController = controller === undefined || uid === undefined || controller.uid === uid;
    if (ourLabels && ourController) continue;

    const modelKind = d.kind === 'AIMClusterServiceTemplate' ? 'AIMClusterModel' : 'AIMModel';
    let heldBy: string;
    if (controller && controller.name === model.name && controller.kind === modelKind) {
      heldBy = `an earlier ${modelKind} ${model.name} (uid ${controller.uid}) that is still being deleted`;
    } else if (controller?.name) {
      heldBy = `${controller.kind ?? 'owner'} ${controller.name}`;
    } else if (labels[LABELS.model] && labels[LABELS.origin] === ORIGIN_AUTO_GENERATED) {
      heldBy = `${modelKind} ${labels[LABELS.model]}`;
    } else {
      heldBy = 'a template not generated by aim-orchestrator';
    }
    const alias = d.metadata.labels[LABELS.templateAlias];
    const where = d.metadata.namespace ? `${d.metadata.namespace}/${d.metadata.name}` : d.metadata.name;
    out.push({
      reason: 'TemplateNameConflict',
      name: d.metadata.name,
      heldBy,
      message:
        `${d.kind} ${where} already exists and belongs to ${heldBy}; it is never overwritten: ` +
        (alias ? `rename custom template ${alias} of ${model.name}` : `remove that template`) +
        ' or delete the existing one',
    });
  }
  return out.sort(byName);
}
