// What a worker process held when it was killed: read from the server's view of the lane's workflow runs
// (DescribeWorkflowExecution), which keeps an attempt open until its timeout — so a read right after the SIGKILL
// shows exactly what the dead process had started and not finished. Activities carry the identity of the worker that
// started them (`<pid>@<host>`, the SDK's default), which ties them to the killed process; a workflow task carries
// only its start time, so it counts when it started after that process did. The service's steps are local
// activities: they run inside its workflow task, so for it a started workflow task is its steps in flight.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';

type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;

/** `PENDING_ACTIVITY_STATE_STARTED` and `PENDING_WORKFLOW_TASK_STATE_STARTED` of temporal.api.enums.v1 (both 2). */
const ACTIVITY_STARTED = 2;
const WORKFLOW_TASK_STARTED = 2;

const toMs = (t: Timestamp): number => (t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0);

export interface HeldWork {
  workflowId: string;
  kind: 'activity' | 'workflowTask';
  /** The activity type (activities only). */
  type?: string;
  attempt: number;
  startedAtMs: number;
}

/** The worker process that may hold work: its pid (for activity identities) and when it started. */
export interface Holder {
  pid: number;
  startedAtMs: number;
}

export const describeHeld = (w: HeldWork): string =>
  `${w.kind === 'activity' ? `${w.type}` : 'workflow task'} (${w.workflowId.split('/')[1]!.replace(/^AIM/, '')})`;

/** Every activity and workflow task of these runs that `holder` started and has not completed, failed or timed out. */
export async function heldWork(client: Client, workflowIds: readonly string[], holder: Holder): Promise<HeldWork[]> {
  const described = await Promise.all(
    workflowIds.map(
      (workflowId) =>
        client.workflowService
          .describeWorkflowExecution({ namespace: client.options.namespace, execution: { workflowId } })
          .then((res) => ({ workflowId, res }))
          .catch(() => undefined), // not started yet
    ),
  );
  const held: HeldWork[] = [];
  for (const d of described) {
    if (!d) continue;
    const { workflowId, res } = d;
    for (const a of res.pendingActivities ?? []) {
      if (a.state !== ACTIVITY_STARTED) continue;
      if (!a.lastWorkerIdentity?.startsWith(`${holder.pid}@`)) continue;
      held.push({
        workflowId,
        kind: 'activity',
        type: a.activityType?.name ?? '?',
        attempt: a.attempt ?? 1,
        startedAtMs: toMs(a.lastStartedTime),
      });
    }
    const wft = res.pendingWorkflowTask;
    if (wft?.state === WORKFLOW_TASK_STARTED && toMs(wft.startedTime) >= holder.startedAtMs)
      held.push({ workflowId, kind: 'workflowTask', attempt: wft.attempt ?? 1, startedAtMs: toMs(wft.startedTime) });
  }
  return held;
}

/**
 * Polls until `holder` holds work that `accept` accepts (every 20 ms: the server records a start as the task is
 * handed out, and the shortest steps take tens of milliseconds); undefined after `timeoutMs`.
 */
export async function waitForHeldWork(
  client: Client,
  workflowIds: () => Promise<readonly string[]>,
  holder: Holder,
  accept: (w: HeldWork) => boolean,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<HeldWork[] | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !signal.aborted) {
    const held = (await heldWork(client, await workflowIds(), holder)).filter(accept);
    if (held.length > 0) return held;
    await sleep(20, undefined, { signal }).catch(() => undefined);
  }
  return undefined;
}
