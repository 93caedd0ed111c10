import { describe, expect, it } from 'vitest';
import {
  cacheKey,
  decideSharedCacheExpiry,
  DurationError,
  formatDuration,
  lastUsedIsStale,
  lastUsedRefreshSeconds,
  parseDuration,
  sharedCacheTtlFromEnv,
  sweepIntervalSeconds,
  type CacheUsage,
} from '../../domain/cacheTtl.js';
import { settingsFromEnv } from '../../activities/context.js';
import { ensureCacheSweeperFromEnv } from '../../worker/sweeper.js';

describe('parseDuration (Go-style, for AIM_SHARED_CACHE_TTL)', () => {
  it.each([
    ['168h', 168 * 3600],
    ['30m', 1800],
    ['90s', 90],
    ['1h30m', 5400],
    ['2h45m30s', 9930],
    ['1.5h', 5400],
    ['.5m', 30],
    ['500ms', 0.5],
    ['1m500ms', 60.5],
    ['+2s', 2],
    [' 10m ', 600],
    ['0', 0],
    ['0s', 0],
    ['0h0m', 0],
  ])('reads %j as %d s', (text, seconds) => {
    expect(parseDuration(text)).toBeCloseTo(seconds, 9);
  });

  it.each([
    ['', 'empty'],
    ['7d', 'cannot read "7d"'],
    ['10', 'cannot read "10"'],
    ['-1h', 'negative'],
    ['h', 'cannot read "h"'],
    ['1h 30m', 'cannot read " 30m"'],
    ['1hour', 'cannot read "our"'],
    ['+', 'no number'],
    ['1e3s', 'cannot read "1e3s"'],
  ])('refuses %j (%s)', (text, why) => {
    expect(() => parseDuration(text)).toThrow(DurationError);
    expect(() => parseDuration(text)).toThrow(why);
    expect(() => parseDuration(text)).toThrow('e.g. 168h, 30m, 90s');
  });
});

describe('sharedCacheTtlFromEnv', () => {
  it('defaults to 168h when unset or empty', () => {
    expect(sharedCacheTtlFromEnv({})).toBe(168 * 3600);
    expect(sharedCacheTtlFromEnv({ AIM_SHARED_CACHE_TTL: '  ' })).toBe(168 * 3600);
  });

  it('reads 0 as never and a value as given', () => {
    expect(sharedCacheTtlFromEnv({ AIM_SHARED_CACHE_TTL: '0' })).toBe(0);
    expect(sharedCacheTtlFromEnv({ AIM_SHARED_CACHE_TTL: '24h' })).toBe(86400);
  });

  it('names the variable and the bad value', () => {
    expect(() => sharedCacheTtlFromEnv({ AIM_SHARED_CACHE_TTL: '7 days' })).toThrow(
      /^AIM_SHARED_CACHE_TTL: "7 days" is not a duration/,
    );
  });
});

describe('a bad AIM_SHARED_CACHE_TTL stops the worker at start', () => {
  it('in the worker settings (read when the worker is created)', () => {
    expect(() => settingsFromEnv({ AIM_SHARED_CACHE_TTL: '1w' })).toThrow(/^AIM_SHARED_CACHE_TTL: "1w"/);
    expect(settingsFromEnv({ AIM_SHARED_CACHE_TTL: '90m' }).sharedCacheTtlSeconds).toBe(5400);
  });

  it('in the sweeper start, before any connection to Temporal', async () => {
    await expect(
      ensureCacheSweeperFromEnv({ AIM_SHARED_CACHE_TTL: '-5m', TEMPORAL_ADDRESS: '127.0.0.1:1' }),
    ).rejects.toThrow(/^AIM_SHARED_CACHE_TTL: "-5m" is not a duration \(negative\)/);
  });
});

describe('formatDuration', () => {
  it.each([
    [168 * 3600, '168h'],
    [5400, '1h30m'],
    [2, '2s'],
    [0.25, '250ms'],
    [0, '0'],
  ])('%d s is %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
    expect(parseDuration(text)).toBeCloseTo(seconds, 9);
  });
});

