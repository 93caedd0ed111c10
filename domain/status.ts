import type { Condition, ObjectStatus } from '../schemas/types.js';

/**
 * Conditions (Kubernetes conventions, spec section 8) and the model's aggregated status (spec 5.1 step 5), computed
 * in one place from plain inputs.
 */

export type ConditionStatus = Condition['status'];

/** A condition as a caller states it; time and generation are added by `setCondition`. */
export interface ConditionUpdate {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/** RFC 3339 with whole seconds, as Kubernetes writes `metav1.Time`. */
export function conditionTime(now: Date | string): string {
  const date = typeof now === 'string' ? new Date(now) : now;
  if (Number.isNaN(date.getTime())) throw new Error(`invalid time ${String(now)}`);
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * Sets one condition and returns a new list (the input is not changed). `lastTransitionTime` moves only when the
 * status changes; reason, message and `observedGeneration` are always updated. A new type is appended, an existing
 * one keeps its position (stable status patches).
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  now: Date | string,
  observedGeneration?: number,
): Condition[] {
  const list = conditions ?? [];
  const previous = findCondition(list, update.type);
  const next: Condition = {
    type: update.type,
    status: update.status,
    reason: update.reason,
    message: update.message,
    lastTransitionTime:
      previous && previous.status === update.status ? previous.lastTransitionTime : conditionTime(now),
    ...(observedGeneration !== undefined
      ? { observedGeneration }
      : previous?.observedGeneration !== undefined && { observedGeneration: previous.observedGeneration }),
  };
  return previous ? list.map((c) => (c.type === update.type ? next : c)) : [...list, next];
}

// --- model aggregation ------------------------------------------------------------------------------------------

/** A validity verdict: a boolean, or the condition itself (its reason and message then explain a failure). */
export type Validity = boolean | { status: ConditionStatus; reason?: string; message?: string } | undefined;

export interface ModelStatusInput {
  configValid?: Validity;
  authValid?: Validity;
  sourcesValid?: Validity;
  templates: ReadonlyArray<{ status?: ObjectStatus; name?: string }>;
}

export interface ModelStatusVerdict {
  status: ObjectStatus;
  /** For the model's `Ready` condition. */
  reason: string;
  message: string;
  /** The model's `Ready` condition, ready for `setCondition`. */
  ready: ConditionUpdate;
  /** The model's `TemplatesReady` condition: True when every template is Ready or NotAvailable and one is Ready. */
  templatesReady: boolean;
  templatesReason: string;
  templatesMessage: string;
}

const isFalse = (v: Validity) => v === false || (typeof v === 'object' && v.status === 'False');

const VALIDITY = [
  { key: 'configValid', type: 'ConfigValid', reason: 'InvalidSpec', message: 'the spec is invalid' },
  { key: 'authValid', type: 'AuthValid', reason: 'AuthInvalid', message: 'credentials are not valid' },
  { key: 'sourcesValid', type: 'SourcesValid', reason: 'SourcesInvalid', message: 'the sources are not valid' },
] as const;

function countBy(templates: ModelStatusInput['templates']): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  templates.forEach((t, i) => {
    const key = t.status ?? 'Pending';
    (out[key] ??= []).push(t.name ?? `#${i}`);
  });
  return out;
}

/**
 * The model's status (spec 5.1 step 5): `Failed` while ConfigValid, AuthValid or SourcesValid is False; else, from
 * the templates, `Ready` when every template is Ready or NotAvailable with at least one Ready; `NotAvailable`
 * (`NoTemplatesAvailable`) when all are NotAvailable; `Failed` when all failed; `Degraded` when some failed (or are
 * Degraded); `Progressing` meanwhile. A model with no templates (an image model) is Ready.
 */
export function aggregateModelStatus(input: ModelStatusInput): ModelStatusVerdict {
  const templates = aggregateTemplates(input.templates);
  const invalid = VALIDITY.find((v) => isFalse(input[v.key]));
  if (invalid) {
    const given = input[invalid.key];
    const reason = (typeof given === 'object' && given.reason) || invalid.reason;
    const message = (typeof given === 'object' && given.message) || invalid.message;
    return { ...templates, status: 'Failed', reason, message, ready: readyCondition('Failed', reason, message) };
  }
  return { ...templates, ready: readyCondition(templates.status, templates.reason, templates.message) };
}

function readyCondition(status: ObjectStatus, reason: string, message: string): ConditionUpdate {
  return {
    type: 'Ready',
    status: status === 'Ready' ? 'True' : status === 'Progressing' ? 'Unknown' : 'False',
    reason,
    message,
  };
}

