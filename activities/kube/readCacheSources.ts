import { setMaxListeners } from 'node:events';
import { Context } from '@temporalio/activity';
import { BatchV1Api, CoreV1Api, Watch, type KubeConfig } from '@kubernetes/client-node';
import { startInformer, type Informer } from '../../bridge/informer.js';
import { bridgeMetrics } from '../../bridge/metrics.js';
import { OWN_KINDS } from '../../bridge/routing.js';
import { bridgeSources, type Source, type Watcher } from '../../bridge/sources.js';
import { LABELS, MANAGED_BY } from '../../schemas/constants.js';
import { CustomObjects } from './customObjects.js';
import { directReads } from './directReads.js';
import { ClusterReadCache, type CachedKind, type CachedObject } from './readCache.js';
import { withRequestTimeout } from './requestTimeout.js';

/**
 * What the worker's read cache lists and watches (deploy/base/rbac.yaml grants the worker exactly `list` and `watch`
 * of these): the bridge's sources of the kinds activities read — the six AIM kinds, our InferenceServices, Jobs and
 * PVCs (managed-by label), Nodes — and our Pods (those of our Jobs and of our InferenceServices). Not Secrets (the
 * worker may only `get` one by name, so that its token cannot read every value in the cluster) nor ResourceQuotas (no
 * activity reads them).
 */
const FROM_BRIDGE: ReadonlySet<string> = new Set<CachedKind>([
  ...OWN_KINDS,
  'InferenceService',
  'Job',
  'PersistentVolumeClaim',
  'Node',
]);

/**
 * Our pods, and no other pod of the cluster: our Jobs' pod templates carry the managed-by label (domain/jobs.ts
 * downloaderLabels), and KServe copies an InferenceService's labels, ours included (domain/inferenceService.ts), onto
 * its predictor pods. A Job wait reads its pods by `job-name`; a service whose InferenceService is not Ready yet reads
 * its predictor's pods to say why (a LIST of the namespace's pods per pass before: its cost grew with the fleet).
 */
