/**
 * Shared-cache retention (spec section 4): a Shared cache is kept while any AIMService lists it in `status.caches`,
 * and deleted once no service has listed it for `AIM_SHARED_CACHE_TTL`. Pure: parsing the setting, how often
 * `status.lastUsed` is refreshed, how often the sweeper runs, and which caches one sweep deletes.
 */

export const SHARED_CACHE_TTL_ENV = 'AIM_SHARED_CACHE_TTL';
export const DEFAULT_SHARED_CACHE_TTL = '168h';

/** Seconds per unit, as Go's `time.ParseDuration` names them (no days: Go has none either). */
const UNIT_SECONDS: Record<string, number> = {
  h: 3600,
  m: 60,
  s: 1,
  ms: 1e-3,
  us: 1e-6,
  µs: 1e-6,
  ns: 1e-9,
};
// Longer unit names first, so that `ms` is not read as `m` followed by garbage.
const TERM = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|h|m|s)/y;

export class DurationError extends Error {
  override name = 'DurationError';
}

/**
 * A Go-style duration (`168h`, `30m`, `90s`, `1h30m`, `1.5h`, `500ms`) or `0`, in seconds. Negative values, bare
 * numbers other than 0 and unknown units (`7d`) are refused with a message that says what is accepted.
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  const refuse = (why: string) =>
    new DurationError(
      `${JSON.stringify(text)} is not a duration (${why}): use a number with a unit h, m, s or ms, ` +
        'combined like 1h30m (e.g. 168h, 30m, 90s), or 0 for never',
    );
  if (s === '0') return 0;
  if (!s) throw refuse('empty');
  if (s.startsWith('-')) throw refuse('negative');
  let seconds = 0;
  let at = s.startsWith('+') ? 1 : 0;
  if (at === s.length) throw refuse('no number');
  while (at < s.length) {
    TERM.lastIndex = at;
    const m = TERM.exec(s);
    if (!m) throw refuse(`cannot read ${JSON.stringify(s.slice(at))}`);
    seconds += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
    at = TERM.lastIndex;
  }
  if (!Number.isFinite(seconds)) throw refuse('too large');
  return seconds;
}

/** `AIM_SHARED_CACHE_TTL` from the environment in seconds (default 168h, 0 = never); a bad value names the variable. */
export function sharedCacheTtlFromEnv(env: Record<string, string | undefined>): number {
  const raw = env[SHARED_CACHE_TTL_ENV];
  try {
    return parseDuration(raw === undefined || raw.trim() === '' ? DEFAULT_SHARED_CACHE_TTL : raw);
  } catch (err) {
    throw new DurationError(`${SHARED_CACHE_TTL_ENV}: ${(err as Error).message}`);
  }
}

/** A TTL in seconds, written the way an operator would (`168h`, `1h30m`, `2s`), for Events and reports. */
export function formatDuration(seconds: number): string {
  if (seconds <= 0) return '0';
  let rest = Math.round(seconds * 1000);
  const parts: string[] = [];
  for (const [unit, ms] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / ms);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * ms;
  }
  return parts.join('') || '0';
}

/** The longest a stored `status.lastUsed` is left alone: one write per Shared cache per 5 minutes at most. */
export const LAST_USED_REFRESH_MAX_SECONDS = 300;

/**
 * How old `status.lastUsed` may be before a service's pass writes it again: a tenth of the TTL (so a cache is never
 * deleted more than 10 % late, and never while a service is attaching to it), at least 1 s, at most 5 minutes. With
 * TTL 0 (never delete) the field is informational and refreshed at the longest interval.
 */
export function lastUsedRefreshSeconds(ttlSeconds: number): number {
  if (ttlSeconds <= 0) return LAST_USED_REFRESH_MAX_SECONDS;
  return Math.min(LAST_USED_REFRESH_MAX_SECONDS, Math.max(1, ttlSeconds / 10));
}

/** True when `lastUsed` is missing, unreadable, older than the refresh interval, or in the future (clock skew). */
export function lastUsedIsStale(lastUsed: string | undefined, now: Date, ttlSeconds: number): boolean {
  const t = lastUsed ? Date.parse(lastUsed) : NaN;
  if (Number.isNaN(t)) return true;
  const age = (now.getTime() - t) / 1000;
  return age < 0 || age >= lastUsedRefreshSeconds(ttlSeconds);
}

/** Time between two sweeps: a quarter of the TTL, at least 10 s, at most 1 hour. */
export function sweepIntervalSeconds(ttlSeconds: number): number {
  return Math.min(3600, Math.max(10, ttlSeconds / 4));
}

/** What the sweeper needs to know about one cache (read from its metadata, labels and status). */
export interface CacheUsage {
  namespace: string;
  name: string;
  /** Labelled `aim.silogen.ai/cache-mode: shared`. */
  shared: boolean;
  /** Has owner references (a Dedicated cache is owned by its service; a Shared one has no owner). */
  owned: boolean;
  deleting: boolean;
  creationTimestamp: string;
  lastUsed?: string;
}

export type KeepReason = 'NotShared' | 'Owned' | 'Deleting' | 'Listed' | 'NotExpired' | 'NeverExpires';

export type CacheDecision = { namespace: string; name: string; message: string } & (
  { action: 'delete'; reason: 'Expired'; idleSince: string } | { action: 'keep'; reason: KeepReason }
);

/** `namespace/name`: the key of a cache in the set of caches that services list. */
export const cacheKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/**
 * One sweep's verdict per cache: delete a Shared, unowned cache that no service lists and whose `lastUsed` (or,
 * never used, its creation) is at least `ttlSeconds` old. Everything else is kept, with the reason. A TTL of 0 keeps
 * everything; a Dedicated or owned cache is never deleted here, whatever its labels say about sharing.
 */
export function decideSharedCacheExpiry(
  caches: CacheUsage[],
  listed: ReadonlySet<string>,
  now: Date,
  ttlSeconds: number,
): CacheDecision[] {
  const ttl = formatDuration(ttlSeconds);
  return caches.map((c): CacheDecision => {
    const id = { namespace: c.namespace, name: c.name };
    const keep = (reason: KeepReason, message: string): CacheDecision => ({ ...id, action: 'keep', reason, message });
    if (!c.shared) return keep('NotShared', 'not a Shared cache');
    if (c.owned) return keep('Owned', 'has an owner: deleted with it, not by the TTL');
    if (c.deleting) return keep('Deleting', 'already being deleted');
    if (listed.has(cacheKey(c.namespace, c.name))) return keep('Listed', 'listed in an AIMService status');
    if (ttlSeconds <= 0) return keep('NeverExpires', 'the TTL is 0 (never)');
    const used = c.lastUsed !== undefined && !Number.isNaN(Date.parse(c.lastUsed));
    const idleSince = used ? c.lastUsed! : c.creationTimestamp;
    const idle = (now.getTime() - Date.parse(idleSince)) / 1000;
    if (Number.isNaN(idle) || idle < ttlSeconds)
      return keep('NotExpired', `${used ? 'last used' : 'never used, created'} ${idleSince}; TTL ${ttl}`);
    return {
      ...id,
      action: 'delete',
      reason: 'Expired',
      idleSince,
      message: `no AIMService has listed it since ${idleSince} (${used ? 'its last use' : 'its creation'}); TTL ${ttl}`,
    };
  });
}
