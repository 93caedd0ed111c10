import { describe, expect, it } from 'vitest';
import { mirroredProgress, percentMoved, progressLine } from '../../domain/progress.js';

const cache = (percent?: number, display?: string) => ({
  name: 'c',
  modelId: 'Qwen/Qwen2-0.5B',
  status: 'Progressing',
  ...(percent !== undefined ? { percent } : {}),
  ...(display !== undefined ? { display } : {}),
});

describe('progress mirroring (spec 8: at most every 15 s, only on a change of ≥ 1 %)', () => {
  it.each([
    [undefined, undefined, false],
    [undefined, 0, true],
    [10, 10, false],
    [10, 10.9, false],
    [10, 11, true],
    [50, 49, true],
  ])('shown %s, now %s → moved %s', (shown, now, moved) => {
    expect(percentMoved(shown, now)).toBe(moved);
  });

  it('writes the new percentages, display line and the conditions that showed the old line', () => {
    const line = progressLine([cache(10, '10% 1 GiB/10 GiB')]);
    const shown = {
      status: 'Starting',
      caches: [cache(10, '10% 1 GiB/10 GiB')],
      progressDisplay: line,
      conditions: [
        { type: 'CacheReady', status: 'False', reason: 'Downloading', message: line },
        { type: 'ModelReady', status: 'True', reason: 'ModelResolved', message: 'AIMModel m' },
      ],
    };
    const next = mirroredProgress(shown, [cache(12, '12% 1.2 GiB/10 GiB')]);
    expect(next?.caches?.[0]).toMatchObject({ percent: 12, display: '12% 1.2 GiB/10 GiB' });
    expect(next?.progressDisplay).toBe('Qwen/Qwen2-0.5B 12% 1.2 GiB/10 GiB');
    expect(next?.conditions[0]?.message).toBe('Qwen/Qwen2-0.5B 12% 1.2 GiB/10 GiB');
    expect(next?.conditions[1]?.message).toBe('AIMModel m');
    expect(next?.status).toBe('Starting');
  });

  it('writes nothing when no percentage moved by a whole percent', () => {
    const shown = { caches: [cache(10, '10%')], progressDisplay: 'x', conditions: [] };
    expect(mirroredProgress(shown, [cache(10.5, '10.5%')])).toBeUndefined();
  });

  it('names caches by their state when they show no progress yet', () => {
    expect(progressLine([{ name: 'a', modelId: 'm', status: 'Pending' }])).toBe('m Pending');
    expect(progressLine([])).toBe('no caches');
  });
});
