import { KubeConfig } from '@kubernetes/client-node';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import type { ActivityContext } from '../../activities/context.js';
import { jobActivities } from '../../activities/jobs.js';
import { matchesLabels, parseLabelSelector } from '../../activities/kube/labelSelector.js';
import {
  ClusterReadCache,
  FLOOR_MAX_AGE_MS,
  jsonCopy,
  LATE_READ_WINDOW_MS,
  type CachedKind,
  type LateChange,
  type CachedObject,
  type OverdueFloor,
  type ReadCacheOptions,
  type Reads,
} from '../../activities/kube/readCache.js';
import { startReadCache } from '../../activities/kube/readCacheSources.js';
import type { Source, Watcher } from '../../bridge/sources.js';
import { settle } from './fakeClock.js';

type Obj = CachedObject & { metadata: { name: string; namespace?: string; resourceVersion: string } } & {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
};
const obj = (name: string, rv: string, labels?: Record<string, string>, ns = 'ns'): Obj => ({
  metadata: { name, namespace: ns, resourceVersion: rv, ...(labels ? { labels } : {}) },
});
const key = (o: CachedObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** A cache over maps the test edits as an informer would, and a fake API server that counts direct reads. */
function setup(opts: ReadCacheOptions & { listed?: boolean } = {}) {
  const server = new Map<string, Obj>(); // what a direct GET sees
  const calls: string[] = [];
  const direct: Reads = {
    get: <T>(kind: CachedKind, name: string, namespace?: string) => {
      calls.push(`get ${kind} ${namespace ?? ''}/${name}`);
      return Promise.resolve(server.get(`${namespace ?? ''}/${name}`) as T | undefined);
    },
    list: <T>(kind: CachedKind, namespace?: string) => {
      calls.push(`list ${kind} ${namespace ?? ''}`);
      return Promise.resolve([...server.values()] as T[]);
    },
  };
  const { listed: _listed, ...options } = opts;
  const cache = new ClusterReadCache(direct, { ...options, writeWaitMs: opts.writeWaitMs ?? 2000 });
  const maps = new Map<CachedKind, Map<string, CachedObject>>();
  const listed = opts.listed === false ? new Promise<void>(() => undefined) : Promise.resolve();
  for (const kind of ['AIMModel', 'AIMModelCache', 'AIMService', 'InferenceService', 'Job', 'Pod'] as CachedKind[]) {
    maps.set(kind, new Map());
    cache.attach(kind, maps.get(kind)!, listed);
  }
  /** The informer took a change: into its map, then told to the cache (with the version it replaced). */
  const inform = (kind: CachedKind, o: CachedObject & { spec?: unknown; status?: unknown }, deleted = false) => {
    const old = maps.get(kind)!.get(key(o));
    if (deleted) maps.get(kind)!.delete(key(o));
    else maps.get(kind)!.set(key(o), o);
    cache.changed(kind, o, deleted, old);
  };
  return { cache, server, calls, inform, maps };
}

describe('read cache: consistency rules (activities/kube/readCache.ts)', () => {
  it('answers gets and lists from memory once listed: namespace, label selector, key order', async () => {
    const { cache, calls, inform } = await ready(setup());
    inform('AIMModel', obj('b', '3', { app: 'x' }));
    inform('AIMModel', obj('a', '2', { app: 'x' }));
    inform('AIMModel', obj('c', '4', { app: 'y' }));
    inform('AIMModel', obj('a', '5', { app: 'x' }, 'other'));
    expect((await cache.list<Obj>('AIMModel', 'ns', 'app=x')).map((o) => o.metadata.name)).toEqual(['a', 'b']);
    expect((await cache.list<Obj>('AIMModel')).map(key)).toEqual(['ns/a', 'ns/b', 'ns/c', 'other/a']);
    expect((await cache.get<Obj>('AIMModel', 'c', 'ns'))?.metadata.resourceVersion).toBe('4');
    expect(calls).toEqual([]);
  });

  it('an object the worker wrote and someone else deleted holds up no read: lists stay in memory', async () => {
    const { cache, calls, inform } = await ready(setup({ writeWaitMs: 60_000 }));
    inform('AIMModel', obj('gone', '3'));
    inform('AIMModel', obj('kept', '4'));
    cache.noteWrite('AIMModel', 'gone', 'ns', '7'); // the worker's write, not yet seen…
    inform('AIMModel', obj('gone', '8'), true); // …and the object deleted by a user before the watch brought it
    expect((await cache.list<Obj>('AIMModel', 'ns')).map((o) => o.metadata.name)).toEqual(['kept']);
    expect(calls).toEqual([]);
  });

  it("a write answered after the watch brought the object's deletion holds up no read (the watch is past it)", async () => {
    const { cache, calls, inform } = await ready(setup({ writeWaitMs: 200 }));
    inform('AIMModelCache', obj('gone', '3'));
    inform('AIMModelCache', obj('kept', '4'));
    inform('AIMModelCache', obj('gone', '8'), true); // deleted (by the garbage collector) at revision 8…
    cache.noteWrite('AIMModelCache', 'gone', 'ns', '7'); // …before the answer to the worker's write at 7 arrived
    expect((await cache.list<Obj>('AIMModelCache', 'ns')).map((o) => o.metadata.name)).toEqual(['kept']);
    expect(calls).toEqual([]);
  });

  it('a write the watch never shows as such (outside its selector, or superseded) is met once the watch is past it', async () => {
    const { cache, calls, inform } = await ready(setup({ writeWaitMs: 200 }));
    cache.noteWrite('Job', 'unlabelled', 'ns', '7'); // a Job the labelled watch never brings
    const listing = cache.list<Obj>('Job', 'ns');
    await settle();
    inform('Job', obj('other', '9', undefined, 'elsewhere')); // any later event of the kind: memory is at 9
    expect(await listing).toEqual([]);
    expect(calls).toEqual([]);
  });

  it('a delete answered after the watch brought its deletion and a create of the same name serves the new object', async () => {
    const { cache, calls, inform } = await ready(setup({ writeWaitMs: 200 }));
    inform('AIMService', obj('again', '3'));
    const sentAt = cache.watchedTo('AIMService'); // the worker sends its delete…
    inform('AIMService', obj('again', '5'), true); // …the watch brings the deletion
    inform('AIMService', obj('again', '6')); // and a user's create of the same name, both before the answer
    cache.noteDelete('AIMService', 'again', 'ns', sentAt);
    expect((await cache.get<Obj>('AIMService', 'again', 'ns'))?.metadata.resourceVersion).toBe('6');
    expect((await cache.list<Obj>('AIMService', 'ns')).map((o) => o.metadata.resourceVersion)).toEqual(['6']);
    expect(calls).toEqual([]);
  });

  it('a floor memory never shows costs one wait: later reads go directly at once, and it is logged once', async () => {
    const overdue: OverdueFloor[] = [];
    const { cache, calls, inform } = await ready(setup({ writeWaitMs: 200, onOverdue: (f) => overdue.push(f) }));
    inform('AIMModelCache', obj('c', '10'));
    cache.noteWrite('AIMModelCache', 'c', 'ns', '12');
    const first = Date.now();
    await cache.list('AIMModelCache', 'ns');
    expect(Date.now() - first).toBeGreaterThanOrEqual(150);
    const later = Date.now();
    for (let i = 0; i < 5; i++) {
      await cache.list('AIMModelCache', 'ns');
      await cache.get('AIMModelCache', 'c', 'ns');
    }
    expect(Date.now() - later).toBeLessThan(150);
    expect(calls.filter((c) => c.startsWith('list'))).toHaveLength(6);
    expect(overdue).toEqual([
      { kind: 'AIMModelCache', key: 'ns/c', floor: 'written at 12', cached: '10', watchedTo: '10' },
    ]);
    inform('AIMModelCache', obj('c', '12')); // shown at last: memory again
    calls.length = 0;
    await cache.list('AIMModelCache', 'ns');
    expect(calls).toEqual([]);
  });

  it(`no floor outlives ${FLOOR_MAX_AGE_MS} ms`, async () => {
    let now = 1_000_000;
    const { cache, calls, inform } = await ready(setup({ writeWaitMs: 200, now: () => now }));
    inform('AIMModelCache', obj('c', '10'));
    cache.noteWrite('AIMModelCache', 'c', 'ns', '12');
    now += FLOOR_MAX_AGE_MS + 1;
    expect((await cache.get<Obj>('AIMModelCache', 'c', 'ns'))?.metadata.resourceVersion).toBe('10');
    expect(calls).toEqual([]);
  });

  it('reads directly before its informer has listed', async () => {
    const { cache, calls, server } = setup({ listed: false });
    server.set('ns/a', obj('a', '1'));
    expect((await cache.get<Obj>('AIMModel', 'a', 'ns'))?.metadata.name).toBe('a');
    await cache.list('AIMModel', 'ns');
    expect(calls).toEqual(['get AIMModel ns/a', 'list AIMModel ns']);
  });

  it('confirms a miss with a direct GET (a create made elsewhere the watch has not brought yet)', async () => {
    const { cache, calls, server } = await ready(setup());
    expect(await cache.get('AIMModel', 'new', 'ns')).toBeUndefined();
    server.set('ns/new', obj('new', '9'));
    expect((await cache.get<Obj>('AIMModel', 'new', 'ns'))?.metadata.resourceVersion).toBe('9');
    expect(calls).toEqual(['get AIMModel ns/new', 'get AIMModel ns/new']);
  });

  it('never serves a copy older than its own write: waits for the informer to bring it', async () => {
    const { cache, calls, inform } = await ready(setup());
    inform('AIMModelCache', obj('c', '10'));
    cache.noteWrite('AIMModelCache', 'c', 'ns', '12');
    const read = cache.get<Obj>('AIMModelCache', 'c', 'ns');
    const listed = cache.list<Obj>('AIMModelCache', 'ns');
    await settle();
    inform('AIMModelCache', obj('c', '11')); // not yet
    await settle();
    inform('AIMModelCache', obj('c', '12'));
    expect((await read)?.metadata.resourceVersion).toBe('12');
    expect((await listed).map((o) => o.metadata.resourceVersion)).toEqual(['12']);
    expect(calls).toEqual([]);
  });

  it('compares resourceVersions as integers (etcd revisions), not as text', async () => {
    const { cache, calls, inform } = await ready(setup({ writeWaitMs: 30 }));
    inform('AIMModelCache', obj('c', '100'));
    cache.noteWrite('AIMModelCache', 'c', 'ns', '99'); // "100" < "99" as text
    expect((await cache.get<Obj>('AIMModelCache', 'c', 'ns'))?.metadata.resourceVersion).toBe('100');
    expect(calls).toEqual([]);
  });

  it('reads directly when the informer does not show its write in time', async () => {
    const { cache, calls, inform, server } = await ready(setup({ writeWaitMs: 30 }));
    inform('AIMModelCache', obj('c', '10'));
    server.set('ns/c', obj('c', '12'));
    cache.noteWrite('AIMModelCache', 'c', 'ns', '12');
    expect((await cache.get<Obj>('AIMModelCache', 'c', 'ns'))?.metadata.resourceVersion).toBe('12');
    await cache.list('AIMModelCache', 'ns');
    expect(calls).toEqual(['get AIMModelCache ns/c', 'list AIMModelCache ns']);
  });

  it('does not serve what it deleted until the informer has seen it go (or start terminating)', async () => {
    const { cache, calls, inform } = await ready(setup({ writeWaitMs: 30 }));
    inform('Job', obj('j', '5'));
    inform('Job', obj('k', '6'));
    cache.noteDelete('Job', 'j', 'ns');
    // Still in memory: read directly (the API server says it is gone).
    expect(await cache.get('Job', 'j', 'ns')).toBeUndefined();
    inform('Job', obj('j', '5'), true);
    expect((await cache.list<Obj>('Job', 'ns')).map((o) => o.metadata.name)).toEqual(['k']);
    expect(calls).toEqual(['get Job ns/j']);
    const terminating = { metadata: { ...obj('t', '7').metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } };
    inform('Job', obj('t', '6'));
    cache.noteDelete('Job', 't', 'ns');
    const read = cache.get<Obj>('Job', 't', 'ns');
    await settle();
    inform('Job', terminating);
    expect((await read)?.metadata.resourceVersion).toBe('7');
  });

  it('hands out copies: a caller editing what it read does not change the cache', async () => {
    const { cache, inform } = await ready(setup());
    inform('AIMModel', { ...obj('a', '1'), spec: { image: 'x' } });
    const a = await cache.get<Obj>('AIMModel', 'a', 'ns');
    a!.spec!.image = 'edited';
    (await cache.list<Obj>('AIMModel', 'ns'))[0]!.metadata.name = 'edited';
    expect((await cache.get<Obj>('AIMModel', 'a', 'ns'))?.spec?.image).toBe('x');
    expect((await cache.list<Obj>('AIMModel', 'ns'))[0]!.metadata.name).toBe('a');
  });

  it('shares the owner list, frozen, instead of cloning it: an edit throws and leaves the cache as it was', async () => {
    const { cache, inform } = await ready(setup());
    const owners = Array.from({ length: 3 }, (_, i) => ({ kind: 'AIMService', name: `s${i}`, uid: `u${i}` }));
    inform('AIMModel', { metadata: { ...obj('shared', '1').metadata, ownerReferences: owners }, spec: { x: 1 } });
    const a = await cache.get<Obj>('AIMModel', 'shared', 'ns');
    const [b] = await cache.list<Obj>('AIMModel', 'ns');
    expect(a!.metadata.ownerReferences).toBe(b!.metadata.ownerReferences);
    expect(a!.metadata.ownerReferences).toEqual(owners);
    expect(() => (a!.metadata.ownerReferences as object[]).push({ kind: 'AIMService' })).toThrow(TypeError);
    expect(() => Object.assign(a!.metadata.ownerReferences![0]!, { uid: 'edited' })).toThrow(TypeError);
    a!.spec!.x = 2; // the rest is still the caller's own copy
    const again = await cache.get<Obj>('AIMModel', 'shared', 'ns');
    expect([again!.spec?.x, again!.metadata.ownerReferences?.length]).toEqual([1, 3]);
  });

  it('copies what a list of typed objects holds: Dates stay Dates, nothing is shared with the cache', () => {
    const started = new Date('2026-12-07T10:00:00Z');
    const pod = {
      metadata: { name: 'p', labels: { a: 'b' }, deletionTimestamp: undefined },
      status: { startTime: started, conditions: [{ type: 'Ready', status: 'True' }], podIPs: [] as unknown[] },
      spec: { containers: [{ name: 'c', args: ['--x', '1'], ports: [{ containerPort: 8000 }] }], priority: 0 },
    };
    const copy = jsonCopy(pod) as typeof pod;
    expect(copy).toStrictEqual(pod);
    expect(copy.status.startTime).toBeInstanceOf(Date);
    expect(copy.status.startTime).not.toBe(started);
    copy.spec.containers[0]!.args.push('--y');
    copy.status.conditions[0]!.status = 'False';
    copy.status.startTime.setFullYear(2000);
    expect(pod.spec.containers[0]!.args).toEqual(['--x', '1']);
    expect(pod.status.conditions[0]!.status).toBe('True');
    expect(started.getUTCFullYear()).toBe(2026);
  });

  it('drops managedFields on the way in', async () => {
    const { cache, inform, maps } = await ready(setup());
    inform('AIMModel', { metadata: { ...obj('a', '1').metadata, managedFields: [{ manager: 'x' }] } });
    expect(maps.get('AIMModel')!.get('ns/a')?.metadata?.managedFields).toBeUndefined();
    expect((await cache.get<Obj>('AIMModel', 'a', 'ns'))?.metadata).not.toHaveProperty('managedFields');
  });

  it('wakes a subscriber on a matching change, and times out without one', async () => {
    const { cache, inform } = await ready(setup());
    const isJ = (_k: CachedKind, o: CachedObject) => o.metadata?.name === 'j';
    const woken = cache.nextChange(isJ, 5000);
    inform('Job', obj('other', '1'));
    inform('Job', obj('j', '2'));
    expect(await woken).toBe(true);
    expect(await cache.nextChange(isJ, 10)).toBe(false);
  });
});

describe('read cache: a change that reaches memory after a pass read without it re-nudges the pass (rule 5)', () => {
  /** A cache whose reads are made by workflow `reader` (undefined: outside an activity). */
  function late(opts: { now?: () => number } = {}) {
    let reader: string | undefined = 'aim/AIMService/ns/svc';
    const nudged: LateChange[] = [];
    const s = setup({ ...opts, readerOf: () => reader, onLateChange: (l) => nudged.push(l) });
    return { ...s, nudged, readAs: (r: string | undefined) => (reader = r) };
  }
  const isvc = (rv: string, ready: boolean) => ({ ...obj('svc', rv), status: { ready } });

  it("a service that read its InferenceService before KServe's Ready reached memory is nudged when it does", async () => {
    const { cache, inform, nudged } = await ready(late());
    inform('InferenceService', isvc('10', false));
    inform('AIMModelCache', obj('c', '20')); // memory has seen revision 20 (another kind's watch was quicker)…
    expect((await cache.get<Obj>('InferenceService', 'svc', 'ns'))?.status).toEqual({ ready: false });
    inform('InferenceService', isvc('15', true)); // …and KServe's Ready at 15 arrives only now
    expect(nudged).toEqual([
      { kind: 'InferenceService', key: 'ns/svc', resourceVersion: '15', readers: ['aim/AIMService/ns/svc'] },
    ]);
    inform('InferenceService', isvc('16', true)); // one nudge per read
    expect(nudged).toHaveLength(1);
  });

  it("another service's owner entry on a shared model reaching memory late nudges no one; a spec change does", async () => {
    const { cache, inform, nudged } = await ready(late());
    const model = (rv: string, owners: string[], image = 'a') => ({
      ...obj('m', rv),
      metadata: { ...obj('m', rv).metadata, ownerReferences: owners.map((uid) => ({ uid })) },
      spec: { image },
    });
    inform('AIMModel', model('10', ['s1']));
    inform('AIMModelCache', obj('c', '30')); // memory has seen revision 30
    await cache.get('AIMModel', 'm', 'ns');
    inform('AIMModel', model('20', ['s1', 's2'])); // only the owner list grew (before the read, reaching memory after)
    expect(nudged).toEqual([]);
    await cache.get('AIMModel', 'm', 'ns');
    inform('AIMModel', model('25', ['s1', 's2'], 'b'));
    expect(nudged.map((n) => [n.key, n.resourceVersion])).toEqual([['ns/m', '25']]);
  });

  it('a change newer than all memory had seen at the read nudges no one (the bridge does)', async () => {
    const { cache, inform, nudged } = await ready(late());
    inform('InferenceService', isvc('10', false));
    await cache.get('InferenceService', 'svc', 'ns');
    inform('InferenceService', isvc('11', true));
    expect(nudged).toEqual([]);
  });

  it('a list missing an object of its namespace that had been created is re-nudged; other namespaces are not', async () => {
    const { cache, inform, nudged } = await ready(late());
    inform('AIMModelCache', obj('a', '10'));
    inform('AIMModel', obj('m', '30'));
    await cache.list('AIMModelCache', 'ns');
    inform('AIMModelCache', obj('x', '25', undefined, 'other'));
    expect(nudged).toEqual([]);
    inform('AIMModelCache', obj('b', '28'));
    expect(nudged.map((n) => [n.key, n.readers])).toEqual([['ns/b', ['aim/AIMService/ns/svc']]]);
  });

  it('a list is re-nudged only by objects its selector selects; Jobs and pods never (waitForJob wakes itself)', async () => {
    const { cache, inform, nudged } = await ready(late());
    inform('AIMModel', obj('m', '30'));
    await cache.list('AIMModelCache', 'ns', 'mode=shared');
    await cache.list('Pod', 'ns', 'job-name=dl');
    inform('AIMModelCache', obj('dedicated', '25', { mode: 'dedicated' }));
    inform('Pod', obj('dl-x', '26', { 'job-name': 'dl' }));
    expect(nudged).toEqual([]);
    inform('AIMModelCache', obj('shared', '27', { mode: 'shared' }));
    expect(nudged.map((n) => n.key)).toEqual(['ns/shared']);
  });

  it('reads outside an activity, and reads older than the window, are not remembered', async () => {
    let now = 1_000_000;
    const { cache, inform, nudged, readAs } = await ready(late({ now: () => now }));
    inform('InferenceService', isvc('10', false));
    inform('AIMModel', obj('m', '30'));
    readAs(undefined);
    await cache.get('InferenceService', 'svc', 'ns');
    inform('InferenceService', isvc('11', false));
    expect(nudged).toEqual([]);
    readAs('aim/AIMService/ns/svc');
    await cache.get('InferenceService', 'svc', 'ns');
    now += LATE_READ_WINDOW_MS + 1;
    inform('InferenceService', isvc('12', true));
    expect(nudged).toEqual([]);
  });
});

describe('label selectors as the API server reads them', () => {
  it.each([
    ['a=b', { a: 'b' }, true],
    ['a==b', { a: 'b' }, true],
    ['a=b', { a: 'c' }, false],
    ['a!=b', {}, true],
    ['a!=b', { a: 'b' }, false],
    ['a,b=c', { a: '', b: 'c' }, true],
    ['job-name', {}, false],
    ['!a', { a: 'x' }, false],
    ['', {}, true],
  ] as const)('%s on %j → %s', (sel, labels, want) => {
    expect(matchesLabels(parseLabelSelector(sel)!, labels)).toBe(want);
  });

  it('reports set-based terms as unsupported (the cache then lists directly)', () => {
    expect(parseLabelSelector('a in (b,c)')).toBeUndefined();
  });
});

describe('waitForJob with the read cache', () => {
  it('returns as soon as a change of its Job arrives, without polling the API server', async () => {
    const { cache, calls, inform } = await ready(setup());
    inform('Job', {
      ...obj('dl-1', '1'),
      metadata: { ...obj('dl-1', '1').metadata, creationTimestamp: new Date() },
    } as never);
    const ctx = { reads: cache, settings: { downloaderImage: 'x' } } as unknown as ActivityContext;
    const started = Date.now();
    const outcome = new MockActivityEnvironment().run(jobActivities(ctx).waitForJob, {
      namespace: 'ns',
      name: 'dl-1',
      maxSeconds: 60,
      notStartedAfterSeconds: 60,
    });
    await new Promise((r) => setTimeout(r, 100));
    inform('Job', { ...obj('dl-1', '2'), status: { conditions: [{ type: 'Complete', status: 'True' }] } });
    expect(((await outcome) as { phase: string }).phase).toBe('Succeeded');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(calls).toEqual([]);
  });
});

describe('startReadCache: the bridge informer fills the cache', () => {
  /** A Node source listing `n1` at `listedAt`, whose watch events the test emits. */
  function nodeSource(listedAt: string) {
    const fake = { emit: (_type: string, _o: unknown): void => undefined };
    const watcher: Watcher = {
      watch: (
        _p: string,
        _q: Record<string, unknown>,
        cb: (type: string, o: unknown) => void,
        end: (e: unknown) => void,
      ) => {
        fake.emit = cb;
        return Promise.resolve({ abort: () => end(null) } as never);
      },
    };
    const source: Source<CachedKind> = {
      kind: 'Node',
      path: '/api/v1/nodes',
      watcher,
      list: () => Promise.resolve({ items: [obj('n1', '1', undefined, '') as never], resourceVersion: listedAt }),
    };
    return { source, emit: (type: string, o: unknown) => fake.emit(type, o) };
  }

  it('serves a source once it has listed, and follows its watch', async () => {
    const { source, emit } = nodeSource('1');
    const running = startReadCache(unreachableKubeConfig(), { log: () => undefined, sources: [source] });
    await running.listed;
    await settle();
    expect(running.cache.serves('Node')).toBe(true);
    emit('ADDED', { metadata: { name: 'n2', resourceVersion: '2', managedFields: [{}] } });
    expect((await running.cache.list<Obj>('Node')).map((n) => n.metadata.name)).toEqual(['n1', 'n2']);
    await running.stop();
  });

  it("takes the watch's position from its first list and its bookmarks: a write below it is met", async () => {
    const { source, emit } = nodeSource('40');
    const running = startReadCache(unreachableKubeConfig(), {
      log: () => undefined,
      sources: [source],
      writeWaitMs: 60_000,
    });
    await running.listed;
    await settle();
    expect(running.cache.watchedTo('Node')).toBe('40');
    running.cache.noteWrite('Node', 'n1', undefined, '55'); // e.g. a label the worker set, not brought yet
    const listing = running.cache.list<Obj>('Node');
    await settle();
    emit('BOOKMARK', { kind: 'Node', metadata: { resourceVersion: '60' } });
    expect((await listing).map((n) => n.metadata.name)).toEqual(['n1']);
    expect(running.cache.watchedTo('Node')).toBe('60');
    await running.stop();
  });

  it('does not serve a kind whose watch is refused (an older ClusterRole without watch): memory would go stale', async () => {
    const refused: Watcher = {
      watch: (_p: string, _q: Record<string, unknown>, _cb: unknown, end: (e: unknown) => void) => {
        end(Object.assign(new Error('Forbidden'), { statusCode: 403 }));
        return Promise.resolve({ abort: () => undefined } as never);
      },
    };
    const source: Source<CachedKind> = {
      kind: 'Job',
      path: '/apis/batch/v1/jobs',
      watcher: refused,
      list: () => Promise.resolve({ items: [obj('j', '1') as never], resourceVersion: '1' }),
    };
    const running = startReadCache(unreachableKubeConfig(), { log: () => undefined, sources: [source] });
    await running.listed;
    await settle();
    expect(running.cache.serves('Job')).toBe(false);
    await running.stop();
  });
});

async function ready<T extends ReturnType<typeof setup>>(s: T): Promise<T> {
  await settle();
  return s;
}

/** Direct reads are never made in the test that uses it: a miss would fail to connect. */
function unreachableKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser({ name: 'none', server: 'https://127.0.0.1:1', skipTLSVerify: true }, { name: 'none' });
  return kc;
}
