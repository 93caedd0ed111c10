import type { V1OwnerReference, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { API_GROUP_VERSION, LABELS, MANAGED_BY, NAMING_VERSION } from '../schemas/constants.js';
import { formatBytes, quantityToBytes, volumeSizeWithHeadroom } from '../schemas/quantity.js';
import type {
  AIMModelCacheSpec,
  AIMModelSource,
  AIMServiceSpec,
  CacheMode,
  EnvVar,
  NodeAffinity,
  Quantity,
  Toleration,
} from '../schemas/types.js';
import { overlayEnv } from './env.js';
import { GPU_RESOURCE, type ResolvedHardware } from './hardware.js';
import { CACHE_LABEL } from './jobs.js';
import { cacheName, pvcName } from './naming.js';

/**
 * AIMModelCache manifests and their volumes (spec sections 3, 4, 5.3 step 5 and 5.4). Pure: the same service, model
 * and template give the same manifests, so a retried activity applies the same objects.
 */

export type AccessMode = NonNullable<AIMModelCacheSpec['accessMode']>;

/** The CRD defaults of `headroomPercent` (also applied when a cache is read back without it). */
export const DEFAULT_HEADROOM_PERCENT = 10;

type Defaulted = 'headroomPercent' | 'stallTimeoutSeconds' | 'maxAttempts';
/** A cache spec as applied: fields with CRD defaults are written only when the service sets them. */
export type CacheManifestSpec = Omit<AIMModelCacheSpec, Defaulted> & Partial<Pick<AIMModelCacheSpec, Defaulted>>;

export interface DesiredCache {
  apiVersion: typeof API_GROUP_VERSION;
  kind: 'AIMModelCache';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    /** Dedicated caches only: the service, as controller. */
    ownerReferences?: V1OwnerReference[];
  };
  spec: CacheManifestSpec;
}

export interface CacheService {
  metadata: { name: string; namespace: string; uid: string };
  spec: AIMServiceSpec;
}

export interface DesiredCachesInput {
  service: CacheService;
  /** The resolved model's sources: one cache each. */
  modelSources: readonly AIMModelSource[];
  /**
   * Path 2: the service's own `spec.model.custom.modelSources[].env` by modelId (credentials live there, never on the
   * shared model). Defaults to what `service.spec.model.custom` says.
   */
  serviceSourceEnv?: Readonly<Record<string, readonly EnvVar[] | undefined>>;
  modelEnv?: readonly EnvVar[];
  /** The model's `serviceAccountName`: the download runs as the service's, else this one. */
  modelServiceAccountName?: string;
  /** From the selected template's status: the download lands where the predictor can use the volume. */
  template: { resolvedNodeAffinity?: NodeAffinity; resolvedHardware?: ResolvedHardware };
  /**
   * Sources (by modelId) for which a Shared request falls back to a Dedicated cache: the service's credentials did
   * not pass a probe of the existing Shared cache's source (spec 5.3 step 5).
   */
  dedicatedFor?: readonly string[];
  /**
   * Caches that already exist (by name): their `accessMode` was chosen once at creation and is kept (it is
   * immutable; a later `replicas` change never replaces the cache).
   */
  existing?: ReadonlyArray<{ metadata?: { name?: string }; spec?: { accessMode?: AccessMode } }>;
}

/**
 * Effective download env (spec section 6), lowest to highest: model, service, source (for Path 2 the service's own
 * `custom.modelSources[].env`). Template env is not a layer: it holds serving settings, and a generated template's
 * env is the model's plus those. The credential check (spec 5.3 step 4) must read the same list: `secretRefs` of
 * each desired cache's `spec.env`.
 */
export function downloadEnv(layers: {
  modelEnv?: readonly EnvVar[] | undefined;
  serviceEnv?: readonly EnvVar[] | undefined;
  sourceEnv?: readonly EnvVar[] | undefined;
}): EnvVar[] {
  return structuredClone(
    overlayEnv(
      layers.modelEnv as EnvVar[] | undefined,
      layers.serviceEnv as EnvVar[] | undefined,
      layers.sourceEnv as EnvVar[] | undefined,
    ),
  );
}

