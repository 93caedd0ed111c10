// Where a pod that did not fit waits, as in kube-scheduler's scheduling queue: a failed attempt parks it among the
// unschedulable pods; a cluster change that may let it fit (a pod leaving the node, a claim, volume or class
// changing, the node itself changing) moves every parked pod back, to be tried once its back-off (1 s doubling per
// attempt to 10 s) has passed since its last attempt; a pod parked for 5 minutes is tried again anyway
// (podMaxInUnschedulablePodsDuration), and so is one whose own spec changed (its generation).
//
// Before, every unschedulable pod was tried again every 10 s whether or not anything had changed: with a few hundred
// predictor pods waiting for GPUs, a FailedScheduling Event update per pod every 10 s that no real scheduler writes.
import { backoffDelay } from './backoff.js';

/** kube-scheduler's defaults: pod back-off 1 s → 10 s, unschedulable pods flushed after 5 minutes. */
const BACKOFF_INITIAL_MS = 1000;
const BACKOFF_MAX_MS = 10_000;
const MAX_PARKED_MS = 300_000;

interface Entry {
  attempts: number;
  lastAttemptAt: number;
  parked: boolean;
  /** The pod's generation at its last attempt: a spec update since then re-queues it. */
  generation: string;
}

export class SchedulingQueue {
  private readonly entries = new Map<string, Entry>();

  /** May the scheduler try this pod now? A pod it never failed always. */
  due(uid: string, generation: string, now: number): boolean {
    const e = this.entries.get(uid);
    if (!e) return true;
    if (e.parked && e.generation !== generation) e.parked = false;
    if (e.parked) return now - e.lastAttemptAt >= MAX_PARKED_MS;
    return now - e.lastAttemptAt >= backoffDelay(BACKOFF_INITIAL_MS, BACKOFF_MAX_MS, e.attempts);
  }

  /** The pod did not fit: parked until a change moves it (or the flush). */
  failed(uid: string, generation: string, now: number): void {
    const attempts = (this.entries.get(uid)?.attempts ?? 0) + 1;
    this.entries.set(uid, { attempts, lastAttemptAt: now, parked: true, generation });
  }

  /** A cluster change that may let parked pods fit: each is tried again once its back-off has passed. */
  moveAll(): void {
    for (const e of this.entries.values()) e.parked = false;
  }

  /** Bound, or gone: nothing to remember. */
  forget(uid: string): void {
    this.entries.delete(uid);
  }

  /** Forgets the pods that are no longer in `live`. */
  retain(live: ReadonlySet<string | undefined>): void {
    for (const uid of this.entries.keys()) if (!live.has(uid)) this.entries.delete(uid);
  }

  /** Every pod tried again at once, back-off forgotten (the process kubelet's own node changes and `resume`). */
  clear(): void {
    this.entries.clear();
  }
}
