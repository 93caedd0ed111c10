import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { API_GROUP_VERSION, FIELD_MANAGERS } from '../schemas/constants.js';
import { formatBytes } from '../schemas/quantity.js';
import type { AIMModelCacheProgress } from '../schemas/types.js';

/** Bytes under a directory, partial files included: what is really on the volume is the only honest progress. */
export async function bytesOnDisk(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await bytesOnDisk(p);
    else if (e.isFile()) total += (await stat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** `45% 1.2 GiB/2.6 GiB 85 MiB/s ETA 17s` */
export function progressSnapshot(
  downloaded: number,
  total: number | undefined,
  bytesPerSecond: number,
): AIMModelCacheProgress {
  const percent = total ? Math.min(100, Math.floor((downloaded / total) * 1000) / 10) : undefined;
  const eta = total && bytesPerSecond > 0 ? Math.max(0, Math.round((total - downloaded) / bytesPerSecond)) : undefined;
  const display = [
    percent !== undefined ? `${percent}%` : undefined,
    total ? `${formatBytes(downloaded)}/${formatBytes(total)}` : formatBytes(downloaded),
    `${formatBytes(Math.round(bytesPerSecond))}/s`,
    eta !== undefined ? `ETA ${formatDuration(eta)}` : undefined,
  ]
    .filter(Boolean)
    .join(' ');
  return {
    downloadedBytes: downloaded,
    ...(total ? { totalBytes: total } : {}),
    ...(percent !== undefined ? { percent } : {}),
    bytesPerSecond: Math.round(bytesPerSecond),
    ...(eta !== undefined ? { etaSeconds: eta } : {}),
    display,
  };
}

export type ProgressSink = (p: AIMModelCacheProgress) => Promise<void>;

/**
 * The Kubernetes client and the kinds' schemas, loaded only by a downloader that reports progress: importing them
 * costs about a second of start-up on a busy node, which a download without a cache to report to need not pay.
 */
async function statusWriter(): Promise<
  (cache: { name: string; namespace: string }, p: AIMModelCacheProgress) => Promise<void>
> {
  const [{ loadKubeConfig }, { CustomObjects }, { RESOURCES }] = await Promise.all([
    import('../activities/kube/config.js'),
    import('../activities/kube/customObjects.js'),
    import('../activities/kube/resources.js'),
  ]);
  const objects = new CustomObjects(loadKubeConfig());
  return async (cache, progress) => {
    await objects.applyStatus(
      RESOURCES.AIMModelCache,
      {
        apiVersion: API_GROUP_VERSION,
        kind: 'AIMModelCache',
        metadata: { name: cache.name, namespace: cache.namespace },
        status: { progress },
      } as never,
      { fieldManager: FIELD_MANAGERS.downloader },
    );
  };
}

/**
 * Writes `status.progress` of the cache with server-side apply under field manager `aim-downloader`: the per-cache
 * Role allows exactly this. A failed write (or a client that cannot be set up) is logged once and never fails the
 * download. The client loads in the background from the start, beside the listing.
 */
export function cacheStatusSink(cache: { name: string; namespace: string }): ProgressSink {
  const writer = statusWriter();
  writer.catch(() => undefined); // reported by the first write
  let warned = false;
  return async (progress) => {
    try {
      await (
        await writer
      )(cache, progress);
    } catch (err) {
      if (!warned)
        console.error(`progress: cannot write status of ${cache.namespace}/${cache.name}: ${(err as Error).message}`);
      warned = true;
    }
  };
}

/**
 * How often progress is patched into the cache (spec 5.4 step 4: at most every 5 s). `AIM_PROGRESS_INTERVAL_MS` in
 * the Job's environment changes it (from 100 ms), for tests that compress an hours-long download into minutes.
 */
export const PROGRESS_INTERVAL_MS = progressIntervalFromEnv(process.env);

export function progressIntervalFromEnv(env: Record<string, string | undefined>): number {
  const ms = Number(env.AIM_PROGRESS_INTERVAL_MS ?? '');
  return Number.isFinite(ms) && ms >= 100 ? ms : 5_000;
}
