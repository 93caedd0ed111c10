// The process kubelet's scheduling queue (test/harness/kubelet/schedulingQueue.ts), without an API server: when a pod
// that did not fit is tried again.
import { describe, expect, it } from 'vitest';
import { SchedulingQueue } from '../harness/kubelet/schedulingQueue.js';

const S = 1000;

describe('the process kubelet scheduling queue', () => {
  it('tries a pod it never failed at once', () => {
    expect(new SchedulingQueue().due('a', '1', 0)).toBe(true);
  });

  it('parks a pod that did not fit: nothing but a change (or the 5-minute flush) tries it again', () => {
    const q = new SchedulingQueue();
    q.failed('a', '1', 0);
    expect(q.due('a', '1', 10 * S)).toBe(false);
    expect(q.due('a', '1', 299 * S)).toBe(false);
    expect(q.due('a', '1', 300 * S)).toBe(true);
  });

  it.each([
    // attempts so far, ms since the last attempt, due after a change?
    [1, 999, false],
    [1, 1000, true],
    [2, 1999, false],
    [2, 2000, true],
    [4, 7999, false],
    [4, 8000, true],
    [6, 9999, false],
    [6, 10_000, true],
  ])('after a change, a pod with %i failed attempts waits out its back-off (%i ms since: due %s)', (n, since, due) => {
    const q = new SchedulingQueue();
    for (let i = 0; i < n; i++) q.failed('a', '1', 0);
    q.moveAll();
    expect(q.due('a', '1', since)).toBe(due);
  });

  it('a change moves every parked pod; a later failure parks the pod again', () => {
    const q = new SchedulingQueue();
    q.failed('a', '1', 0);
    q.failed('b', '1', 0);
    q.moveAll();
    expect([q.due('a', '1', 5 * S), q.due('b', '1', 5 * S)]).toEqual([true, true]);
    q.failed('a', '1', 5 * S);
    expect(q.due('a', '1', 20 * S)).toBe(false);
    expect(q.due('b', '1', 20 * S)).toBe(true);
  });

  it("the pod's own spec update (its generation) re-queues it", () => {
    const q = new SchedulingQueue();
    q.failed('a', '1', 0);
    expect(q.due('a', '2', 5 * S)).toBe(true);
  });

  it('clear and forget try at once; retain forgets pods no longer there', () => {
    const q = new SchedulingQueue();
    q.failed('a', '1', 0);
    q.failed('b', '1', 0);
    q.failed('c', '1', 0);
    q.forget('a');
    q.retain(new Set(['c']));
    expect([q.due('a', '1', 1), q.due('b', '1', 1), q.due('c', '1', 1)]).toEqual([true, true, false]);
    q.clear();
    expect(q.due('c', '1', 1)).toBe(true);
  });
});