describe('lastUsed refresh and sweep interval', () => {
  it.each([
    [168 * 3600, 300],
    [3600, 300],
    [600, 60],
    [2, 1],
    [0, 300],
  ])('TTL %d s: lastUsed is rewritten when older than %d s', (ttl, refresh) => {
    expect(lastUsedRefreshSeconds(ttl)).toBe(refresh);
  });

  const now = new Date('2025-01-01T12:00:00Z');
  it.each([
    [undefined, true],
    ['not a date', true],
    ['2025-01-01T11:59:30Z', false],
    ['2025-01-01T11:55:00Z', true],
    ['2025-01-01T12:10:00Z', true],
  ])('with the default TTL, a stored lastUsed of %j is stale: %s', (lastUsed, stale) => {
    expect(lastUsedIsStale(lastUsed, now, 168 * 3600)).toBe(stale);
  });

  it.each([
    [168 * 3600, 3600],
    [3600, 900],
    [120, 30],
    [2, 10],
  ])('TTL %d s sweeps every %d s', (ttl, every) => {
    expect(sweepIntervalSeconds(ttl)).toBe(every);
  });
});

describe('decideSharedCacheExpiry', () => {
  const now = new Date('2025-01-08T12:00:00Z');
  const day = 86400;
  const ttl = 7 * day;
  const base: CacheUsage = {
    namespace: 'ns',
    name: 'c',
    shared: true,
    owned: false,
    deleting: false,
    creationTimestamp: '2024-12-01T00:00:00Z',
  };
  const decide = (c: Partial<CacheUsage>, listed: string[] = [], ttlSeconds = ttl) =>
    decideSharedCacheExpiry([{ ...base, ...c }], new Set(listed), now, ttlSeconds)[0]!;

  it('deletes an unlisted Shared cache last used longer ago than the TTL', () => {
    const d = decide({ lastUsed: '2025-01-01T11:59:59Z' });
    expect(d).toMatchObject({ action: 'delete', reason: 'Expired', idleSince: '2025-01-01T11:59:59Z' });
    expect(d.message).toContain('TTL 168h');
  });

  it('deletes a never-used one by its creation time', () => {
    expect(decide({})).toMatchObject({ action: 'delete', idleSince: '2024-12-01T00:00:00Z' });
    expect(decide({}).message).toContain('its creation');
  });

  it('counts exactly the TTL as expired and a second less as not', () => {
    expect(decide({ lastUsed: '2025-01-01T12:00:00Z' }).action).toBe('delete');
    expect(decide({ lastUsed: '2025-01-01T12:00:01Z' })).toMatchObject({ action: 'keep', reason: 'NotExpired' });
  });

  it('keeps a recently created, never-used one', () => {
    expect(decide({ creationTimestamp: '2025-01-08T11:00:00Z' })).toMatchObject({
      action: 'keep',
      reason: 'NotExpired',
    });
  });

  it('goes by lastUsed when there is one, and by creation when it is unreadable', () => {
    expect(decide({ creationTimestamp: '2025-01-08T11:00:00Z', lastUsed: '2024-12-01T00:00:00Z' }).action).toBe(
      'delete',
    );
    expect(decide({ creationTimestamp: '2025-01-08T11:00:00Z', lastUsed: 'garbage' }).action).toBe('keep');
  });

  it.each<[string, Partial<CacheUsage>, string[], number, string]>([
    ['listed by a service in its namespace', { lastUsed: '2024-01-01T00:00:00Z' }, ['ns/c'], ttl, 'Listed'],
    ['a Dedicated cache', { shared: false }, [], ttl, 'NotShared'],
    ['an owned cache labelled shared', { owned: true }, [], ttl, 'Owned'],
    ['one already being deleted', { deleting: true }, [], ttl, 'Deleting'],
    ['anything with TTL 0', { lastUsed: '2000-01-01T00:00:00Z' }, [], 0, 'NeverExpires'],
  ])('keeps %s', (_what, c, listed, ttlSeconds, reason) => {
    expect(decide(c, listed, ttlSeconds)).toMatchObject({ action: 'keep', reason });
  });

  it('matches the listed set by namespace and name', () => {
    expect(decide({}, ['other/c']).action).toBe('delete');
    expect(cacheKey('ns', 'c')).toBe('ns/c');
  });

  it('returns one decision per cache, in order', () => {
    const out = decideSharedCacheExpiry(
      [
        { ...base, name: 'a' },
        { ...base, name: 'b', shared: false },
        { ...base, name: 'c', lastUsed: '2025-01-08T00:00:00Z' },
      ],
      new Set(),
      now,
      ttl,
    );
    expect(out.map((d) => [d.name, d.action])).toEqual([
      ['a', 'delete'],
      ['b', 'keep'],
      ['c', 'keep'],
    ]);
  });
});
