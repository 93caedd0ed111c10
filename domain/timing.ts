/**
 * The clocks of the lifecycles (spec 8, "Time scales"): how often a converged object is re-read, how waits for a fix
 * back off, how often download progress is mirrored, when a waiting pod counts as stuck, and how long a run's
 * history may grow before it continues as new. One worker setting compresses them all for tests and demos
 * (`AIM_TIME_SCALE`), never a sleep. Workflows read it once per run, through a local activity (a marker in history),
 * so replays see the value the run saw.
 */
export interface LifecycleTiming {
  /** Running and idle: the safety-net re-read (the bridge nudges on every relevant change). */
  steadySeconds: number;
  /** First re-look of a converging object whose pass changed nothing (then doubles). */
  convergingSeconds: number;
  /** First re-check of a failure that waits for a person or another system (quota, RBAC, keys, …; then doubles). */
  backoffBaseSeconds: number;
  /** The longest any wait backs off to. */
  backoffMaxSeconds: number;
  /**
   * A missing Secret is re-checked from 30 s, backing off to 5 minutes (spec 5.3 step 4): nothing watches Secrets
   * (the worker may only `get` them), so this cadence is what picks up a Secret created late.
   */
  secretBaseSeconds: number;
  secretMaxSeconds: number;
  /**
   * The pause before a cache's next download attempt after one the next attempt can fix (Stalled, OOMKilled, …),
   * doubling per attempt up to the max: a flapping source or node is not hammered, a blip costs seconds.
   */
  attemptBaseSeconds: number;
  attemptMaxSeconds: number;
  /** A service mirrors cache progress at most this often (and only on a change of ≥ 1 %). */
  progressMirrorSeconds: number;
  /** A download pod Pending this long on an unbound claim: VolumeNotBound (spec 5.4 step 2). */
  volumeNotBoundSeconds: number;
  /** A Job's pod not started after this long: PodNotStarted (spec 5.4 step 3). */
  podNotStartedSeconds: number;
  /** An image pull failing this long (ErrImagePull ↔ ImagePullBackOff): ImagePullFailed (spec 7). */
  imagePullFailedSeconds: number;
  /** A run continues as new at this many history events, if the server has not suggested it before. */
  historyEventsMax: number;
}

export const DEFAULT_TIMING: LifecycleTiming = {
  steadySeconds: 600,
  convergingSeconds: 5,
  backoffBaseSeconds: 60,
  backoffMaxSeconds: 1800,
  secretBaseSeconds: 30,
  secretMaxSeconds: 300,
  attemptBaseSeconds: 10,
  attemptMaxSeconds: 300,
  progressMirrorSeconds: 15,
  volumeNotBoundSeconds: 300,
  podNotStartedSeconds: 900,
  imagePullFailedSeconds: 120,
  historyEventsMax: 5000,
};

/** A worker setting that cannot be used; the message names the variable. */
export class SettingError extends Error {
  override name = 'SettingError';
}

export const TIME_SCALE_ENV = 'AIM_TIME_SCALE';
export const HISTORY_EVENTS_MAX_ENV = 'AIM_HISTORY_EVENTS_MAX';

/**
 * The timing a worker hands its workflows: every interval × `AIM_TIME_SCALE` (default 1; `0.1` makes a 30-minute
 * back-off 3 minutes), at least 1 s each; `AIM_HISTORY_EVENTS_MAX` (default 5000, at least 50) sets when a run
 * continues as new. A bad value names the variable.
 */
export function timingFromEnv(env: Record<string, string | undefined>): LifecycleTiming {
  const scaleText = env[TIME_SCALE_ENV]?.trim() || '1';
  const scale = Number(scaleText);
  if (!Number.isFinite(scale) || scale <= 0 || scale > 1000)
    throw new SettingError(`${TIME_SCALE_ENV}: ${JSON.stringify(scaleText)} is not a factor above 0 (e.g. 1, 0.1)`);
  const eventsText = env[HISTORY_EVENTS_MAX_ENV]?.trim() || String(DEFAULT_TIMING.historyEventsMax);
  const events = Number(eventsText);
  if (!Number.isInteger(events) || events < 50 || events > 40_000)
    throw new SettingError(
      `${HISTORY_EVENTS_MAX_ENV}: ${JSON.stringify(eventsText)} is not a whole number of events from 50 to 40000`,
    );
  const scaled = (seconds: number) => Math.max(1, Math.round(seconds * scale * 1000) / 1000);
  return {
    steadySeconds: scaled(DEFAULT_TIMING.steadySeconds),
    convergingSeconds: scaled(DEFAULT_TIMING.convergingSeconds),
    backoffBaseSeconds: scaled(DEFAULT_TIMING.backoffBaseSeconds),
    backoffMaxSeconds: scaled(DEFAULT_TIMING.backoffMaxSeconds),
    secretBaseSeconds: scaled(DEFAULT_TIMING.secretBaseSeconds),
    secretMaxSeconds: scaled(DEFAULT_TIMING.secretMaxSeconds),
    attemptBaseSeconds: scaled(DEFAULT_TIMING.attemptBaseSeconds),
    attemptMaxSeconds: scaled(DEFAULT_TIMING.attemptMaxSeconds),
    progressMirrorSeconds: scaled(DEFAULT_TIMING.progressMirrorSeconds),
    volumeNotBoundSeconds: scaled(DEFAULT_TIMING.volumeNotBoundSeconds),
    podNotStartedSeconds: scaled(DEFAULT_TIMING.podNotStartedSeconds),
    imagePullFailedSeconds: scaled(DEFAULT_TIMING.imagePullFailedSeconds),
    historyEventsMax: events,
  };
}

/** The back-off of a wait for a fix: a missing Secret on its own cadence, everything else 1 → 30 minutes. */
export function fixBackoff(timing: LifecycleTiming, reason: string | undefined): { base: number; max: number } {
  return reason === 'SecretNotFound'
    ? { base: timing.secretBaseSeconds, max: timing.secretMaxSeconds }
    : { base: timing.backoffBaseSeconds, max: timing.backoffMaxSeconds };
}

/** The next wait of a back-off that doubles from `base` to `max` (`previous` undefined: the first wait). */
export function nextBackoff(previous: number | undefined, base: number, max: number): number {
  return previous === undefined ? Math.min(base, max) : Math.min(max, Math.max(base, previous * 2));
}

/**
 * The pause in milliseconds after failed download attempt `retry` (0: the first) before the next: base × 2^retry, at
 * most the max. A timing recorded before these clocks existed (a run started on an older worker and carried on by
 * this one) has neither field: the defaults apply, as they did then.
 */
export function attemptPauseMs(timing: Partial<LifecycleTiming>, retry: number): number {
  const base = timing.attemptBaseSeconds ?? DEFAULT_TIMING.attemptBaseSeconds;
  const max = timing.attemptMaxSeconds ?? DEFAULT_TIMING.attemptMaxSeconds;
  return Math.min(max, base * 2 ** retry) * 1000;
}
