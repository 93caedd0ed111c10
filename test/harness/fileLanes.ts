/**
 * Which server-side test files may run at the same time (read by vitest.config.ts's sequencer and by
 * test/harness/oneFileAtATime.ts). Two lanes, each one file at a time, run beside each other:
 *   - `integration`: the integration project's files, on the shared stack;
 *   - `beside`: files that mostly wait (minutes of server outages, worker restarts and the activity timeouts a
 *     SIGKILL costs) and so can share the two cores with the integration lane: the outages files, each on a private
 *     stack, then the worker-kill lanes, on the shared stack but in a namespace, node and worker processes of their
 *     own.
 * A file that stops or restarts a server of the shared stack (or reads what all others left, as the secrets audit
 * does) runs alone: it holds both lanes. These sort after the others, so they never hold the integration lane while
 * the beside lane is still busy.
 */
export type Lane = 'integration' | 'beside';

/** Shared-stack files that run in the beside lane (after the outages files). */
export const BESIDE_FILES = ['test/faults/workerKill.test.ts'];

/** Files that restart, stop or read across the shared stack: they run alone, at the end. */
export const ALONE_FILES = [
  'test/faults/serverRestarts.test.ts',
  'test/integration/harness.test.ts',
  'test/integration/kubelet.test.ts',
  'test/integration/bridge.test.ts',
  'test/integration/zz-secretsAudit.test.ts',
];

const endsWithAny = (path: string, files: string[]) => files.some((f) => path.endsWith(f));

/** The lanes a file holds while it runs, in the order it takes them (always integration first: no deadlock). */
export function lanesOf(project: string, path: string): Lane[] {
  if (project === 'outages' || endsWithAny(path, BESIDE_FILES)) return ['beside'];
  if (endsWithAny(path, ALONE_FILES)) return ['integration', 'beside'];
  return ['integration'];
}

/**
 * Where a file sorts: the outages files first, then the beside lane's other files (the beside lane starts at once and
 * runs its files back to back), then the integration lane's, then the files that run alone, the secrets audit last.
 */
export function rankOf(project: string, path: string): number {
  if (project === 'outages') return -2;
  if (endsWithAny(path, BESIDE_FILES)) return -1;
  if (path.endsWith('zz-secretsAudit.test.ts')) return 2;
  if (endsWithAny(path, ALONE_FILES)) return 1;
  return 0;
}
