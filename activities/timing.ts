import { DEFAULT_TIMING, type LifecycleTiming } from '../domain/timing.js';
import type { ActivityContext } from './context.js';

export function timingActivities(ctx: ActivityContext) {
  return {
    /** The worker's lifecycle clocks, read once per run (a local activity: one marker, replayed as recorded). */
    async lifecycleTiming(): Promise<LifecycleTiming> {
      return ctx.settings.timing ?? DEFAULT_TIMING;
    },
  };
}
