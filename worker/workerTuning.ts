import { totalmem } from 'node:os';
import type { WorkerOptions } from '@temporalio/worker';
import { SettingError } from '../domain/timing.js';

export const MAX_CACHED_WORKFLOWS_ENV = 'AIM_MAX_CACHED_WORKFLOWS';

/**
 * What the worker needs beside its cached workflows, and what each cached workflow adds (its state in the workflow
 * thread's V8 heap, the Temporal Core SDK's state machines for it): measured with the fleet bench (bench/fleet.ts,
 * docs/operating.md) at 200 and 1,000 services.
 */
export const WORKER_BASE_MIB = 340;
export const MIB_PER_CACHED_WORKFLOW = 0.7;

/** The memory facts the default is sized from: the process's constraint (its container's cgroup) and the machine's. */
export interface MemoryFacts {
  /** process.constrainedMemory(): the cgroup limit; Node 20 says "none" with 2^64, Node 22 with 0. */
  constrainedBytes: number;
  totalBytes: number;
}

export function processMemory(): MemoryFacts {
  return { constrainedBytes: process.constrainedMemory?.() ?? 0, totalBytes: totalmem() };
}

export interface WorkerTuning {
  options: Pick<WorkerOptions, 'maxCachedWorkflows'>;
  /** Where the sticky cache size came from, for the start-up log line. */
  source: string;
}

/**
 * `AIM_MAX_CACHED_WORKFLOWS`: how many workflows the worker keeps in its sticky cache (WorkerOptions
 * `maxCachedWorkflows`); `0` turns it off. A workflow evicted from it replays its history on its next task (a service's
 * is ~80 events at Running): at 1,000 services applied at once a 750-entry cache took 955 s where one holding all
 * took 549 s.
 *
 * Unset, under a memory limit (the Deployment's 1 GiB): sized for that limit, (limit − 340 MiB) / 0.7 MiB, at least
 * 10. Not the SDK's own default, which derives from the V8 heap limit, 600 per GiB above 200 MiB: Node sizes that
 * heap at about half the container's memory, so a 1 GiB worker would have cached ~190 workflows and replayed
 * histories on most tasks beyond ~190 objects. Unset without a limit (a process on a machine): the SDK's default
 * (about 2,300 with Node's heap limit on a 24 GiB machine).
 */
export function workerTuningFromEnv(
  env: Record<string, string | undefined>,
  memory: MemoryFacts = processMemory(),
): WorkerTuning {
  const text = env[MAX_CACHED_WORKFLOWS_ENV]?.trim();
  if (text) {
    const n = Number(text);
    // The SDK refuses 1 (and silently turns it into 2): 0 turns the cache off, anything else holds at least two.
    if (!Number.isInteger(n) || n < 0 || n === 1)
      throw new SettingError(
        `${MAX_CACHED_WORKFLOWS_ENV}: ${JSON.stringify(text)} is not 0 (no cache) or a whole number ≥ 2`,
      );
    return { options: { maxCachedWorkflows: n }, source: MAX_CACHED_WORKFLOWS_ENV };
  }
  const limit = memoryLimitBytes(memory);
  if (limit === undefined) return { options: {}, source: "the SDK's default (no memory limit)" };
  const mib = limit / 2 ** 20;
  const n = Math.max(10, Math.floor((mib - WORKER_BASE_MIB) / MIB_PER_CACHED_WORKFLOW));
  return { options: { maxCachedWorkflows: n }, source: `sized for the ${Math.round(mib)} MiB memory limit` };
}

/** The limit the process runs under, or undefined when there is none (or none below the machine's memory). */
export function memoryLimitBytes(m: MemoryFacts): number | undefined {
  return m.constrainedBytes > 0 && m.constrainedBytes < m.totalBytes ? m.constrainedBytes : undefined;
}
