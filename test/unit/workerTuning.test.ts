import { describe, expect, it } from 'vitest';
import { SettingError } from '../../domain/timing.js';
import { workerTuningFromEnv } from '../../worker/workerTuning.js';

describe('AIM_MAX_CACHED_WORKFLOWS', () => {
  it.each([
    [undefined, {}],
    ['', {}],
    ['  ', {}],
    ['0', { maxCachedWorkflows: 0 }],
    ['2', { maxCachedWorkflows: 2 }],
    [' 500 ', { maxCachedWorkflows: 500 }],
  ])('%j → %j', (value, options) => {
    expect(workerTuningFromEnv({ AIM_MAX_CACHED_WORKFLOWS: value })).toEqual(options);
  });

  it.each(['1', '-5', '2.5', 'many', '1e400'])('refuses %j, naming the variable', (value) => {
    expect(() => workerTuningFromEnv({ AIM_MAX_CACHED_WORKFLOWS: value })).toThrow(SettingError);
    expect(() => workerTuningFromEnv({ AIM_MAX_CACHED_WORKFLOWS: value })).toThrow(/^AIM_MAX_CACHED_WORKFLOWS: /);
  });
});