/**
 * Access mode when neither cache nor service sets one (spec 5.4 step 2): `ReadWriteOnce` for a Dedicated cache of a
 * one-replica service, `ReadWriteMany` otherwise (other replicas or other services mount it too).
 */
export function chooseAccessMode(input: { requested?: AccessMode; mode: CacheMode; replicas: number }): AccessMode {
  if (input.requested) return input.requested;
  return input.mode === 'Dedicated' && input.replicas <= 1 ? 'ReadWriteOnce' : 'ReadWriteMany';
}

/**
 * The access mode to write into a cache that has none (spec 2 and 5.4 step 2; chosen once, before its volume): a
 * service always writes one into the caches it creates, so a cache without one stands alone and may be mounted by any
 * number of services and replicas: `ReadWriteMany`. Undefined when the cache has one already (nothing to write).
 */
export function accessModeToWrite(cache: { spec: { accessMode?: AccessMode } }): AccessMode | undefined {
  return cache.spec.accessMode ? undefined : chooseAccessMode({ mode: 'Shared', replicas: 1 });
}

/** Tolerates the template's GPU taint so the download pod can land on the GPU nodes (no GPU is requested). */
export function gpuTolerations(hardware: ResolvedHardware | undefined): Toleration[] | undefined {
  if (!hardware?.gpu) return undefined;
  return [{ key: hardware.gpu.resourceName ?? GPU_RESOURCE.amd, operator: 'Exists' }];
}

