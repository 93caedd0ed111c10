import { ANNOTATIONS, API_GROUP, LABELS, ORIGIN_AUTO_GENERATED } from '../schemas/constants.js';
import { fixedBySecretChange } from '../domain/failureReasons.js';
import { workflowIdFor, type Nudge } from '../workflows/signals.js';

/**
 * What the bridge sends for one watch event (spec section 9), as a pure function of the kind, the previous and the
 * new version of the object. No I/O: the bridge (bridge.ts) keeps the caches and talks to Temporal.
 */

export type OwnKind =
  'AIMModel' | 'AIMClusterModel' | 'AIMServiceTemplate' | 'AIMClusterServiceTemplate' | 'AIMModelCache' | 'AIMService';
export type WatchedKind =
  OwnKind | 'Job' | 'PersistentVolumeClaim' | 'InferenceService' | 'Node' | 'ResourceQuota' | 'Secret';
export type SignalName = 'changed' | 'retry' | 'deleted' | 'dependencyChanged';
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export const OWN_KINDS: readonly OwnKind[] = [
  'AIMModel',
  'AIMClusterModel',
  'AIMServiceTemplate',
  'AIMClusterServiceTemplate',
  'AIMModelCache',
  'AIMService',
];
const CLUSTER_KINDS: ReadonlySet<string> = new Set(['AIMClusterModel', 'AIMClusterServiceTemplate', 'Node']);

export const isOwnKind = (k: string): k is OwnKind => (OWN_KINDS as readonly string[]).includes(k);
export const isClusterScoped = (k: string): boolean => CLUSTER_KINDS.has(k);

/** The fields the bridge looks at; both raw watch JSON and client-node's typed objects fit. */
export interface BridgeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string | Date;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid?: string; controller?: boolean }>;
  };
  status?: unknown;
}

/** A workflow the bridge talks to: the object's kind, name and (for namespaced kinds) namespace. */
export interface Target {
  kind: OwnKind;
  name: string;
  namespace?: string;
}

export interface Send {
  signal: SignalName;
  target: Target;
  /** signal-with-start (`true`) or a plain signal to a running workflow (`false`). */
  start: boolean;
  nudge: Nudge;
  /** For an object no workflow has reported on yet: a run bound to a deleted predecessor's UID is ended first. */
  fresh?: boolean;
}

/** What the router may ask about the rest of the cluster (the bridge answers from its watch caches). */
export interface RoutingContext {
  /** The object exists and is not being deleted: a dependency nudge may start its workflow. */
  exists(target: Target): boolean;
  /** Every model workflow and every hand-made template workflow (Node changes go to them). */
  hardwareDependents(): Target[];
  /**
   * The services that use an object without owning it, by what their status says they use: a cache they list
   * (Shared caches have no owner), or a model they resolved (with its templates). Optional: no users without it.
   */
  usersOf?(kind: OwnKind, obj: BridgeObject): Target[];
  /** The caches and services of a namespace whose status says they wait on a ResourceQuota (QuotaExceeded). */
  waitingOnQuota?(namespace: string): Target[];
  /** The caches, services and models of a namespace whose status says a credential is missing or was refused. */
  waitingOnSecret?(namespace: string): Target[];
}

/** An object whose `Ready` condition says it waits on a ResourceQuota. */
export function waitsOnQuota(obj: BridgeObject): boolean {
  const conditions = (obj.status as { conditions?: Array<{ type?: string; reason?: string }> } | undefined)?.conditions;
  return (conditions ?? []).some((c) => c.type === 'Ready' && c.reason === 'QuotaExceeded');
}

/**
 * An object whose status says a Secret could fix it: a referenced Secret or key is missing, or the source refused
 * the credentials (a new key, a token with access to a gated model).
 */
export function waitsOnSecret(obj: BridgeObject): boolean {
  const conditions = (obj.status as { conditions?: Array<{ type?: string; status?: string; reason?: string }> })
    ?.conditions;
  return (conditions ?? []).some(
    (c) =>
      (c.type === 'Ready' || c.type === 'AuthValid') && c.status === 'False' && fixedBySecretChange(c.reason ?? ''),
  );
}

export const targetId = (t: Target): string => workflowIdFor(t.kind, t.name, t.namespace);

export function nudgeOf(obj: BridgeObject | undefined): Nudge {
  const m = obj?.metadata ?? {};
  return {
    uid: m.uid ?? '',
    ...(m.generation !== undefined ? { generation: m.generation } : {}),
    ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
  };
}

const deleting = (o: BridgeObject | undefined): boolean => o?.metadata?.deletionTimestamp != null;
const retryAnnotationChanged = (old: BridgeObject, obj: BridgeObject): boolean =>
  old.metadata?.annotations?.[ANNOTATIONS.retry] !== obj.metadata?.annotations?.[ANNOTATIONS.retry];

