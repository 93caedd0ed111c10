import { CoreV1Api, VersionApi, type KubeConfig } from '@kubernetes/client-node';
import { toKubeError } from './kube/errors.js';
import { toApplicationFailure } from './failures.js';

/** Cluster-level reads. Small and idempotent like every activity. */
export function clusterActivities(kc: KubeConfig) {
  const core = kc.makeApiClient(CoreV1Api);
  const version = kc.makeApiClient(VersionApi);
  return {
    async readApiServerVersion(): Promise<string> {
      try {
        return (await version.getCode()).gitVersion;
      } catch (err) {
        throw toApplicationFailure(toKubeError(err), 'read the API server version');
      }
    },
    async readNamespace(name: string): Promise<{ name: string; uid: string; phase?: string } | null> {
      try {
        const ns = await core.readNamespace({ name });
        return { name, uid: ns.metadata?.uid ?? '', phase: ns.status?.phase };
      } catch (err) {
        const e = toKubeError(err);
        if (e.kind === 'NotFound') return null;
        throw toApplicationFailure(e, `get namespace ${name}`);
      }
    },
  };
}

export type ClusterActivities = ReturnType<typeof clusterActivities>;
