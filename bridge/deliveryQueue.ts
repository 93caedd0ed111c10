import { setMaxListeners } from 'node:events';
import { jittered, systemClock, type Clock } from './clock.js';
import { targetId, type Send, type SignalName } from './routing.js';

/**
 * The bridge's outbox to Temporal. A nudge is never dropped because Temporal did not answer (down, unavailable, past
 * the deadline): it is retried with exponential back-off (1 s doubling to 30 s, jittered) until Temporal answers.
 *
 * - **One lane per workflow ID, one delivery in flight per lane.** A workflow's nudges go out one at a time; lanes
 *   do not wait on each other.
 * - **Coalescing.** A lane keeps at most one pending nudge per signal name: a newer `changed` replaces the pending
 *   `changed` (its uid, generation and resourceVersion are the newest; `start` and `fresh` are kept if either asked
 *   for them). Per signal and not per workflow because `retry` means more than "look again" (it clears a failed
 *   state) and a plain `deleted` must not become a start: merging them into one would change what the workflow does.
 *   Signals are nudges (spec 5.0), so sending the newest of each is all a workflow needs.
 * - **Bounded memory.** Lanes are keyed by workflow ID, so the queue holds at most four nudges (one per signal name)
 *   per object the bridge watches, however long Temporal is away and however often the objects change (watch events
 *   use `enqueue`, which keeps no waiter either).
 * - **Rejections are bounded.** When Temporal answers with an error (a bad request, permission denied), the nudge is
 *   retried on the same back-off at most `maxRejectedAttempts` times, then dropped and reported: retrying a request
 *   that Temporal refuses would not make it pass, and a relist (bridge restart) sends every object's nudge again.
 * - **Recovery is prompt.** The first delivery that succeeds after an outage wakes every lane waiting out its
 *   back-off, so a backlog drains as soon as Temporal is back instead of over the next 30 s.
 */
export type Delivered = 'signalled' | 'noWorkflow';

export interface DeliveryQueueOptions {
  /** Sends one nudge; resolves with what happened, throws when it was not delivered. */
  deliver(send: Send, signal: AbortSignal): Promise<Delivered>;
  /** The error says Temporal did not answer (as opposed to answering with a refusal). */
  isOutage(err: unknown): boolean;
  clock?: Clock;
  random?: () => number;
  /** Retry back-off: first and longest wait (default 1 s and 30 s). */
  backoff?: { initialMs: number; maxMs: number };
  /** Attempts for a nudge Temporal refuses before it is dropped (default 7). */
  maxRejectedAttempts?: number;
  onDelivered?(send: Send, outcome: Delivered): void;
  /** A failed attempt: `retryInMs` undefined means the nudge was dropped (refused too often). */
  onAttemptFailed?(send: Send, err: unknown, how: { outage: boolean; retryInMs?: number }): void;
  /** Temporal stopped answering (`false`) or answers again (`true`). */
  onAnsweringChanged?(answering: boolean, err?: unknown): void;
}

export interface DeliveryStats {
  /** Workflows with a nudge not yet delivered (queued, in flight or waiting to retry). */
  pendingWorkflows: number;
  /** The nudges held for them: at most one per workflow and signal name. */
  pendingNudges: number;
  /** Age of the oldest undelivered nudge in ms (0 when none). */
  oldestPendingMs: number;
  /** False from an attempt Temporal did not answer until the next one it answers. */
  temporalAnswering: boolean;
}

interface Pending {
  send: Send;
  /** When the oldest nudge merged into this one was queued. */
  since: number;
  waiters: Array<() => void>;
  rejected: number;
}

interface Lane {
  queued: Map<SignalName, Pending>;
  inFlight?: Pending;
  /** Consecutive failed attempts of this lane (sets its back-off). */
  failures: number;
}

/** `newer`'s nudge, with a start or a fresh start kept if `older` asked for it. */
function merge(older: Pending, newer: Pending): Pending {
  const start = older.send.start || newer.send.start;
  const fresh = older.send.fresh === true || newer.send.fresh === true;
  return {
    send: { ...newer.send, start, ...(fresh ? { fresh } : {}) },
    since: Math.min(older.since, newer.since),
    waiters: [...older.waiters, ...newer.waiters],
    rejected: 0,
  };
}

/** A controller whose signal has one listener per in-flight attempt and per lane in back-off. */
function manyListeners(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}

export class DeliveryQueue {
  private readonly lanes = new Map<string, Lane>();
  private readonly pumps = new Set<Promise<void>>();
  private readonly stopped = manyListeners();
  private wake = manyListeners();
  private answering = true;
  /** Counts Temporal's answers (a delivery or a refusal): an attempt that outlived an answer says nothing new. */
  private answers = 0;
  private closing = false;
  private readonly clock: Clock;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly maxRejected: number;

  constructor(private readonly opts: DeliveryQueueOptions) {
    this.clock = opts.clock ?? systemClock;
    this.backoff = opts.backoff ?? { initialMs: 1_000, maxMs: 30_000 };
    this.maxRejected = opts.maxRejectedAttempts ?? 7;
  }

  /** Queues a nudge (fire and forget: what watch events send, however long Temporal is away). */
  enqueue(send: Send): void {
    this.add(send, undefined);
  }

