import { Context, heartbeat } from '@temporalio/activity';
import { mirroredProgress } from '../domain/progress.js';
import type { ActivityContext } from './context.js';
import { readCacheViews, writeServiceStatus, type ServiceRef, type ServiceReport } from './serviceStatus.js';

export interface CacheWaitArgs {
  service: ServiceRef;
  uid: string;
  generation: number;
  /** What the service's last pass reported (its `caches` are the baseline of states and percentages). */
  report: ServiceReport;
  /** Mirror progress into the service's status at most this often, and only on a change of ≥ 1 % (spec 8). */
  mirrorEverySeconds: number;
  /** Give back after this long even when nothing changed (the workflow then runs a pass). */
  maxSeconds: number;
}

/** How often the caches are read while waiting. */
const READ_EVERY_MS = 2000;
const HEARTBEAT_EVERY_MS = 10_000;

export function serviceCacheWaitActivities(ctx: ActivityContext) {
  return {
    /**
     * A service waiting for its caches (spec 5.3 step 5) without a workflow pass per progress tick: this activity
     * mirrors download progress into the service's status and returns `changed` as soon as a cache's state (not its
     * progress) differs from the last pass's, or `quiet` after `maxSeconds`. It heartbeats, so the workflow can cancel
     * it when a nudge arrives. One activity per wait instead of one pass per 5-second progress patch keeps the
     * service's history bounded over an hours-long download.
     */
    async waitForServiceCaches(args: CacheWaitArgs): Promise<'changed' | 'quiet'> {
      const caches = (args.report.caches ?? []).map((c) => ({ name: c.name, modelId: c.modelId }));
      // A state is the status and the reason: a cache that stays Progressing while an attempt failed (Evicted,
      // OOMKilled, …) is a change the service reports (spec 7), its progress ticks are not.
      const stateOf = (c: { status: string; reason?: string }) => `${c.status}/${c.reason ?? ''}`;
      const baseline = new Map((args.report.caches ?? []).map((c) => [c.name, stateOf(c)]));
      let shown = args.report;
      let lastMirror = Date.now();
      let lastBeat = 0;
      const deadline = Date.now() + args.maxSeconds * 1000;
      for (;;) {
        if (Date.now() - lastBeat >= HEARTBEAT_EVERY_MS) {
          heartbeat();
          lastBeat = Date.now();
        }
        const { views } = await readCacheViews(ctx, args.service.namespace, caches);
        if (views.some((v) => baseline.get(v.name) !== stateOf(v))) return 'changed';
        if (Date.now() - lastMirror >= args.mirrorEverySeconds * 1000) {
          const next = mirroredProgress(shown, views);
          if (next) {
            await writeServiceStatus(ctx, args.service, args.uid, args.generation, next);
            shown = next;
          }
          lastMirror = Date.now();
        }
        if (Date.now() >= deadline) return 'quiet';
        await Context.current().sleep(READ_EVERY_MS);
      }
    },
  };
}
