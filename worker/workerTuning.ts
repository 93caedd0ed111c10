import type { WorkerOptions } from '@temporalio/worker';
import { SettingError } from '../domain/timing.js';

export const MAX_CACHED_WORKFLOWS_ENV = 'AIM_MAX_CACHED_WORKFLOWS';

/**
 * `AIM_MAX_CACHED_WORKFLOWS`: how many workflows the worker keeps in its sticky cache (WorkerOptions
 * `maxCachedWorkflows`). Unset: the SDK's default, 600 per GiB of the V8 heap limit above 200 MiB (about 2,300 with
 * Node's default limit on a 24 GiB machine): every lifecycle of a fleet stays cached, ~0.7 MiB each. A smaller number
 * bounds the worker's memory; a workflow evicted from it replays its history on its next task (a service's is ~80
 * events at Running), which costs CPU only when that object changes or re-checks. Measured (bench/fleet.ts, 1,000
 * services applied at once): with every workflow cached the worker peaked at 1,068 MiB and all were created in 549 s;
 * capped at 750 it peaked at 871 MiB but took 955 s, the evicted passes replaying. So the default stays the SDK's:
 * size the worker's memory limit for its objects (~0.7 MiB each above ~340 MiB), or cap the cache when memory is the
 * scarcer resource.
 */
export function workerTuningFromEnv(
  env: Record<string, string | undefined>,
): Pick<WorkerOptions, 'maxCachedWorkflows'> {
  const text = env[MAX_CACHED_WORKFLOWS_ENV]?.trim();
  if (!text) return {};
  const n = Number(text);
  // The SDK refuses 1 (and silently turns it into 2): 0 turns the cache off, anything else holds at least two.
  if (!Number.isInteger(n) || n < 0 || n === 1)
    throw new SettingError(
      `${MAX_CACHED_WORKFLOWS_ENV}: ${JSON.stringify(text)} is not 0 (no cache) or a whole number ≥ 2`,
    );
  return { maxCachedWorkflows: n };
}
