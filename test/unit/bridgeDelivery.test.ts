import { ServiceError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { DeliveryQueue, type Delivered, type DeliveryQueueOptions } from '../../bridge/deliveryQueue.js';
import type { Send, SignalName } from '../../bridge/routing.js';
import { temporalDidNotAnswer } from '../../bridge/temporalDelivery.js';
import { FakeClock } from './fakeClock.js';

class NoAnswer extends Error {}
class Refused extends Error {}

/** Temporal as the queue sees it: up, down (no answer), refusing, or holding calls until released. */
function fakeTemporal() {
  const calls: Send[] = [];
  const state = { down: false, refuse: false, hold: undefined as Promise<void> | undefined };
  let release: () => void = () => undefined;
  return {
    calls,
    state,
    holdCalls() {
      state.hold = new Promise<void>((r) => (release = r));
    },
    release: () => ((state.hold = undefined), release()),
    deliver: async (s: Send): Promise<Delivered> => {
      calls.push(s);
      if (state.hold) await state.hold;
      if (state.down) throw new NoAnswer('unavailable');
      if (state.refuse) throw new Refused('permission denied');
      return 'signalled';
    },
  };
}

function setup(over: Partial<DeliveryQueueOptions> = {}) {
  const clock = new FakeClock();
  const temporal = fakeTemporal();
  const events: string[] = [];
  const queue = new DeliveryQueue({
    deliver: temporal.deliver,
    isOutage: (e) => e instanceof NoAnswer,
    clock,
    random: () => 0.5, // no jitter: back-offs are exact
    onAttemptFailed: (s, _e, how) =>
      events.push(`${s.signal} ${how.outage ? 'no-answer' : 'refused'} ${how.retryInMs ?? 'dropped'}`),
    onAnsweringChanged: (a) => events.push(a ? 'answering' : 'not answering'),
    ...over,
  });
  return { clock, temporal, queue, events };
}

const nudge = (name: string, signal: SignalName = 'changed', rv = '1', extra: Partial<Send> = {}): Send => ({
  signal,
  target: { kind: 'AIMService', namespace: 'ns', name },
  start: signal !== 'deleted',
  nudge: { uid: `uid-${name}`, resourceVersion: rv },
  ...extra,
});
const sent = (calls: Send[]) => calls.map((s) => `${s.target.name} ${s.signal}@${s.nudge.resourceVersion}`);

describe('bridge delivery queue: never drops a nudge Temporal did not answer', () => {
  it('retries with exponential back-off capped at 30 s until Temporal answers, then delivers', async () => {
    const { clock, temporal, queue, events } = setup();
    temporal.state.down = true;
    let delivered = false;
    void queue.enqueueAndWait(nudge('a')).then(() => (delivered = true));
    await clock.advance(10 * 60_000); // ten minutes down
    expect(clock.sleeps.slice(0, 8)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect(Math.max(...clock.sleeps)).toBe(30_000);
    expect(delivered).toBe(false);
    expect(queue.stats()).toEqual({
      pendingWorkflows: 1,
      pendingNudges: 1,
      oldestPendingMs: 600_000,
      temporalAnswering: false,
    });

    temporal.state.down = false;
    await clock.advance(30_000);
    expect(delivered).toBe(true);
    expect(temporal.calls.length).toBe(clock.sleeps.length + 1);
    expect(queue.stats()).toEqual({
      pendingWorkflows: 0,
      pendingNudges: 0,
      oldestPendingMs: 0,
      temporalAnswering: true,
    });
    expect(events[0]).toBe('not answering');
    expect(events.at(-1)).toBe('answering');
    expect(events.filter((e) => e.includes('dropped'))).toEqual([]);
  });

  it('has one delivery in flight per workflow, in the order the nudges came; workflows do not wait on each other', async () => {
    const { clock, temporal, queue } = setup();
    temporal.holdCalls();
    queue.enqueue(nudge('a', 'changed', '1'));
    queue.enqueue(nudge('a', 'retry', '2'));
    queue.enqueue(nudge('b', 'changed', '1'));
    await clock.advance(0);
    expect(sent(temporal.calls)).toEqual(['a changed@1', 'b changed@1']);
    temporal.release();
    await clock.advance(0);
    expect(sent(temporal.calls)).toEqual(['a changed@1', 'b changed@1', 'a retry@2']);
  });

  it('coalesces per workflow and signal: a newer nudge replaces the pending one', async () => {
    const { clock, temporal, queue } = setup();
    temporal.holdCalls();
    const all = [queue.enqueueAndWait(nudge('a', 'changed', '1'))];
    for (let rv = 2; rv <= 100; rv++) all.push(queue.enqueueAndWait(nudge('a', 'changed', String(rv))));
    all.push(queue.enqueueAndWait(nudge('a', 'retry', '50')));
    await clock.advance(0);
    expect(queue.stats().pendingWorkflows).toBe(1);
    temporal.release();
    await Promise.all(all); // every caller hears back: its nudge went out, or a newer one that replaced it
    expect(sent(temporal.calls)).toEqual(['a changed@1', 'a changed@100', 'a retry@50']);
  });

  it('merging keeps a start and a fresh start that an older nudge asked for', async () => {
    const { clock, temporal, queue } = setup();
    temporal.holdCalls();
    queue.enqueue(nudge('a', 'retry', '1'));
    queue.enqueue(nudge('a', 'dependencyChanged', '2', { start: true, fresh: true }));
    queue.enqueue(nudge('a', 'dependencyChanged', '3', { start: false }));
    await clock.advance(0);
    temporal.release();
    await clock.advance(0);
    expect(temporal.calls[1]).toMatchObject({
      signal: 'dependencyChanged',
      start: true,
      fresh: true,
      nudge: { resourceVersion: '3' },
    });
  });

  it('a nudge waiting out its back-off is replaced by a newer one of the same signal', async () => {
    const { clock, temporal, queue } = setup();
    temporal.state.down = true;
    queue.enqueue(nudge('a', 'changed', '1'));
    await clock.advance(500);
    queue.enqueue(nudge('a', 'changed', '2'));
    temporal.state.down = false;
    await clock.advance(1_000);
    expect(sent(temporal.calls)).toEqual(['a changed@1', 'a changed@2']);
    expect(queue.stats().pendingWorkflows).toBe(0);
  });

  it('memory stays bounded by the objects: at most one pending nudge per workflow and signal', async () => {
    const { clock, temporal, queue } = setup();
    temporal.state.down = true;
    const signals: SignalName[] = ['changed', 'retry', 'deleted', 'dependencyChanged'];
    for (let i = 0; i < 10_000; i++) queue.enqueue(nudge(`o${i % 10}`, signals[i % 4]!, String(i)));
    await clock.advance(5 * 60_000);
    // Ten workflows × the signals each got: two each (i % 10 and i % 4 pair up as even/even, odd/odd).
    expect(queue.stats()).toMatchObject({ pendingWorkflows: 10, pendingNudges: 20 });
    temporal.calls.length = 0;
    temporal.state.down = false;
    await clock.advance(30_000);
    expect(temporal.calls.length).toBe(20);
    expect(queue.stats().pendingWorkflows).toBe(0);
  });

  it('the first answer after an outage wakes every lane waiting out its back-off', async () => {
    const { clock, temporal, queue } = setup();
    temporal.state.down = true;
    queue.enqueue(nudge('a'));
    await clock.advance(60_000); // lane a is at its longest back-off
    queue.enqueue(nudge('b'));
    temporal.state.down = false;
    await clock.advance(1_000); // b's first retry succeeds; a would wait up to 30 s more
    expect(sent(temporal.calls).filter((c) => c === 'a changed@1').length).toBeGreaterThan(1);
    expect(queue.stats().pendingWorkflows).toBe(0);
  });

  it('an attempt that fails unanswered after another one was answered does not turn readiness back', async () => {
    const { clock, temporal, queue, events } = setup();
    temporal.holdCalls();
    temporal.state.down = true;
    queue.enqueue(nudge('a'));
    await clock.advance(0); // a's attempt hangs (say, until its deadline)
    temporal.state.hold = undefined; // calls from now on return at once
    queue.enqueue(nudge('b'));
    await clock.advance(0);
    expect(events).toEqual(['not answering', 'changed no-answer 1000']); // b failed unanswered
    temporal.state.down = false;
    await clock.advance(1_000); // b answered
    temporal.state.down = true;
    temporal.release(); // a's old attempt now fails: it started before b's answer
    await clock.advance(0);
    expect(queue.stats().temporalAnswering).toBe(true);
    expect(events.filter((e) => e.endsWith('answering'))).toEqual(['not answering', 'answering']);
  });

  it('a nudge Temporal refuses is retried a bounded number of times, then dropped and reported', async () => {
    const { clock, temporal, queue, events } = setup({ maxRejectedAttempts: 3 });
    temporal.state.refuse = true;
    let done = false;
    void queue.enqueueAndWait(nudge('a')).then(() => (done = true));
    await clock.advance(60_000);
    expect(done).toBe(true);
    expect(temporal.calls.length).toBe(3);
    expect(events).toEqual(['changed refused 1000', 'changed refused 2000', 'changed refused dropped']);
    expect(queue.stats()).toMatchObject({ pendingWorkflows: 0, temporalAnswering: true });
  });

  it('stop makes one last attempt at once, then releases what is left without retrying', async () => {
    const { clock, temporal, queue } = setup();
    temporal.state.down = true;
    let released = false;
    void queue.enqueueAndWait(nudge('a')).then(() => (released = true));
    await clock.advance(100); // lane a waits out its first back-off (1 s)
    const stopped = queue.stop();
    await clock.advance(0);
    await stopped;
    expect(released).toBe(true);
    expect(clock.t).toBe(100);
    await queue.enqueueAndWait(nudge('b')); // resolves at once: a stopped queue takes nothing
    expect(sent(temporal.calls)).toEqual(['a changed@1', 'a changed@1']);
  });
});

describe('what counts as Temporal not answering (retried without limit)', () => {
  const grpc = (code: number) => Object.assign(new Error(`grpc ${code}`), { code, details: '', metadata: {} });
  it.each([
    ['UNAVAILABLE (down, restarting, connection refused)', 14, true],
    ['DEADLINE_EXCEEDED (the attempt deadline passed)', 4, true],
    ['RESOURCE_EXHAUSTED (shedding load)', 8, true],
    ['INTERNAL (its database is away)', 13, true],
    ['PERMISSION_DENIED (an answer: a refusal)', 7, false],
    ['INVALID_ARGUMENT (an answer: a refusal)', 3, false],
    ['NOT_FOUND (e.g. no such namespace)', 5, false],
  ])('%s', (_what, code, outage) => {
    expect(temporalDidNotAnswer(grpc(code))).toBe(outage);
    // As the client throws it: a ServiceError wrapping the gRPC error.
    expect(temporalDidNotAnswer(new ServiceError('Failed to signalWithStart Workflow', { cause: grpc(code) }))).toBe(
      outage,
    );
  });
  it('an error with no gRPC status is not an outage (a local failure: retried a bounded number of times)', () => {
    expect(temporalDidNotAnswer(new Error('payload codec failed'))).toBe(false);
  });
});
