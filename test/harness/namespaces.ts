// Test namespaces as a cluster's namespaces are: labelled with the Pod Security level the orchestrator's pods must
// meet, and ready for Pods the way the ServiceAccount admission plugin needs them (the namespace's `default` account,
// which the plugin gives every Pod that names none, and the `kube-root-ca.crt` ConfigMap its projected
// `kube-api-access-*` volume reads; the controller-manager creates both a moment after the namespace).
import type { CoreV1Api } from '@kubernetes/client-node';
import { waitFor } from './processes.js';

/** The Pod Security Standard the orchestrator's pods meet (spec 6 for the download Jobs). */
export const POD_SECURITY_LEVEL = 'restricted';

/** The labels of a namespace enforcing `level` (and warning and auditing at it, as a cluster admin would set them). */
export function podSecurityLabels(level: string = POD_SECURITY_LEVEL): Record<string, string> {
  return {
    'pod-security.kubernetes.io/enforce': level,
    'pod-security.kubernetes.io/warn': level,
    'pod-security.kubernetes.io/audit': level,
  };
}

const isNotFound = (err: unknown): boolean => (err as { code?: number }).code === 404;

/**
 * Creates a namespace enforcing the restricted Pod Security Standard (or `podSecurity`, `false` for none) and waits
 * until Pods can be admitted into it: its `default` ServiceAccount and `kube-root-ca.crt` exist.
 */
export async function createTestNamespace(
  core: CoreV1Api,
  name: string,
  opts: { podSecurity?: string | false; labels?: Record<string, string> } = {},
): Promise<void> {
  const security = opts.podSecurity === false ? {} : podSecurityLabels(opts.podSecurity);
  await core.createNamespace({ body: { metadata: { name, labels: { ...security, ...opts.labels } } } });
  await waitFor(
    `namespace ${name}: default ServiceAccount and kube-root-ca.crt`,
    async () => {
      try {
        await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
        await core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: name });
        return true;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}
