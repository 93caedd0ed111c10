import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { startOrchestrator, waitForObject, type OrchestratorFixture } from '../harness/orchestrator.js';

/** The raw-Temporal CI entry: `temporal workflow start --type submit --task-queue aim --input-file svc.json`. */
let orch: OrchestratorFixture;

beforeAll(async () => {
  orch = await startOrchestrator({
    kubeconfigPath: inject('kubeconfigPath'),
    temporalAddress: inject('temporalAddress'),
    temporalNamespace: inject('temporalNamespace'),
  });
}, 120_000);
afterAll(async () => orch?.stop());

const submit = (manifest: unknown) =>
  orch.client.workflow.execute('submit', {
    taskQueue: orch.taskQueue,
    workflowId: `submit-${Math.random().toString(36).slice(2)}`,
    args: [manifest],
  });

async function refusal(manifest: unknown): Promise<ApplicationFailure> {
  try {
    await submit(manifest);
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause?.cause instanceof ApplicationFailure) return err.cause.cause;
    if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure) return err.cause;
    throw err;
  }
  throw new Error('submit succeeded');
}

describe('submit workflow', () => {
  it('applies the manifest in an allowed namespace and starts the object workflow', async () => {
    const result = await submit({
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModel',
      metadata: { name: 'submitted', namespace: orch.namespace },
      spec: { image: 'ghcr.io/silogen/llama:1' },
    });
    expect(result).toMatchObject({
      kind: 'AIMModel',
      name: 'submitted',
      workflowId: `aim/AIMModel/${orch.namespace}/submitted`,
    });
    await waitForObject<{ apiVersion: string; kind: string; status?: { status?: string } }>(
      orch.objects,
      RESOURCES.AIMModel,
      'submitted',
      orch.namespace,
      (m) => m.status?.status === 'Ready',
    );
  });

  it('refuses a namespace that is not in AIM_SUBMIT_NAMESPACES, explaining how to enable it', async () => {
    const f = await refusal({
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModel',
      metadata: { name: 'x', namespace: 'kube-system' },
      spec: { image: 'i' },
    });
    expect(f.type).toBe('SubmitNotAllowed');
    expect(f.message).toContain('AIM_SUBMIT_NAMESPACES');
    expect(await orch.objects.get(RESOURCES.AIMModel, 'x', 'kube-system')).toBeUndefined();
  });

  it('refuses a non-default service account', async () => {
    const f = await refusal({
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModel',
      metadata: { name: 'y', namespace: orch.namespace },
      spec: { image: 'i', serviceAccountName: 'admin' },
    });
    expect(f.type).toBe('SubmitNotAllowed');
  });

  it('ends with a non-retryable InvalidSpec naming the field on an invalid manifest', async () => {
    const f = await refusal({
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMService',
      metadata: { name: 'z', namespace: orch.namespace },
      spec: { model: {} },
    });
    expect(f.type).toBe('InvalidSpec');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain('spec.model: exactly one of name, image, or custom must be specified');
  });
});
