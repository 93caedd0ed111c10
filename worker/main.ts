/**
 * `aim-orchestrator worker`: runs workflows and activities against the cluster of KUBECONFIG (or in-cluster).
 * Env: the Temporal connection (TEMPORAL_ADDRESS default 127.0.0.1:7233, TEMPORAL_NAMESPACE default `default`,
 * TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_CONFIG_FILE/TEMPORAL_PROFILE: client/temporalConnection.ts),
 * AIM_TASK_QUEUE (aim), AIM_LOG_LEVEL (INFO; JSON lines on stdout), AIM_METRICS_ADDRESS (0.0.0.0:9464, `off`),
 * AIM_PAYLOAD_KEY (+ _KEY_ID, AIM_PAYLOAD_DECRYPT_KEYS: payload encryption, see client/dataConverter.ts),
 * AIM_MAX_CACHED_WORKFLOWS (the sticky cache's size, worker/workerTuning.ts).
 * Exits with 78 (and the fix on stderr) when a setting is wrong or the preflight (worker/preflight.ts) fails.
 */
import { loadKubeConfig } from '../activities/kube/config.js';
import { dataConverterFromEnv } from '../client/dataConverter.js';
import { temporalSettingsFromEnv } from '../client/temporalConnection.js';
import { installRuntime, startClusterMetrics } from './metrics.js';
import { EXIT_PREFLIGHT, exitOnSettingsError, preflightAtStart } from './preflight.js';
import { createWorker } from './worker.js';
import { workerTuningFromEnv } from './workerTuning.js';
import { ensureCacheSweeperFromEnv } from './sweeper.js';

// Before any connection: the Runtime (JSON logs, Prometheus endpoint) can be installed once per process.
const { logger } = installRuntime({
  logLevel: process.env.AIM_LOG_LEVEL,
  metricsAddress: process.env.AIM_METRICS_ADDRESS,
});

async function main(): Promise<void> {
  const kubeConfig = loadKubeConfig();
  const temporal = temporalSettingsFromEnv(process.env);
  if (!(await preflightAtStart('worker', { kubeConfig, temporal }, logger))) process.exit(EXIT_PREFLIGHT);
  const tuning = workerTuningFromEnv(process.env);
  logger.info('sticky workflow cache', {
    maxCachedWorkflows: tuning.options.maxCachedWorkflows ?? "the SDK's default",
    source: tuning.source,
  });
  const { worker, close, reads } = await createWorker({
    temporal,
    namespace: temporal.namespace,
    taskQueue: process.env.AIM_TASK_QUEUE ?? 'aim',
    kubeConfig,
    dataConverter: dataConverterFromEnv(process.env),
    overrides: tuning.options,
  });
  const clusterMetrics = startClusterMetrics(kubeConfig, { log: logger, ...(reads ? { reads } : {}) });
  await ensureCacheSweeperFromEnv(); // Shared-cache TTL sweeper (AIM_SHARED_CACHE_TTL, 0 = never)
  const stop = () => worker.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await worker.run();
  } finally {
    clusterMetrics.stop();
    await close();
  }
}

main().catch((err: unknown) => {
  exitOnSettingsError('worker', err, logger);
  logger.error('worker stopped on an error', { error: err });
  process.exit(1);
});
