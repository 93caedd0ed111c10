// Who a container's processes run as, decided as the kubelet and containerd decide it: the container's
// securityContext over the pod's, over the image's USER; runAsNonRoot checked the kubelet's way (verifyRunAsNonRoot in
// pkg/kubelet/kuberuntime/security_context_others.go, reported as CreateContainerConfigError); the pod's fsGroup and
// supplementalGroups as supplementary groups, as the runtime adds them.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import type { ContainerUser } from './runtime.js';

/** An image's `USER` (`1000`, `1000:1000`, `node`), as a mapping declares it; absent means root, as for most images. */
export interface ImageUser {
  uid?: number;
  gid?: number;
  /** A non-numeric user name (the kubelet cannot tell whether it is root). */
  name?: string;
}

export function parseImageUser(user: string | undefined): ImageUser {
  if (!user) return { uid: 0, gid: 0 };
  const [u = '', g] = user.split(':');
  const gid = g !== undefined && /^\d+$/.test(g) ? Number(g) : undefined;
  if (/^\d+$/.test(u)) return { uid: Number(u), ...(gid !== undefined ? { gid } : {}) };
  if (u === 'root') return { uid: 0, gid: gid ?? 0 };
  return { name: u, ...(gid !== undefined ? { gid } : {}) };
}

/** `name_namespace(uid)`, the kubelet's format.Pod. */
const formatPod = (pod: V1Pod): string =>
  `${pod.metadata?.name ?? ''}_${pod.metadata?.namespace ?? ''}(${pod.metadata?.uid ?? ''})`;

function effective(pod: V1Pod, c: V1Container) {
  const p = pod.spec?.securityContext;
  const s = c.securityContext;
  return {
    runAsUser: s?.runAsUser ?? p?.runAsUser,
    runAsGroup: s?.runAsGroup ?? p?.runAsGroup,
    runAsNonRoot: s?.runAsNonRoot ?? p?.runAsNonRoot,
  };
}

/** The kubelet's runAsNonRoot verdict: the CreateContainerConfigError message, or undefined when the container may run. */
export function runAsNonRootError(pod: V1Pod, c: V1Container, image: ImageUser): string | undefined {
  const sc = effective(pod, c);
  if (!sc.runAsNonRoot) return undefined;
  const where = `(pod: "${formatPod(pod)}", container: ${c.name})`;
  if (sc.runAsUser !== undefined)
    return sc.runAsUser === 0 ? `container's runAsUser breaks non-root policy ${where}` : undefined;
  if (image.uid === 0) return `container has runAsNonRoot and image will run as root ${where}`;
  if (image.uid === undefined && image.name)
    return `container has runAsNonRoot and image has non-numeric user (${image.name}), cannot verify user is non-root ${where}`;
  return undefined;
}

/**
 * The uid, gid and supplementary groups of the container's processes, or undefined when they run as root with no
 * extra groups (the kubelet's own identity here: nothing to change). A named image user maps to uid 0 (there is no
 * image /etc/passwd to look it up in).
 */
export function containerUser(pod: V1Pod, c: V1Container, image: ImageUser): ContainerUser | undefined {
  const sc = effective(pod, c);
  const uid = sc.runAsUser ?? image.uid ?? 0;
  // containerd: runAsGroup, else the image's group when the image's user is the one running, else 0.
  const gid = sc.runAsGroup ?? (sc.runAsUser === undefined || sc.runAsUser === image.uid ? image.gid : undefined) ?? 0;
  const p = pod.spec?.securityContext;
  const extra = [...(p?.fsGroup !== undefined ? [p.fsGroup] : []), ...(p?.supplementalGroups ?? [])];
  const groups = [...new Set([gid, ...extra])];
  if (uid === 0 && gid === 0 && extra.length === 0) return undefined;
  return { uid, gid, groups };
}

/**
 * Owner and mode of the pod's service-account token (projected volume): the one runAsUser every container shares
 * (0600), else group fsGroup (0640), else world-readable 0644 (the kube-api-access defaultMode), as the projected
 * volume plugin writes it.
 */
export function tokenOwnership(pod: V1Pod): { uid?: number; gid?: number; mode: number } {
  const users = new Set((pod.spec?.containers ?? []).map((c) => effective(pod, c).runAsUser));
  const [only] = [...users];
  const fsGroup = pod.spec?.securityContext?.fsGroup;
  if (users.size === 1 && only !== undefined)
    return {
      uid: only,
      ...(fsGroup !== undefined ? { gid: fsGroup } : {}),
      mode: fsGroup !== undefined ? 0o640 : 0o600,
    };
  if (fsGroup !== undefined) return { gid: fsGroup, mode: 0o640 };
  return { mode: 0o644 };
}
