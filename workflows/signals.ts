import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';

/**
 * Signals are nudges only (spec section 5.0): they say "look again" and carry no spec, so anyone who can signal
 * cannot change what the Kubernetes object says. Shared by workflows, the bridge and the client.
 */
export interface Nudge {
  uid: string;
  generation?: number;
  resourceVersion?: string;
}

export const changedSignal = defineSignal<[Nudge]>('changed');
export const retrySignal = defineSignal<[Nudge]>('retry');
export const deletedSignal = defineSignal<[Nudge]>('deleted');
export const dependencyChangedSignal = defineSignal<[Nudge]>('dependencyChanged');

export interface Progress {
  phase: string;
  step: string;
  attempt: number;
  lastFailure?: { type: string; message: string };
  lastSnapshot?: Record<string, unknown>;
}

export const progressQuery = defineQuery<Progress>('progress');

export const TASK_QUEUE = 'aim';

/** `aim/{Kind}/{namespace}/{name}`, or `aim/{Kind}/{name}` for cluster-scoped kinds (spec section 5.0). */
export function workflowIdFor(kind: string, name: string, namespace?: string): string {
  return namespace ? `aim/${kind}/${namespace}/${name}` : `aim/${kind}/${name}`;
}

/** Search attributes (spec 9), registered by the harness, compose and deploy docs as Keyword attributes. */
export const SEARCH_ATTRIBUTES = {
  kind: defineSearchAttributeKey('AimKind', SearchAttributeType.KEYWORD),
  namespace: defineSearchAttributeKey('AimNamespace', SearchAttributeType.KEYWORD),
  name: defineSearchAttributeKey('AimName', SearchAttributeType.KEYWORD),
  modelId: defineSearchAttributeKey('AimModelId', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('AimStatus', SearchAttributeType.KEYWORD),
} as const;
