import type { ActivityContext } from '../context.js';
import { directReads } from './directReads.js';
import type { Reads } from './readCache.js';
import { RESOURCES, type ResourceKind } from './resources.js';

/**
 * Where an activity reads a dependency (anything but the object its pass reconciles, which it GETs itself): the
 * worker's read cache (`ctx.reads`, readCache.ts has the consistency rules), or the API server when there is none
 * (pure activity tests, AIM_READ_CACHE=off).
 */
export function readsOf(ctx: ActivityContext): Reads {
  return ctx.reads ?? directReads(ctx);
}

/**
 * The object a pass reconciles, read with an authoritative GET at the pass's start (readCache.ts rule 1). The version
 * it saw becomes a floor: the pass's later reads of the same object (through `readsOf`) come from the cache, never
 * older than this.
 */
export async function readOwn<T extends object>(
  ctx: ActivityContext,
  kind: ResourceKind,
  name: string,
  namespace?: string,
): Promise<T | undefined> {
  const obj = await ctx.objects.get<T>(RESOURCES[kind], name, namespace);
  const rv = (obj as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
  if (obj) ctx.reads?.noteWrite(kind, name, namespace, rv);
  return obj;
}
