import { Client } from '@temporalio/client';
import { loadKubeConfig } from '../activities/kube/config.js';
import { dataConverterFromEnv } from '../client/dataConverter.js';
import { connectTemporalClient, temporalSettingsFromEnv } from '../client/temporalConnection.js';
import { createLogger } from '../worker/logging.js';
import { EXIT_PREFLIGHT, exitOnSettingsError, preflightAtStart } from '../worker/preflight.js';
import { TASK_QUEUE } from '../workflows/signals.js';
import { startBridge } from './bridge.js';

/**
 * The bridge process: KUBECONFIG (else in-cluster), the Temporal connection (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_CONFIG_FILE/TEMPORAL_PROFILE: client/temporalConnection.ts), AIM_TASK_QUEUE,
 * AIM_BRIDGE_HEALTH_PORT (default 8081) and AIM_BRIDGE_HEALTH_HOST (default 127.0.0.1; `/healthz`, `/readyz`,
 * `/metrics`), AIM_BRIDGE_NAMESPACES (optional, comma-separated), AIM_LOG_LEVEL (INFO; JSON lines on stdout),
 * AIM_PAYLOAD_KEY (+ AIM_PAYLOAD_KEY_ID, AIM_PAYLOAD_DECRYPT_KEYS: the worker's payload encryption). Stops cleanly on
 * SIGTERM/SIGINT. Exits with 78 (and the fix on stderr) when a setting is wrong or the preflight fails.
 */
const logger = createLogger(process.env.AIM_LOG_LEVEL);

async function main(): Promise<void> {
  const kubeConfig = loadKubeConfig();
  const temporal = temporalSettingsFromEnv(process.env);
  if (!(await preflightAtStart('bridge', { kubeConfig, temporal }, logger))) process.exit(EXIT_PREFLIGHT);
  const connection = await connectTemporalClient(temporal);
  const client = new Client({
    connection,
    namespace: temporal.namespace,
    dataConverter: dataConverterFromEnv(process.env),
  });
  const namespaces = (process.env.AIM_BRIDGE_NAMESPACES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bridge = startBridge({
    kubeConfig,
    client,
    taskQueue: process.env.AIM_TASK_QUEUE ?? TASK_QUEUE,
    healthPort: Number(process.env.AIM_BRIDGE_HEALTH_PORT ?? 8081),
    healthHost: process.env.AIM_BRIDGE_HEALTH_HOST || '127.0.0.1',
    log: (level, msg) => logger[level](msg),
    ...(namespaces.length > 0 ? { namespaces } : {}),
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping');
    void bridge
      .stop()
      .then(() => connection.close())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error('stop failed', { error: err });
        process.exit(1);
      });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await bridge.ready.catch((err: unknown) => {
    if (!stopping) throw err;
  });
}

main().catch((err: unknown) => {
  exitOnSettingsError('bridge', err, logger);
  logger.error('bridge stopped on an error', { error: err });
  process.exit(1);
});
