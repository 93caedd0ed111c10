import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** The secrets audit reads what every other integration file left in Temporal, so it runs last. */
class AuditLastSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const last = (f: TestSpecification) => (f.moduleId.includes('zz-secretsAudit') ? 1 : 0);
    return [...sorted].sort((a, b) => last(a) - last(b));
  }
}

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
          setupFiles: ['test/harness/useWorkflowBundle.ts'],
          // A service to Running is now a real predictor pod past KServe's readiness probe (+10-20 s on a loaded
          // machine), and several tests run more than one.
          testTimeout: 240_000,
          hookTimeout: 180_000,
          // Two cores: run integration files one at a time so server-side timing stays sane.
          fileParallelism: false,
        },
      },
    ],
  },
});
