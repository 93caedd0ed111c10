import { describe, expect, it } from 'vitest';
import {
  attemptPauseMs,
  DEFAULT_TIMING,
  fixBackoff,
  nextBackoff,
  SettingError,
  timingFromEnv,
} from '../../domain/timing.js';

describe('lifecycle timing (spec 8: time scales)', () => {
  it('defaults to production clocks', () => {
    expect(timingFromEnv({})).toEqual(DEFAULT_TIMING);
    expect(DEFAULT_TIMING).toMatchObject({ backoffBaseSeconds: 60, backoffMaxSeconds: 1800, steadySeconds: 600 });
  });

  it('AIM_TIME_SCALE compresses every interval (never below 1 s); AIM_HISTORY_EVENTS_MAX sets continue-as-new', () => {
    const t = timingFromEnv({ AIM_TIME_SCALE: '0.1', AIM_HISTORY_EVENTS_MAX: '60' });
    expect(t).toMatchObject({
      backoffBaseSeconds: 6,
      backoffMaxSeconds: 180,
      steadySeconds: 60,
      convergingSeconds: 1,
      progressMirrorSeconds: 1.5,
      attemptBaseSeconds: 1,
      attemptMaxSeconds: 30,
      volumeNotBoundSeconds: 30,
      podNotStartedSeconds: 90,
      historyEventsMax: 60,
    });
  });

  it.each([
    [{ AIM_TIME_SCALE: '0' }, /AIM_TIME_SCALE/],
    [{ AIM_TIME_SCALE: 'fast' }, /AIM_TIME_SCALE/],
    [{ AIM_TIME_SCALE: '-1' }, /AIM_TIME_SCALE/],
    [{ AIM_HISTORY_EVENTS_MAX: '10' }, /AIM_HISTORY_EVENTS_MAX.*from 50/],
    [{ AIM_HISTORY_EVENTS_MAX: '1e9' }, /AIM_HISTORY_EVENTS_MAX/],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => timingFromEnv(env)).toThrow(SettingError);
    expect(() => timingFromEnv(env)).toThrow(message);
  });

  it('backs off 1 → 2 → 4 … → 30 minutes', () => {
    const waits: number[] = [];
    let w: number | undefined;
    for (let i = 0; i < 8; i++) waits.push((w = nextBackoff(w, 60, 1800)));
    expect(waits).toEqual([60, 120, 240, 480, 960, 1800, 1800, 1800]);
  });
});

describe('which back-off a wait for a fix takes', () => {
  it('a missing Secret: 30 s to 5 minutes (spec 5.3 step 4); anything else: 1 to 30 minutes', () => {
    expect(fixBackoff(DEFAULT_TIMING, 'SecretNotFound')).toEqual({ base: 30, max: 300 });
    expect(fixBackoff(DEFAULT_TIMING, 'QuotaExceeded')).toEqual({ base: 60, max: 1800 });
    expect(fixBackoff(DEFAULT_TIMING, undefined)).toEqual({ base: 60, max: 1800 });
  });
  it('InsufficientStorage re-checks on the 1 → 30 minute back-off, compressed with the other clocks', () => {
    expect(fixBackoff(DEFAULT_TIMING, 'InsufficientStorage')).toEqual({ base: 60, max: 1800 });
    expect(fixBackoff(timingFromEnv({ AIM_TIME_SCALE: '0.03' }), 'InsufficientStorage')).toEqual({
      base: 1.8,
      max: 54,
    });
  });
});

describe('the pause between download attempts', () => {
  it.each([
    ['production clocks', DEFAULT_TIMING, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]],
    ['AIM_TIME_SCALE=0.1', timingFromEnv({ AIM_TIME_SCALE: '0.1' }), [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]],
    // A run whose timing was read before these clocks existed keeps the pauses it had.
    [
      'a timing recorded without them',
      { backoffBaseSeconds: 6 },
      [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000],
    ],
  ] as const)('doubles from the base to the max (%s)', (_, timing, pauses) => {
    expect(pauses.map((_p, retry) => attemptPauseMs(timing, retry))).toEqual(pauses);
  });
});
