/**
 * The download container's memory (spec 6 leaves it to the operator): a worker setting, as the image is, because the
 * downloader's footprint depends on the tools and the host, not on the model. An OOMKilled download (spec 7) is fixed
 * by raising `AIM_DOWNLOADER_MEMORY_LIMIT` and rolling the worker; the next attempt gets the new limit and resumes.
 * Pure (imported by the Job builder and the worker's settings).
 */
import { compareQuantities, isPositiveQuantity, isQuantity } from '../schemas/quantity.js';
import { SettingError } from './timing.js';

export const DOWNLOADER_MEMORY_LIMIT_ENV = 'AIM_DOWNLOADER_MEMORY_LIMIT';
/** Enough for `hf` with Xet on large shards; s5cmd and the Node.js entry point need far less. */
export const DEFAULT_DOWNLOAD_MEMORY_LIMIT = '4Gi';
/** The probe only lists metadata. */
export const PROBE_MEMORY_LIMIT = '512Mi';
const MEMORY_REQUEST = '256Mi';

/** `AIM_DOWNLOADER_MEMORY_LIMIT` (a Kubernetes quantity, e.g. `4Gi`), default 4Gi; a bad value names the variable. */
export function downloadMemoryLimitFromEnv(env: Record<string, string | undefined>): string {
  const text = env[DOWNLOADER_MEMORY_LIMIT_ENV]?.trim() || DEFAULT_DOWNLOAD_MEMORY_LIMIT;
  if (!isQuantity(text) || !isPositiveQuantity(text))
    throw new SettingError(
      `${DOWNLOADER_MEMORY_LIMIT_ENV}: ${JSON.stringify(text)} is not a memory quantity above 0 (e.g. 4Gi, 512Mi)`,
    );
  return text;
}

/** Requests and limits of a downloader container: the request never exceeds the limit (the API server refuses it). */
export function downloaderMemory(limit: string): { request: string; limit: string } {
  return { request: compareQuantities(limit, MEMORY_REQUEST) < 0 ? limit : MEMORY_REQUEST, limit };
}
