import type { Client } from '@temporalio/client';
import { nudgeWorkflow } from '../client/nudge.js';
import type { LifecycleKind } from '../workflows/kinds.js';

export type NudgeKind = LifecycleKind;

/**
 * Cross-object work goes through signal-with-start of the other object's own workflow (spec 5.0): never a child
 * workflow, which would collide with a run the bridge already started. The signal is a nudge: "look again".
 * `freshUid`: the object's UID when no workflow has reported on it yet, so that a run still bound to a deleted
 * predecessor of the same name is ended first (client/nudge.ts).
 */
export interface WorkflowNudger {
  nudge(kind: NudgeKind, name: string, namespace?: string, freshUid?: string): Promise<void>;
}

export function temporalNudger(client: Client, taskQueue: string): WorkflowNudger {
  return {
    async nudge(kind, name, namespace, freshUid) {
      await nudgeWorkflow(
        client,
        taskQueue,
        { kind, name, ...(namespace ? { namespace } : {}) },
        'changed',
        { uid: freshUid ?? '' },
        { fresh: Boolean(freshUid) },
      );
    },
  };
}
