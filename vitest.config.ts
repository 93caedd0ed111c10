import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The long outages start first (they run beside the integration files for their whole length); the secrets audit reads
 * what every other integration file left in Temporal, so it runs last.
 */
class AuditLastSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) =>
      f.project.name === 'outages' ? -1 : f.moduleId.includes('zz-secretsAudit') ? 1 : 0;
    return [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}

/**
 * `integration` and `outages` share one vitest group (same groupOrder and maxWorkers, as vitest requires), so that
 * an outage file, which mostly waits minutes for a server to come back on its own stack, runs beside the integration
 * files. Within each project the files still run one at a time (test/harness/oneFileAtATime.ts): vitest's
 * `fileParallelism: false` would put a project into a group of its own that runs after all others.
 */
const SERVER_GROUP = { sequence: { groupOrder: 1 }, maxWorkers: 2 } as const;

// Two projects: `unit` needs no servers; `integration` talks to the real Temporal dev server and a real
// kube-apiserver started once per run by the global setup (test/harness/globalSetup.ts).
export default defineConfig({
  test: {
    // vitest 4 reads the sequencer from the root config only (a project's `sequence.sequencer` is ignored).
    sequence: { sequencer: AuditLastSequencer },
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
          environment: 'node',
          globalSetup: ['test/harness/globalSetup.ts'],
          setupFiles: ['test/harness/oneFileAtATime.ts', 'test/harness/useWorkflowBundle.ts'],
          provide: { oneAtATimeLock: 'integration' },
          // A service to Running is now a real predictor pod past KServe's readiness probe (+10-20 s on a loaded
          // machine), and several tests run more than one.
          testTimeout: 240_000,
          hookTimeout: 180_000,
          // One retry: on this shared two-core machine a server-side wait can outlast a bound at a moment of load. A
          // test that needed it is not hidden: .ci/run lists it as flaky at the end of the output, with the first
          // attempt's error, and a test that fails twice still fails the run.
          retry: 1,
          // Two cores: integration files run one at a time (oneFileAtATime.ts) so server-side timing stays sane.
          ...SERVER_GROUP,
        },
      },
      {
        test: {
          name: 'outages',
          // Outages of minutes (issue 16), each file on a private stack (test/outages/privateStack.ts): the shared
          // stack of the integration project is never stopped, and these files run beside its files.
          include: ['test/outages/**/*.test.ts'],
          environment: 'node',
          setupFiles: ['test/harness/oneFileAtATime.ts'],
          provide: { oneAtATimeLock: 'outages' },
          testTimeout: 900_000,
          hookTimeout: 300_000,
          ...SERVER_GROUP,
        },
      },
    ],
  },
});
