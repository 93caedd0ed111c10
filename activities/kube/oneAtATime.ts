/**
 * Writes to one object from this process, one at a time. Many services add their owner entries to one shared model
 * (spec 4: each with its own field manager); applied concurrently, every apply but one loses the API server's
 * optimistic-concurrency race and is merged again from the start, and each merge walks every owner entry and field
 * manager the model already has. At 1,000 services on one model (the fleet bench) that made the mean owner-entry apply
 * take 13.6 s inside the API server; queued here, each merge runs once. Other workers and processes still race, which
 * the API server resolves as before.
 */
const queues = new Map<string, Promise<unknown>>();

/** Runs `write` after every earlier write under `key` in this process has settled; its own outcome is returned. */
export function oneAtATime<T>(key: string, write: () => Promise<T>): Promise<T> {
  const before = queues.get(key) ?? Promise.resolve();
  const run = before.then(write, write);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, settled);
  // The last one out leaves no entry behind: the map holds only keys with writes queued.
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return run;
}

/** Keys with writes queued or running (for tests). */
export const queuedKeys = (): number => queues.size;
