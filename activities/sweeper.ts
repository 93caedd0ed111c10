import { CustomObjectsApi, type V1OwnerReference } from '@kubernetes/client-node';
import { API_GROUP_VERSION, LABELS } from '../schemas/constants.js';
import {
  cacheKey,
  decideSharedCacheExpiry,
  type CacheDecision,
  type CacheUsage,
  type KeepReason,
} from '../domain/cacheTtl.js';
import type { ActivityContext } from './context.js';
import { readsOf } from './kube/reads.js';
import { emitEvent } from './events.js';
import { toApplicationFailure } from './failures.js';
import { toKubeError } from './kube/errors.js';
import { RESOURCES } from './kube/resources.js';

export interface SweepInput {
  /** AIM_SHARED_CACHE_TTL in seconds; 0 keeps everything. */
  ttlSeconds: number;
}

export interface SweepEntry {
  namespace: string;
  name: string;
  reason: 'Expired' | KeepReason | 'ChangedDuringSweep';
  message: string;
}

/** One sweep, as the workflow's `lastSweep` query shows it. Entry lists are capped; the totals are not. */
export interface SweepResult {
  at: string;
  ttlSeconds: number;
  deleted: SweepEntry[];
  kept: SweepEntry[];
  deletedTotal: number;
  keptTotal: number;
}

/** Entries kept per list in a result (it is recorded in the workflow history on every sweep). */
export const SWEEP_REPORT_LIMIT = 100;
export const SHARED_CACHE_EXPIRED = 'SharedCacheExpired';

interface RawCache {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion?: string;
    creationTimestamp?: Date;
    deletionTimestamp?: Date;
    labels?: Record<string, string>;
    ownerReferences?: V1OwnerReference[];
  };
  status?: { lastUsed?: string };
}

interface RawService {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  status?: { caches?: Array<{ name: string }> };
}

const usageOf = (c: RawCache): CacheUsage => ({
  namespace: c.metadata.namespace,
  name: c.metadata.name,
  shared: c.metadata.labels?.[LABELS.cacheMode] === 'shared',
  owned: (c.metadata.ownerReferences?.length ?? 0) > 0,
  deleting: Boolean(c.metadata.deletionTimestamp),
  creationTimestamp: new Date(c.metadata.creationTimestamp ?? 0).toISOString(),
  ...(c.status?.lastUsed ? { lastUsed: c.status.lastUsed } : {}),
});

const entry = (d: CacheDecision): SweepEntry => ({
  namespace: d.namespace,
  name: d.name,
  reason: d.reason,
  message: d.message,
});

/**
 * The Shared-cache TTL sweep (spec 4): every Shared cache in every namespace that no AIMService lists in
 * `status.caches` and that has not been used for the TTL is deleted, after an Event saying why. A Dedicated or
 * owned cache is never deleted here.
 */
export function sweeperActivities(ctx: ActivityContext) {
  const api = ctx.kc.makeApiClient(CustomObjectsApi);
  const fail = (action: string) => (err: unknown) => {
    throw toApplicationFailure(toKubeError(err), action);
  };

  /**
   * Deletes one cache only if it is still the object that was judged: re-read, judged again, then deleted with
   * uid and resourceVersion preconditions, so a service that marked it used a moment ago (`status.lastUsed`) wins.
   */
  async function expire(
    d: CacheDecision,
    listed: ReadonlySet<string>,
    ttlSeconds: number,
  ): Promise<SweepEntry | undefined> {
    const fresh = await ctx.objects
      .get<RawCache>(RESOURCES.AIMModelCache, d.name, d.namespace)
      .catch(fail(`get cache ${d.name}`));
    if (!fresh) return undefined;
    const [again] = decideSharedCacheExpiry([usageOf(fresh)], listed, new Date(), ttlSeconds);
    if (!again || again.action !== 'delete') return entry(again ?? d);
    const m = fresh.metadata;
    await emitEvent(
      ctx,
      { apiVersion: API_GROUP_VERSION, kind: 'AIMModelCache', name: m.name, namespace: m.namespace, uid: m.uid },
      'Normal',
      SHARED_CACHE_EXPIRED,
      `deleting: ${again.message}`,
    );
    try {
      await api.deleteNamespacedCustomObject({
        group: RESOURCES.AIMModelCache.group,
        version: RESOURCES.AIMModelCache.version,
        plural: RESOURCES.AIMModelCache.plural,
        namespace: m.namespace,
        name: m.name,
        propagationPolicy: 'Background',
        body: { preconditions: { uid: m.uid, ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}) } },
      });
    } catch (err) {
      const e = toKubeError(err);
      if (e.kind === 'Conflict')
        return {
          namespace: m.namespace,
          name: m.name,
          reason: 'ChangedDuringSweep',
          message: 'changed while being swept (used again?): judged again next sweep',
        };
      if (e.kind !== 'NotFound') fail(`delete cache ${m.name}`)(err);
    }
    ctx.reads?.noteDelete('AIMModelCache', m.name, m.namespace);
    return entry(again);
  }

  return {
    async sweepSharedCaches(input: SweepInput): Promise<SweepResult> {
      const now = new Date();
      // Caches first, then services: a service that starts listing a cache after the first list has also marked
      // it used (readServiceCaches runs before its status write), which the re-read in `expire` sees. Both lists
      // may come from the read cache: a deletion is decided again on that direct re-read, under preconditions.
      const caches = await readsOf(ctx)
        .list<RawCache>('AIMModelCache', undefined, `${LABELS.cacheMode}=shared`)
        .catch(fail('list Shared caches'));
      const services = await readsOf(ctx).list<RawService>('AIMService').catch(fail('list services'));
      const listed = new Set(
        services.flatMap((s) => (s.status?.caches ?? []).map((c) => cacheKey(s.metadata.namespace, c.name))),
      );
      const deleted: SweepEntry[] = [];
      const kept: SweepEntry[] = [];
      for (const d of decideSharedCacheExpiry(caches.map(usageOf), listed, now, input.ttlSeconds)) {
        const out = d.action === 'delete' ? await expire(d, listed, input.ttlSeconds) : entry(d);
        if (out) (out.reason === 'Expired' ? deleted : kept).push(out);
      }
      return {
        at: now.toISOString(),
        ttlSeconds: input.ttlSeconds,
        deleted: deleted.slice(0, SWEEP_REPORT_LIMIT),
        kept: kept.slice(0, SWEEP_REPORT_LIMIT),
        deletedTotal: deleted.length,
        keptTotal: kept.length,
      };
    },
  };
}
