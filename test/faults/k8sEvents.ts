// Kill points on the Kubernetes side: "an object of this kind now satisfies this predicate" (created, finalizer
// added, status written, ...), seen through a watch so the kill lands right after the API server stored the write —
// typically inside the activity (or the workflow task running local activities) that made it, before it reported
// back.
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';

export type WatchedKind =
  | 'AIMService'
  | 'AIMModel'
  | 'AIMServiceTemplate'
  | 'AIMModelCache'
  | 'PersistentVolumeClaim'
  | 'Role'
  | 'Job'
  | 'InferenceService';

function collectionPath(kind: WatchedKind, namespace: string): string {
  const aim = `/apis/aim.silogen.ai/v1alpha1/namespaces/${namespace}`;
  switch (kind) {
    case 'AIMService':
      return `${aim}/aimservices`;
    case 'AIMModel':
      return `${aim}/aimmodels`;
    case 'AIMServiceTemplate':
      return `${aim}/aimservicetemplates`;
    case 'AIMModelCache':
      return `${aim}/aimmodelcaches`;
    case 'PersistentVolumeClaim':
      return `/api/v1/namespaces/${namespace}/persistentvolumeclaims`;
    case 'Role':
      return `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`;
    case 'Job':
      return `/apis/batch/v1/namespaces/${namespace}/jobs`;
    case 'InferenceService':
      return `/apis/serving.kserve.io/v1beta1/namespaces/${namespace}/inferenceservices`;
  }
}

export interface WatchSeen {
  name: string;
  /** When the watch delivered the matching event. */
  atMs: number;
  /**
   * The object already matched when the watch began (an initial ADDED of an object created before `notBeforeMs`):
   * the point was passed before it was armed.
   */
  early: boolean;
}

/**
 * Starts watching `kind` in `namespace` and resolves once the watch is established, with `seen`: a promise for the
 * first object for which `match` holds. A watch without a resourceVersion first replays the existing objects as ADDED, so
 * a condition that already holds is reported too (as `early` when the object predates `notBeforeMs`). The watch is
 * re-established if the server closes it.
 */
export async function armWatch(
  kc: KubeConfig,
  kind: WatchedKind,
  namespace: string,
  match: (obj: KubernetesObject) => boolean,
  notBeforeMs: number,
  signal: AbortSignal,
): Promise<{ seen: Promise<WatchSeen> }> {
  const path = collectionPath(kind, namespace);
  let established: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (established = resolve));
  const seen = (async (): Promise<WatchSeen> => {
    while (!signal.aborted) {
      const hit = await new Promise<WatchSeen | undefined>((resolve) => {
        let controller: AbortController | undefined;
        let done = false;
        const finish = (v: WatchSeen | undefined) => {
          if (done) return;
          done = true;
          signal.removeEventListener('abort', onAbort);
          controller?.abort();
          resolve(v);
        };
        const onAbort = () => finish(undefined);
        signal.addEventListener('abort', onAbort);
        new Watch(kc)
          .watch(
            path,
            {},
            (phase: string, obj: KubernetesObject) => {
              if ((phase !== 'ADDED' && phase !== 'MODIFIED') || !match(obj)) return;
              const createdMs = new Date(obj.metadata?.creationTimestamp ?? 0).getTime();
              finish({
                name: obj.metadata?.name ?? '',
                atMs: Date.now(),
                // creationTimestamp has a resolution of one second.
                early: phase === 'ADDED' && createdMs < notBeforeMs - 1500,
              });
            },
            () => finish(undefined),
          )
          .then(
            (c) => {
              controller = c;
              established();
              if (done) c.abort();
            },
            () => setTimeout(() => finish(undefined), 500),
          );
      });
      if (hit) return hit;
    }
    throw new Error(`stopped watching ${kind} in ${namespace}`);
  })();
  seen.catch(() => undefined); // observed by the caller; never an unhandled rejection when abandoned
  await Promise.race([ready, seen.then(() => undefined)]);
  return { seen }; // wrapped: an async function would otherwise wait for it
}
