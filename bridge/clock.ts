/** Time as the bridge's loops see it: the system clock in production, a fake one in unit tests. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` is aborted (never rejects). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    }),
};

/** `base` scaled by a factor in [0.75, 1.25): many loops that failed together do not retry together. */
export const jittered = (base: number, random: () => number = Math.random): number => base * (0.75 + random() / 2);
