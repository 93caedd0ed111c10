import type { ResourceKind } from './resources.js';
import { matchesLabels, parseLabelSelector } from './labelSelector.js';

/**
 * The worker's watch-backed reads (issue 15: reads from a cache, writes to the API server). One informer per kind
 * (readCacheSources.ts, the bridge's informer loop) fills it; activities read through `readsOf(ctx)` (reads.ts).
 *
 * Consistency rules:
 *  1. The object a pass reconciles (the workflow's own AIMService, AIMModel, AIMModelCache, template) is read with an
 *     authoritative GET at the pass's start (`readOwn`, reads.ts): the pass decides on its spec generation from it.
 *     One request per pass is within the budget (steady passes are every 600 s). The version that GET saw
 *     is noted like a write (rule 4), so the pass's later activities that read the object again (to build from
 *     its spec, to compare its status before writing it) read it here and never see an older version.
 *  2. Every other read (dependencies: models, templates, caches, Jobs, PVCs, pods, InferenceServices, Nodes, and every
 *     list) is answered from memory once the kind's informer has listed and while its watch is open; otherwise
 *     (before the first list, a watch refused or reconnecting) it goes to the API server.
 *  3. A miss (no such object in memory) is confirmed by a direct GET: the cache may lag a create made elsewhere a few
 *     ms ago. Absence after that GET is real.
 *  4. Read-your-writes: every write the worker makes returns the object's resourceVersion, recorded by `noteWrite`;
 *     a read of that object (or a list of its kind and namespace) is answered from memory only once the cached
 *     copy's resourceVersion is ≥ the written one (integers: etcd revisions). It waits up to `writeWaitMs`, woken by
 *     the informer, then reads directly. An object deleted by the worker (`noteDelete`) is not served from memory
 *     in its state from before the delete: only once the informer has seen it go or start terminating.
 *  5. Nudges carry the resourceVersion that woke a workflow, but activities are not told it (that would change the
 *     workflows). Residual race: a dependency's change the bridge saw may not yet be here when the woken pass reads.
 *     The worker's watch receives the same event as the bridge's, before the nudge's round trip through Temporal, so
 *     it is nearly always here; when not, the next converging pass (and the informer's own change) re-reads.
 *
 * Objects are returned as structured clones: callers may edit what they read (a frozen copy would throw in callers
 * that do), and a clone of one object costs microseconds. `metadata.managedFields` is dropped on the way in: it is
 * most of an object's size and no activity reads it.
 */
export type CachedKind = ResourceKind | 'Job' | 'PersistentVolumeClaim' | 'Node' | 'Pod';

export interface CachedObject {
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    managedFields?: unknown;
  };
}

/** Reads of objects by kind: the cache, and the API server it falls back to, both answer them. */
export interface Reads {
  /** The object, or undefined when it does not exist. */
  get<T>(kind: CachedKind, name: string, namespace?: string): Promise<T | undefined>;
  /** The kind's objects in `namespace` (undefined: all namespaces, or a cluster-scoped kind), sorted by name. */
  list<T>(kind: CachedKind, namespace?: string, labelSelector?: string): Promise<T[]>;
}

export type ChangeListener = (kind: CachedKind, obj: CachedObject) => void;

/** How long a read waits for the informer to show the worker's own write before it reads directly. */
export const WRITE_WAIT_MS = 1500;

const keyFor = (name: string, namespace?: string) => `${namespace ?? ''}/${name}`;
const keyOf = (o: CachedObject) => keyFor(o.metadata?.name ?? '', o.metadata?.namespace);

/** A resourceVersion as an etcd revision; undefined when it is not one (then nothing is assumed about its order). */
function revision(rv: string | undefined): bigint | undefined {
  if (!rv || !/^\d+$/.test(rv)) return undefined;
  return BigInt(rv);
}

interface Store {
  objects: Map<string, CachedObject>;
  listed: boolean;
  /** Whether its watch is open now: memory is only as fresh as the watch (a refused watch never refreshes it). */
  watching: () => boolean;
}

/** What the worker last did to an object: written at this revision, or deleted. */
type Floor = bigint | 'deleted';

export class ClusterReadCache implements Reads {
  private readonly stores = new Map<CachedKind, Store>();
  private readonly floors = new Map<CachedKind, Map<string, Floor>>();
  private readonly listeners = new Set<ChangeListener>();
  private readonly waiters = new Set<() => void>();
  private readonly writeWaitMs: number;

  constructor(
    private readonly direct: Reads,
    opts: { writeWaitMs?: number } = {},
  ) {
    this.writeWaitMs = opts.writeWaitMs ?? WRITE_WAIT_MS;
  }

  /**
   * A kind's informer: its objects (kept up to date by it), when its first list is in, and whether its watch is open
   * (while it is not, e.g. a ClusterRole without `watch`, every read of the kind goes to the API server).
   */
  attach(
    kind: CachedKind,
    objects: Map<string, CachedObject>,
    listed: Promise<void>,
    watching: () => boolean = () => true,
  ): void {
    const store: Store = { objects, listed: false, watching };
    this.stores.set(kind, store);
    void listed.then(() => (store.listed = true));
  }

