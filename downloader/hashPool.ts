import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ContentVerdict } from './digests.js';
import type { Followed } from './followContent.js';
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

type Reply = Extract<HashReply, { verdict: unknown }>;

interface Pending {
  req: Extract<HashRequest, { kind: 'judge' }>;
  resolve: (v: ContentVerdict | undefined) => void;
  reject: (e: Error) => void;
}

interface Following {
  worker: Worker;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

/**
 * A small pool of hashing threads. `judge` (a complete file) resolves with the file's verdict, or undefined when the
 * file changed while it was read; judges take one thread each, from one queue. `follow` (a file the tool is still
 * writing) shares a thread with other work: it hashes at its writer's pace and mostly waits. Threads start on first
 * use and stop on `close`.
 */
export class HashPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];
  private readonly live = new Set<Worker>();
  private readonly following = new Map<number, Following>();
  private nextId = 0;
  private closed = false;

  constructor(private readonly threads = DEFAULT_HASH_THREADS) {}

  judge(path: string, file: RemoteFile): Promise<ContentVerdict | undefined> {
    if (this.closed) return Promise.reject(new Error('hash pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ req: { kind: 'judge', id: this.nextId++, path, file }, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Hashes `path` while the tool writes it; resolves once the tool has moved it to one of `finals` (with the verdict)
   * or undefined when it never is (see followContent.ts). Call `toolExited` when the tool is gone.
   */
  follow(path: string, finals: string[], file: RemoteFile): Promise<Followed | undefined> {
    if (this.closed) return Promise.reject(new Error('hash pool is closed'));
    const worker = this.leastFollowing();
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.following.set(id, { worker, resolve, reject });
      worker.postMessage({ kind: 'follow', id, path, finals, file } satisfies HashRequest);
    }).then((r) => (r.verdict && r.final ? { final: r.final, verdict: r.verdict } : undefined));
  }

  /** The tool has exited: follows end with the files it moved into place. */
  toolExited(): void {
    for (const w of this.live) w.postMessage({ kind: 'toolExited' } satisfies HashRequest);
  }

  /** A thread for one more follow: a new one while the pool may grow, else the one following the fewest files. */
  private leastFollowing(): Worker {
    if (this.live.size < this.threads) {
      const w = this.spawn();
      this.idle.push(w);
      return w;
    }
    const counts = new Map([...this.live].map((w) => [w, 0]));
    for (const f of this.following.values()) counts.set(f.worker, (counts.get(f.worker) ?? 0) + 1);
    return [...counts].sort((a, b) => a[1] - b[1])[0]![0];
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
      const follow = this.following.get(reply.id);
      if (follow) {
        this.following.delete(reply.id);
        if ('error' in reply) follow.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
        else follow.resolve(reply);
        return;
      }
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
    for (const [id, f] of this.following)
      if (f.worker === worker) {
        this.following.delete(id);
        f.reject(err);
      }
    if (!this.closed) this.dispatch();
  }

  async close(): Promise<void> {
    this.closed = true;
    const closed = new Error('hash pool is closed');
    for (const job of [...this.queue.splice(0), ...this.busy.values(), ...this.following.values()]) job.reject(closed);
    this.following.clear();
    await Promise.all([...this.live].map((w) => w.terminate()));
    this.live.clear();
    this.idle.length = 0;
    this.busy.clear();
  }
}
