import { SettingError } from '../../domain/timing.js';

export const READ_CACHE_ENV = 'AIM_READ_CACHE';

/**
 * `AIM_READ_CACHE`: `on` (default: dependencies from watch-backed caches) or `off` (every read goes to the API server,
 * Job waits poll; the escape hatch). It was off by default until the full suite ran green with it on. A stall seen once there (acceptance-regressions,
 * "three services": every list of a namespace waited out its 1.5 s read-your-writes floor, and two services never
 * passed again after their InferenceServices' Ready) came from two defects of readCache.ts, both fixed: a floor that
 * memory could never show (a write answered after the watch had brought the object's deletion) taxed every later
 * read (rule 4: floors are met by the kind's watch position and bounded), and a pass woken for KServe's Ready read an
 * InferenceService its memory did not show yet and got no other nudge (rule 5: a late change re-nudges the reader).
 */
export function readCacheFromEnv(env: Record<string, string | undefined>): boolean {
  const text = env[READ_CACHE_ENV]?.trim().toLowerCase() || 'on';
  if (text !== 'on' && text !== 'off')
    throw new SettingError(`${READ_CACHE_ENV}: ${JSON.stringify(text)} is not on or off`);
  return text === 'on';
}
