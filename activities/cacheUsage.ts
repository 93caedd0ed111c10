import { log } from '@temporalio/activity';
import { API_GROUP_VERSION, FIELD_MANAGERS, LABELS } from '../schemas/constants.js';
import { DEFAULT_SHARED_CACHE_TTL, lastUsedIsStale, parseDuration } from '../domain/cacheTtl.js';
import type { ActivityContext } from './context.js';
import { RESOURCES } from './kube/resources.js';
import { toKubeError } from './kube/errors.js';

/**
 * The field manager of `status.lastUsed` on AIMModelCaches, and only of that field. Why not `aim-orchestrator`:
 * the cache workflow applies the whole status it owns under `aim-orchestrator` on every write, and server-side apply
 * removes a field that a manager owned and stops sending. If lastUsed shared that manager, every cache status write
 * would have to carry it (and, applied with force from a value read a moment earlier, could set it back in time).
 * Under its own manager it is never touched by the cache workflow's writes, and never removed by them.
 */
export const USAGE_FIELD_MANAGER = FIELD_MANAGERS.usage;

/** A cache as the service read it: enough to tell whether it is Shared and when it was last marked as used. */
export interface UsedCache {
  metadata: { name: string; uid?: string; labels?: Record<string, string> };
  status?: { lastUsed?: string };
}

/**
 * Marks the Shared caches a service lists as used now (spec 4: "its workflow writes `status.lastUsed` meanwhile").
 * Writes only where the stored value is older than the refresh interval (a tenth of the TTL, at most 5 minutes), so a
 * busy service does not write on every pass. Best effort: a cache that is gone or was re-created is skipped, and a
 * failed write is logged and never fails the service's pass. Returns the names written.
 */
export async function markSharedCachesUsed(
  ctx: ActivityContext,
  namespace: string,
  caches: Array<UsedCache | undefined>,
  now: Date = new Date(),
): Promise<string[]> {
  const ttl = ctx.settings.sharedCacheTtlSeconds ?? parseDuration(DEFAULT_SHARED_CACHE_TTL);
  const written: string[] = [];
  for (const c of caches) {
    if (!c || c.metadata.labels?.[LABELS.cacheMode] !== 'shared') continue;
    if (!lastUsedIsStale(c.status?.lastUsed, now, ttl)) continue;
    try {
      await ctx.objects.applyStatus(
        RESOURCES.AIMModelCache,
        {
          apiVersion: API_GROUP_VERSION,
          kind: 'AIMModelCache',
          // The uid makes the write a precondition: a cache deleted and re-created meanwhile is not touched.
          metadata: { name: c.metadata.name, namespace, ...(c.metadata.uid ? { uid: c.metadata.uid } : {}) },
          status: { lastUsed: now.toISOString() },
        } as never,
        { fieldManager: USAGE_FIELD_MANAGER },
      );
      written.push(c.metadata.name);
    } catch (err) {
      const e = toKubeError(err);
      if (e.kind === 'NotFound' || e.kind === 'Conflict') continue;
      log.warn('could not mark a Shared cache as used', { namespace, cache: c.metadata.name, reason: e.kind });
    }
  }
  return written;
}
