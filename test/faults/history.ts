// Reading workflow histories for fault tests: follow one as it grows (the long-poll history API), wait for the n-th
// occurrence of an activity event (a kill point), and summarise what a finished run went through (retries, timeouts,
// workflow-task failures).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';

type HistoryResponse = Awaited<ReturnType<Client['workflowService']['getWorkflowExecutionHistory']>>;
export type HistoryEvent = NonNullable<NonNullable<HistoryResponse['history']>['events']>[number];

/** What a kill point watches for: an activity of a type being scheduled (so: running) or having completed. */
export type ActivityEdge = 'scheduled' | 'completed';

export function eventTimeMs(e: HistoryEvent): number {
  const t = e.eventTime;
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/**
 * Every event of the workflow's current run as it is written, from the first one on; waits (polling) for a workflow
 * that does not exist yet and rides out server restarts. Ends when the run closes or `signal` aborts.
 */
export async function* followHistory(
  client: Client,
  workflowId: string,
  signal: AbortSignal,
): AsyncGenerator<HistoryEvent> {
  let nextPageToken: Uint8Array | undefined;
  while (!signal.aborted) {
    let res: HistoryResponse;
    try {
      res = await client.withAbortSignal(signal, () =>
        client.workflowService.getWorkflowExecutionHistory({
          namespace: client.options.namespace,
          execution: { workflowId },
          ...(nextPageToken ? { nextPageToken } : {}),
          waitNewEvent: true,
        }),
      );
    } catch {
      // NotFound (not started yet), Unavailable (a restart) or the abort: look again shortly.
      await sleep(200, undefined, { signal }).catch(() => undefined);
      continue;
    }
    for (const e of res.history?.events ?? []) yield e;
    if (!res.nextPageToken?.length) return; // the run closed
    nextPageToken = res.nextPageToken;
  }
}

/** The marker the SDK core records for a local activity; its `data` detail is core's own JSON (never encoded). */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/** The activity type of an activity event, resolving completions through their scheduled event. */
export class ActivityIndex {
  private readonly types = new Map<string, string>();

  /**
   * Returns the edge and activity type if `e` is a scheduled or completed activity event. A local activity leaves
   * only a marker, written when the workflow task that ran it completes: that counts as `completed` (`local`).
   */
  classify(e: HistoryEvent): { edge: ActivityEdge; type: string; local?: { attempt: number } } | undefined {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const type = scheduled.activityType?.name ?? '?';
      this.types.set(String(e.eventId), type);
      return { edge: 'scheduled', type };
    }
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed) return { edge: 'completed', type: this.typeOf(completed.scheduledEventId) };
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === LOCAL_ACTIVITY_MARKER) {
      const data = marker.details?.data?.payloads?.[0]?.data;
      const info = data
        ? (JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string; attempt?: number })
        : {};
      return { edge: 'completed', type: info.activity_type ?? '?', local: { attempt: info.attempt ?? 1 } };
    }
    return undefined;
  }

  typeOf(scheduledEventId: unknown): string {
    return this.types.get(String(scheduledEventId)) ?? '?';
  }
}

export interface EdgeSeen {
  /** Server time of the matching event. */
  atMs: number;
  /** It was already in the history when the wait began (`notBeforeMs`): the kill point was passed unseen. */
  early: boolean;
}

/**
 * Resolves when the `nth` (1-based) `edge` of activity `activity` appears in the history of `workflowId` (which may
 * not exist yet). `early` tells whether it happened before `notBeforeMs`.
 */
export async function waitForActivityEdge(
  client: Client,
  workflowId: string,
  activity: string,
  edge: ActivityEdge,
  nth: number,
  notBeforeMs: number,
  signal: AbortSignal,
): Promise<EdgeSeen> {
  const index = new ActivityIndex();
  let seen = 0;
  for await (const e of followHistory(client, workflowId, signal)) {
    const c = index.classify(e);
    if (c?.edge === edge && c.type === activity && ++seen === nth) {
      const atMs = eventTimeMs(e);
      return { atMs, early: atMs < notBeforeMs };
    }
  }
  throw new Error(`${workflowId}: stopped (or the run closed) before ${activity} ${edge} #${nth}`);
}

/** One execution of a (non-local) activity: all its attempts, from scheduling to the closing event. */
export interface ActivityRun {
  type: string;
  scheduledAtMs: number;
  /** When it completed, failed or timed out for good (undefined while open). */
  closedAtMs?: number;
  /** The attempt that closed it (1 = no retry). */
  attempt: number;
  /** Why the attempt before the last one ended: `timeout` (e.g. a killed worker) or the failure's type/message. */
  lastFailure?: string;
}

