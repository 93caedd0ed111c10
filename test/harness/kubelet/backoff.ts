// The kubelet's back-off between image pulls and between restarts of a crashing container (flowcontrol.Backoff with
// its 10 s base and 300 s cap), and the scheduler's pod back-off (schedulingQueue.ts, 1 s to 10 s): the first retry
// waits `base`, each further failure doubles the wait, up to `max`.
export function backoffDelay(baseMs: number, maxMs: number, failures: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, failures - 1), maxMs);
}
