/**
 * `aim-orchestrator worker`: runs workflows and activities against the cluster of KUBECONFIG (or in-cluster).
 * Env: TEMPORAL_ADDRESS (default 127.0.0.1:7233), TEMPORAL_NAMESPACE (default), AIM_TASK_QUEUE (aim).
 */
import { loadKubeConfig } from '../activities/kube/config.js';
import { createWorker } from './worker.js';

async function main(): Promise<void> {
  const { worker, close } = await createWorker({
    temporalAddress: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: process.env.AIM_TASK_QUEUE ?? 'aim',
    kubeConfig: loadKubeConfig(),
  });
  const stop = () => worker.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await worker.run();
  } finally {
    await close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
