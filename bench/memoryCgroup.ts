/**
 * BENCH_WORKER_MEMORY_LIMIT (e.g. `1Gi`, the deploy's limit in deploy/base/worker.yaml): the bench's worker runs in a
 * memory cgroup of that limit, as in its container. That matters beyond the cap itself: Node sizes each V8 heap from
 * the memory its cgroup allows (about half of it), and the Temporal SDK sizes its default sticky cache from that heap
 * limit (600 workflows per GiB above 200 MiB): in a 1 GiB container about 190 workflows, against ~2,300 on this
 * unconstrained machine. Needs a writable cgroup memory controller (root; v1 or v2); without one the bench says so and
 * stops rather than measure something else. A worker that outgrows the limit is killed, and the bench fails with it.
 */
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quantityToBytes } from '../schemas/quantity.js';

export interface MemoryCgroup {
  /** `sh -c` arguments that join the cgroup, then exec the command (Node must start inside it to size its heaps). */
  wrap(command: string, args: string[]): { command: string; args: string[] };
  remove(): void;
}

export function memoryCgroup(name: string, limit: string): MemoryCgroup {
  const bytes = quantityToBytes(limit);
  const v1 = '/sys/fs/cgroup/memory';
  const v2 = '/sys/fs/cgroup';
  const isV1 = existsSync(join(v1, 'memory.limit_in_bytes'));
  const dir = join(isV1 ? v1 : v2, name);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, isV1 ? 'memory.limit_in_bytes' : 'memory.max'), String(bytes));
  } catch (err) {
    throw new Error(
      `BENCH_WORKER_MEMORY_LIMIT=${limit}: cannot make the memory cgroup ${dir} (${(err as Error).message}); run as root on a machine whose cgroup memory controller is writable, or unset it`,
    );
  }
  return {
    wrap: (command, args) => ({
      command: '/bin/sh',
      args: ['-c', `echo $$ > ${join(dir, 'cgroup.procs')} && exec "$0" "$@"`, command, ...args],
    }),
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {
        // still has a process (a worker that did not stop), or already gone
      }
    },
  };
}
