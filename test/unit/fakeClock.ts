import type { Clock } from '../../bridge/clock.js';

/** Lets every promise continuation that is ready run. */
export const settle = () => new Promise<void>((r) => setImmediate(r));

/** Timers that fire only when the test advances time. */
export class FakeClock implements Clock {
  t = 0;
  readonly sleeps: number[] = [];
  private timers: Array<{ at: number; fire: () => void }> = [];
  now = () => this.t;
  sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      this.sleeps.push(ms);
      if (signal.aborted) return resolve();
      const timer = { at: this.t + ms, fire: resolve };
      this.timers.push(timer);
      signal.addEventListener('abort', () => ((this.timers = this.timers.filter((x) => x !== timer)), resolve()), {
        once: true,
      });
    });
  /** Moves time forward by `ms`, firing due timers in order and letting the code they wake run. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fire();
    }
    this.t = end;
    await settle();
  }
}
