import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createWorker } from '../../worker/worker.js';
import { pingCluster } from '../../workflows/index.js';
import { loadKubeConfig } from '../harness/kube.js';

/** The seed of every later workflow: a real worker, a real Temporal server, activities reading a real API server. */
describe('worker against real Temporal and Kubernetes', () => {
  const taskQueue = `it-ping-${Date.now().toString(36)}`;
  let worker: Worker;
  let closeWorker: () => Promise<void>;
  let running: Promise<void>;
  let client: Client;
  let connection: Connection;

  beforeAll(async () => {
    ({ worker, close: closeWorker } = await createWorker({
      temporalAddress: inject('temporalAddress'),
      namespace: inject('temporalNamespace'),
      taskQueue,
      kubeConfig: loadKubeConfig(inject('kubeconfigPath')),
    }));
    running = worker.run();
    connection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection, namespace: inject('temporalNamespace') });
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await closeWorker?.();
    await connection?.close();
  });

  it('runs a workflow whose activities read from the API server', async () => {
    const result = await client.workflow.execute(pingCluster, {
      taskQueue,
      workflowId: `ping-${Date.now()}`,
      args: ['kube-system'],
    });
    expect(result.serverVersion).toBe('v1.36.3');
    expect(result.namespace).toMatchObject({ name: 'kube-system', phase: 'Active' });
    expect(result.namespace?.uid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports a missing namespace as null instead of failing', async () => {
    const result = await client.workflow.execute(pingCluster, {
      taskQueue,
      workflowId: `ping-missing-${Date.now()}`,
      args: ['no-such-namespace'],
    });
    expect(result.namespace).toBeNull();
  });
});