/** Templates that a model generated are driven by the model's workflow, not by a templateLifecycle of their own. */
export function isGeneratedTemplate(obj: BridgeObject): boolean {
  const m = obj.metadata ?? {};
  if (m.labels?.[LABELS.origin] === ORIGIN_AUTO_GENERATED) return true;
  return (m.ownerReferences ?? []).some(
    (o) =>
      o.controller === true &&
      groupOf(o.apiVersion) === API_GROUP &&
      (o.kind === 'AIMModel' || o.kind === 'AIMClusterModel'),
  );
}

/** Whether an object of this kind has a workflow of its own. */
export function hasOwnWorkflow(kind: WatchedKind, obj: BridgeObject): kind is OwnKind {
  if (!isOwnKind(kind)) return false;
  if (kind === 'AIMServiceTemplate' || kind === 'AIMClusterServiceTemplate') return !isGeneratedTemplate(obj);
  return true;
}

export function selfTarget(kind: OwnKind, obj: BridgeObject): Target {
  const m = obj.metadata ?? {};
  return { kind, name: m.name ?? '', ...(!isClusterScoped(kind) && m.namespace ? { namespace: m.namespace } : {}) };
}

const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '');

/** The AIM objects this object belongs to: our-group owners and the `aim.silogen.ai/service|model` labels. */
export function dependencyTargets(kind: WatchedKind, obj: BridgeObject): Target[] {
  const m = obj.metadata ?? {};
  const ns = isClusterScoped(kind) ? undefined : m.namespace;
  const out: Target[] = [];
  for (const o of m.ownerReferences ?? []) {
    if (groupOf(o.apiVersion) !== API_GROUP || !isOwnKind(o.kind)) continue;
    out.push({ kind: o.kind, name: o.name, ...(!isClusterScoped(o.kind) && ns ? { namespace: ns } : {}) });
  }
  const service = m.labels?.[LABELS.service];
  if (service && ns) out.push({ kind: 'AIMService', name: service, namespace: ns });
  const model = m.labels?.[LABELS.model];
  if (model) out.push(ns ? { kind: 'AIMModel', name: model, namespace: ns } : { kind: 'AIMClusterModel', name: model });
  // Never the object's own workflow, each target once.
  const self = isOwnKind(kind) ? targetId(selfTarget(kind, obj)) : undefined;
  const seen = new Set<string>();
  return out.filter((t) => {
    const id = targetId(t);
    if (id === self || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

interface ServiceUse {
  resolvedModel?: { kind?: string; name?: string; namespace?: string };
  caches?: Array<{ name?: string }>;
}

/**
 * Whether a service (by its status) uses an object it does not own: a cache it lists, the model it resolved, or a
 * template of that model (a template's status decides whether the service can be placed).
 */
export function serviceUses(service: BridgeObject, kind: OwnKind, obj: BridgeObject): boolean {
  const use = (service.status ?? {}) as ServiceUse;
  const m = obj.metadata ?? {};
  const sameNamespace = service.metadata?.namespace === m.namespace;
  switch (kind) {
    case 'AIMModelCache':
      return sameNamespace && (use.caches ?? []).some((c) => c.name === m.name);
    case 'AIMModel':
    case 'AIMClusterModel':
      return (
        use.resolvedModel?.kind === kind &&
        use.resolvedModel.name === m.name &&
        (kind === 'AIMClusterModel' || sameNamespace)
      );
    case 'AIMServiceTemplate':
    case 'AIMClusterServiceTemplate': {
      const modelName = (obj as { spec?: { modelName?: string } }).spec?.modelName;
      return (
        use.resolvedModel?.name === modelName &&
        (kind === 'AIMClusterServiceTemplate' || (sameNamespace && use.resolvedModel?.kind === 'AIMModel'))
      );
    }
    default:
      return false;
  }
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function sortedEntries(r: Record<string, unknown> | undefined): Array<[string, unknown]> {
  return Object.entries(r ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A Node change that can change template availability: its labels or `status.allocatable`. */
export function nodeHardwareChanged(old: BridgeObject | undefined, obj: BridgeObject): boolean {
  if (!old) return true;
  const alloc = (o: BridgeObject) => (o.status as { allocatable?: Record<string, unknown> } | undefined)?.allocatable;
  return (
    !sameJson(sortedEntries(old.metadata?.labels), sortedEntries(obj.metadata?.labels)) ||
    !sameJson(sortedEntries(alloc(old)), sortedEntries(alloc(obj)))
  );
}

/**
 * Nothing but the owner list, managed fields or resourceVersion differ: nothing an owner's workflow can act on. It
 * matters for a model shared by many services: each one adds its own owner entry, and waking every owner on each
 * addition would cost N²/2 signals (and service passes) for N services.
 */
export function onlyBookkeepingChanged(old: BridgeObject, obj: BridgeObject): boolean {
  const strip = (o: BridgeObject) => ({
    ...o,
    metadata: { ...o.metadata, ownerReferences: undefined, managedFields: undefined, resourceVersion: undefined },
    // A cache's download progress (patched every few seconds for hours) and its lastUsed stamp are not changes its
    // services act on: they mirror progress themselves, at most every 15 s (spec 8).
    status:
      o.status && typeof o.status === 'object' ? { ...o.status, progress: undefined, lastUsed: undefined } : o.status,
  });
  return sameJson(strip(old), strip(obj));
}

/**
 * The signals for one event. `old` is the last version the bridge saw (undefined for a new object); for DELETED,
 * `obj` is the final state of the object.
 */
export function route(
  kind: WatchedKind,
  type: EventType,
  old: BridgeObject | undefined,
  obj: BridgeObject,
  ctx: RoutingContext,
): Send[] {
  const sends: Send[] = [];
  const nudge = nudgeOf(obj);

  if (kind === 'ResourceQuota') {
    // A quota created, raised or removed: whatever waits on QuotaExceeded in its namespace looks again now.
    for (const target of ctx.waitingOnQuota?.(obj.metadata?.namespace ?? '') ?? [])
      sends.push({ signal: 'dependencyChanged', target, start: false, nudge });
    return sends;
  }

  if (kind === 'Secret') {
    // A Secret created or edited is the fix a waiting object needs: `retry` re-runs it from the failed step (the
    // cache probes again with the new credentials) instead of waiting out its back-off. Deleting one fixes nothing.
    if (type === 'DELETED') return sends;
    for (const target of ctx.waitingOnSecret?.(obj.metadata?.namespace ?? '') ?? [])
      sends.push({ signal: 'retry', target, start: false, nudge });
    return sends;
  }

  if (kind === 'Node') {
    if (type === 'DELETED' || nodeHardwareChanged(type === 'ADDED' ? undefined : old, obj)) {
      for (const target of ctx.hardwareDependents())
        sends.push({ signal: 'dependencyChanged', target, start: true, nudge });
    }
    return sends;
  }

  // The object's own workflow: generation changes, deletion, the retry annotation. Never its own status writes.
  if (hasOwnWorkflow(kind, obj)) {
    const self = selfTarget(kind, obj);
    if (type === 'ADDED' || !old) {
      // A new object (or one first seen after a relist) starts its workflow; a run already there just re-reads.
      const fresh = !(obj.status as { status?: string } | undefined)?.status;
      sends.push({ signal: 'changed', target: self, start: true, nudge, ...(fresh ? { fresh } : {}) });
      if (deleting(obj)) sends.push({ signal: 'deleted', target: self, start: false, nudge });
    } else if (type === 'DELETED') {
      if (!deleting(old)) sends.push({ signal: 'deleted', target: self, start: false, nudge });
    } else if (deleting(obj)) {
      // Deletion bumps the generation of custom resources too: only `deleted`, and never a start. A retry
      // annotation on an object whose deletion is stuck retries the cleanup now.
      if (!deleting(old)) sends.push({ signal: 'deleted', target: self, start: false, nudge });
      else if (retryAnnotationChanged(old, obj)) sends.push({ signal: 'retry', target: self, start: false, nudge });
    } else {
      if (old.metadata?.generation !== obj.metadata?.generation) {
        sends.push({ signal: 'changed', target: self, start: true, nudge });
      }
      if (retryAnnotationChanged(old, obj)) {
        sends.push({ signal: 'retry', target: self, start: true, nudge });
      }
    }
  }

  // Any change, status included, of an owned or labelled object wakes its owner. A start only when the owner is
  // known to exist (a cascade of deletions must not restart the finished workflows of deleted owners).
  if (type === 'MODIFIED' && old && onlyBookkeepingChanged(old, obj)) return sends;
  const targets = dependencyTargets(kind, obj);
  const known = new Set(targets.map(targetId));
  for (const user of isOwnKind(kind) ? (ctx.usersOf?.(kind, obj) ?? []) : []) {
    if (!known.has(targetId(user))) targets.push(user);
    known.add(targetId(user));
  }
  for (const target of targets) {
    sends.push({ signal: 'dependencyChanged', target, start: ctx.exists(target), nudge });
  }
  return sends;
}

/** Parses `aim/{Kind}/{namespace}/{name}` or `aim/{Kind}/{name}`; undefined for IDs that are not an object's. */
export function parseWorkflowId(id: string): Target | undefined {
  const parts = id.split('/');
  if (parts[0] !== 'aim') return undefined;
  const kind = parts[1] ?? '';
  if (!isOwnKind(kind)) return undefined;
  if (isClusterScoped(kind)) return parts.length === 3 && parts[2] ? { kind, name: parts[2] } : undefined;
  return parts.length === 4 && parts[2] && parts[3] ? { kind, name: parts[3], namespace: parts[2] } : undefined;
}