export interface HistoryFacts {
  workflowId: string;
  events: number;
  /** Workflow tasks that failed (non-determinism, a bug in workflow code): must stay 0. */
  workflowTaskFailures: number;
  /** Workflow tasks that timed out (a worker died holding them), with when they were scheduled. */
  workflowTaskTimeouts: Array<{ atMs: number; scheduledAtMs: number }>;
  activities: ActivityRun[];
  /** Executions that failed for good (retries exhausted or a non-retryable failure). */
  activityFailures: number;
  /** Executions that timed out for good. */
  activityTimeouts: number;
  /** Activity executions per type (scheduled events, and local activities' markers). */
  scheduled: Record<string, number>;
  /** The highest attempt any activity execution (local ones included) needed, and which. */
  maxAttempt: { type: string; attempt: number };
  /** Total activity attempts (sum over executions, local ones included). */
  attempts: number;
  /** Attempts beyond the first (retries after failures or timeouts), summed. */
  retries: number;
  closed: boolean;
}

/** `timeout` for a timeout failure, else the failure's type (or message). */
function failureKind(f: NonNullable<NonNullable<HistoryEvent['activityTaskStartedEventAttributes']>['lastFailure']>) {
  if (f.timeoutFailureInfo) return 'timeout';
  return f.applicationFailureInfo?.type || f.message || 'failure';
}

/** The whole history of the current run of `workflowId`, summarised. */
export async function historyFacts(client: Client, workflowId: string): Promise<HistoryFacts> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = (history.events ?? []) as HistoryEvent[];
  const index = new ActivityIndex();
  const scheduledAt = new Map<string, number>();
  const runs = new Map<string, ActivityRun>();
  const facts: HistoryFacts = {
    workflowId,
    events: events.length,
    workflowTaskFailures: 0,
    workflowTaskTimeouts: [],
    activities: [],
    activityFailures: 0,
    activityTimeouts: 0,
    scheduled: {},
    maxAttempt: { type: '', attempt: 0 },
    attempts: 0,
    retries: 0,
    closed: false,
  };
  const countAttempt = (type: string, attempt: number) => {
    facts.attempts += attempt;
    facts.retries += attempt - 1;
    if (attempt > facts.maxAttempt.attempt) facts.maxAttempt = { type, attempt };
  };
  const close = (scheduledEventId: unknown, e: HistoryEvent) => {
    const run = runs.get(String(scheduledEventId));
    if (run) run.closedAtMs = eventTimeMs(e);
  };
  for (const e of events) {
    const id = String(e.eventId);
    scheduledAt.set(id, eventTimeMs(e));
    const c = index.classify(e);
    if (c?.edge === 'scheduled' || c?.local) facts.scheduled[c.type] = (facts.scheduled[c.type] ?? 0) + 1;
    if (c?.edge === 'scheduled') {
      const run: ActivityRun = { type: c.type, scheduledAtMs: eventTimeMs(e), attempt: 1 };
      runs.set(id, run);
      facts.activities.push(run);
    }
    if (c?.local) countAttempt(c.type, c.local.attempt);
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const run = runs.get(String(started.scheduledEventId));
      const attempt = started.attempt ?? 1;
      countAttempt(run?.type ?? '?', attempt);
      if (run) {
        run.attempt = attempt;
        if (started.lastFailure) run.lastFailure = failureKind(started.lastFailure);
      }
    }
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed) close(completed.scheduledEventId, e);
    const failed = e.activityTaskFailedEventAttributes;
    if (failed) {
      facts.activityFailures += 1;
      close(failed.scheduledEventId, e);
    }
    const timedOut = e.activityTaskTimedOutEventAttributes;
    if (timedOut) {
      facts.activityTimeouts += 1;
      close(timedOut.scheduledEventId, e);
    }
    if (e.workflowTaskFailedEventAttributes) facts.workflowTaskFailures += 1;
    const wft = e.workflowTaskTimedOutEventAttributes;
    if (wft) {
      facts.workflowTaskTimeouts.push({
        atMs: eventTimeMs(e),
        scheduledAtMs: scheduledAt.get(String(wft.scheduledEventId)) ?? 0,
      });
    }
    if (
      e.workflowExecutionCompletedEventAttributes ||
      e.workflowExecutionFailedEventAttributes ||
      e.workflowExecutionTerminatedEventAttributes ||
      e.workflowExecutionContinuedAsNewEventAttributes ||
      e.workflowExecutionTimedOutEventAttributes ||
      e.workflowExecutionCanceledEventAttributes
    )
      facts.closed = true;
  }
  return facts;
}
