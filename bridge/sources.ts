import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  setHeaderOptions,
  Watch,
  type KubeConfig,
} from '@kubernetes/client-node';
import { RESOURCES } from '../activities/kube/resources.js';
import { withRequestTimeout } from '../activities/kube/requestTimeout.js';
import { LABELS, MANAGED_BY } from '../schemas/constants.js';
import { METADATA_ONLY_LIST, metadataOnlyConfig } from './metadataOnly.js';
import { OWN_KINDS, type BridgeObject, type WatchedKind } from './routing.js';

/**
 * The bridge's source table (spec section 9): what it lists and then watches, and nothing else
 * (deploy/base/rbac.yaml grants exactly this). The six AIM kinds, our Jobs, PVCs and InferenceServices (managed-by label), ResourceQuotas
 * and Secrets (metadata only) of the watched namespaces, and Nodes. Which workflows a change wakes is routing.ts.
 */
export interface ListResult {
  items: BridgeObject[];
  resourceVersion: string;
}

/** The part of client-node's `Watch` a source watches with (a fake in unit tests). */
export type Watcher = Pick<Watch, 'watch'>;

/** `K`: the kinds a source table covers (the bridge's WatchedKind; the worker's read cache adds Pods). */
export interface Source<K extends string = WatchedKind> {
  kind: K;
  /** Namespace this source is limited to; undefined = cluster-wide. */
  namespace?: string;
  /** The watch path on the API server. */
  path: string;
  labelSelector?: string;
  /** Watch object metadata only (Secrets: the bridge never receives a value). */
  metadataOnly?: boolean;
  list(): Promise<ListResult>;
  watcher: Watcher;
}

const MANAGED = `${LABELS.managedBy}=${MANAGED_BY}`;

/** The AIM kinds and InferenceServices, listed through the custom-objects API. */
const CUSTOM_KINDS = [...OWN_KINDS, 'InferenceService'] as const;

type RawList = { items: unknown[] | null; metadata?: { resourceVersion?: string } };
const asList = (l: RawList): ListResult => ({
  // A metadata-only list of nothing arrives as `items: null`.
  items: (l.items ?? []) as BridgeObject[],
  resourceVersion: l.metadata?.resourceVersion ?? '',
});
const nsPath = (ns: string | undefined) => (ns ? `namespaces/${ns}/` : '');
const inNs = (ns: string | undefined) => (ns ? { namespace: ns } : {});

/**
 * Every source for these namespaces (empty or omitted: all namespaces, one cluster-wide source per kind).
 * Cluster-scoped kinds are always watched cluster-wide.
 */
export function bridgeSources(kc: KubeConfig, namespaces?: string[]): Source[] {
  // A list the API server (or a proxy in front of it) never answers is given up and retried like any failed one;
  // without a timeout the informer would wait for it for ever and never see that kind again.
  const timed = withRequestTimeout(kc);
  const custom = timed.makeApiClient(CustomObjectsApi);
  const core = timed.makeApiClient(CoreV1Api);
  const batch = timed.makeApiClient(BatchV1Api);
  const watch = new Watch(kc);
  const metadataWatch = new Watch(metadataOnlyConfig(kc));
  const each: Array<string | undefined> = namespaces && namespaces.length > 0 ? namespaces : [undefined];
  const sources: Source[] = [];
  const add = (s: Omit<Source, 'watcher'>) => sources.push({ ...s, watcher: s.metadataOnly ? metadataWatch : watch });

  for (const kind of CUSTOM_KINDS) {
    const res = RESOURCES[kind];
    const labelSelector = kind === 'InferenceService' ? MANAGED : undefined;
    for (const ns of res.namespaced ? each : [undefined]) {
      const coords = {
        group: res.group,
        version: res.version,
        plural: res.plural,
        ...(labelSelector ? { labelSelector } : {}),
      };
      add({
        kind,
        ...inNs(ns),
        path: `/apis/${res.group}/${res.version}/${nsPath(ns)}${res.plural}`,
        ...(labelSelector ? { labelSelector } : {}),
        list: async () =>
          asList(
            (ns
              ? await custom.listNamespacedCustomObject({ ...coords, namespace: ns })
              : await custom.listClusterCustomObject(coords)) as RawList,
          ),
      });
    }
  }
  for (const ns of each) {
    add({
      kind: 'Job',
      ...inNs(ns),
      path: `/apis/batch/v1/${nsPath(ns)}jobs`,
      labelSelector: MANAGED,
      list: async () =>
        asList(
          ns
            ? await batch.listNamespacedJob({ namespace: ns, labelSelector: MANAGED })
            : await batch.listJobForAllNamespaces({ labelSelector: MANAGED }),
        ),
    });
    add({
      kind: 'PersistentVolumeClaim',
      ...inNs(ns),
      path: `/api/v1/${nsPath(ns)}persistentvolumeclaims`,
      labelSelector: MANAGED,
      list: async () =>
        asList(
          ns
            ? await core.listNamespacedPersistentVolumeClaim({ namespace: ns, labelSelector: MANAGED })
            : await core.listPersistentVolumeClaimForAllNamespaces({ labelSelector: MANAGED }),
        ),
    });
  }
  for (const ns of each) {
    add({
      kind: 'ResourceQuota',
      ...inNs(ns),
      path: `/api/v1/${nsPath(ns)}resourcequotas`,
      list: async () =>
        asList(
          ns
            ? await core.listNamespacedResourceQuota({ namespace: ns })
            : await core.listResourceQuotaForAllNamespaces(),
        ),
    });
  }
  for (const ns of each) {
    // A Secret created or edited: whatever waits on a missing or refused credential in its namespace re-checks now.
    const metadataOnly = setHeaderOptions('Accept', METADATA_ONLY_LIST);
    add({
      kind: 'Secret',
      ...inNs(ns),
      path: `/api/v1/${nsPath(ns)}secrets`,
      metadataOnly: true,
      list: async () =>
        asList(
          ns
            ? await core.listNamespacedSecret({ namespace: ns }, metadataOnly)
            : await core.listSecretForAllNamespaces({}, metadataOnly),
        ),
    });
  }
  add({ kind: 'Node', path: '/api/v1/nodes', list: async () => asList(await core.listNode()) });
  return sources;
}
