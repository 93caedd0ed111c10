import { Client, Connection } from '@temporalio/client';
import { loadKubeConfig } from '../activities/kube/config.js';
import { TASK_QUEUE } from '../workflows/signals.js';
import { startBridge } from './bridge.js';

/**
 * The bridge process: KUBECONFIG (else in-cluster), TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, AIM_TASK_QUEUE,
 * AIM_BRIDGE_HEALTH_PORT (default 8081), AIM_BRIDGE_NAMESPACES (optional, comma-separated). Stops cleanly on
 * SIGTERM/SIGINT.
 */
async function main(): Promise<void> {
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
  const namespaces = (process.env.AIM_BRIDGE_NAMESPACES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bridge = startBridge({
    kubeConfig: loadKubeConfig(),
    client,
    taskQueue: process.env.AIM_TASK_QUEUE ?? TASK_QUEUE,
    healthPort: Number(process.env.AIM_BRIDGE_HEALTH_PORT ?? 8081),
    ...(namespaces.length > 0 ? { namespaces } : {}),
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.info('[aim-bridge] stopping');
    void bridge
      .stop()
      .then(() => connection.close())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        console.error(err);
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
  console.error(err);
  process.exit(1);
});
