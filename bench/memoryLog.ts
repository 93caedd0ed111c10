/** The worker's memory samples that bench/memoryTap.ts writes, read back for the fleet bench's RSS profile. */
import { readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { quantityToBytes } from '../schemas/quantity.js';
import { workerTuningFromEnv } from '../worker/workerTuning.js';
import { MiB } from './measure.js';

export interface MemorySample {
  at: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export async function readMemoryLog(path: string): Promise<MemorySample[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [at, rss, heapTotal, heapUsed, external, arrayBuffers] = line.split('\t').map(Number);
      return {
        at: at!,
        rss: rss!,
        heapTotal: heapTotal!,
        heapUsed: heapUsed!,
        external: external!,
        arrayBuffers: arrayBuffers!,
      };
    });
}

/** One worker thread's V8 heap at one second (bench/memoryTap.ts). */
export interface ThreadSample {
  at: number;
  thread: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
}

/** What memoryTap.ts appended from worker threads (`<log>.threads`); none if no thread logged. */
export async function readThreadMemoryLog(path: string): Promise<ThreadSample[]> {
  const text = await readFile(`${path}.threads`, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [at, thread, heapTotal, heapUsed, external] = line.split('\t').map(Number);
      return { at: at!, thread: thread!, heapTotal: heapTotal!, heapUsed: heapUsed!, external: external! };
    });
}

/**
 * Each worker thread's V8 heap at `at`: its latest sample at or before it (the taps write about once a second, not
 * in step with the main thread's), summed over the threads. Undefined when no thread has logged by then.
 */
export function threadHeapsAt(
  samples: ThreadSample[],
  at: number,
): { threads: number; heapTotal: number; heapUsed: number; external: number } | undefined {
  const latest = new Map<number, ThreadSample>();
  for (const t of samples) if (t.at <= at && (latest.get(t.thread)?.at ?? -Infinity) < t.at) latest.set(t.thread, t);
  if (!latest.size) return undefined;
  const all = [...latest.values()];
  const sum = (f: (t: ThreadSample) => number) => all.reduce((a, t) => a + f(t), 0);
  return {
    threads: all.length,
    heapTotal: sum((t) => t.heapTotal),
    heapUsed: sum((t) => t.heapUsed),
    external: sum((t) => t.external),
  };
}

/** The sample of the highest RSS in [from, to] (epoch ms), if any. */
export function peakSample(samples: MemorySample[], from: number, to: number): MemorySample | undefined {
  let peak: MemorySample | undefined;
  for (const s of samples) if (s.at >= from && s.at <= to && (!peak || s.rss > peak.rss)) peak = s;
  return peak;
}

/**
 * "RSS 775 MiB = main-thread V8 heap 160 MiB (used 130 MiB) + external 16 MiB (…) + workflow thread V8 heap 300 MiB
 * (used 250 MiB) + the rest 299 MiB (…)". A thread's process.memoryUsage() sees its own isolate only: the workflows run
 * in the SDK's workflow worker thread, whose heap memoryTap.ts logs from that thread (`threads`, when it did). The rest
 * is the Temporal Core SDK's own memory (Rust: workflow state machines, gRPC), code, the allocator and V8's overheads.
 */
export function describeMemory(s: MemorySample, threads?: ReturnType<typeof threadHeapsAt>): string {
  const workflowThreads = threads ? threads.heapTotal + threads.external : 0;
  const native = Math.max(0, s.rss - s.heapTotal - s.external - workflowThreads);
  const main =
    `RSS ${MiB(s.rss)} = main-thread V8 heap ${MiB(s.heapTotal)} (used ${MiB(s.heapUsed)}) + external ${MiB(s.external)} ` +
    `(array buffers ${MiB(s.arrayBuffers)})`;
  if (!threads)
    return (
      `${main} + the rest ${MiB(native)} (workflow threads' V8 heaps with the cached workflows, Temporal Core SDK, ` +
      `code, allocator)`
    );
  return (
    `${main} + workflow thread${threads.threads === 1 ? "'s" : "s'"} V8 heap ${MiB(threads.heapTotal)} (used ` +
    `${MiB(threads.heapUsed)}, the cached workflows) + external ${MiB(threads.external)} + the rest ${MiB(native)} ` +
    `(Temporal Core SDK, code, allocator)`
  );
}

/**
 * The worker's memory at its highest RSS sample in [from, to] (epoch ms), described with the threads' heaps of that
 * moment: what the fleet bench prints for the fleet and for the steady window.
 */
export async function peakMemory(
  log: string,
  from: number,
  to: number,
): Promise<{ sample?: MemorySample; text: string }> {
  const sample = peakSample(await readMemoryLog(log), from, to);
  if (!sample) return { text: 'no memory samples' };
  return { sample, text: describeMemory(sample, threadHeapsAt(await readThreadMemoryLog(log), sample.at)) };
}

/**
 * The worker's sticky workflow cache as the worker decides it (worker/workerTuning.ts): from AIM_MAX_CACHED_WORKFLOWS,
 * which it inherits from the bench, or else from the memory limit BENCH_WORKER_MEMORY_LIMIT puts it under.
 */
export function stickyCache(): string {
  const limit = process.env.BENCH_WORKER_MEMORY_LIMIT;
  const memory = limit ? { constrainedBytes: Number(quantityToBytes(limit)), totalBytes: totalmem() } : undefined;
  const { options, source } = workerTuningFromEnv(process.env, memory);
  return options.maxCachedWorkflows === undefined ? source : `${options.maxCachedWorkflows} workflows (${source})`;
}
