import { SettingError } from '../../domain/timing.js';

export const READ_CACHE_ENV = 'AIM_READ_CACHE';

/**
 * `AIM_READ_CACHE`: `off` (default: every read goes to the API server) or `on` (dependencies from watch-backed caches).
 * Off by default until a stall seen once in the full suite is understood: a worker whose cached reads all waited out
 * their read-your-writes floor (1.5 s each, as if its watches delivered nothing) and whose services then waited on an
 * InferenceService readiness its memory never showed (test/e2e/acceptance-regressions.test.ts, "three services").
 */
export function readCacheFromEnv(env: Record<string, string | undefined>): boolean {
  const text = env[READ_CACHE_ENV]?.trim().toLowerCase() || 'off';
  if (text !== 'on' && text !== 'off')
    throw new SettingError(`${READ_CACHE_ENV}: ${JSON.stringify(text)} is not on or off`);
  return text === 'on';
}
