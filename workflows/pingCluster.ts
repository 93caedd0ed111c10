import { proxyActivities } from '@temporalio/workflow';
import type { ClusterActivities } from '../activities/cluster.js';

const { readNamespace, readApiServerVersion } = proxyActivities<ClusterActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['OrchestratorForbidden'] },
});

export interface PingResult {
  serverVersion: string;
  namespace: { name: string; uid: string; phase?: string } | null;
}

/** The smallest end-to-end path: a workflow whose activities read from the API server. Used by `aimctl` checks. */
export async function pingCluster(namespace: string): Promise<PingResult> {
  const serverVersion = await readApiServerVersion();
  const ns = await readNamespace(namespace);
  return { serverVersion, namespace: ns };
}
