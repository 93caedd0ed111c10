import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ContentVerdict } from './digests.js';
import { HASH_WORKER_ROLE, type HashReply, type HashRequest } from './hashWorker.js';
import type { RemoteFile } from './listing.js';

/** Two threads at most: hashing shares the machine with the transfer it overlaps. */
export const DEFAULT_HASH_THREADS = Math.max(1, Math.min(2, availableParallelism()));

/**
 * The worker's module beside this one: `.js` when compiled (the image, the benches); under tsx or vitest (the sources
 * as they are) the thread first registers tsx's loader, which threads do not inherit.
 */
function startWorker(workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./hashWorker.js', import.meta.url), { workerData });
  const url = new URL('./hashWorker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

interface Pending {
  req: HashRequest;
  resolve: (v: ContentVerdict | undefined) => void;
  reject: (e: Error) => void;
}

/**
 * A small pool of hashing threads with one queue. `judge` resolves with the file's verdict, or undefined when the file
 * changed while it was read. Threads start on first use and stop on `close`.
 */
export class HashPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];
  private readonly live = new Set<Worker>();
  private nextId = 0;
  private closed = false;

  constructor(private readonly threads = DEFAULT_HASH_THREADS) {}

  judge(path: string, file: RemoteFile): Promise<ContentVerdict | undefined> {
    if (this.closed) return Promise.reject(new Error('hash pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ req: { id: this.nextId++, path, file }, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length) {
      const worker = this.idle.pop() ?? (this.live.size < this.threads ? this.spawn() : undefined);
      if (!worker) return;
      const job = this.queue.shift()!;
      this.busy.set(worker, job);
      worker.postMessage(job.req);
    }
  }

  private spawn(): Worker {
    const worker = startWorker({ role: HASH_WORKER_ROLE });
    this.live.add(worker);
    worker.on('message', (reply: HashReply) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      this.idle.push(worker);
      if (job) {
        if ('error' in reply) job.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
        else job.resolve(reply.verdict);
      }
      this.dispatch();
    });
    worker.on('error', (err) => this.lost(worker, err));
    worker.on('exit', (code) => {
      if (!this.closed) this.lost(worker, new Error(`hash thread exited with code ${code}`));
    });
    return worker;
  }

  /** A thread that died fails its file's check (the caller treats it as an unexpected error), not the others. */
  private lost(worker: Worker, err: Error): void {
    if (!this.live.delete(worker)) return;
    const job = this.busy.get(worker);
    this.busy.delete(worker);
    const i = this.idle.indexOf(worker);
    if (i >= 0) this.idle.splice(i, 1);
    job?.reject(err);
    if (!this.closed) this.dispatch();
  }

  async close(): Promise<void> {
    this.closed = true;
    const closed = new Error('hash pool is closed');
    for (const job of [...this.queue.splice(0), ...this.busy.values()]) job.reject(closed);
    await Promise.all([...this.live].map((w) => w.terminate()));
    this.live.clear();
    this.idle.length = 0;
    this.busy.clear();
  }
}
