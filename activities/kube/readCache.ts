import type { ResourceKind } from './resources.js';
import { matchesLabels, parseLabelSelector, type LabelTerm } from './labelSelector.js';
import { onlyBookkeepingChanged } from '../../bridge/routing.js';

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
 *     a read of that object (or a list of its kind and namespace) is answered from memory only once memory shows
 *     that revision or a later one (integers: etcd revisions): the cached copy's resourceVersion is ≥ the written
 *     one, or the kind's watch has brought an event or bookmark at or past it (a watch delivers a kind's changes in
 *     revision order, so memory then holds whatever became of the object: a later write, or its deletion, which
 *     the object's own resourceVersion could never show). It waits up to `writeWaitMs`, woken by the informer, then
 *     reads directly. An object deleted by the worker (`noteDelete`) is not served from memory in its state from
 *     before the delete: only once the informer has seen it go or start terminating (or, when the delete's answer
 *     came after its watch event, seen that deletion). Floors are bounded: one a read has waited out is overdue,
 *     so later reads that need it go to the API server at once instead of waiting again, and none outlives
 *     `FLOOR_MAX_AGE_MS`. A floor that memory can never show costs one wait, not a wait on every later read.
 *  5. Nudges carry the resourceVersion that woke a workflow, but activities are not told it (that would change the
 *     workflows). Race: a dependency's change the bridge saw may not yet be here when the woken pass reads (the
 *     worker's watch of that kind lagging the bridge's), and a pass that then waits on it (a service on its
 *     InferenceService's Ready) would get no other nudge: the bridge has sent its one. So a late change re-nudges:
 *     each read answered from memory inside a pass records its workflow and the newest revision memory had seen
 *     then (of any kind: etcd revisions are one sequence); a change that reaches memory later with a revision at or
 *     below that one happened before the read, which therefore missed it, and the reader's workflow is nudged
 *     (`onLateChange`). A change newer than every revision seen at the read may have happened after it: the bridge
 *     nudges for that one. Records are bounded in number and age (`LATE_READ_WINDOW_MS`).
 *
 * Objects are returned as deep copies: callers may edit what they read (a frozen copy would throw in callers that
 * do). `metadata.managedFields` is dropped on the way in: it is most of an object's size and no activity reads it.
 * The owner list is the exception to copying (`readerCopy`).
 */
export type CachedKind = ResourceKind | 'Job' | 'PersistentVolumeClaim' | 'Node' | 'Pod';

export interface CachedObject {
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    managedFields?: unknown;
    ownerReferences?: readonly object[];
  };
}

/**
 * What a read hands out: a deep copy, but with the cached owner list itself, frozen. A model shared by N services
 * carries N owner entries (spec 4), and copying them made each of a pass's reads of the model O(N), the fleet's
 * O(N²). Activities only look an owner up in a list they read (`some`, `[0]`); one that edited it would throw rather
 * than change the cache.
 */
export function readerCopy<T>(o: CachedObject): T {
  const refs = o.metadata?.ownerReferences;
  if (!refs) return jsonCopy(o) as T;
  const { ownerReferences: _shared, ...metadata } = o.metadata!;
  const copy = jsonCopy({ ...o, metadata }) as CachedObject;
  copy.metadata!.ownerReferences = frozen(refs);
  return copy as T;
}

/**
 * A deep copy of what an informer holds: JSON data (a watch event's objects) or client-node's typed objects from a
 * list (plain fields and Dates; their classes carry no behaviour, and structuredClone drops them too). Seven times
 * faster than structuredClone on a 2.7 KB AIMService (4.1 µs against 28.5 µs; Object.entries would cost 11.6 µs):
 * structuredClone was 2 s of the worker's main thread at 200 services in the fleet bench.
 */
export function jsonCopy(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Date) return new Date(v.getTime());
  if (Array.isArray(v)) {
    const items = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) items[i] = jsonCopy(v[i]);
    return items;
  }
  const out: Record<string, unknown> = {};
  const fields = v as Record<string, unknown>;
  for (const k of Object.keys(fields)) out[k] = jsonCopy(fields[k]);
  return out;
}

