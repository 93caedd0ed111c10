import { BatchV1Api, CoreV1Api, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { CustomObjects } from './kube/customObjects.js';
import { NotedCustomObjects } from './kube/notedWrites.js';
import type { ClusterReadCache } from './kube/readCache.js';
import { readCacheFromEnv } from './kube/readCacheSetting.js';
import type { WorkflowNudger } from './nudges.js';
import { sharedCacheTtlFromEnv } from '../domain/cacheTtl.js';
import { downloadMemoryLimitFromEnv } from '../domain/downloaderMemory.js';
import { timingFromEnv, type LifecycleTiming } from '../domain/timing.js';
import { withRequestTimeout } from './kube/requestTimeout.js';

/** What every activity needs: one set of API clients per worker, and the worker's own settings. */
export interface ActivityContext {
  kc: KubeConfig;
  objects: CustomObjects;
  core: CoreV1Api;
  batch: BatchV1Api;
  rbac: RbacAuthorizationV1Api;
  settings: WorkerSettings;
  /** Signal-with-start of other objects' workflows (set by the worker; absent in pure activity tests). */
  nudger?: WorkflowNudger;
  /**
   * The worker's watch-backed reads (kube/readCache.ts; absent in pure activity tests and with AIM_READ_CACHE=off):
   * activities read dependencies through `readsOf(ctx)`, and writes through `objects` are noted in it.
   */
  reads?: ClusterReadCache;
}

export interface WorkerSettings {
  /** Image of the probe and download Jobs (AIM_DOWNLOADER_IMAGE). */
  downloaderImage: string;
  /** Memory limit of the download containers (AIM_DOWNLOADER_MEMORY_LIMIT; default 4Gi). */
  downloadMemoryLimit?: string;
  /** Namespaces the `submit` workflow may write to (AIM_SUBMIT_NAMESPACES, comma-separated; default none). */
  submitNamespaces?: string[];
  /** AIM_SHARED_CACHE_TTL in seconds (default 168h, 0 = never): how long an unlisted Shared cache is kept (spec 4). */
  sharedCacheTtlSeconds?: number;
  /** The lifecycles' clocks (AIM_TIME_SCALE, AIM_HISTORY_EVENTS_MAX; default DEFAULT_TIMING). */
  timing?: LifecycleTiming;
  /** AIM_READ_CACHE (`on` default, `off`): dependencies read from watch-backed caches (activities/kube/readCache.ts). */
  readCache?: boolean;
}

export const DEFAULT_DOWNLOADER_IMAGE = 'ghcr.io/silogen/aim-downloader:0.1.0';

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  return {
    downloaderImage: env.AIM_DOWNLOADER_IMAGE || DEFAULT_DOWNLOADER_IMAGE,
    downloadMemoryLimit: downloadMemoryLimitFromEnv(env),
    submitNamespaces: (env.AIM_SUBMIT_NAMESPACES ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean),
    // A bad value fails here, at worker start, naming the variable.
    sharedCacheTtlSeconds: sharedCacheTtlFromEnv(env),
    timing: timingFromEnv(env),
    readCache: readCacheFromEnv(env),
  };
}

export function createContext(
  kc: KubeConfig,
  settings: WorkerSettings = settingsFromEnv(),
  nudger?: WorkflowNudger,
  reads?: ClusterReadCache,
): ActivityContext {
  // Every request of an activity is given up after KUBE_REQUEST_TIMEOUT_MS (a hung connection fails the attempt,
  // which is retried, instead of holding it until the activity's own timeout).
  const timed = withRequestTimeout(kc);
  return {
    ...(nudger ? { nudger } : {}),
    ...(reads ? { reads } : {}),
    kc: timed,
    objects: reads ? new NotedCustomObjects(timed, reads) : new CustomObjects(timed),
    core: timed.makeApiClient(CoreV1Api),
    batch: timed.makeApiClient(BatchV1Api),
    rbac: timed.makeApiClient(RbacAuthorizationV1Api),
    settings,
  };
}
