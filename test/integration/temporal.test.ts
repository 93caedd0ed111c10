import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createWorker } from '../../worker/worker.js';
import { BUNDLE_FILE, buildWorkflowBundles } from '../../worker/workflowBundle.js';
import { pingCluster } from '../../workflows/index.js';
import { loadKubeConfig } from '../harness/kube.js';

/**
 * The seed of every later workflow: a real worker, a real Temporal server, activities reading a real API server. The
 * worker runs the prebuilt workflow bundle, built here as `npm run build` builds it (the other suites bundle sources).
 */
describe('worker against real Temporal and Kubernetes', () => {
  const taskQueue = `it-ping-${Date.now().toString(36)}`;
  const bundleDir = mkdtempSync(join(tmpdir(), 'aim-bundle-'));
  let worker: Worker;
  let closeWorker: () => Promise<void>;
  let running: Promise<void>;
  let client: Client;
  let connection: Connection;

  beforeAll(async () => {
    await buildWorkflowBundles(join(import.meta.dirname, '..', '..'), bundleDir);
    ({ worker, close: closeWorker } = await createWorker({
      workflowBundlePath: join(bundleDir, BUNDLE_FILE),
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
    rmSync(bundleDir, { recursive: true, force: true });
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
