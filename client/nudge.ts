import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { lifecycleStart, type LifecycleKind } from '../workflows/kinds.js';
import {
  changedSignal,
  deletedSignal,
  dependencyChangedSignal,
  retrySignal,
  type Nudge,
} from '../workflows/signals.js';

export type NudgeSignal = 'changed' | 'retry' | 'deleted' | 'dependencyChanged';

const SIGNALS = {
  changed: changedSignal,
  retry: retrySignal,
  deleted: deletedSignal,
  dependencyChanged: dependencyChangedSignal,
} as const;

export interface NudgeTarget {
  kind: LifecycleKind;
  name: string;
  namespace?: string;
}

export interface NudgeOptions {
  /** Signal-with-start (default) or a plain signal to a running workflow (nothing happens when none runs). */
  start?: boolean;
  /**
   * The nudge is for an object that no workflow has reported on yet (just created, or recreated under the same
   * name). A running workflow bound to another UID is the deleted predecessor's run, which may be deep in a Job
   * watch of minutes: it is terminated first, so that the new object gets a run of its own now (spec 5.0: the UID
   * decides). Costs one describe call, so only for such nudges.
   */
  fresh?: boolean;
}

/**
 * The one way every caller (bridge, activities, SDK) nudges an object's own workflow. Returns the workflow ID, or
 * undefined when a plain signal found no running workflow.
 */
export async function nudgeWorkflow(
  client: Client,
  taskQueue: string,
  target: NudgeTarget,
  signal: NudgeSignal,
  nudge: Nudge,
  opts: NudgeOptions = {},
): Promise<string | undefined> {
  const { workflowId, workflowType, args } = lifecycleStart(target.kind, target.name, target.namespace);
  if (opts.start === false) {
    try {
      await client.workflow.getHandle(workflowId).signal(SIGNALS[signal], nudge);
      return workflowId;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }
  if (opts.fresh && nudge.uid) await endPredecessorRun(client, workflowId, target, nudge.uid);
  await client.workflow.signalWithStart(workflowType, {
    workflowId,
    taskQueue,
    args,
    signal: SIGNALS[signal],
    signalArgs: [nudge],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return workflowId;
}

/** Terminates the running workflow of `workflowId` when its memo binds it to another UID than `uid`. */
async function endPredecessorRun(client: Client, workflowId: string, target: NudgeTarget, uid: string): Promise<void> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    const bound = (d.memo as { uid?: unknown } | undefined)?.uid;
    if (d.status.name !== 'RUNNING' || typeof bound !== 'string' || !bound || bound === uid) return;
    const where = target.namespace ? `${target.namespace}/${target.name}` : target.name;
    // That run only: a run that started for the new object in the meantime is left alone.
    await client.workflow
      .getHandle(workflowId, d.runId)
      .terminate(
        `${target.kind} ${where} was deleted and created again (uid ${bound} → ${uid}); the new object gets a new run`,
      );
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}
