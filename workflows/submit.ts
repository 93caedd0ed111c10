import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { SubmitResult } from '../activities/submit.js';

const { submitManifest } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    maximumAttempts: 5,
    nonRetryableErrorTypes: ['InvalidSpec', 'SubmitNotAllowed', 'ApplyRejected', 'OrchestratorForbidden'],
  },
});

/**
 * `temporal workflow start --type submit --task-queue aim --input-file svc.json` (spec 9): a short workflow under a
 * random ID that applies the manifest and signal-with-starts the object's own workflow, then completes. The only
 * workflow that ends on an invalid input (non-retryable InvalidSpec) or a refused one (SubmitNotAllowed).
 */
export async function submit(manifest: unknown): Promise<SubmitResult> {
  return submitManifest(manifest);
}
