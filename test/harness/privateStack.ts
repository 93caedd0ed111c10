// A stack of its own for a file of the beside lane (test/harness/fileLanes.ts: the long outages, which stop its servers
// for minutes, and the worker kills, whose nodes and workers no other file must see): its etcd, kube-apiserver,
// controller-manager, KServe and Temporal dev server. The shared stack of the `integration` project (its global setup)
// is never touched, so these files run alongside its files (see vitest.config.ts). The workflow bundle is built here,
// while the servers start, and handed to every worker through AIM_WORKFLOW_BUNDLE as the integration project's setup
// file does.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLE_ENV, BUNDLE_FILE, buildWorkflowBundles } from '../../worker/workflowBundle.js';
import { REPO_ROOT, startStack, type Stack } from './stack.js';

export interface PrivateStack {
  stack: Stack;
  conn: { kubeconfigPath: string; temporalAddress: string; temporalNamespace: string };
  stop(opts: { failed: boolean }): Promise<void>;
}

const tag = '[aim-private-stack]';

export async function startPrivateStack(): Promise<PrivateStack> {
  const workDir = await mkdtemp(join(tmpdir(), 'aim-private-stack-'));
  console.log(`${tag} private stack; work dir and logs: ${workDir}`);
  const bundleDir = join(workDir, 'workflow-bundle');
  const [stack] = await Promise.all([
    startStack({ workDir, temporalHeadless: true }),
    buildWorkflowBundles(REPO_ROOT, bundleDir),
  ]);
  process.env[BUNDLE_ENV] ??= join(bundleDir, BUNDLE_FILE);
  console.log(`${tag} stack up in ${stack.startupMs} ms (${JSON.stringify(stack.timings)})`);
  return {
    stack,
    conn: {
      kubeconfigPath: stack.kubeconfigPath,
      temporalAddress: stack.temporalAddress,
      temporalNamespace: stack.temporalNamespace,
    },
    async stop({ failed }) {
      if (failed) console.error(`${tag} server log tails (full logs: ${stack.logDir})\n${stack.logs(60)}`);
      await stack.stop();
      if (failed || process.env.AIM_KEEP_WORKDIR === '1') console.log(`${tag} work dir kept: ${workDir}`);
      else await rm(workDir, { recursive: true, force: true });
    },
  };
}
