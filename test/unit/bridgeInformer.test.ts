import { describe, expect, it } from 'vitest';
import { startInformer, type Change } from '../../bridge/informer.js';
import { bridgeMetrics } from '../../bridge/metrics.js';
import type { BridgeObject } from '../../bridge/routing.js';
import type { ListResult, Source, Watcher } from '../../bridge/sources.js';
import { FakeClock, settle } from './fakeClock.js';

const obj = (name: string, rv: string): BridgeObject => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });

type WatchCallback = (type: string, obj: unknown) => void;
type WatchDone = (err: unknown) => void;
/** A watch the test drives: each `watch()` call is one connection it can feed events into and end. */
function fakeWatcher() {
  const opened: Array<{ resourceVersion: string; emit: WatchCallback; end: WatchDone; aborted: boolean }> = [];
  const watcher: Watcher = {
    watch: (_path: string, query: Record<string, unknown>, emit: WatchCallback, end: WatchDone) => {
      const conn = { resourceVersion: String(query.resourceVersion), emit, end, aborted: false };
      opened.push(conn);
      return Promise.resolve({ abort: () => ((conn.aborted = true), end(null)) } as never);
    },
  };
  return { watcher, opened, last: () => opened.at(-1)! };
}

function setup(lists: ListResult[], onChange: (c: Change) => Promise<unknown>[] = () => []) {
  const clock = new FakeClock();
  const w = fakeWatcher();
  const abort = new AbortController();
  const metrics = bridgeMetrics();
  const changes: string[] = [];
  let listCalls = 0;
  const source: Source = {
    kind: 'AIMModel',
    namespace: 'ns',
    path: '/apis/aim.silogen.ai/v1alpha1/namespaces/ns/aimmodels',
    list: () => Promise.resolve(lists[Math.min(listCalls++, lists.length - 1)]!),
    watcher: w.watcher,
  };
  const informer = startInformer(source, {
    signal: abort.signal,
    metrics,
    log: () => undefined,
    clock,
    onChange: (c) => {
      changes.push(
        `${c.type} ${c.obj.metadata?.name}@${c.obj.metadata?.resourceVersion}${c.initialList ? ' (list)' : ''}`,
      );
      return onChange(c);
    },
  });
  return { clock, w, abort, metrics, changes, informer, listCalls: () => listCalls };
}

describe('bridge informer: list, watch, relist on 410 Gone, reconnect with back-off', () => {
  it('relists on 410 Gone and diffs the new list against its cache (nothing missed, nothing repeated)', async () => {
    const { w, metrics, changes, informer, abort } = setup([
      { items: [obj('a', '1'), obj('b', '1')], resourceVersion: '10' },
      { items: [obj('a', '2'), obj('c', '1')], resourceVersion: '20' },
    ]);
    await settle();
    expect(w.last().resourceVersion).toBe('10');
    w.last().emit('MODIFIED', obj('a', '2'));
    w.last().emit('ERROR', { code: 410 });
    w.last().end(null);
    await settle();
    expect(w.opened.map((c) => c.resourceVersion)).toEqual(['10', '20']);
    // While the informer was away, b was deleted and c created: the relist reports exactly those.
    expect(changes).toEqual(['ADDED a@1 (list)', 'ADDED b@1 (list)', 'MODIFIED a@2', 'ADDED c@1', 'DELETED b@1']);
    expect([...informer.objects.keys()].sort()).toEqual(['ns/a', 'ns/c']);
    expect(metrics.get('aim_bridge_relists_total', { kind: 'AIMModel' })).toBe(1);
    abort.abort();
    await informer.done;
  });

  it('reconnects a broken watch after a jittered, doubling back-off and resumes where it was (no relist)', async () => {
    const { clock, w, metrics, abort, informer, listCalls } = setup([{ items: [], resourceVersion: '10' }]);
    await settle();
    for (let i = 0; i < 4; i++) {
      w.last().emit('ADDED', obj(`o${i}`, String(11 + i)));
      w.last().end(new Error('connection reset'));
      await clock.advance(60_000);
    }
    expect(w.opened.map((c) => c.resourceVersion)).toEqual(['10', '11', '12', '13', '14']);
    expect(listCalls()).toBe(1);
    const bases = [500, 1_000, 2_000, 4_000];
    clock.sleeps.forEach((ms, i) => expect(ms / bases[i]!).toBeGreaterThanOrEqual(0.75));
    clock.sleeps.forEach((ms, i) => expect(ms / bases[i]!).toBeLessThan(1.25));
    expect(metrics.get('aim_bridge_errors_total', { stage: 'watch' })).toBe(4);
    abort.abort();
    await informer.done;
    expect(w.last().aborted).toBe(true);
  });

  it('watches before the first nudges are delivered; listed waits for them', async () => {
    let deliver: () => void = () => undefined;
    const delivered = new Promise<void>((r) => (deliver = r));
    const { w, informer, abort } = setup([{ items: [obj('a', '1')], resourceVersion: '10' }], () => [delivered]);
    let listed = false;
    void informer.listed.then(() => (listed = true));
    await settle();
    expect(w.opened.length).toBe(1); // the watch runs while Temporal may be away
    expect(listed).toBe(false);
    deliver();
    await settle();
    expect(listed).toBe(true);
    abort.abort();
    await informer.done;
  });

  it('a DELETED event for an object it never saw reports nothing', async () => {
    const { w, changes, abort, informer } = setup([{ items: [], resourceVersion: '10' }]);
    await settle();
    w.last().emit('DELETED', obj('ghost', '11'));
    expect(changes).toEqual([]);
    abort.abort();
    await informer.done;
  });
});
