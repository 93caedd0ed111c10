import { SettingError } from '../../domain/timing.js';

export const READ_CACHE_ENV = 'AIM_READ_CACHE';

/** `AIM_READ_CACHE`: `on` (default) or `off` (every read goes to the API server, as before issue 15). */
export function readCacheFromEnv(env: Record<string, string | undefined>): boolean {
  const text = env[READ_CACHE_ENV]?.trim().toLowerCase() || 'on';
  if (text !== 'on' && text !== 'off')
    throw new SettingError(`${READ_CACHE_ENV}: ${JSON.stringify(text)} is not on or off`);
  return text === 'on';
}
