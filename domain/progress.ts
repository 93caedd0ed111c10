/**
 * How a service shows its caches' download progress (spec 8): `Qwen/Qwen2-0.5B 45% 1.2 GiB/2.6 GiB …` per cache, and
 * when a new percentage is worth a status write (a change of at least 1 %). Pure, shared by the service workflow and
 * the activity that mirrors progress while the service waits.
 */

export interface CacheProgress {
  name: string;
  modelId: string;
  status: string;
  percent?: number;
  display?: string;
}

export interface ProgressReport<C extends CacheProgress = CacheProgress> {
  caches?: C[];
  progressDisplay?: string;
  conditions: Array<{ type: string; message: string }>;
}

/** `Qwen/Qwen2-0.5B 45% 1.2 GiB/2.6 GiB …` per cache, or their states. */
export function progressLine(caches: CacheProgress[]): string {
  return (
    caches.map((c) => (c.display ? `${c.modelId} ${c.display}` : `${c.modelId} ${c.status}`)).join('; ') || 'no caches'
  );
}

/** Whether a cache's percentage moved by at least 1 (or appeared) since it was last shown. */
export function percentMoved(shown: number | undefined, now: number | undefined): boolean {
  if (now === undefined) return false;
  return shown === undefined || Math.abs(now - shown) >= 1;
}

/**
 * The report to write when some cache's percentage moved by ≥ 1 % since `shown`: cache percentages and displays,
 * `progressDisplay`, and the conditions that carried the old progress line. Undefined when nothing moved enough.
 */
export function mirroredProgress<C extends CacheProgress, R extends ProgressReport<C>>(
  shown: R,
  live: CacheProgress[],
): R | undefined {
  const before = new Map((shown.caches ?? []).map((c) => [c.name, c]));
  if (!live.some((c) => percentMoved(before.get(c.name)?.percent, c.percent))) return undefined;
  const caches = (shown.caches ?? []).map((c) => {
    const now = live.find((l) => l.name === c.name);
    return {
      ...c,
      ...(now?.percent !== undefined ? { percent: now.percent } : {}),
      ...(now?.display !== undefined ? { display: now.display } : {}),
    };
  });
  const line = progressLine(caches);
  const old = shown.progressDisplay;
  return {
    ...shown,
    caches,
    progressDisplay: line,
    conditions: shown.conditions.map((c) => (old !== undefined && c.message === old ? { ...c, message: line } : c)),
  };
}