function aggregateTemplates(
  list: ModelStatusInput['templates'],
): Omit<ModelStatusVerdict, 'ready'> & { status: ObjectStatus } {
  const total = list.length;
  const by = countBy(list);
  const names = (s: ObjectStatus) => by[s] ?? [];
  const ready = names('Ready');
  const notAvailable = names('NotAvailable');
  const failed = [...names('Failed'), ...names('Degraded')];
  const verdict = (
    status: ObjectStatus,
    reason: string,
    message: string,
    templatesReady = false,
  ): Omit<ModelStatusVerdict, 'ready'> => ({
    status,
    reason,
    message,
    templatesReady,
    templatesReason: reason,
    templatesMessage: message,
  });

  if (total === 0) {
    return verdict(
      'Ready',
      'NoTemplates',
      'the model generates no templates; create AIMServiceTemplates by hand',
      true,
    );
  }
  if (failed.length === total) {
    return verdict('Failed', 'AllTemplatesFailed', `all ${plural(total, 'template')} failed: ${failed.join(', ')}`);
  }
  if (failed.length > 0) {
    return verdict(
      'Degraded',
      'TemplatesFailed',
      `${failed.length} of ${plural(total, 'template')} failed: ${failed.join(', ')}`,
    );
  }
  if (notAvailable.length === total) {
    return verdict(
      'NotAvailable',
      'NoTemplatesAvailable',
      `none of ${plural(total, 'template')} can run on this cluster`,
    );
  }
  if (ready.length + notAvailable.length === total) {
    if (notAvailable.length === 0) {
      return verdict('Ready', 'AllTemplatesReady', `${plural(total, 'template')} Ready`, true);
    }
    return verdict(
      'Ready',
      'TemplatesReady',
      `${ready.length} of ${plural(total, 'template')} Ready; NotAvailable: ${notAvailable.join(', ')}`,
      true,
    );
  }
  const waiting = total - ready.length - notAvailable.length;
  return verdict('Progressing', 'TemplatesProgressing', `${waiting} of ${plural(total, 'template')} not evaluated yet`);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

// --- transitions ------------------------------------------------------------------------------------------------

export interface ConditionTransition {
  type: string;
  /** Undefined for a condition that did not exist before. */
  previousStatus?: ConditionStatus;
  status: ConditionStatus;
  reason: string;
  message: string;
  /** Kubernetes Event type: `Warning` when a condition turns False for a problem, not for progress. */
  eventType: 'Normal' | 'Warning';
}

/**
 * Conditions whose status (or, at the same status, reason) changed from `before` to `after`, in the order of
 * `after`: these become Kubernetes Events. Message-only changes (progress) are not transitions; removed conditions
 * are not reported.
 */
export function conditionTransitions(
  before: readonly Condition[] | undefined,
  after: readonly Condition[] | undefined,
): ConditionTransition[] {
  return (after ?? []).flatMap((c) => {
    const prev = findCondition(before, c.type);
    if (prev && prev.status === c.status && prev.reason === c.reason) return [];
    return [
      {
        type: c.type,
        ...(prev && { previousStatus: prev.status }),
        status: c.status,
        reason: c.reason,
        message: c.message,
        eventType: eventTypeOf(c.status, c.reason),
      },
    ];
  });
}

/**
 * Reasons that say work is under way, not that something is wrong: their Events are `Normal` even where the
 * condition is False (a cache that is Downloading is not Ready yet, and that is no problem).
 */
export const PROGRESS_REASONS: ReadonlySet<string> = new Set([
  'Probing',
  'Downloading',
  'Deploying',
  'AwaitingTemplates',
  'WaitingForBinding',
  'CacheRecreating',
]);

/** `Warning` only for a problem: a condition turned False for a reason that is not progress. */
export function eventTypeOf(status: ConditionStatus, reason: string): 'Normal' | 'Warning' {
  return status === 'False' && !PROGRESS_REASONS.has(reason) ? 'Warning' : 'Normal';
}

/**
 * The Events to record for a set of transitions: one per distinct (type, reason, message), so that `Ready` and the
 * condition it repeats (both `Downloading`, with the same message) show once in `kubectl describe`.
 */
export function eventsOf(transitions: readonly ConditionTransition[]): ConditionTransition[] {
  const seen = new Set<string>();
  return transitions.filter((t) => {
    const key = `${t.eventType}/${t.reason}/${t.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
