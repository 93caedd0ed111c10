import { setMaxListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  setHeaderOptions,
  Watch,
  type KubeConfig,
} from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { nudgeWorkflow } from '../client/nudge.js';
import { RESOURCES } from '../activities/kube/resources.js';
import { LABELS, MANAGED_BY } from '../schemas/constants.js';
import { bridgeMetrics, type MetricRegistry } from './metrics.js';
import { METADATA_ONLY_LIST, metadataOnlyConfig } from './metadataOnly.js';
import {
  hasOwnWorkflow,
  isClusterScoped,
  parseWorkflowId,
  route,
  selfTarget,
  serviceUses,
  waitsOnQuota,
  waitsOnSecret,
  targetId,
  type BridgeObject,
  type EventType,
  type OwnKind,
  type RoutingContext,
  type Send,
  type Target,
  type WatchedKind,
} from './routing.js';

/**
 * The bridge (spec section 9): list-watches the six AIM kinds, our Jobs, PVCs and InferenceServices, and Nodes, and
 * turns each change into nudges for the owning workflows (routing.ts decides which). It keeps no state but its watch
 * caches: a restart relists, which re-sends `changed` to every object (idempotent) and `deleted` to open workflows
 * whose object is gone.
 */
export interface BridgeOptions {
  kubeConfig: KubeConfig;
  client: Client;
  taskQueue: string;
  /** Watch namespaced kinds only in these namespaces (cluster-scoped kinds are always watched). Default: all. */
  namespaces?: string[];
  /** Serve `/healthz`, `/readyz` and `/metrics` on {healthHost}:{port} (0 = any free port). Omitted: no server. */
  healthPort?: number;
  /** Address the health server binds (default 127.0.0.1; 0.0.0.0 lets Prometheus scrape `/metrics`). */
  healthHost?: string;
  /** Log sink; default console. */
  log?: (level: 'info' | 'warn' | 'error', msg: string) => void;
}

export interface Bridge {
  /** Resolves once every initial list is done, their nudges are sent and orphaned workflows have been told. */
  ready: Promise<void>;
  /** The health server's port, once listening (undefined without one). */
  healthPort(): number | undefined;
  /** Nudges sent, relists and errors (also served as `/metrics`). */
  metrics: MetricRegistry;
  stop(): Promise<void>;
}

interface ListResult {
  items: BridgeObject[];
  resourceVersion: string;
}

interface Source {
  kind: WatchedKind;
  /** Namespace this source is limited to; undefined = cluster-wide. */
  namespace?: string;
  path: string;
  labelSelector?: string;
  /** Watch object metadata only (Secrets: the bridge never receives a value). */
  metadataOnly?: boolean;
  list(): Promise<ListResult>;
  objects: Map<string, BridgeObject>;
}

const MANAGED = `${LABELS.managedBy}=${MANAGED_BY}`;
const keyOf = (o: BridgeObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** The signals a caller could make from a list: kept as a pure helper for the relist diff. */
export function diffList(
  previous: Map<string, BridgeObject>,
  items: BridgeObject[],
): Array<{ type: EventType; old: BridgeObject | undefined; obj: BridgeObject }> {
  const out: Array<{ type: EventType; old: BridgeObject | undefined; obj: BridgeObject }> = [];
  const seen = new Set<string>();
  for (const obj of items) {
    const key = keyOf(obj);
    seen.add(key);
    const old = previous.get(key);
    if (!old) out.push({ type: 'ADDED', old: undefined, obj });
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) out.push({ type: 'MODIFIED', old, obj });
  }
  for (const [key, old] of previous) if (!seen.has(key)) out.push({ type: 'DELETED', old, obj: old });
  return out;
}

