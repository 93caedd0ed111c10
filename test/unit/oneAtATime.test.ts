import { describe, expect, it } from 'vitest';
import { oneAtATime, queuedKeys } from '../../activities/kube/oneAtATime.js';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('oneAtATime', () => {
  it('runs writes to one key one after another, in order, and writes to other keys beside them', async () => {
    const log: string[] = [];
    let running = 0;
    let most = 0;
    const write = (key: string, id: string) =>
      oneAtATime(key, async () => {
        running += key === 'a' ? 1 : 0;
        most = Math.max(most, running);
        log.push(`start ${id}`);
        await tick();
        log.push(`end ${id}`);
        running -= key === 'a' ? 1 : 0;
        return id;
      });
    const results = await Promise.all([write('a', 'a1'), write('a', 'a2'), write('b', 'b1'), write('a', 'a3')]);
    expect(results).toEqual(['a1', 'a2', 'b1', 'a3']);
    expect(most).toBe(1);
    const a = log.filter((l) => l.endsWith('a1') || l.endsWith('a2') || l.endsWith('a3'));
    expect(a).toEqual(['start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3']);
    expect(log.indexOf('start b1')).toBeLessThan(log.indexOf('end a1'));
  });

  it('a failed write rejects its own caller only and the next one still runs', async () => {
    const failed = oneAtATime('k', async () => {
      await tick();
      throw new Error('conflict');
    });
    const next = oneAtATime('k', async () => 'ok');
    await expect(failed).rejects.toThrow('conflict');
    await expect(next).resolves.toBe('ok');
  });

  it('leaves no key behind once its writes have settled', async () => {
    await Promise.all([oneAtATime('x', async () => 1), oneAtATime('x', async () => 2)]);
    await tick();
    expect(queuedKeys()).toBe(0);
  });
});
