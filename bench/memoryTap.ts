/**
 * Preloaded into the worker by the benches (`node --import <this> cli.js worker`), beside requestTap.ts: where the
 * process's memory is, for the fleet bench's RSS profile. Nothing is logged unless `AIM_BENCH_MEMORY_LOG` names a file.
 *
 * Node runs an `--import` preload in each worker thread started from a file as well, and process.memoryUsage() there
 * reports that thread's own V8 heap: the Temporal SDK's workflow thread, where the cached workflows live, logs here
 * too. So every second the main thread appends to the log one tab-separated line — epoch ms, RSS, V8 heap total, V8
 * heap used, external (off-heap memory V8 knows of: Buffers, the Temporal core bridge's payloads), of which array
 * buffers — and each worker thread appends to `<log>.threads`: epoch ms, thread id, V8 heap total, used, external.
 * What RSS holds beyond the heaps is the Temporal Core SDK (Rust: workflow state machines, gRPC, tokio), code and the
 * allocator.
 */
import { appendFile } from 'node:fs/promises';
import { isMainThread, threadId } from 'node:worker_threads';

const logFile = process.env.AIM_BENCH_MEMORY_LOG;

if (logFile) {
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    const [file, fields] = isMainThread
      ? [logFile, [Date.now(), m.rss, m.heapTotal, m.heapUsed, m.external, m.arrayBuffers]]
      : [`${logFile}.threads`, [Date.now(), threadId, m.heapTotal, m.heapUsed, m.external]];
    void appendFile(file, `${fields.join('\t')}\n`).catch(() => undefined);
  }, 1000);
  timer.unref();
}
