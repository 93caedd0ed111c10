/**
 * `aim-orchestrator <worker|bridge|codec-server>`: the worker and the bridge as one program with subcommands (one
 * image, the Deployment picks the subcommand), plus the codec server for the Temporal UI. All are configured by env;
 * `--help` lists it.
 */
const HELP = `usage: aim-orchestrator <command>

commands:
  worker        run workflows and activities (env: KUBECONFIG, TEMPORAL_*, AIM_TASK_QUEUE, AIM_DOWNLOADER_IMAGE,
                AIM_DOWNLOADER_MEMORY_LIMIT, AIM_SUBMIT_NAMESPACES, AIM_LOG_LEVEL, AIM_METRICS_ADDRESS, AIM_PAYLOAD_KEY)
  bridge        watch the cluster and nudge workflows (env: KUBECONFIG, TEMPORAL_*, AIM_TASK_QUEUE,
                AIM_BRIDGE_HEALTH_PORT, AIM_BRIDGE_HEALTH_HOST, AIM_BRIDGE_NAMESPACES, AIM_LOG_LEVEL, AIM_PAYLOAD_KEY)
  codec-server  decrypt payloads for the Temporal UI / CLI (env: AIM_PAYLOAD_KEY, AIM_PAYLOAD_KEY_ID,
                AIM_PAYLOAD_DECRYPT_KEYS, AIM_CODEC_SERVER_ADDRESS, AIM_CODEC_CORS_ORIGINS)

TEMPORAL_*: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default), TEMPORAL_API_KEY, TEMPORAL_TLS,
TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH,
TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE (docs/operating.md, "Connecting to Temporal"). worker and bridge check their
environment first and exit 78 with the fix when it is not ready (docs/troubleshooting.md).
`;

const command = process.argv[2];
if (command === 'worker') await import('./main.js');
else if (command === 'bridge') await import('../bridge/main.js');
else if (command === 'codec-server') {
  const { runCodecServer } = await import('./codecServer.js');
  await runCodecServer().catch((err: unknown) => {
    process.stderr.write(`codec-server: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
} else {
  process.stdout.write(HELP);
  process.exitCode = command === undefined || command === '--help' || command === '-h' ? 0 : 64;
}
