// vitest global setup of the `integration` project: one real stack (Kubernetes control plane + Temporal) per run.
// Tests get its coordinates through provide/inject (environment variables set here do not reliably reach workers).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { BUNDLE_FILE, buildWorkflowBundles } from '../../worker/workflowBundle.js';
import { startControlServer, type ControlServer } from './control.js';
import { startStack, type StackInfo } from './stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfigPath: string;
    kubeServer: string;
    temporalAddress: string;
    /** Empty string when the UI is disabled. */
    temporalUiAddress: string;
    temporalNamespace: string;
    stackWorkDir: string;
    stackLogDir: string;
    /** For `stackControl(inject('stackControlUrl'))` (fault injection: restart the API server or Temporal). */
    stackControlUrl: string;
    stack: StackInfo;
    /** The workflow bundle built once for the run; test/harness/useWorkflowBundle.ts hands it to every worker. */
    workflowBundle: string;
  }
}

const tag = '[aim-harness]';

/** Whether anything in this run failed. The State API is experimental, hence the defensive access. */
function runFailed(project: TestProject): boolean {
  try {
    const state = project.vitest.state;
    return (
      state.getCountOfFailedTests() > 0 ||
      state.getFailedFilepaths().length > 0 ||
      state.getUnhandledErrors().length > 0
    );
  } catch {
    return true; // unknown: print the logs rather than hide them
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const workDir = await mkdtemp(join(tmpdir(), 'aim-it-'));
  console.log(`${tag} starting test stack; work dir and logs: ${workDir} (logs/)`);
  // Every worker of the run (in-process and the SIGKILLed worker processes) loads one prebuilt bundle instead of
  // running webpack at each start; built while the servers start, as `npm run build` builds the image's.
  const bundleDir = join(workDir, 'workflow-bundle');
  const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const bundling = buildWorkflowBundles(repoRoot, bundleDir).then(
    () => undefined,
    (err: unknown) => err,
  );
  // startStack stops whatever did start and puts the log tails into the error when startup fails.
  const stack = await startStack({ workDir }).catch((err: unknown) => {
    console.error(`${tag} stack startup failed; logs kept in ${join(workDir, 'logs')}`);
    throw err;
  });
  console.log(
    `${tag} stack up in ${stack.startupMs} ms (${JSON.stringify(stack.timings)}): API server ${stack.kubeServer}, Temporal ${stack.temporalAddress}` +
      (stack.temporalUiAddress ? `, UI ${stack.temporalUiAddress}` : ''),
  );
  let control: ControlServer;
  try {
    const bundleError = await bundling;
    if (bundleError) throw bundleError;
    control = await startControlServer(stack);
  } catch (err) {
    await stack.stop();
    throw err;
  }

  project.provide('kubeconfigPath', stack.kubeconfigPath);
  project.provide('kubeServer', stack.kubeServer);
  project.provide('temporalAddress', stack.temporalAddress);
  project.provide('temporalUiAddress', stack.temporalUiAddress ?? '');
  project.provide('temporalNamespace', stack.temporalNamespace);
  project.provide('stackWorkDir', stack.workDir);
  project.provide('stackLogDir', stack.logDir);
  project.provide('stackControlUrl', control.url);
  project.provide('stack', stack.info);
  project.provide('workflowBundle', join(bundleDir, BUNDLE_FILE));

  // Teardown runs after every test file, so the run's outcome is known here. It must finish within vitest's
  // teardownTimeout (10 s) or vitest exits the process; processes.ts SIGKILLs survivors on exit in that case.
  return async () => {
    const failed = runFailed(project);
    if (failed || process.env.AIM_PRINT_LOGS === '1') {
      console.error(`${tag} ${failed ? 'tests failed; ' : ''}server log tails follow (full logs: ${stack.logDir})`);
      console.error(stack.logs(80));
    }
    await control.close();
    await stack.stop();
    if (failed || process.env.AIM_KEEP_WORKDIR === '1') {
      console.log(`${tag} stack stopped; work dir kept: ${workDir}`);
    } else {
      await rm(workDir, { recursive: true, force: true });
      console.log(`${tag} stack stopped; work dir ${workDir} removed (AIM_KEEP_WORKDIR=1 keeps it)`);
    }
  };
}
