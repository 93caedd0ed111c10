// The process kubelet's view of the cluster: the pods, claims, volumes and classes its scheduler, provisioner and
// pod workers read, kept in memory by list + watch, as the real scheduler's, provisioner's and kubelet's informers
// keep theirs. The informer is the product's (bridge/informer.ts: list, watch from the list's resourceVersion, relist
// on 410 Gone, reconnect with back-off), so an API-server restart in a fault test costs a reconnect, not special code.
//
// Before, each round (250 ms) listed all four kinds afresh: with a few hundred predictor pods Pending in the fleet
// benchmark those lists were most of the API server's work and of this process's, a cost no real cluster has.
//
// A view lags the API server by a watch event. The loop reads it level-triggered as before; where a round must not
// act twice on its own write (a pod it bound, a volume it created or deleted), processKubelet.ts remembers the write
// until the view shows it, as the scheduler's cache "assumes" a pod it bound.
import { setMaxListeners } from 'node:events';
import {
  CoreV1Api,
  StorageV1Api,
  Watch,
  type KubeConfig,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1StorageClass,
} from '@kubernetes/client-node';
import { startInformer, type Informer } from '../../../bridge/informer.js';
import { bridgeMetrics } from '../../../bridge/metrics.js';
import type { BridgeObject } from '../../../bridge/routing.js';
import type { ListResult, Source } from '../../../bridge/sources.js';
import { withRequestTimeout } from '../../../activities/kube/requestTimeout.js';

export interface KubeletView {
  pods(): V1Pod[];
  claims(): V1PersistentVolumeClaim[];
  /** By name. */
  volumes(): Map<string, V1PersistentVolume>;
  /** By name. */
  classes(): Map<string, V1StorageClass>;
  /** Resolves once every kind has been listed (or the view was stopped). */
  listed: Promise<void>;
  stop(): Promise<void>;
}

export type ViewKind = 'Pod' | 'PersistentVolumeClaim' | 'PersistentVolume' | 'StorageClass';

/** A change the view took: `old` undefined for a new object; for DELETED, `obj` is its last state. */
export type ViewChange = (kind: ViewKind, type: 'ADDED' | 'MODIFIED' | 'DELETED', old: unknown, obj: unknown) => void;

/**
 * Reconnects soon after an API server comes back (fault tests restart it): 200 ms doubling to 2 s, where the
 * bridge waits up to 30 s because many of its watches fail together against a production API server.
 */
const RECONNECT = { initialMs: 200, maxMs: 2000 };

export function startKubeletView(kc: KubeConfig, log: (line: string) => void, onChange?: ViewChange): KubeletView {
  const timed = withRequestTimeout(kc);
  const core = timed.makeApiClient(CoreV1Api);
  const storage = timed.makeApiClient(StorageV1Api);
  const watcher = new Watch(kc);
  const asList = (l: { items: unknown[]; metadata?: { resourceVersion?: string } }): ListResult => ({
    items: l.items as BridgeObject[],
    resourceVersion: l.metadata?.resourceVersion ?? '',
  });
  const sources: Record<ViewKind, Source<ViewKind>> = {
    Pod: { kind: 'Pod', path: '/api/v1/pods', watcher, list: async () => asList(await core.listPodForAllNamespaces()) },
    PersistentVolumeClaim: {
      kind: 'PersistentVolumeClaim',
      path: '/api/v1/persistentvolumeclaims',
      watcher,
      list: async () => asList(await core.listPersistentVolumeClaimForAllNamespaces()),
    },
    PersistentVolume: {
      kind: 'PersistentVolume',
      path: '/api/v1/persistentvolumes',
      watcher,
      list: async () => asList(await core.listPersistentVolume()),
    },
    StorageClass: {
      kind: 'StorageClass',
      path: '/apis/storage.k8s.io/v1/storageclasses',
      watcher,
      list: async () => asList(await storage.listStorageClass()),
    },
  };
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per open watch
  const metrics = bridgeMetrics(); // the informer counts relists and errors; nobody reads them here
  const informers = Object.fromEntries(
    Object.entries(sources).map(([kind, source]) => [
      kind,
      startInformer(source, {
        signal: abort.signal,
        metrics,
        backoff: RECONNECT,
        log: (_level, msg) => log(`view: ${msg}`),
        onChange: (c) => {
          onChange?.(kind as ViewKind, c.type, c.old, c.obj);
          return [];
        },
      }),
    ]),
  ) as Record<ViewKind, Informer<ViewKind>>;
  const values = <T>(kind: ViewKind) => [...informers[kind].objects.values()] as T[];
  const byName = <T extends { metadata?: { name?: string } }>(kind: ViewKind) =>
    new Map(values<T>(kind).map((o) => [o.metadata?.name ?? '', o]));
  return {
    pods: () => values<V1Pod>('Pod'),
    claims: () => values<V1PersistentVolumeClaim>('PersistentVolumeClaim'),
    volumes: () => byName<V1PersistentVolume>('PersistentVolume'),
    classes: () => byName<V1StorageClass>('StorageClass'),
    listed: Promise.all(Object.values(informers).map((i) => i.listed)).then(() => undefined),
    stop: async () => {
      abort.abort();
      await Promise.allSettled(Object.values(informers).map((i) => i.done));
    },
  };
}
