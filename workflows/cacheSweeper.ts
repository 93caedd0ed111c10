import {
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { SweepResult } from '../activities/sweeper.js';
import { sweepIntervalSeconds } from '../domain/cacheTtl.js';
import { activityFailure } from './proxies.js';

export interface SharedCacheSweeperInput {
  /** AIM_SHARED_CACHE_TTL in seconds; 0 ends the workflow. */
  ttlSeconds: number;
}

/** The last sweep's report, or why it failed (the next one runs on schedule all the same). */
export type LastSweep = SweepResult | { at?: undefined; failure: { type: string; message: string } };

/** A new TTL from a (re)started worker: takes effect at once, and 0 stops the sweeper. */
export const sweeperTtlSignal = defineSignal<[number]>('sweeperTtl');
export const lastSweepQuery = defineQuery<LastSweep | undefined>('lastSweep');

/** One sweeper per task queue (that is, per orchestrator deployment), under a fixed ID. */
export function sharedCacheSweeperId(taskQueue: string): string {
  return `aim-shared-cache-sweeper/${taskQueue}`;
}

// A sweep lists every cache and service in the cluster: allow it more than the 1 minute of routine calls.
const { sweepSharedCaches } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: {
    maximumAttempts: 5,
    initialInterval: '5 seconds',
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: ['OrchestratorForbidden'],
  },
});

/**
 * Deletes Shared caches that no AIMService has listed for the TTL (spec section 4): sweep, wait a quarter of the TTL
 * (10 s to 1 hour), again; continue-as-new when the history grows. A failed sweep is kept for the `lastSweep` query
 * and never ends the workflow.
 */
export async function sharedCacheSweeper(input: SharedCacheSweeperInput): Promise<void> {
  let ttlSeconds = input.ttlSeconds;
  let changed = false;
  let last: LastSweep | undefined;
  setHandler(sweeperTtlSignal, (ttl) => {
    if (ttl === ttlSeconds) return;
    ttlSeconds = ttl;
    changed = true;
  });
  setHandler(lastSweepQuery, () => last);

  while (ttlSeconds > 0) {
    changed = false;
    try {
      last = await sweepSharedCaches({ ttlSeconds });
    } catch (err) {
      last = { failure: activityFailure(err) };
    }
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof sharedCacheSweeper>({ ttlSeconds });
    await condition(() => changed, sweepIntervalSeconds(ttlSeconds) * 1000);
  }
}
