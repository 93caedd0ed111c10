import { relative } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { rankOf } from './test/harness/fileLanes.js';

/**
 * The beside lane's files start first (the worker kills and the long outages, one after the other: they run beside the
 * integration files for their whole length); the secrets audit, which reads what every other integration file left in
 * Temporal, runs last (test/harness/fileLanes.ts).
 */
class LanesSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => rankOf(f.project.name, relative(process.cwd(), f.moduleId));
    return [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}

/**
 * `integration`, `outages` and `worker-kills` share one vitest group (same groupOrder and maxWorkers, as vitest
 * requires), so that the files that mostly wait, each on a stack of its own (the worker kills and outages of minutes),
 * run in a lane beside the integration files. Within each lane the files run one at a time
 * (test/harness/oneFileAtATime.ts): vitest's `fileParallelism: false` would put a project into a group of its own that
 * runs after all others. Three workers: one per lane, and one that may hold the next file while it waits for its lane
 * (a lane's lock, not vitest, keeps the count of running files at two).
 */
const SERVER_GROUP = { sequence: { groupOrder: 1 }, maxWorkers: 3 } as const;

// `unit` needs no servers; `integration` talks to the real Temporal dev server and a real kube-apiserver started once
// per run by the global setup (test/harness/globalSetup.ts); `outages` and `worker-kills` start stacks of their own.
const WORKER_KILLS = 'test/faults/workerKill.test.ts';
export default defineConfig({
  test: {
    // vitest 4 reads the sequencer from the root config only (a project's `sequence.sequencer` is ignored).
    sequence: { sequencer: LanesSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'test/unit/**/*.test.ts',
            '{schemas,domain,workflows,activities,client,bridge,downloader}/**/*.test.ts',
          ],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          // Everything that needs the servers: integration tests, the acceptance suite (test/e2e), fault
          // injection (test/faults) and the bad-input corpus (test/corpus).
          include: ['test/{integration,e2e,faults,corpus}/**/*.test.ts'],
          exclude: [...configDefaults.exclude, WORKER_KILLS],
          environment: 'node',
          globalSetup: ['test/harness/globalSetup.ts'],
          setupFiles: ['test/harness/oneFileAtATime.ts', 'test/harness/useWorkflowBundle.ts'],
          provide: { oneAtATimeProject: 'integration' },
          // A service to Running is now a real predictor pod past KServe's readiness probe (+10-20 s on a loaded
          // machine), and several tests run more than one.
          testTimeout: 240_000,
          hookTimeout: 180_000,
          // One retry: on this shared two-core machine a server-side wait can outlast a bound at a moment of load. A
          // test that needed it is not hidden: .ci/run lists it as flaky at the end of the output, with the first
          // attempt's error, and a test that fails twice still fails the run.
          retry: 1,
          // Two cores: the integration lane runs its files one at a time (oneFileAtATime.ts) so server-side timing
          // stays sane; the beside lane's files mostly wait.
          ...SERVER_GROUP,
        },
      },
      {
        test: {
          name: 'outages',
          // Outages of minutes (issue 16), each file on a private stack (test/harness/privateStack.ts): the shared
          // stack of the integration project is never stopped, and these files run beside its files.
          include: ['test/outages/**/*.test.ts'],
          environment: 'node',
          setupFiles: ['test/harness/oneFileAtATime.ts'],
          provide: { oneAtATimeProject: 'outages' },
          testTimeout: 900_000,
          hookTimeout: 300_000,
          ...SERVER_GROUP,
        },
      },
      {
        test: {
          name: 'worker-kills',
          // The worker SIGKILLed at 29 lifecycle steps (spec 10 scenario 10), on a private stack: its lanes' nodes,
          // objects and worker processes are never seen by an integration file, and it runs beside them.
          include: [WORKER_KILLS],
          environment: 'node',
          setupFiles: ['test/harness/oneFileAtATime.ts'],
          provide: { oneAtATimeProject: 'worker-kills' },
          testTimeout: 900_000,
          hookTimeout: 300_000,
          ...SERVER_GROUP,
        },
      },
    ],
  },
});