  /**
   * Queues a nudge and resolves once it (or a newer nudge it was merged into) is delivered, dropped, or the queue
   * stops. For the first lists and the orphan sweep (readiness waits on them): a bounded number of waiters, one per
   * object at start, while `enqueue` keeps no waiter so that a long outage grows nothing but the lanes.
   */
  enqueueAndWait(send: Send): Promise<void> {
    return new Promise<void>((resolve) => this.add(send, resolve));
  }

  private add(send: Send, waiter: (() => void) | undefined): void {
    if (this.closing) return waiter?.();
    const id = targetId(send.target);
    let lane = this.lanes.get(id);
    const fresh = !lane;
    if (!lane) this.lanes.set(id, (lane = { queued: new Map(), failures: 0 }));
    const pending: Pending = { send, since: this.clock.now(), waiters: waiter ? [waiter] : [], rejected: 0 };
    const older = lane.queued.get(send.signal);
    lane.queued.delete(send.signal); // re-inserted last: the lane sends its signals in the order they last changed
    lane.queued.set(send.signal, older ? merge(older, pending) : pending);
    if (fresh) this.startPump(id, lane);
  }

  stats(): DeliveryStats {
    let oldest = Infinity;
    let nudges = 0;
    for (const lane of this.lanes.values()) {
      if (lane.inFlight) {
        oldest = Math.min(oldest, lane.inFlight.since);
        nudges++;
      }
      for (const p of lane.queued.values()) {
        oldest = Math.min(oldest, p.since);
        nudges++;
      }
    }
    return {
      pendingWorkflows: this.lanes.size,
      pendingNudges: nudges,
      oldestPendingMs: oldest === Infinity ? 0 : Math.max(0, this.clock.now() - oldest),
      temporalAnswering: this.answering,
    };
  }

  /**
   * Stops taking nudges and drains for up to `graceMs`: queued nudges still go out (a lane waiting out its back-off
   * tries once more at once), but a failed one is not retried. Then in-flight attempts are cancelled and whatever is
   * left is released (a restarted bridge relists and sends every object's nudge again).
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.closing = true;
    this.wake.abort();
    const drained = Promise.allSettled([...this.pumps]);
    await Promise.race([drained, this.clock.sleep(graceMs, this.stopped.signal)]);
    this.stopped.abort();
    await Promise.allSettled([...this.pumps]);
  }

  private startPump(id: string, lane: Lane): void {
    const pump = this.pump(id, lane);
    this.pumps.add(pump);
    void pump.finally(() => this.pumps.delete(pump));
  }

  private async pump(id: string, lane: Lane): Promise<void> {
    const stop = this.stopped.signal;
    for (;;) {
      const next = lane.queued.values().next();
      if (next.done || stop.aborted) break;
      const pending = next.value;
      lane.queued.delete(pending.send.signal);
      lane.inFlight = pending;
      const answersBefore = this.answers;
      try {
        const outcome = await this.opts.deliver(pending.send, stop);
        lane.inFlight = undefined;
        lane.failures = 0;
        this.setAnswering(true);
        this.opts.onDelivered?.(pending.send, outcome);
        for (const w of pending.waiters) w();
      } catch (err) {
        lane.inFlight = undefined;
        const outage = this.opts.isOutage(err);
        if (stop.aborted || this.closing) {
          for (const w of pending.waiters) w();
          if (stop.aborted) break;
          continue;
        }
        // A no-answer only counts when Temporal has not answered another attempt since this one started (a deadline
        // that runs out just after recovery must not flip readiness back).
        if (!outage || this.answers === answersBefore) this.setAnswering(!outage, err);
        if (!outage && ++pending.rejected >= this.maxRejected) {
          this.opts.onAttemptFailed?.(pending.send, err, { outage });
          for (const w of pending.waiters) w();
          continue;
        }
        lane.failures++;
        const retryInMs = jittered(
          Math.min(this.backoff.initialMs * 2 ** (lane.failures - 1), this.backoff.maxMs),
          this.opts.random,
        );
        this.opts.onAttemptFailed?.(pending.send, err, { outage, retryInMs });
        this.requeueFirst(lane, pending);
        await this.clock.sleep(retryInMs, AbortSignal.any([stop, this.wake.signal]));
      }
    }
    // Synchronous from the empty check above: no nudge can join this lane between that check and its removal.
    if (stop.aborted) for (const p of lane.queued.values()) for (const w of p.waiters) w();
    this.lanes.delete(id);
  }

  /** Puts a failed nudge back at the head of its lane, merged into a newer one of the same signal if one came. */
  private requeueFirst(lane: Lane, failed: Pending): void {
    const newer = lane.queued.get(failed.send.signal);
    lane.queued.delete(failed.send.signal);
    const head = newer ? merge(failed, newer) : failed;
    lane.queued = new Map([[failed.send.signal, head], ...lane.queued]);
  }

  private setAnswering(answering: boolean, err?: unknown): void {
    if (answering) this.answers++;
    if (answering === this.answering) return;
    this.answering = answering;
    if (answering) {
      // Temporal is back: every lane waiting out its back-off tries now.
      this.wake.abort();
      this.wake = manyListeners();
    }
    this.opts.onAnsweringChanged?.(answering, err);
  }
}
