// The files of a downward API projection (`projected.sources[].downwardAPI`), as the kubelet writes them. The
// ServiceAccount admission plugin puts one into every pod's `kube-api-access-*` volume (the `namespace` file), so a
// pod admitted the way a cluster admits it needs it. Only metadata fields: a volume cannot show the pod's IPs.
import type { V1DownwardAPIVolumeFile, V1Pod } from '@kubernetes/client-node';

/** The kubelet's format for `metadata.labels` / `metadata.annotations`: `key="value"` lines, sorted by key. */
function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(m![k])}`)
    .join('\n');
}

/** The content of one metadata field path, or undefined when a volume cannot project it. */
export function downwardApiField(pod: V1Pod, path: string): string | undefined {
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (keyed) return (keyed[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations)?.[keyed[2]!] ?? '';
  switch (path) {
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata?.uid ?? '';
    case 'metadata.labels':
      return formatMap(pod.metadata?.labels);
    case 'metadata.annotations':
      return formatMap(pod.metadata?.annotations);
    default:
      return undefined;
  }
}

/** Path → content of each item; throws (a mount error for the caller) naming the first field it cannot project. */
export function downwardApiFiles(pod: V1Pod, items: readonly V1DownwardAPIVolumeFile[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const item of items) {
    const path = item.fieldRef?.fieldPath;
    const value = path === undefined ? undefined : downwardApiField(pod, path);
    if (value === undefined)
      throw new Error(`downward API item ${item.path}: only metadata fieldRefs are supported by the process kubelet`);
    files.set(item.path, value);
  }
  return files;
}