  /** The informer took a change (its map already holds it; a deleted object is gone from it). */
  changed(kind: CachedKind, obj: CachedObject, deleted = false): void {
    if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
    const key = keyOf(obj);
    // Gone: whatever the worker last wrote to it is superseded. Kept, its floor could never be reached (nothing of
    // that name is left to reach it) and every list of the kind in its namespace would wait it out, then go direct.
    if (deleted) this.floors.get(kind)?.delete(key);
    this.satisfied(kind, key); // drops the floor the informer just reached
    for (const wake of [...this.waiters]) wake();
    for (const listener of [...this.listeners]) listener(kind, obj);
  }

  /**
   * The worker wrote this object and the API server answered with `resourceVersion` (or a pass read it with a GET:
   * later reads of it are not to be older than what the pass decided on).
   */
  noteWrite(kind: CachedKind, name: string, namespace: string | undefined, resourceVersion: string | undefined): void {
    const floors = this.floorsOf(kind);
    const key = keyFor(name, namespace);
    const rv = revision(resourceVersion);
    const was = floors.get(key);
    if (rv !== undefined) floors.set(key, typeof was === 'bigint' && was > rv ? was : rv);
  }

  /** The worker deleted this object (or asked for it: a finalizer may keep it a while, then it is read directly). */
  noteDelete(kind: CachedKind, name: string, namespace?: string): void {
    this.floorsOf(kind).set(keyFor(name, namespace), 'deleted');
  }

  /** Called after every change the informers take, until the returned function is called. */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** True on the first change `matches` accepts, false after `timeoutMs`. */
  nextChange(matches: (kind: CachedKind, obj: CachedObject) => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (changed: boolean) => {
        clearTimeout(timer);
        unsubscribe();
        resolve(changed);
      };
      const unsubscribe = this.subscribe((kind, obj) => {
        if (matches(kind, obj)) done(true);
      });
      const timer = setTimeout(() => done(false), timeoutMs);
    });
  }

  /** Whether `kind` is answered from memory now (its informer has listed). */
  serves(kind: CachedKind): boolean {
    const store = this.stores.get(kind);
    return store?.listed === true && store.watching();
  }

  async get<T>(kind: CachedKind, name: string, namespace?: string): Promise<T | undefined> {
    const store = this.stores.get(kind);
    if (!store || !this.serves(kind)) return this.direct.get<T>(kind, name, namespace);
    const key = keyFor(name, namespace);
    if (!(await this.waitUntil(() => this.satisfied(kind, key)))) return this.direct.get<T>(kind, name, namespace);
    const cached = store.objects.get(key);
    // Rule 3: the cache may not have a create made elsewhere yet.
    if (!cached) return this.direct.get<T>(kind, name, namespace);
    return structuredClone(cached) as T;
  }

  async list<T>(kind: CachedKind, namespace?: string, labelSelector?: string): Promise<T[]> {
    const store = this.stores.get(kind);
    const terms = parseLabelSelector(labelSelector);
    if (!store || !this.serves(kind) || !terms) return this.direct.list<T>(kind, namespace, labelSelector);
    const inScope = (key: string) => namespace === undefined || key.startsWith(`${namespace}/`);
    const ownWritesSeen = () => [...this.floorsOf(kind).keys()].every((k) => !inScope(k) || this.satisfied(kind, k));
    if (!(await this.waitUntil(ownWritesSeen))) return this.direct.list<T>(kind, namespace, labelSelector);
    const out: Array<[string, CachedObject]> = [];
    for (const [key, o] of store.objects)
      if (inScope(key) && matchesLabels(terms, o.metadata?.labels)) out.push([key, o]);
    // The API server lists in key order; so does this.
    out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return out.map(([, o]) => structuredClone(o) as T);
  }

  private floorsOf(kind: CachedKind): Map<string, Floor> {
    let f = this.floors.get(kind);
    if (!f) this.floors.set(kind, (f = new Map()));
    return f;
  }

  /** Whether memory shows the worker's last write to this object (true when there is none). */
  private satisfied(kind: CachedKind, key: string): boolean {
    const floor = this.floors.get(kind)?.get(key);
    if (floor === undefined) return true;
    const cached = this.stores.get(kind)?.objects.get(key) as
      (CachedObject & { metadata?: { deletionTimestamp?: unknown } }) | undefined;
    const rv = revision(cached?.metadata?.resourceVersion);
    // Deleted: gone, or its deletion seen (a finalizer keeps it; a GET would return the same terminating object).
    const ok =
      floor === 'deleted' ? !cached || cached.metadata?.deletionTimestamp != null : rv !== undefined && rv >= floor;
    if (ok) this.floors.get(kind)!.delete(key);
    return ok;
  }

  /** True once `check` holds (re-checked on every informer change), false after `writeWaitMs`. */
  private waitUntil(check: () => boolean): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(ok);
      };
      const wake = () => {
        if (check()) done(true);
      };
      const timer = setTimeout(() => done(false), this.writeWaitMs);
      this.waiters.add(wake);
    });
  }
}
