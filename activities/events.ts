import { randomBytes } from 'node:crypto';
import { MANAGED_BY } from '../schemas/constants.js';
import type { Condition } from '../schemas/types.js';
import { conditionTransitions, eventsOf } from '../domain/status.js';
import type { ActivityContext } from './context.js';

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid: string;
}

/**
 * Records a Kubernetes Event on an object (condition transitions, not progress ticks). Events of cluster-scoped
 * objects go to `default`, as kubectl looks for them there. Best effort: an Event that cannot be written never fails
 * the step that caused it.
 */
export async function emitEvent(
  ctx: ActivityContext,
  obj: InvolvedObject,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
): Promise<void> {
  const namespace = obj.namespace ?? 'default';
  const now = new Date();
  try {
    await ctx.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { name: `${obj.name}.${now.getTime().toString(16)}${randomBytes(3).toString('hex')}`, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.name,
          namespace: obj.namespace,
          uid: obj.uid,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: MANAGED_BY },
        reportingComponent: MANAGED_BY,
        reportingInstance: MANAGED_BY,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  } catch {
    // Events are for people; losing one must not fail the lifecycle.
  }
}

/** One Event per distinct condition transition (spec 8: transitions, not progress ticks); Warnings for problems only. */
export async function emitTransitions(
  ctx: ActivityContext,
  obj: InvolvedObject,
  before: Condition[],
  after: Condition[],
): Promise<void> {
  for (const tr of eventsOf(conditionTransitions(before, after))) {
    await emitEvent(ctx, obj, tr.eventType, tr.reason, tr.message);
  }
}
