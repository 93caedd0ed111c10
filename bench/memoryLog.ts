/** The worker's memory samples that bench/memoryTap.ts writes, read back for the fleet bench's RSS profile. */
import { readFile } from 'node:fs/promises';
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

/** The sample of the highest RSS in [from, to] (epoch ms), if any. */
export function peakSample(samples: MemorySample[], from: number, to: number): MemorySample | undefined {
  let peak: MemorySample | undefined;
  for (const s of samples) if (s.at >= from && s.at <= to && (!peak || s.rss > peak.rss)) peak = s;
  return peak;
}

/**
 * "RSS 775 MiB = main V8 heap 160 MiB (used 130 MiB) + external 16 MiB (…) + the rest 599 MiB (…)". process.memoryUsage()
 * sees the main thread's isolate only: the workflows run in the SDK's workflow worker threads, whose heaps (the cached
 * workflows) are part of the rest, with the Temporal Core SDK's own memory (Rust), code and the allocator.
 */
export function describeMemory(s: MemorySample): string {
  const native = Math.max(0, s.rss - s.heapTotal - s.external);
  return (
    `RSS ${MiB(s.rss)} = main-thread V8 heap ${MiB(s.heapTotal)} (used ${MiB(s.heapUsed)}) + external ${MiB(s.external)} ` +
    `(array buffers ${MiB(s.arrayBuffers)}) + the rest ${MiB(native)} (workflow threads' V8 heaps with the cached ` +
    `workflows, Temporal Core SDK, code, allocator)`
  );
}

/** The worker's sticky workflow cache size as configured (the worker inherits the bench's environment). */
export function stickyCache(): string {
  const set = process.env.AIM_MAX_CACHED_WORKFLOWS;
  return set
    ? `${set} workflows (AIM_MAX_CACHED_WORKFLOWS)`
    : "the SDK's default (600 per GiB of V8 heap limit above 200 MiB)";
}