export const OWN_PODS_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY}`;

/**
 * Cluster-wide, one source per kind: the worker serves whichever namespace a workflow names (the bridge's namespaces
 * are its own setting; the worker has none).
 */
export function readCacheSources(kc: KubeConfig): Source<CachedKind>[] {
  const sources = bridgeSources(kc).filter((s) => FROM_BRIDGE.has(s.kind)) as Source<CachedKind>[];
  const core = withRequestTimeout(kc).makeApiClient(CoreV1Api);
  sources.push({
    kind: 'Pod',
    path: '/api/v1/pods',
    labelSelector: OWN_PODS_SELECTOR,
    watcher: new Watch(kc),
    list: async () => {
      const l = await core.listPodForAllNamespaces({ labelSelector: OWN_PODS_SELECTOR });
      return { items: l.items as never, resourceVersion: l.metadata?.resourceVersion ?? '' };
    },
  });
  return sources;
}

export interface RunningReadCache {
  cache: ClusterReadCache;
  /** Resolves once every kind has listed (reads are direct before). */
  listed: Promise<void>;
  /** Stops the watches. */
  stop(): Promise<void>;
}

/** Starts one informer per source and the cache they fill. */
export function startReadCache(
  kc: KubeConfig,
  opts: {
    log: (msg: string) => void;
    sources?: Source<CachedKind>[];
    writeWaitMs?: number;
    /**
     * Nudges a running workflow by id (a plain `changed` signal; one that has ended is not started again): readCache.ts
     * rule 5, a pass that read from memory before a change that had already happened reached it. Without it, logged.
     */
    nudge?: (workflowId: string) => Promise<void>;
  },
): RunningReadCache {
  const timed = withRequestTimeout(kc);
  const cache = new ClusterReadCache(
    directReads({
      objects: new CustomObjects(timed),
      core: timed.makeApiClient(CoreV1Api),
      batch: timed.makeApiClient(BatchV1Api),
    }),
    {
      ...(opts.writeWaitMs !== undefined ? { writeWaitMs: opts.writeWaitMs } : {}),
      // Once per floor: a write memory did not show in time (a lagging or silent watch shows up here first).
      onOverdue: (f) =>
        opts.log(
          `read cache: ${f.kind} ${f.key} ${f.floor} not in memory after the read-your-writes wait ` +
            `(cached ${f.cached ?? 'none'}, watch at ${f.watchedTo ?? 'none'}); read directly until it is`,
        ),
      readerOf: currentWorkflowId,
      onLateChange: (late) => {
        opts.log(
          `read cache: ${late.kind} ${late.key} at ${late.resourceVersion} reached memory after ` +
            `${late.readers.join(', ')} read without it; nudged`,
        );
        for (const id of late.readers) void opts.nudge?.(id).catch(() => undefined); // ended: nothing to wake
      },
    },
  );
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per informer's open watch
  const metrics = bridgeMetrics(); // the informer counts relists and errors; the worker does not serve these
  const informers: Informer<CachedKind>[] = [];
  for (const plain of opts.sources ?? readCacheSources(kc)) {
    const { source, isOpen, firstListRevision } = trackWatch(plain, cache);
    const informer = startInformer(source, {
      signal: abort.signal,
      metrics,
      log: (_level, msg) => opts.log(`read cache: ${msg}`),
      onChange: (c) => {
        cache.changed(source.kind, c.obj as CachedObject, c.type === 'DELETED', c.old as CachedObject | undefined);
        return [];
      },
    });
    cache.attach(source.kind, informer.objects as Map<string, CachedObject>, informer.listed, isOpen);
    void informer.listed.then(() => cache.progressed(source.kind, firstListRevision()));
    informers.push(informer);
  }
  return {
    cache,
    listed: Promise.all(informers.map((i) => i.listed)).then(() => undefined),
    stop: async () => {
      abort.abort();
      await Promise.allSettled(informers.map((i) => i.done));
    },
  };
}

/** The object lifecycles: their workflows take the `changed` nudge (the sweeper's, for one, does not). */
const NUDGEABLE = new Set(['serviceLifecycle', 'modelLifecycle', 'cacheLifecycle', 'templateLifecycle']);

/** The lifecycle workflow of the activity running now (local ones included); undefined outside one. */
function currentWorkflowId(): string | undefined {
  try {
    const info = Context.current().info;
    return NUDGEABLE.has(info.workflowType ?? '') ? info.workflowExecution?.workflowId : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The source with its watch observed: open from the moment the API server accepted it (a refused watch, e.g. 403
 * under an older ClusterRole, ends before its request resolves) until it ends. Its bookmarks (which the informer only
 * resumes from) tell the cache how far the kind's watch has come (readCache.ts rule 4), and so does its first list.
 */
function trackWatch(
  source: Source<CachedKind>,
  cache: ClusterReadCache,
): { source: Source<CachedKind>; isOpen: () => boolean; firstListRevision: () => string | undefined } {
  let open = false;
  let firstList: string | undefined;
  const watcher: Watcher = {
    watch: (path, query, callback, done) => {
      open = false;
      let ended = false;
      return source.watcher
        .watch(
          path,
          query,
          (type: string, obj: CachedObject, ...rest: unknown[]) => {
            (callback as (type: string, obj: CachedObject, ...rest: unknown[]) => void)(type, obj, ...rest);
            if (type === 'BOOKMARK') cache.progressed(source.kind, obj?.metadata?.resourceVersion);
          },
          (err: unknown) => {
            ended = true;
            open = false;
            done(err);
          },
        )
        .then((req) => {
          if (!ended) open = true;
          return req;
        });
    },
  };
  const list = async () => {
    const l = await source.list();
    firstList ??= l.resourceVersion;
    return l;
  };
  return { source: { ...source, list, watcher }, isOpen: () => open, firstListRevision: () => firstList };
}
