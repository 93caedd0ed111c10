import type { ActivityContext } from '../context.js';
import { directReads } from './directReads.js';
import type { Reads } from './readCache.js';

/**
 * Where an activity reads a dependency (anything but the object its pass reconciles, which it GETs itself): the
 * worker's read cache (`ctx.reads`, readCache.ts has the consistency rules), or the API server when there is none
 * (pure activity tests, AIM_READ_CACHE=off).
 */
export function readsOf(ctx: ActivityContext): Reads {
  return ctx.reads ?? directReads(ctx);
}
