import type { KubeConfig } from '@kubernetes/client-node';
import { cacheActivities } from './caches.js';
import { clusterActivities } from './cluster.js';
import { createContext, type WorkerSettings } from './context.js';
import type { WorkflowNudger } from './nudges.js';
import type { ClusterReadCache } from './kube/readCache.js';
import { jobActivities } from './jobs.js';
import { modelActivities } from './models.js';
import { modelStatusActivities } from './modelStatus.js';
import { secretActivities } from './secrets.js';
import { serviceActivities } from './services.js';
import { serviceCacheWaitActivities } from './serviceCacheWait.js';
import { submitActivities } from './submit.js';
import { sweeperActivities } from './sweeper.js';
import { templateActivities } from './templates.js';
import { timingActivities } from './timing.js';

/** Every activity the worker registers, bound to one Kubernetes client configuration. */
export function createActivities(
  kc: KubeConfig,
  settings?: WorkerSettings,
  nudger?: WorkflowNudger,
  reads?: ClusterReadCache,
) {
  const ctx = createContext(kc, settings, nudger, reads);
  return {
    ...clusterActivities(kc),
    ...secretActivities(ctx),
    ...jobActivities(ctx),
    ...modelActivities(ctx),
    ...modelStatusActivities(ctx),
    ...templateActivities(ctx),
    ...cacheActivities(ctx),
    ...serviceActivities(ctx),
    ...serviceCacheWaitActivities(ctx),
    ...submitActivities(ctx),
    ...sweeperActivities(ctx),
    ...timingActivities(ctx),
  };
}

export type Activities = ReturnType<typeof createActivities>;
/** The activities the model workflow uses (its proxy is typed with these). */
export type ModelActivities = Activities;
