import type { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { CustomObjects } from './customObjects.js';
import { toKubeError } from './errors.js';
import type { CachedKind, Reads } from './readCache.js';
import { RESOURCES, type ResourceKind } from './resources.js';

/**
 * The same reads as the cache, from the API server: what activities use without a cache (pure activity tests,
 * AIM_READ_CACHE=off) and what the cache falls back to (before its first list, on a miss, when a write is not seen
 * in time). Only the calls the worker's ClusterRole grants: Nodes and Pods are never read by name (list only).
 */
export function directReads(clients: { objects: CustomObjects; core: CoreV1Api; batch: BatchV1Api }): Reads {
  const { objects, core, batch } = clients;
  const notFoundIsUndefined = async <T>(read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (err) {
      if (toKubeError(err).kind === 'NotFound') return undefined;
      throw err;
    }
  };
  const isCustom = (kind: CachedKind): kind is ResourceKind => Object.hasOwn(RESOURCES, kind);
  const ns = (namespace: string | undefined) => namespace ?? '';
  const byName = (name: string) => ({ fieldSelector: `metadata.name=${name}` });

  const reads: Reads = {
    async get<T>(kind: CachedKind, name: string, namespace?: string): Promise<T | undefined> {
      if (isCustom(kind)) return objects.get(RESOURCES[kind], name, namespace) as Promise<T | undefined>;
      switch (kind) {
        case 'Job':
          return (await notFoundIsUndefined(() => batch.readNamespacedJob({ name, namespace: ns(namespace) }))) as T;
        case 'PersistentVolumeClaim':
          return (await notFoundIsUndefined(() =>
            core.readNamespacedPersistentVolumeClaim({ name, namespace: ns(namespace) }),
          )) as T;
        case 'Node':
          return (await core.listNode(byName(name))).items[0] as T | undefined;
        case 'Pod':
          return (await core.listNamespacedPod({ namespace: ns(namespace), ...byName(name) })).items[0] as
            T | undefined;
      }
    },
    async list<T>(kind: CachedKind, namespace?: string, labelSelector?: string): Promise<T[]> {
      const sel = labelSelector ? { labelSelector } : {};
      if (isCustom(kind)) return objects.list(RESOURCES[kind], namespace, sel) as Promise<T[]>;
      switch (kind) {
        case 'Job':
          return (
            namespace ? await batch.listNamespacedJob({ namespace, ...sel }) : await batch.listJobForAllNamespaces(sel)
          ).items as T[];
        case 'PersistentVolumeClaim':
          return (
            namespace
              ? await core.listNamespacedPersistentVolumeClaim({ namespace, ...sel })
              : await core.listPersistentVolumeClaimForAllNamespaces(sel)
          ).items as T[];
        case 'Node':
          return (await core.listNode(sel)).items as T[];
        case 'Pod':
          return (
            namespace ? await core.listNamespacedPod({ namespace, ...sel }) : await core.listPodForAllNamespaces(sel)
          ).items as T[];
      }
    },
  };
  return reads;
}
