/**
 * Which server-side test files run at the same time (read by vitest.config.ts's sequencer and by
 * test/harness/oneFileAtATime.ts). Two lanes, each running one file at a time, run beside each other:
 *   - `integration`: the integration project's files, on the shared stack;
 *   - `beside`: files that mostly wait — minutes of server outages (the `outages` project), and worker processes killed
 *     and restarted, each kill costing the activity timeouts that let Temporal hand the work to the next process (the
 *     `worker-kills` project) — each file on a stack of its own (test/harness/privateStack.ts), so that nothing it
 *     does (stopping servers, nodes of its own) is seen by an integration file.
 */
export type Lane = 'integration' | 'beside';

/** The projects whose files run in the beside lane (they sort first; vitest may still start either one first). */
export const BESIDE_PROJECTS = ['worker-kills', 'outages'];

export function laneOf(project: string): Lane {
  return BESIDE_PROJECTS.includes(project) ? 'beside' : 'integration';
}

/**
 * Where a file sorts: the beside lane's files first (that lane starts at once and runs its files back to back), then
 * the integration lane's, the secrets audit last (it reads what every other integration file left in Temporal).
 */
export function rankOf(project: string, path: string): number {
  if (BESIDE_PROJECTS.includes(project)) return -1;
  return path.endsWith('zz-secretsAudit.test.ts') ? 1 : 0;
}