export function startBridge(opts: BridgeOptions): Bridge {
  const { kubeConfig: kc, client, taskQueue } = opts;
  const log = opts.log ?? ((level, msg) => console[level](`[aim-bridge] ${msg}`));
  const metrics = bridgeMetrics();
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per watch and per pending back-off
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const watch = new Watch(kc);
  const metadataWatch = new Watch(metadataOnlyConfig(kc));
  const namespaces = opts.namespaces && opts.namespaces.length > 0 ? opts.namespaces : [undefined];
  const sources: Source[] = [];

  const add = (s: Omit<Source, 'objects'>) => sources.push({ ...s, objects: new Map() });
  const asList = (l: { items: unknown[] | null; metadata?: { resourceVersion?: string } }): ListResult => ({
    // A metadata-only list of nothing arrives as `items: null`.
    items: (l.items ?? []) as BridgeObject[],
    resourceVersion: l.metadata?.resourceVersion ?? '',
  });

  const customKinds = [
    'AIMModel',
    'AIMClusterModel',
    'AIMServiceTemplate',
    'AIMClusterServiceTemplate',
    'AIMModelCache',
    'AIMService',
    'InferenceService',
  ] as const;
  for (const kind of customKinds) {
    const res = RESOURCES[kind];
    const labelSelector = kind === 'InferenceService' ? MANAGED : undefined;
    for (const ns of res.namespaced ? namespaces : [undefined]) {
      const coords = {
        group: res.group,
        version: res.version,
        plural: res.plural,
        ...(labelSelector ? { labelSelector } : {}),
      };
      add({
        kind,
        ...(ns ? { namespace: ns } : {}),
        path: `/apis/${res.group}/${res.version}/${ns ? `namespaces/${ns}/` : ''}${res.plural}`,
        ...(labelSelector ? { labelSelector } : {}),
        list: async () =>
          asList(
            (ns
              ? await custom.listNamespacedCustomObject({ ...coords, namespace: ns })
              : await custom.listClusterCustomObject(coords)) as {
              items: unknown[];
              metadata?: { resourceVersion?: string };
            },
          ),
      });
    }
  }
  for (const ns of namespaces) {
    const nsPart = ns ? { namespace: ns } : {};
    add({
      kind: 'Job',
      ...nsPart,
      path: `/apis/batch/v1/${ns ? `namespaces/${ns}/` : ''}jobs`,
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
      ...nsPart,
      path: `/api/v1/${ns ? `namespaces/${ns}/` : ''}persistentvolumeclaims`,
      labelSelector: MANAGED,
      list: async () =>
        asList(
          ns
            ? await core.listNamespacedPersistentVolumeClaim({ namespace: ns, labelSelector: MANAGED })
            : await core.listPersistentVolumeClaimForAllNamespaces({ labelSelector: MANAGED }),
        ),
    });
  }
  for (const ns of namespaces) {
    add({
      kind: 'ResourceQuota',
      ...(ns ? { namespace: ns } : {}),
      path: `/api/v1/${ns ? `namespaces/${ns}/` : ''}resourcequotas`,
      list: async () =>
        asList(
          ns
            ? await core.listNamespacedResourceQuota({ namespace: ns })
            : await core.listResourceQuotaForAllNamespaces(),
        ),
    });
  }
  for (const ns of namespaces) {
    // A Secret created or edited: whatever waits on a missing or refused credential in its namespace re-checks now.
    const metadataOnly = setHeaderOptions('Accept', METADATA_ONLY_LIST);
    add({
      kind: 'Secret',
      ...(ns ? { namespace: ns } : {}),
      path: `/api/v1/${ns ? `namespaces/${ns}/` : ''}secrets`,
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

  const sourcesOf = (kind: WatchedKind) => sources.filter((s) => s.kind === kind);
  const lookup = (t: Target): BridgeObject | undefined => {
    const key = `${isClusterScoped(t.kind) ? '' : (t.namespace ?? '')}/${t.name}`;
    for (const s of sourcesOf(t.kind)) {
      const o = s.objects.get(key);
      if (o) return o;
    }
    return undefined;
  };
  /** The objects of `kinds` in a namespace whose status says they wait on something (`waits`). */
  const waitingIn = (namespace: string, kinds: readonly OwnKind[], waits: (o: BridgeObject) => boolean) => {
    const out: Target[] = [];
    for (const kind of kinds) {
      for (const s of sourcesOf(kind)) {
        for (const o of s.objects.values()) {
          if (o.metadata?.namespace === namespace && waits(o)) out.push(selfTarget(kind, o));
        }
      }
    }
    return out;
  };
  const ctx: RoutingContext = {
    exists: (t) => {
      const o = lookup(t);
      return o !== undefined && o.metadata?.deletionTimestamp == null;
    },
    waitingOnQuota: (namespace) => waitingIn(namespace, ['AIMModelCache', 'AIMService'], waitsOnQuota),
    waitingOnSecret: (namespace) => waitingIn(namespace, ['AIMModelCache', 'AIMService', 'AIMModel'], waitsOnSecret),
    usersOf: (kind, obj) => {
      if (kind === 'AIMService') return [];
      const out: Target[] = [];
      for (const src of sourcesOf('AIMService')) {
        for (const svc of src.objects.values()) {
          if (svc.metadata?.deletionTimestamp == null && serviceUses(svc, kind, obj))
            out.push(selfTarget('AIMService', svc));
        }
      }
      return out;
    },
    hardwareDependents: () => {
      const out: Target[] = [];
      for (const kind of ['AIMModel', 'AIMClusterModel', 'AIMServiceTemplate', 'AIMClusterServiceTemplate'] as const) {
        for (const s of sourcesOf(kind)) {
          for (const o of s.objects.values()) {
            if (o.metadata?.deletionTimestamp == null && hasOwnWorkflow(kind, o)) out.push(selfTarget(kind, o));
          }
        }
      }
      return out;
    },
  };

  // ---- Sending: one ordered chain per workflow ID, transient failures retried with backoff. ----
  const chains = new Map<string, Promise<void>>();
  let sent = 0;
  async function deliver(s: Send): Promise<void> {
    const workflowId = targetId(s.target);
    for (let attempt = 0; ; attempt++) {
      try {
        const id = await nudgeWorkflow(client, taskQueue, s.target, s.signal, s.nudge, {
          start: s.start,
          ...(s.fresh ? { fresh: true } : {}),
        });
        if (!id) return; // a plain signal to a workflow that is not running
        sent++;
        metrics.inc('aim_bridge_nudges_total', { kind: s.target.kind, signal: s.signal });
        return;
      } catch (err) {
        if (abort.signal.aborted || attempt >= 6) {
          metrics.inc('aim_bridge_errors_total', { stage: 'deliver' });
          log('error', `${s.signal} → ${workflowId} failed: ${(err as Error).message}`);
          return;
        }
        await sleep(Math.min(200 * 2 ** attempt, 10_000), abort.signal);
      }
    }
  }
  function send(s: Send): Promise<void> {
    const id = targetId(s.target);
    const next = (chains.get(id) ?? Promise.resolve()).then(() => deliver(s));
    chains.set(id, next);
    void next.finally(() => {
      if (chains.get(id) === next) chains.delete(id);
    });
    return next;
  }
  const settled = () => Promise.allSettled([...chains.values()]);

  function handle(source: Source, type: EventType, obj: BridgeObject, initialList = false): Promise<void>[] {
    const key = keyOf(obj);
    const old = source.objects.get(key);
    if (type === 'DELETED') source.objects.delete(key);
    else source.objects.set(key, obj);
    // The first list of Secrets is what exists, not a change: nothing waiting is fixed by it.
    if (initialList && source.kind === 'Secret') return [];
    const effective: EventType = type === 'DELETED' ? 'DELETED' : old ? 'MODIFIED' : 'ADDED';
    if (effective === 'DELETED' && !old) return [];
    return route(source.kind, effective, old, obj, ctx).map(send);
  }

  // ---- List + watch loop per source: relist on 410 Gone (or any lost position), resume from resourceVersion. ----
  function watchOnce(source: Source, resourceVersion: string, onVersion: (rv: string) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let gone = false;
      let req: { abort(): void } | undefined;
      const onAbort = () => req?.abort();
      abort.signal.addEventListener('abort', onAbort, { once: true });
      const finish = (err: unknown) => {
        abort.signal.removeEventListener('abort', onAbort);
        if (gone) reject(Object.assign(new Error('watch: resourceVersion too old (410 Gone)'), { statusCode: 410 }));
        else if (err) reject(err);
        else resolve();
      };
      (source.metadataOnly ? metadataWatch : watch)
        .watch(
          source.path,
          {
            resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: 300,
            ...(source.labelSelector ? { labelSelector: source.labelSelector } : {}),
          },
          (type: string, obj: BridgeObject & { code?: number }) => {
            if (type === 'ERROR') {
              if (obj.code === 410) gone = true;
              return;
            }
            if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') void handle(source, type, obj); // sends are chained per workflow and log their own failures
            const rv = obj.metadata?.resourceVersion;
            if (rv) onVersion(rv);
          },
          finish,
        )
        .then((r) => {
          req = r;
          if (abort.signal.aborted) r.abort();
        })
        .catch(finish);
    });
  }

  async function run(source: Source, listed: () => void): Promise<void> {
    let rv = '';
    let backoff = 500;
    let first = true;
    while (!abort.signal.aborted) {
      try {
        if (!rv) {
          if (!first) metrics.inc('aim_bridge_relists_total', { kind: source.kind });
          const list = await source.list();
          const pending: Promise<void>[] = [];
          for (const { type, obj } of diffList(source.objects, list.items))
            pending.push(...handle(source, type, obj, first));
          rv = list.resourceVersion;
          if (first) {
            first = false;
            await Promise.allSettled(pending);
            listed();
          }
        }
        await watchOnce(source, rv, (v) => (rv = v));
        backoff = 500;
      } catch (err) {
        if (abort.signal.aborted) return;
        const code = (err as { statusCode?: number; code?: number }).statusCode ?? (err as { code?: number }).code;
        if (code === 410) {
          rv = '';
          continue;
        }
        metrics.inc('aim_bridge_errors_total', { stage: 'watch' });
        log(
          'warn',
          `${source.kind}${source.namespace ? ` in ${source.namespace}` : ''}: ${(err as Error).message}; retrying in ${backoff} ms`,
        );
        await sleep(backoff * (0.75 + Math.random() / 2), abort.signal); // jitter: many watches fail together
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  // ---- Open workflows whose object is gone get `deleted` (a plain signal). ----
  async function sweepOrphans(): Promise<void> {
    const watched = new Set(namespaces.filter((n): n is string => !!n));
    const running = `ExecutionStatus = "Running" AND TaskQueue = "${taskQueue}"`;
    const ids: string[] = [];
    try {
      for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "aim/" AND ${running}` }))
        ids.push(wf.workflowId);
    } catch (err) {
      // Older visibility stores lack STARTS_WITH: list the running workflows and filter by prefix here.
      log('warn', `visibility query with STARTS_WITH failed (${(err as Error).message}); filtering by prefix`);
      ids.length = 0;
      for await (const wf of client.workflow.list({ query: running })) ids.push(wf.workflowId);
    }
    const pending: Promise<void>[] = [];
    for (const id of ids) {
      const target = parseWorkflowId(id);
      if (!target) continue;
      if (target.namespace && watched.size > 0 && !watched.has(target.namespace)) continue;
      const obj = lookup(target);
      if (obj && hasOwnWorkflow(target.kind, obj)) continue;
      log('info', `${id}: object gone, sending deleted`);
      pending.push(send({ signal: 'deleted', target, start: false, nudge: { uid: '' } }));
    }
    await Promise.allSettled(pending);
  }

  // ---- Health ----
  let server: Server | undefined;
  let isReady = false;
  let port: number | undefined;
  const serverUp =
    opts.healthPort === undefined
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          server = createServer((req, res) => {
            if (req.url === '/metrics') {
              res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics.render());
              return;
            }
            const ok =
              req.url === '/healthz'
                ? !abort.signal.aborted
                : req.url === '/readyz'
                  ? isReady && !abort.signal.aborted
                  : undefined;
            if (ok === undefined) res.writeHead(404).end('not found\n');
            else res.writeHead(ok ? 200 : 503).end(ok ? 'ok\n' : 'not ready\n');
          });
          server.once('error', reject);
          server.listen(opts.healthPort, opts.healthHost ?? '127.0.0.1', () => {
            const addr = server?.address();
            port = typeof addr === 'object' && addr ? addr.port : undefined;
            resolve();
          });
        });

  const loops: Promise<void>[] = [];
  const listedAll = Promise.all(
    sources.map(
      (s) =>
        new Promise<void>((listed) => {
          loops.push(run(s, listed));
        }),
    ),
  );
  const started = Date.now();
  const ready = (async () => {
    await serverUp;
    await Promise.race([
      listedAll,
      new Promise<void>((r) => abort.signal.addEventListener('abort', () => r(), { once: true })),
    ]);
    if (abort.signal.aborted) throw new Error('bridge stopped before it was ready');
    await sweepOrphans().catch((err: unknown) => {
      metrics.inc('aim_bridge_errors_total', { stage: 'sweep' });
      log('error', `orphan sweep failed: ${(err as Error).message}`);
    });
    isReady = true;
    metrics.set('aim_bridge_ready', 1);
    log('info', `ready in ${Date.now() - started} ms: ${sources.length} watches, ${sent} nudges sent`);
  })();
  ready.catch(() => undefined);

  return {
    ready,
    healthPort: () => port,
    metrics,
    async stop() {
      abort.abort();
      await Promise.allSettled(loops);
      await settled();
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    },
  };
}