function frozen(refs: readonly object[]): readonly object[] {
  if (!Object.isFrozen(refs)) {
    for (const r of refs) Object.freeze(r);
    Object.freeze(refs);
  }
  return refs;
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

/**
 * What the worker last did to an object. A floor is met once memory shows that state or a later one; it is bounded so
 * that one the informer can never show (see `FLOOR_MAX_AGE_MS`) costs at most one wait, not a wait on every read.
 */
interface Floor {
  /** Written (or read by a pass's GET) at this revision; undefined: deleted. */
  written?: bigint;
  /** Deleted: the kind's watch position when the delete was sent (undefined: not known). */
  deleteSentAt?: bigint;
  /** When it was noted (ms, `now()`). */
  since: number;
  /** A read already waited `writeWaitMs` for it: later reads go to the API server at once until memory shows it. */
  overdue: boolean;
}

/**
 * The longest a floor holds. By then the kind's watch has delivered something newer (its events and bookmarks raise
 * the watch position past any write, rule 4) unless the watch is silent; a floor still unmet is dropped rather than
 * send every read of its object (or list of its namespace) to the API server for ever.
 */
export const FLOOR_MAX_AGE_MS = 60_000;

/** Deletions remembered (per cache, the latest), so that a delete whose answer comes after its watch event is met. */
const TOMBSTONES_MAX = 10_000;

/** How long a read from memory is remembered for a late change to re-nudge its reader (readCache.ts rule 5). */
export const LATE_READ_WINDOW_MS = 60_000;

/** Scopes of reads remembered (the latest first to go when full). */
const READ_SCOPES_MAX = 10_000;

/** A pass's read from memory: which workflow read, the newest revision memory had then, and when. */
interface RecordedRead {
  reader: string;
  /** A list's label selector (a change of an object it does not select was not missed). */
  terms?: LabelTerm[];
  seenTo: bigint;
  at: number;
}

/**
 * Kinds whose late changes re-nudge no one: their readers (a cache's Job and its pods) go on to `waitForJob`, which the
 * informer itself wakes on every change of them (`nextChange`), late ones included.
 */
const WOKEN_FROM_MEMORY: ReadonlySet<CachedKind> = new Set<CachedKind>(['Job', 'Pod']);

/** A change that reached memory after passes had read without it (rule 5): their workflows are to look again. */
export interface LateChange {
  kind: CachedKind;
  key: string;
  resourceVersion: string;
  /** Workflow ids. */
  readers: string[];
}

/** A floor a read waited out (for the worker's log: which object, and where memory and the watch were). */
export interface OverdueFloor {
  kind: CachedKind;
  key: string;
  /** What the worker did: `written at <rv>` or `deleted`. */
  floor: string;
  /** The cached copy's resourceVersion (undefined: none in memory). */
  cached: string | undefined;
  /** The kind's watch position. */
  watchedTo: string | undefined;
}

export interface ReadCacheOptions {
  writeWaitMs?: number;
  floorMaxAgeMs?: number;
  now?: () => number;
  /** Told once per floor a read waited out (the worker logs it). */
  onOverdue?: (floor: OverdueFloor) => void;
  /** The workflow whose pass is reading (undefined outside an activity): recorded for rule 5. */
  readerOf?: () => string | undefined;
  /** Rule 5: these workflows read from memory before a change that had already happened reached it. */
  onLateChange?: (late: LateChange) => void;
}

export class ClusterReadCache implements Reads {
  private readonly stores = new Map<CachedKind, Store>();
  private readonly floors = new Map<CachedKind, Map<string, Floor>>();
  /** Per kind, the highest revision its watch has brought (events, bookmarks, the first list). */
  private readonly positions = new Map<CachedKind, bigint>();
  /** `kind key` → the revision its latest deletion was seen at (bounded, oldest dropped first). */
  private readonly tombstones = new Map<string, bigint>();
  /** Reads from memory by scope (`kind key:<ns/name>` or `kind ns:<ns>`/`kind ns:*`) → reader workflow → read. */
  private readonly reads = new Map<string, Map<string, RecordedRead>>();
  /** The newest revision any watch has brought (etcd revisions are one sequence across kinds). */
  private newest: bigint | undefined;
  private readonly listeners = new Set<ChangeListener>();
  private readonly waiters = new Set<() => void>();
  private readonly writeWaitMs: number;
  private readonly floorMaxAgeMs: number;
  private readonly now: () => number;
  private readonly onOverdue: (floor: OverdueFloor) => void;
  private readonly readerOf: () => string | undefined;
  private readonly onLateChange: (late: LateChange) => void;

  constructor(
    private readonly direct: Reads,
    opts: ReadCacheOptions = {},
  ) {
    this.writeWaitMs = opts.writeWaitMs ?? WRITE_WAIT_MS;
    this.floorMaxAgeMs = opts.floorMaxAgeMs ?? FLOOR_MAX_AGE_MS;
    this.now = opts.now ?? Date.now;
    this.onOverdue = opts.onOverdue ?? (() => undefined);
    this.readerOf = opts.readerOf ?? (() => undefined);
    this.onLateChange = opts.onLateChange ?? (() => undefined);
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

  /**
   * The informer took a change (its map already holds it; a deleted object is gone from it). `old` is the version it
   * replaced, when the informer had one.
   */
  changed(kind: CachedKind, obj: CachedObject, deleted = false, old?: CachedObject): void {
    if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
    const key = keyOf(obj);
    const rv = revision(obj.metadata?.resourceVersion);
    // Gone: whatever the worker last wrote to it is superseded. Kept, its floor could never be reached (nothing of
    // that name is left to reach it) and every list of the kind in its namespace would wait it out, then go direct.
    // Remembered: the worker's own delete may be answered after this event (noteDelete then finds it met).
    if (deleted) {
      this.floors.get(kind)?.delete(key);
      if (rv !== undefined) this.rememberDeletion(kind, key, rv);
    }
    // A watch brings a kind's changes in revision order (a relist's changes are applied in one synchronous loop, so no
    // read runs before the map holds all of them): memory shows the kind as of this revision.
    // A change of only the owner list, managed fields or a cache's progress wakes no one through the bridge either
    // (routing.ts onlyBookkeepingChanged): each of N services adding its owner entry to one shared model re-nudged
    // the services that had read the model just before (1,587 extra passes at 1,000 services in the fleet bench).
    const bookkeeping = !deleted && old !== undefined && onlyBookkeepingChanged(old as never, obj as never);
    if (rv !== undefined && !bookkeeping) this.renudgeLateReaders(kind, obj, rv);
    this.advance(kind, rv);
    this.satisfied(kind, key); // drops the floor the informer just reached
    this.wake();
    for (const listener of [...this.listeners]) listener(kind, obj);
  }

  /**
   * The kind's watch has reached `resourceVersion` without a change of ours to report (a BOOKMARK event, or the
   * first list's revision): every write at or below it is in memory.
   */
  progressed(kind: CachedKind, resourceVersion: string | undefined): void {
    if (this.advance(kind, revision(resourceVersion))) this.wake();
  }

  /** The kind's watch position (undefined before its first event): what a delete records before it is sent. */
  watchedTo(kind: CachedKind): string | undefined {
    return this.positions.get(kind)?.toString();
  }

  /**
   * The worker wrote this object and the API server answered with `resourceVersion` (or a pass read it with a GET:
   * later reads of it are not to be older than what the pass decided on).
   */
  noteWrite(kind: CachedKind, name: string, namespace: string | undefined, resourceVersion: string | undefined): void {
    const rv = revision(resourceVersion);
    if (rv === undefined) return;
    const key = keyFor(name, namespace);
    // Already in memory (the watch event often arrives before the answer): nothing to wait for, nothing to keep.
    if (this.reached(kind, key, rv)) return;
    const floors = this.floorsOf(kind);
    const was = floors.get(key);
    if (was?.written !== undefined && was.written >= rv) return;
    floors.set(key, { written: rv, since: this.now(), overdue: false });
  }

  /**
   * The worker deleted this object (or asked for it: a finalizer may keep it a while, then it is read directly).
   * `sentAt`: `watchedTo(kind)` just before the delete was sent; with it, a deletion the watch brought before this
   * call meets the floor even if the name was created again since (memory then shows the newer object, rightly).
   */
  noteDelete(kind: CachedKind, name: string, namespace?: string, sentAt?: string): void {
    const key = keyFor(name, namespace);
    const floor: Floor = { since: this.now(), overdue: false };
    const sent = revision(sentAt);
    if (sent !== undefined) floor.deleteSentAt = sent;
    if (this.deletionShown(kind, key, floor)) this.floors.get(kind)?.delete(key);
    else this.floorsOf(kind).set(key, floor);
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
    if (!(await this.ownWritesShown(kind, () => [key]))) return this.direct.get<T>(kind, name, namespace);
    const cached = store.objects.get(key);
    // Rule 3: the cache may not have a create made elsewhere yet.
    if (!cached) return this.direct.get<T>(kind, name, namespace);
    this.recordRead(kind, `${kind} key:${key}`);
    return readerCopy<T>(cached);
  }

  async list<T>(kind: CachedKind, namespace?: string, labelSelector?: string): Promise<T[]> {
    const store = this.stores.get(kind);
    const terms = parseLabelSelector(labelSelector);
    if (!store || !this.serves(kind) || !terms) return this.direct.list<T>(kind, namespace, labelSelector);
    const inScope = (key: string) => namespace === undefined || key.startsWith(`${namespace}/`);
    const floorsInScope = () => [...this.floorsOf(kind).keys()].filter(inScope);
    if (!(await this.ownWritesShown(kind, floorsInScope))) return this.direct.list<T>(kind, namespace, labelSelector);
    const out: Array<[string, CachedObject]> = [];
    for (const [key, o] of store.objects)
      if (inScope(key) && matchesLabels(terms, o.metadata?.labels)) out.push([key, o]);
    this.recordRead(kind, `${kind} ns:${namespace ?? '*'}`, labelSelector ? terms : undefined);
    // The API server lists in key order; so does this.
    out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return out.map(([, o]) => readerCopy<T>(o));
  }

  private floorsOf(kind: CachedKind): Map<string, Floor> {
    let f = this.floors.get(kind);
    if (!f) this.floors.set(kind, (f = new Map()));
    return f;
  }

  /** Rule 5: remembers that the current pass read this scope from memory, and how far memory was then. */
  private recordRead(kind: CachedKind, scope: string, terms?: LabelTerm[]): void {
    if (WOKEN_FROM_MEMORY.has(kind)) return;
    const reader = this.readerOf();
    if (reader === undefined || this.newest === undefined) return;
    let readers = this.reads.get(scope);
    if (readers)
      this.reads.delete(scope); // re-inserted: the newest last
    else readers = new Map();
    this.reads.set(scope, readers);
    const read: RecordedRead = { reader, seenTo: this.newest, at: this.now() };
    if (terms) read.terms = terms;
    readers.set(`${reader} ${JSON.stringify(terms ?? [])}`, read);
    if (this.reads.size > READ_SCOPES_MAX) this.reads.delete(this.reads.keys().next().value!);
  }

  /** Rule 5: a change at `rv` reached memory; the readers that had seen past `rv` read without it. */
  private renudgeLateReaders(kind: CachedKind, obj: CachedObject, rv: bigint): void {
    if (this.reads.size === 0) return;
    const namespace = obj.metadata?.namespace;
    const scopes = [`${kind} key:${keyOf(obj)}`, `${kind} ns:*`, ...(namespace ? [`${kind} ns:${namespace}`] : [])];
    const late = new Set<string>();
    const now = this.now();
    for (const scope of scopes) {
      const readers = this.reads.get(scope);
      if (!readers) continue;
      for (const [id, read] of readers) {
        if (now - read.at > LATE_READ_WINDOW_MS) readers.delete(id);
        else if (read.seenTo >= rv && (!read.terms || matchesLabels(read.terms, obj.metadata?.labels))) {
          late.add(read.reader);
          readers.delete(id); // one nudge per read
        }
      }
      if (readers.size === 0) this.reads.delete(scope);
    }
    if (late.size > 0) this.onLateChange({ kind, key: keyOf(obj), resourceVersion: rv.toString(), readers: [...late] });
  }

  /** Raises the kind's watch position (and the newest revision seen); true when the kind's moved. */
  private advance(kind: CachedKind, rv: bigint | undefined): boolean {
    if (rv === undefined) return false;
    if (this.newest === undefined || rv > this.newest) this.newest = rv;
    const at = this.positions.get(kind);
    if (at !== undefined && at >= rv) return false;
    this.positions.set(kind, rv);
    return true;
  }

  private rememberDeletion(kind: CachedKind, key: string, rv: bigint): void {
    const id = `${kind} ${key}`;
    this.tombstones.delete(id); // re-inserted: the newest last
    this.tombstones.set(id, rv);
    if (this.tombstones.size > TOMBSTONES_MAX) this.tombstones.delete(this.tombstones.keys().next().value!);
  }

  private cachedOf(kind: CachedKind, key: string) {
    return this.stores.get(kind)?.objects.get(key) as
      (CachedObject & { metadata?: { deletionTimestamp?: unknown } }) | undefined;
  }

  /** Memory shows this object at `rv` or later: its cached copy is that new, or the kind's watch has passed `rv`. */
  private reached(kind: CachedKind, key: string, rv: bigint): boolean {
    const cached = revision(this.cachedOf(kind, key)?.metadata?.resourceVersion);
    if (cached !== undefined && cached >= rv) return true;
    const at = this.positions.get(kind);
    return at !== undefined && at >= rv;
  }

  /** Memory shows the object gone, terminating (a finalizer keeps it), or a deletion seen after the delete was sent. */
  private deletionShown(kind: CachedKind, key: string, floor: Floor): boolean {
    const cached = this.cachedOf(kind, key);
    if (!cached || cached.metadata?.deletionTimestamp != null) return true;
    const seen = this.tombstones.get(`${kind} ${key}`);
    return floor.deleteSentAt !== undefined && seen !== undefined && seen > floor.deleteSentAt;
  }

  /** Whether memory shows the worker's last write to this object (true when there is none, or it is too old). */
  private satisfied(kind: CachedKind, key: string): boolean {
    const floor = this.floors.get(kind)?.get(key);
    if (floor === undefined) return true;
    const ok =
      (floor.written !== undefined ? this.reached(kind, key, floor.written) : this.deletionShown(kind, key, floor)) ||
      this.now() - floor.since > this.floorMaxAgeMs;
    if (ok) this.floors.get(kind)!.delete(key);
    return ok;
  }

  /**
   * True when memory may answer: every floor of `keys` is met, at once or within `writeWaitMs` (woken by the
   * informers). False: read directly. A floor a read has waited out once is overdue: later reads that need it go to the
   * API server at once (until memory shows it or it ages out) instead of each waiting `writeWaitMs` again.
   */
  private async ownWritesShown(kind: CachedKind, keys: () => string[]): Promise<boolean> {
    const unmet = () => keys().filter((k) => !this.satisfied(kind, k));
    const first = unmet();
    if (first.length === 0) return true;
    if (first.some((k) => this.floors.get(kind)?.get(k)?.overdue)) return false;
    if (await this.waitUntil(() => unmet().length === 0)) return true;
    for (const key of unmet()) {
      const floor = this.floors.get(kind)?.get(key);
      if (!floor || floor.overdue) continue;
      floor.overdue = true;
      this.onOverdue({
        kind,
        key,
        floor: floor.written !== undefined ? `written at ${floor.written}` : 'deleted',
        cached: this.cachedOf(kind, key)?.metadata?.resourceVersion,
        watchedTo: this.watchedTo(kind),
      });
    }
    return false;
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
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
