import type { KubeConfig } from '@kubernetes/client-node';
import { clusterActivities } from './cluster.js';

/** Every activity the worker registers, bound to one Kubernetes client configuration. */
export function createActivities(kc: KubeConfig) {
  return {
    ...clusterActivities(kc),
  };
}

export type Activities = ReturnType<typeof createActivities>;
