import type { Client } from '@temporalio/client';
import { changedSignal, workflowIdFor } from '../workflows/signals.js';

export type NudgeKind =
  'AIMModel' | 'AIMClusterModel' | 'AIMServiceTemplate' | 'AIMClusterServiceTemplate' | 'AIMModelCache' | 'AIMService';

/**
 * Cross-object work goes through signal-with-start of the other object's own workflow (spec 5.0): never a child
 * workflow, which would collide with a run the bridge already started. The signal is a nudge: "look again".
 */
export interface WorkflowNudger {
  nudge(kind: NudgeKind, name: string, namespace?: string): Promise<void>;
}

export function temporalNudger(client: Client, taskQueue: string): WorkflowNudger {
  return {
    async nudge(kind, name, namespace) {
      const base = {
        workflowId: workflowIdFor(kind, name, namespace),
        taskQueue,
        signal: changedSignal,
        signalArgs: [{ uid: '' }] as [{ uid: string }],
      };
      const ns = namespace ? { namespace } : {};
      // Workflow types by name: activity code never imports workflow modules.
      const [type, args] =
        kind === 'AIMModel' || kind === 'AIMClusterModel'
          ? ['modelLifecycle', [{ kind, name, ...ns }]]
          : kind === 'AIMModelCache'
            ? ['cacheLifecycle', [{ name, namespace }]]
            : kind === 'AIMService'
              ? ['serviceLifecycle', [{ name, namespace }]]
              : ['templateLifecycle', [{ kind, name, ...ns }]];
      await client.workflow.signalWithStart(type, { ...base, args });
    },
  };
}
