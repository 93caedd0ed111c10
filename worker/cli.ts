/**
 * `aim-orchestrator <worker|bridge>`: the worker and the bridge as one program with subcommands (one image, the
 * Deployment picks the subcommand). Both are configured by env; `--help` lists it.
 */
const HELP = `usage: aim-orchestrator <command>

commands:
  worker   run workflows and activities (env: KUBECONFIG, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, AIM_TASK_QUEUE,
           AIM_DOWNLOADER_IMAGE, AIM_SUBMIT_NAMESPACES)
  bridge   watch the cluster and nudge workflows (env: KUBECONFIG, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
           AIM_TASK_QUEUE, AIM_BRIDGE_HEALTH_PORT, AIM_BRIDGE_NAMESPACES)
`;

const command = process.argv[2];
if (command === 'worker') await import('./main.js');
else if (command === 'bridge') await import('../bridge/main.js');
else {
  process.stdout.write(HELP);
  process.exitCode = command === undefined || command === '--help' || command === '-h' ? 0 : 64;
}
