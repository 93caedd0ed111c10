import { describe, expect, it } from 'vitest';
import { SettingError } from '../../domain/timing.js';
import { memoryLimitBytes, workerTuningFromEnv, type MemoryFacts } from '../../worker/workerTuning.js';

const GiB = 2 ** 30;
/** A process on a 24 GiB machine with no cgroup limit, as Node 20 reports it (2^64) and as Node 22 does (0). */
const unlimited: MemoryFacts = { constrainedBytes: 2 ** 64, totalBytes: 24 * GiB };
const unlimited22: MemoryFacts = { constrainedBytes: 0, totalBytes: 24 * GiB };
const inContainer = (limit: number): MemoryFacts => ({ constrainedBytes: limit, totalBytes: 24 * GiB });

describe('AIM_MAX_CACHED_WORKFLOWS', () => {
  it.each([
    ['0', { maxCachedWorkflows: 0 }],
    ['2', { maxCachedWorkflows: 2 }],
    [' 500 ', { maxCachedWorkflows: 500 }],
  ])('%j → %j, whatever the memory limit', (value, options) => {
    for (const memory of [unlimited, inContainer(GiB)])
      expect(workerTuningFromEnv({ AIM_MAX_CACHED_WORKFLOWS: value }, memory)).toEqual({
        options,
        source: 'AIM_MAX_CACHED_WORKFLOWS',
      });
  });

  it.each([undefined, '', '  '])('unset (%j) and no memory limit: the SDK default', (value) => {
    for (const memory of [unlimited, unlimited22])
      expect(workerTuningFromEnv({ AIM_MAX_CACHED_WORKFLOWS: value }, memory).options).toEqual({});
  });

  it.each([
    [GiB, 977, 'sized for the 1024 MiB memory limit'],
    [2 * GiB, 2440, 'sized for the 2048 MiB memory limit'],
    // Below what the worker needs without workflows: still a working cache.
    [256 * 2 ** 20, 10, 'sized for the 256 MiB memory limit'],
  ])('unset under a %d-byte limit: %d workflows', (limit, n, source) => {
    expect(workerTuningFromEnv({}, inContainer(limit))).toEqual({ options: { maxCachedWorkflows: n }, source });
  });

  it('takes a constraint at or above the machine memory for none', () => {
    expect(memoryLimitBytes({ constrainedBytes: 24 * GiB, totalBytes: 24 * GiB })).toBeUndefined();
    expect(memoryLimitBytes(inContainer(GiB))).toBe(GiB);
  });

  it.each(['1', '-5', '2.5', 'many', '1e400'])('refuses %j, naming the variable', (value) => {
    expect(() => workerTuningFromEnv({ AIM_MAX_CACHED_WORKFLOWS: value }, unlimited)).toThrow(SettingError);
    expect(() => workerTuningFromEnv({ AIM_MAX_CACHED_WORKFLOWS: value }, unlimited)).toThrow(
      /^AIM_MAX_CACHED_WORKFLOWS: /,
    );
  });
});
