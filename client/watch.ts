import { CustomObjectsApi, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { toKubeError } from '../activities/kube/errors.js';
import type { ResourceRef } from '../activities/kube/resources.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ObjectEvent<T extends KubernetesObject = KubernetesObject> {
  type: WatchEventType;
  object: T;
}

/** An object's change, or `SYNCED` once after the initial list (what existed has been yielded as ADDED). */
export type WatchEvent<T extends KubernetesObject = KubernetesObject> = ObjectEvent<T> | { type: 'SYNCED' };

export interface WatchQuery {
  /** Namespace of a namespaced resource; undefined watches every namespace (or a cluster-scoped resource). */
  namespace?: string;
  labelSelector?: string;
  /** e.g. `metadata.name=qwen-chat` to follow one object. */
  fieldSelector?: string;
  /** Ends the iteration (and the HTTP watch) when aborted. */
  signal?: AbortSignal;
}

/**
 * A Kubernetes watch as an async iterable: first an ADDED per existing object (the list) and SYNCED, then the changes
 * as the API server streams them. Relists on `410 Gone` (yielding only the differences), resumes after the server closes the
 * stream, and ends when `signal` aborts. The SDK and aimctl take one of these so tests can pass their own.
 */
export type ObjectWatcher = <T extends KubernetesObject>(
  res: ResourceRef,
  query: WatchQuery,
) => AsyncIterable<WatchEvent<T>>;

const keyOf = (o: KubernetesObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** What changed between what we had and a fresh list (after a relist). */
export function listDifferences<T extends KubernetesObject>(had: Map<string, T>, listed: T[]): ObjectEvent<T>[] {
  const out: ObjectEvent<T>[] = [];
  const seen = new Set<string>();
  for (const obj of listed) {
    const key = keyOf(obj);
    seen.add(key);
    const old = had.get(key);
    if (!old) out.push({ type: 'ADDED', object: obj });
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
      out.push({ type: 'MODIFIED', object: obj });
  }
  for (const [key, old] of had) if (!seen.has(key)) out.push({ type: 'DELETED', object: old });
  return out;
}

class Gone extends Error {}

/** The watcher over a real API server (client-node's list + Watch). */
export function kubeWatcher(kc: KubeConfig): ObjectWatcher {
  const api = kc.makeApiClient(CustomObjectsApi);
  const watch = new Watch(kc);
  return async function* watchObjects<T extends KubernetesObject>(
    res: ResourceRef,
    query: WatchQuery,
  ): AsyncGenerator<WatchEvent<T>> {
    const namespaced = res.namespaced && query.namespace;
    const selectors = {
      ...(query.labelSelector ? { labelSelector: query.labelSelector } : {}),
      ...(query.fieldSelector ? { fieldSelector: query.fieldSelector } : {}),
    };
    const list = async () => {
      try {
        const coords = { group: res.group, version: res.version, plural: res.plural, ...selectors };
        return (await (namespaced
          ? api.listNamespacedCustomObject({ ...coords, namespace: query.namespace! })
          : api.listClusterCustomObject(coords))) as { items: T[]; metadata?: { resourceVersion?: string } };
      } catch (err) {
        throw toKubeError(err);
      }
    };
    const path = `/apis/${res.group}/${res.version}${namespaced ? `/namespaces/${query.namespace}` : ''}/${res.plural}`;
    const known = new Map<string, T>();
    let resourceVersion = '';
    let synced = false;
    while (!query.signal?.aborted) {
      if (!resourceVersion) {
        const listed = await list();
        for (const e of listDifferences(known, listed.items)) {
          if (e.type === 'DELETED') known.delete(keyOf(e.object));
          else known.set(keyOf(e.object), e.object);
          yield e;
        }
        if (!synced) yield { type: 'SYNCED' };
        synced = true;
        resourceVersion = listed.metadata?.resourceVersion ?? '';
      }
      try {
        for await (const e of streamOnce<T>(watch, path, { ...selectors, resourceVersion }, query.signal)) {
          if (e.object.metadata?.resourceVersion) resourceVersion = e.object.metadata.resourceVersion;
          if (e.type === 'DELETED') known.delete(keyOf(e.object));
          else known.set(keyOf(e.object), e.object);
          yield e;
        }
      } catch (err) {
        if (!(err instanceof Gone)) throw toKubeError(err);
        resourceVersion = ''; // too old: relist and yield only what changed meanwhile
      }
    }
  };
}

/** One HTTP watch from `resourceVersion` until the server closes it, as an async iterable; throws Gone on 410. */
async function* streamOnce<T extends KubernetesObject>(
  watch: Watch,
  path: string,
  params: Record<string, string>,
  signal: AbortSignal | undefined,
): AsyncGenerator<ObjectEvent<T>> {
  const queue: ObjectEvent<T>[] = [];
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const request = await watch.watch(
    path,
    { ...params, allowWatchBookmarks: true, timeoutSeconds: 300 },
    (type: string, obj: T & { code?: number }) => {
      if (type === 'ERROR') failure = obj.code === 410 ? new Gone('resourceVersion too old') : obj;
      else if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') queue.push({ type, object: obj });
      notify();
    },
    (err: unknown) => {
      if (err && !signal?.aborted) failure ??= err;
      ended = true;
      notify();
    },
  );
  const abort = () => {
    request.abort();
    ended = true;
    notify();
  };
  signal?.addEventListener('abort', abort, { once: true });
  try {
    for (;;) {
      const next = queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (failure) throw failure;
      if (ended || signal?.aborted) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal?.removeEventListener('abort', abort);
    request.abort();
  }
}
