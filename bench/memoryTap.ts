/**
 * Preloaded into the worker by the benches (`node --import <this> cli.js worker`), beside requestTap.ts: where the
 * process's memory is, for the fleet bench's RSS profile. Every second one tab-separated line is appended to
 * `AIM_BENCH_MEMORY_LOG`: epoch ms, RSS, V8 heap total, V8 heap used, external (off-heap memory V8 knows of:
 * Buffers, the Temporal core bridge's payloads), of which array buffers: all of the main thread. What RSS holds beyond
 * them is the SDK's workflow worker threads' V8 heaps (where the cached workflows live), the Temporal Core SDK (Rust:
 * workflow state machines, gRPC, tokio), code and the allocator.
 * Nothing is logged unless the variable names the file.
 */
import { appendFile } from 'node:fs/promises';

const logFile = process.env.AIM_BENCH_MEMORY_LOG;

if (logFile) {
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    const line = [Date.now(), m.rss, m.heapTotal, m.heapUsed, m.external, m.arrayBuffers].join('\t');
    void appendFile(logFile, `${line}\n`).catch(() => undefined);
  }, 1000);
  timer.unref();
}
