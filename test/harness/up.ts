// Starts the test stack for manual use and keeps it up until Ctrl-C / SIGTERM:
//   npx tsx test/harness/up.ts [workDir]      (AIM_STACK_KSERVE=1 adds KServe's controller manager)
// then e.g. `KUBECONFIG=<printed path> kubectl get crds` or open the Temporal UI.
import { binPath } from './bins.js';
import { startStack } from './stack.js';

async function main(): Promise<void> {
  const workDir = process.argv[2];
  const stack = await startStack(workDir ? { workDir } : {});
  let kubectl = 'kubectl';
  try {
    kubectl = binPath('kubectl');
  } catch {
    // kubectl is only a convenience here
  }
  console.log(
    [
      `stack up in ${stack.startupMs} ms (work dir ${stack.workDir}, logs ${stack.logDir})`,
      `  kubeconfig:  ${stack.kubeconfigPath}`,
      `  API server:  ${stack.kubeServer}`,
      `  Temporal:    ${stack.temporalAddress} (namespace ${stack.temporalNamespace})`,
      `  Temporal UI: ${stack.temporalUiAddress ?? '(headless)'}`,
      `  CRDs:        ${stack.crds.join(', ')}`,
      `  KServe:      ${stack.kserve ? `controller manager, health ${stack.kserve.healthUrl}` : 'not running (AIM_STACK_KSERVE=1 starts it)'}`,
      `  try:         KUBECONFIG=${stack.kubeconfigPath} ${kubectl} get crds`,
      'Ctrl-C to stop.',
    ].join('\n'),
  );

  await new Promise<void>((resolve) => {
    // Children run in their own process groups, so Ctrl-C reaches only this process and we stop them in order.
    // The handlers stay installed: npx and tsx relay the terminal's SIGINT, so a second one arrives at once and
    // must not kill us halfway through the (bounded, ~10 s at worst) shutdown.
    let signalled = false;
    const onSignal = (): void => {
      if (signalled) return;
      signalled = true;
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  console.log('stopping...');
  await stack.stop();
  console.log('stopped.');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
