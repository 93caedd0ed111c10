import type { Metric, ObjectStatus, Precision, TemplateType } from '../schemas/types.js';

/**
 * Template selection for a service (spec 5.3 step 3): a requested template by object name or alias, else the best
 * Ready template of the resolved model under a total order — never ambiguous, the same on every worker.
 */

export type TemplateScope = 'Namespaced' | 'Cluster';

export interface TemplateCandidate {
  name: string;
  scope: TemplateScope;
  /** Namespaced templates only: those of another namespace than the service's are ignored. */
  namespace?: string;
  /** `aim.silogen.ai/template-alias`: the custom template's own name. */
  alias?: string;
  status?: ObjectStatus;
  /** Unset (a hand-made template without a type) counts as `unoptimized`. */
  type?: TemplateType;
  metric?: Metric;
  precision?: Precision;
  gpuCount: number;
  /** The template's `HardwareAvailable` message when it is NotAvailable (`no MI300X GPUs: …`). */
  notAvailableReason?: string;
}

export interface SelectionOptions {
  /** `spec.template.name`: an object name or an alias. */
  requestedName?: string;
  allowUnoptimized: boolean;
  /** The model's `status.sourceType` is `Custom`: its templates are the user's own, unoptimized ones included. */
  modelIsCustom: boolean;
  serviceNamespace: string;
  /** For messages (`template fast not found for model m`). */
  modelName?: string;
}

export type SelectionResult = { selected: TemplateCandidate } | { reason: string };

const SCOPE_RANK: Record<TemplateScope, number> = { Namespaced: 0, Cluster: 1 };
const TYPE_RANK: Record<TemplateType, number> = { optimized: 0, preview: 1, unoptimized: 2 };
const METRIC_RANK: Record<Metric, number> = { latency: 0, throughput: 1 };
const PRECISION_RANK: Record<Precision, number> = {
  fp4: 0,
  int4: 1,
  fp8: 2,
  int8: 3,
  fp16: 4,
  bf16: 5,
  fp32: 6,
  auto: 7,
};

const typeOf = (c: TemplateCandidate): TemplateType => c.type ?? 'unoptimized';
const text = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The total order of spec 5.3 step 3, best first: scope (namespace first), type (optimized > preview >
 * unoptimized), metric (latency > throughput > unset), precision (fp4 > int4 > fp8 > int8 > fp16 > bf16 > fp32 >
 * auto; unset as auto), fewer GPUs, name.
 */
export function compareTemplates(a: TemplateCandidate, b: TemplateCandidate): number {
  return (
    SCOPE_RANK[a.scope] - SCOPE_RANK[b.scope] ||
    TYPE_RANK[typeOf(a)] - TYPE_RANK[typeOf(b)] ||
    (a.metric ? METRIC_RANK[a.metric] : 2) - (b.metric ? METRIC_RANK[b.metric] : 2) ||
    PRECISION_RANK[a.precision ?? 'auto'] - PRECISION_RANK[b.precision ?? 'auto'] ||
    a.gpuCount - b.gpuCount ||
    text(a.name, b.name)
  );
}

export function rankTemplates(candidates: readonly TemplateCandidate[]): TemplateCandidate[] {
  return [...candidates].sort(compareTemplates);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function selectTemplate(candidates: readonly TemplateCandidate[], options: SelectionOptions): SelectionResult {
  const visible = candidates.filter(
    (c) => c.scope === 'Cluster' || c.namespace === undefined || c.namespace === options.serviceNamespace,
  );
  const model = options.modelName ? ` for model ${options.modelName}` : '';
  if (options.requestedName !== undefined) return selectRequested(visible, options.requestedName, model);

  if (visible.length === 0) return { reason: `no templates${model}` };
  const ready = visible.filter((c) => c.status === 'Ready');
  const unoptimizedAllowed = options.allowUnoptimized || options.modelIsCustom;
  const eligible = ready.filter((c) => unoptimizedAllowed || typeOf(c) !== 'unoptimized');
  const best = rankTemplates(eligible)[0];
  if (best) return { selected: best };

  // Nothing eligible: say why, most actionable first.
  const parts: string[] = [];
  const filtered = ready.length - eligible.length;
  if (filtered > 0) {
    parts.push(`${plural(filtered, 'unoptimized template')} filtered out; set spec.template.allowUnoptimized`);
  }
  const notAvailable = visible.filter((c) => c.status === 'NotAvailable');
  if (notAvailable.length > 0) {
    const why = [...new Set(notAvailable.flatMap((c) => (c.notAvailableReason ? [c.notAvailableReason] : [])))].sort();
    const head =
      notAvailable.length === visible.length
        ? 'all templates NotAvailable'
        : `${plural(notAvailable.length, 'template')} NotAvailable`;
    parts.push(why.length > 0 ? `${head}: ${why.join('; ')}` : head);
  }
  const failed = visible.filter((c) => c.status === 'Failed' || c.status === 'Degraded');
  if (failed.length > 0)
    parts.push(`${plural(failed.length, 'template')} ${failed.length === 1 ? 'has' : 'have'} failed`);
  const waiting = visible.filter((c) => c.status === undefined || c.status === 'Pending' || c.status === 'Progressing');
  if (waiting.length > 0) {
    parts.push(`${plural(waiting.length, 'template')} not evaluated yet`);
  }
  return { reason: parts.join('; ') };
}

/** `spec.template.name`: object name or alias, namespace scope first, an exact name before an alias. */
function selectRequested(candidates: TemplateCandidate[], requested: string, model: string): SelectionResult {
  const matches = candidates
    .filter((c) => c.name === requested || c.alias === requested)
    .sort(
      (a, b) =>
        SCOPE_RANK[a.scope] - SCOPE_RANK[b.scope] ||
        Number(a.name !== requested) - Number(b.name !== requested) ||
        text(a.name, b.name),
    );
  const match = matches[0];
  if (!match) return { reason: `template ${requested} not found${model}` };
  // Naming a template is explicit consent: an unoptimized one is not filtered out. It must be Ready, though.
  if (match.status === 'Ready') return { selected: match };
  if (match.status === 'NotAvailable') {
    return {
      reason: `template ${match.name} is NotAvailable${match.notAvailableReason ? `: ${match.notAvailableReason}` : ''}`,
    };
  }
  return { reason: `template ${match.name} is ${match.status ?? 'not evaluated yet'}` };
}
