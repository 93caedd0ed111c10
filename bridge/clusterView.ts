import {
  hasOwnWorkflow,
  isClusterScoped,
  selfTarget,
  serviceUses,
  waitsOnQuota,
  waitsOnSecret,
  type BridgeObject,
  type OwnKind,
  type RoutingContext,
  type Target,
  type WatchedKind,
} from './routing.js';

/**
 * What the router and the orphan sweep may ask about the cluster, answered from the informers' caches (no API call).
 * `cachesOf(kind)` gives the object maps of every source of that kind (one per watched namespace).
 */
export interface ClusterView extends RoutingContext {
  /** The cached object a workflow target names, if any (deleting or not). */
  lookup(target: Target): BridgeObject | undefined;
}

const HARDWARE_DEPENDENT_KINDS = [
  'AIMModel',
  'AIMClusterModel',
  'AIMServiceTemplate',
  'AIMClusterServiceTemplate',
] as const;
const alive = (o: BridgeObject) => o.metadata?.deletionTimestamp == null;

export function clusterView(cachesOf: (kind: WatchedKind) => Iterable<Map<string, BridgeObject>>): ClusterView {
  function* objectsOf(kind: WatchedKind): Generator<BridgeObject> {
    for (const cache of cachesOf(kind)) yield* cache.values();
  }
  const lookup = (t: Target): BridgeObject | undefined => {
    const key = `${isClusterScoped(t.kind) ? '' : (t.namespace ?? '')}/${t.name}`;
    for (const cache of cachesOf(t.kind)) {
      const o = cache.get(key);
      if (o) return o;
    }
    return undefined;
  };
  /** The objects of `kinds` in a namespace whose status says they wait on something (`waits`). */
  const waitingIn = (namespace: string, kinds: readonly OwnKind[], waits: (o: BridgeObject) => boolean) => {
    const out: Target[] = [];
    for (const kind of kinds)
      for (const o of objectsOf(kind))
        if (o.metadata?.namespace === namespace && waits(o)) out.push(selfTarget(kind, o));
    return out;
  };
  return {
    lookup,
    exists: (t) => {
      const o = lookup(t);
      return o !== undefined && alive(o);
    },
    waitingOnQuota: (namespace) => waitingIn(namespace, ['AIMModelCache', 'AIMService'], waitsOnQuota),
    waitingOnSecret: (namespace) => waitingIn(namespace, ['AIMModelCache', 'AIMService', 'AIMModel'], waitsOnSecret),
    usersOf: (kind, obj) => {
      if (kind === 'AIMService') return [];
      const out: Target[] = [];
      for (const svc of objectsOf('AIMService'))
        if (alive(svc) && serviceUses(svc, kind, obj)) out.push(selfTarget('AIMService', svc));
      return out;
    },
    hardwareDependents: () => {
      const out: Target[] = [];
      for (const kind of HARDWARE_DEPENDENT_KINDS)
        for (const o of objectsOf(kind)) if (alive(o) && hasOwnWorkflow(kind, o)) out.push(selfTarget(kind, o));
      return out;
    },
  };
}
