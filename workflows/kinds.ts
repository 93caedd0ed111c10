import { workflowIdFor } from './signals.js';

/**
 * The kinds that have a workflow of their own and the workflow type that drives each (spec 5.0): the one table that
 * the bridge, the activities' nudges and the SDK start workflows from. Types are named, never imported, so that
 * callers outside the workflow bundle do not load workflow code.
 */
export const WORKFLOW_TYPE_OF_KIND = {
  AIMModel: 'modelLifecycle',
  AIMClusterModel: 'modelLifecycle',
  AIMServiceTemplate: 'templateLifecycle',
  AIMClusterServiceTemplate: 'templateLifecycle',
  AIMModelCache: 'cacheLifecycle',
  AIMService: 'serviceLifecycle',
} as const;

export type LifecycleKind = keyof typeof WORKFLOW_TYPE_OF_KIND;

export interface LifecycleStart {
  workflowId: string;
  workflowType: (typeof WORKFLOW_TYPE_OF_KIND)[LifecycleKind];
  /** The start input: models and templates carry their kind (one type drives both scopes); caches and services not. */
  args: [{ kind?: LifecycleKind; name: string; namespace?: string }];
}

/** Workflow ID, type and start input of an object's own workflow. */
export function lifecycleStart(kind: LifecycleKind, name: string, namespace?: string): LifecycleStart {
  const workflowType = WORKFLOW_TYPE_OF_KIND[kind];
  const ns = namespace ? { namespace } : {};
  const withKind = workflowType === 'modelLifecycle' || workflowType === 'templateLifecycle';
  return {
    workflowId: workflowIdFor(kind, name, namespace),
    workflowType,
    args: [{ ...(withKind ? { kind } : {}), name, ...ns }],
  };
}