function serviceOwner(service: CacheService): V1OwnerReference {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: 'AIMService',
    name: service.metadata.name,
    uid: service.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * One AIMModelCache per source of the model. Dedicated (the default) caches are named for and owned by the service;
 * Shared caches are named by source identity only (plus the storage class) and have no owner. Write a Shared cache
 * only when it does not exist yet: an existing one keeps its creator's spec (env, node affinity).
 */
export function desiredCaches(input: DesiredCachesInput): DesiredCache[] {
  const { service } = input;
  const spec = service.spec;
  const requestedMode: CacheMode = spec.caching?.mode ?? 'Dedicated';
  const customSources = new Map((spec.model.custom?.modelSources ?? []).map((s) => [s.modelId, s]));
  const serviceSourceEnv =
    input.serviceSourceEnv ?? Object.fromEntries([...customSources].map(([modelId, s]) => [modelId, s.env]));
  const existingAccess = new Map(
    (input.existing ?? []).flatMap((c) =>
      c.metadata?.name && c.spec?.accessMode ? [[c.metadata.name, c.spec.accessMode] as const] : [],
    ),
  );
  const storageClassName = spec.storage?.storageClassName;
  const tolerations = gpuTolerations(input.template.resolvedHardware);
  const serviceAccountName = spec.serviceAccountName ?? input.modelServiceAccountName;

  return input.modelSources.map((source): DesiredCache => {
    const mode: CacheMode = input.dedicatedFor?.includes(source.modelId) ? 'Dedicated' : requestedMode;
    const dedicated = mode === 'Dedicated';
    const custom = customSources.get(source.modelId);
    // Path 2: the service's own source env replaces the shared model's (which keeps endpoints only).
    const sourceEnv = Object.hasOwn(serviceSourceEnv, source.modelId) ? serviceSourceEnv[source.modelId] : source.env;
    const env = downloadEnv({ modelEnv: input.modelEnv, serviceEnv: spec.env, sourceEnv });
    const caBundle = custom?.caBundle ?? source.caBundle;
    // The endpoint in the identity is the one the download really uses: the effective env's.
    const name = cacheName({
      source: { modelId: source.modelId, sourceUri: source.sourceUri, env },
      ...(storageClassName !== undefined && { storageClassName }),
      ...(dedicated && { serviceUid: service.metadata.uid, serviceName: service.metadata.name }),
    });
    const accessMode =
      existingAccess.get(name) ??
      chooseAccessMode({ requested: spec.storage?.accessMode, mode, replicas: spec.replicas });

    const cacheSpec: CacheManifestSpec = {
      modelId: source.modelId,
      sourceUri: source.sourceUri,
      ...(source.size !== undefined && { size: source.size }),
      ...(env.length > 0 && { env }),
      ...(caBundle && { caBundle: structuredClone(caBundle) }),
      ...(storageClassName !== undefined && { storageClassName }),
      accessMode,
      ...(spec.storage?.headroomPercent !== undefined && { headroomPercent: spec.storage.headroomPercent }),
      ...(spec.download?.stallTimeoutSeconds !== undefined && {
        stallTimeoutSeconds: spec.download.stallTimeoutSeconds,
      }),
      ...(spec.download?.maxAttempts !== undefined && { maxAttempts: spec.download.maxAttempts }),
      ...(serviceAccountName !== undefined && { serviceAccountName }),
      ...(input.template.resolvedNodeAffinity && {
        nodeAffinity: structuredClone(input.template.resolvedNodeAffinity),
      }),
      ...(tolerations && { tolerations }),
    };
    return {
      apiVersion: API_GROUP_VERSION,
      kind: 'AIMModelCache',
      metadata: {
        name,
        namespace: service.metadata.namespace,
        labels: {
          [LABELS.cacheMode]: dedicated ? 'dedicated' : 'shared',
          ...(dedicated && { [LABELS.service]: service.metadata.name }),
          [LABELS.managedBy]: MANAGED_BY,
          [LABELS.naming]: NAMING_VERSION,
        },
        ...(dedicated && { ownerReferences: [serviceOwner(service)] }),
      },
      spec: cacheSpec,
    };
  });
}

/** `status.mode` of a cache, from its `aim.silogen.ai/cache-mode` label (Dedicated unless marked shared). */
export function cacheModeOf(cache: { metadata?: { labels?: Record<string, string> } }): CacheMode {
  return cache.metadata?.labels?.[LABELS.cacheMode] === 'shared' ? 'Shared' : 'Dedicated';
}

/** What is needed of a cache (as read back from the API server) to build its volume. */
export interface PvcCache {
  metadata: { name: string; namespace?: string };
  spec: Pick<CacheManifestSpec, 'accessMode' | 'storageClassName' | 'headroomPercent'>;
}

/**
 * The cache's PVC (create-or-get): `{cache}-{8 hex of the cache UID}`, owned by the cache, `ceil_GiB(bytes × (1 +
 * headroom/100))`, the cache's storage class or (omitted) the cluster default. Throws when the cache has no
 * namespace or no `accessMode` (it is chosen once and written into the cache spec before the volume exists).
 */
export function buildCachePvc(cache: PvcCache, cacheUid: string, sizeBytes: bigint): V1PersistentVolumeClaim {
  const { name, namespace } = cache.metadata;
  if (!namespace) throw new Error(`AIMModelCache ${name} has no namespace`);
  const accessMode = cache.spec.accessMode;
  if (!accessMode) throw new Error(`AIMModelCache ${namespace}/${name} has no accessMode: write it before the volume`);
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: pvcName(name, cacheUid),
      namespace,
      labels: { [LABELS.managedBy]: MANAGED_BY, [CACHE_LABEL]: name },
      ownerReferences: [
        {
          apiVersion: API_GROUP_VERSION,
          kind: 'AIMModelCache',
          name,
          uid: cacheUid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      accessModes: [accessMode],
      ...(cache.spec.storageClassName !== undefined && { storageClassName: cache.spec.storageClassName }),
      resources: {
        requests: {
          storage: volumeSizeWithHeadroom(sizeBytes, cache.spec.headroomPercent ?? DEFAULT_HEADROOM_PERCENT),
        },
      },
    },
  };
}

/**
 * Bytes to provision (spec 5.4 step 1): the probe's measurement when there is one (it is what the download will
 * fetch), else the spec's `size`; undefined when neither is known → `SizeUnknown`, asking for `size`.
 */
export function cacheSizeBytes(input: {
  specSize?: Quantity | undefined;
  probedTotalBytes?: number | bigint | undefined;
}): bigint | undefined {
  if (input.probedTotalBytes !== undefined) return BigInt(input.probedTotalBytes);
  if (input.specSize !== undefined) return quantityToBytes(input.specSize);
  return undefined;
}

/** `status.displaySize`: `1.5 GiB`. */
export function cacheDisplaySize(bytes: number | bigint): string {
  return formatBytes(bytes);
}
