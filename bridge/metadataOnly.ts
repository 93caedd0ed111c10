import type { KubeConfig } from '@kubernetes/client-node';

/**
 * Secrets are watched as `PartialObjectMetadata`: the bridge needs to know that a Secret was created or edited (its
 * name, namespace and resourceVersion), never what it holds, so the API server never sends it a value.
 */
export const METADATA_ONLY = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
export const METADATA_ONLY_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

/**
 * The KubeConfig a client-node `Watch` reads, with every request asking for metadata only (the Watch takes its
 * request options from `applyToFetchOptions` and has no header option of its own).
 */
export function metadataOnlyConfig(kc: KubeConfig): KubeConfig {
  return new Proxy(kc, {
    get(target, prop, receiver) {
      if (prop === 'applyToFetchOptions')
        return (opts: { headers?: Record<string, string> }) =>
          target.applyToFetchOptions({ ...opts, headers: { ...opts.headers, Accept: METADATA_ONLY } });
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
