import { jittered, systemClock, type Clock } from './clock.js';
import type { MetricRegistry } from './metrics.js';
import type { BridgeObject, EventType } from './routing.js';
import type { Source } from './sources.js';

/**
 * One source's informer: list, then watch from the list's resourceVersion; on `410 Gone` (the position is too old)
 * relist and diff against the cache; on any other failure reconnect after a jittered back-off (0.5 s doubling to
 * 30 s). It keeps the source's objects as the bridge's only state, and reports every change to `onChange` with the
 * type the cache says it is (a relist of a known object is MODIFIED, a vanished one DELETED).
 */
export interface Change {
  type: EventType;
  old: BridgeObject | undefined;
  obj: BridgeObject;
  /** Part of the source's first list: what exists, not something that just happened. */
  initialList: boolean;
}

export interface InformerOptions {
  signal: AbortSignal;
  /** Called after the cache took the change; the first list waits for the work it returns (its nudges delivered). */
  onChange(change: Change): Promise<unknown>[];
  metrics: MetricRegistry;
  log: (level: 'warn', msg: string) => void;
  clock?: Clock;
  /** Reconnect back-off: first and longest wait (default 500 ms and 30 s). */
  backoff?: { initialMs: number; maxMs: number };
}

export interface Informer<K extends string = Source['kind']> {
  source: Source<K>;
  /** The source's objects by `namespace/name` (cluster-scoped: `/name`). */
  objects: Map<string, BridgeObject>;
  /** Resolves once the first list is in the cache and the work of its changes is settled. */
  listed: Promise<void>;
  /** Resolves when the loop ends (the signal was aborted). */
  done: Promise<void>;
}

export const keyOf = (o: BridgeObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** The changes a list makes to a cache: new → ADDED, another resourceVersion → MODIFIED, missing → DELETED. */
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

const GONE = 410;
const statusOf = (err: unknown): number | undefined =>
  (err as { statusCode?: number }).statusCode ?? (err as { code?: number }).code;

export function startInformer<K extends string>(source: Source<K>, opts: InformerOptions): Informer<K> {
  const { signal, metrics, log } = opts;
  const clock = opts.clock ?? systemClock;
  const backoffMs = opts.backoff ?? { initialMs: 500, maxMs: 30_000 };
  const objects = new Map<string, BridgeObject>();
  let markListed: () => void = () => undefined;
  const listed = new Promise<void>((resolve) => (markListed = resolve));

  function apply(type: EventType, obj: BridgeObject, initialList: boolean): Promise<unknown>[] {
    const key = keyOf(obj);
    const old = objects.get(key);
    if (type === 'DELETED') objects.delete(key);
    else objects.set(key, obj);
    if (type === 'DELETED' && !old) return [];
    return opts.onChange({ type: type === 'DELETED' ? 'DELETED' : old ? 'MODIFIED' : 'ADDED', old, obj, initialList });
  }

  /** One watch from `resourceVersion` until the server ends it; rejects with statusCode 410 when it is too old. */
  function watchOnce(resourceVersion: string, onVersion: (rv: string) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let gone = false;
      let req: { abort(): void } | undefined;
      const onAbort = () => req?.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      const finish = (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (gone) reject(Object.assign(new Error('watch: resourceVersion too old (410 Gone)'), { statusCode: GONE }));
        else if (err) reject(err);
        else resolve();
      };
      source.watcher
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
              if (obj.code === GONE) gone = true;
              return;
            }
            // The work a watch event starts (nudges) is queued and reports its own failures.
            if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED')
              void Promise.allSettled(apply(type, obj, false));
            const rv = obj.metadata?.resourceVersion;
            if (rv) onVersion(rv);
          },
          finish,
        )
        .then((r) => {
          req = r;
          if (signal.aborted) r.abort();
        })
        .catch(finish);
    });
  }

  async function run(): Promise<void> {
    let rv = '';
    let backoff = backoffMs.initialMs;
    let first = true;
    while (!signal.aborted) {
      try {
        if (!rv) {
          if (!first) metrics.inc('aim_bridge_relists_total', { kind: source.kind });
          const list = await source.list();
          const work: Promise<unknown>[] = [];
          for (const { type, obj } of diffList(objects, list.items)) work.push(...apply(type, obj, first));
          rv = list.resourceVersion;
          if (first) {
            first = false;
            // The watch starts now: changes made while the first nudges wait (Temporal down) are not missed.
            void Promise.allSettled(work).then(markListed);
          }
        }
        await watchOnce(rv, (v) => (rv = v));
        backoff = backoffMs.initialMs;
      } catch (err) {
        if (signal.aborted) break;
        if (statusOf(err) === GONE) {
          rv = '';
          continue;
        }
        metrics.inc('aim_bridge_errors_total', { stage: 'watch' });
        const where = source.namespace ? ` in ${source.namespace}` : '';
        log('warn', `${source.kind}${where}: ${(err as Error).message}; retrying in ${backoff} ms`);
        await clock.sleep(jittered(backoff), signal); // many watches fail together
        backoff = Math.min(backoff * 2, backoffMs.maxMs);
      }
    }
    markListed(); // a stopped informer is listed as far as anyone waiting is concerned
  }

  return { source, objects, listed, done: run() };
}
