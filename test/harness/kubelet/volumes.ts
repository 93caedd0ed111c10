// Storage, two halves.
//
// 1. A hostPath "external provisioner" for one StorageClass, the way rancher's local-path provisioner works: the class
//    names this provisioner, a PV `pvc-<uid>` is created with `claimRef` to the PVC (the real PV binder controller in
//    kube-controller-manager then binds the pair), and a Released PV with reclaim policy Delete has its directory
//    removed and is deleted. The default binding mode is WaitForFirstConsumer, as on most real clusters: the PVC stays
//    Pending until a pod that uses it is being scheduled; the emulated scheduler then sets the PVC's
//    `volume.kubernetes.io/selected-node` annotation (the scheduler's VolumeBinding plugin does exactly that), this
//    provisioner creates the PV pinned to that node, the binder binds it, and only then is the pod bound to the node.
//    That keeps the product honest about spec 5.4 step 2 ("the download Job is created right after the PVC;
//    WaitForFirstConsumer classes bind on the first pod") instead of letting it wait for a Bound PVC that a real
//    cluster would never produce. `Immediate` is available for classes created here, and is simpler: the PV is created
//    as soon as the PVC appears.
//
// 2. Pod volumes as the kubelet's volume manager sets them up, except that nothing is mounted: each volume becomes a
//    host directory (or file) that env paths and the image mapping are rewritten to.
import { Buffer } from 'node:buffer';
import { chmod, chown, lchown, lstat, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  ApiException,
  type CoreV1Api,
  type StorageV1Api,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1StorageClass,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { downwardApiFiles } from './downwardApi.js';
import { tokenOwnership } from './securityContext.js';
import type { VolumeBindingMode } from './types.js';

export const PROVISIONER = 'aim-test.local/process-kubelet';
export const ANN_SELECTED_NODE = 'volume.kubernetes.io/selected-node';
export const ANN_PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';
export const ANN_DEFAULT_CLASS = 'storageclass.kubernetes.io/is-default-class';
/**
 * The kubeconfig volume the process kubelet adds beside the `kube-api-access-*` volume of the ServiceAccount admission
 * plugin: a process cannot read `/var/run/secrets/...` in-cluster config, so it gets a kubeconfig with such a token.
 */
export const KUBE_API_ACCESS = 'kube-api-access';

export function apiErrorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    try {
      const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as { message?: string };
      if (body?.message) return body.message;
    } catch {
      // not JSON
    }
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

export const isApiStatus = (err: unknown, code: number): boolean => err instanceof ApiException && err.code === code;

/**
 * Kubelet instances of this process using each StorageClass, and whether one of them created it. The class is
 * cluster-wide state: it exists only while a process kubelet runs (the last one to stop deletes it, if it was created
 * here), so that a default class does not leak into test files that run later and make their outcome order-dependent.
 */
const classUsers = new Map<string, { users: number; created: boolean }>();

/** Reads the StorageClass, creating it when missing. An existing class of another provisioner is an error. */
export async function acquireStorageClass(
  storage: StorageV1Api,
  name: string,
  mode: VolumeBindingMode,
  isDefault: boolean,
): Promise<V1StorageClass> {
  const body: V1StorageClass = {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name, ...(isDefault ? { annotations: { [ANN_DEFAULT_CLASS]: 'true' } } : {}) },
    provisioner: PROVISIONER,
    reclaimPolicy: 'Delete',
    volumeBindingMode: mode,
  };
  const entry = classUsers.get(name) ?? { users: 0, created: false };
  let sc: V1StorageClass;
  try {
    sc = await storage.createStorageClass({ body });
    entry.created = true;
  } catch (err) {
    if (!isApiStatus(err, 409)) throw err;
    sc = await storage.readStorageClass({ name });
  }
  if (sc.provisioner !== PROVISIONER) {
    throw new Error(
      `StorageClass ${name} exists with provisioner ${sc.provisioner}; the process kubelet provisions only ${PROVISIONER}`,
    );
  }
  entry.users += 1;
  classUsers.set(name, entry);
  return sc;
}

/**
 * Whether this kubelet provisions for a class: its own, and any other class naming this provisioner that no kubelet
 * of this process owns (a class a test or an administrator creates, e.g. the missing class of a stuck claim).
 */
export function servesClass(sc: V1StorageClass, ownClass: string): boolean {
  const name = sc.metadata?.name ?? '';
  return sc.provisioner === PROVISIONER && (name === ownClass || !classUsers.has(name));
}

/** One user fewer; the last one deletes the class if it was created here (`keep`: a simulated crash keeps it). */
export async function releaseStorageClass(storage: StorageV1Api, name: string, keep: boolean): Promise<void> {
  const entry = classUsers.get(name);
  if (!entry) return;
  entry.users -= 1;
  if (entry.users > 0 || keep || !entry.created) return;
  classUsers.delete(name);
  await storage.deleteStorageClass({ name }).catch((err: unknown) => {
    if (!isApiStatus(err, 404)) throw err;
  });
}

/** Whether this node should provision the PVC now (and where its PV would be pinned). */
export function wantsProvisioning(pvc: V1PersistentVolumeClaim, sc: V1StorageClass, nodeName: string): boolean {
  if (pvc.status?.phase !== 'Pending' || pvc.spec?.volumeName || pvc.metadata?.deletionTimestamp) return false;
  if (pvc.spec?.storageClassName !== sc.metadata?.name) return false;
  if (sc.volumeBindingMode === 'WaitForFirstConsumer')
    return pvc.metadata?.annotations?.[ANN_SELECTED_NODE] === nodeName;
  return true;
}

/** The PV for a PVC: hostPath `dir`, capacity = request, same access modes, pre-bound through `claimRef`. */
export function buildPersistentVolume(
  pvc: V1PersistentVolumeClaim,
  sc: V1StorageClass,
  dir: string,
  nodeName: string,
): V1PersistentVolume {
  const pinned = sc.volumeBindingMode === 'WaitForFirstConsumer';
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `pvc-${pvc.metadata?.uid}`, annotations: { [ANN_PROVISIONED_BY]: PROVISIONER } },
    spec: {
      capacity: { storage: pvc.spec?.resources?.requests?.storage ?? '1Gi' },
      accessModes: pvc.spec?.accessModes ?? ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? 'Delete',
      storageClassName: sc.metadata?.name,
      volumeMode: 'Filesystem',
      hostPath: { path: dir, type: 'DirectoryOrCreate' },
      claimRef: {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        namespace: pvc.metadata?.namespace,
        name: pvc.metadata?.name,
        uid: pvc.metadata?.uid,
      },
      // A local volume lives on the node it was provisioned for (as local-path's do); the scheduler checks this.
      ...(pinned
        ? {
            nodeAffinity: {
              required: {
                nodeSelectorTerms: [
                  { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [nodeName] }] },
                ],
              },
            },
          }
        : {}),
    },
  };
}

/** Thrown when a volume cannot be set up; the message is what follows `MountVolume.SetUp failed for volume "x" : `. */
export class MountError extends Error {
  override name = 'MountError';
  constructor(
    readonly volume: string,
    message: string,
  ) {
    super(message);
  }
}

export interface MountContext {
  core: CoreV1Api;
  pod: V1Pod;
  podDir: string;
  server: string;
  caData: string;
}

export interface MountedVolumes {
  /** Volume name → host path. */
  paths: Map<string, string>;
  /** Kubeconfig with the pod's service-account token, unless automount is off. */
  kubeconfigPath?: string;
}

type Payload = Map<string, { data: Buffer; mode?: number }>;

function decodeSecret(data: Record<string, string> | undefined): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}

function configMapData(cm: {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}): Record<string, Buffer> {
  return {
    ...Object.fromEntries(Object.entries(cm.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'utf8')])),
    ...Object.fromEntries(Object.entries(cm.binaryData ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  };
}

/** The files of a secret/configMap source: `items` map key → path, otherwise every key is a file. */
function payloadOf(
  data: Record<string, Buffer>,
  items: Array<{ key: string; path: string; mode?: number }> | undefined,
  missingKey: (key: string) => string,
  volume: string,
): Payload {
  const out: Payload = new Map();
  if (!items?.length) {
    for (const [k, v] of Object.entries(data)) out.set(k, { data: v });
    return out;
  }
  for (const item of items) {
    const v = data[item.key];
    if (v === undefined) throw new MountError(volume, missingKey(item.key));
    out.set(item.path, { data: v, ...(item.mode !== undefined ? { mode: item.mode } : {}) });
  }
  return out;
}

async function writePayload(dir: string, payload: Payload, defaultMode: number | undefined): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [rel, { data, mode }] of payload) {
    const file = join(dir, rel);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, data, { mode: mode ?? defaultMode ?? 0o644 });
  }
}

async function readOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (isApiStatus(err, 404)) return undefined;
    throw err;
  }
}

async function requestToken(
  ctx: MountContext,
  serviceAccount: string,
  audience?: string,
  expirationSeconds = 3600,
): Promise<string> {
  const { pod } = ctx;
  const res = await ctx.core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace: pod.metadata?.namespace ?? '',
    body: {
      spec: {
        audiences: audience ? [audience] : [],
        expirationSeconds,
        // Bound to the pod like the kubelet's projected token: it stops working when the pod is deleted. The API
        // server binds only to a pod that names the account (the admission plugin fills in `default`).
        ...(pod.spec?.serviceAccountName
          ? { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid } }
          : {}),
      },
    },
  });
  const token = res.status?.token;
  if (!token) throw new Error('TokenRequest returned no token');
  return token;
}

/**
 * fsGroup ownership as the kubelet's SetVolumeOwnership applies it to volumes whose plugin supports it (emptyDir,
 * secret, configMap, projected; not hostPath, so not the local-path PVs either): group fsGroup on every file and
 * directory, group read (and write unless read-only) added, directories also group-searchable and setgid so that new
 * files inherit the group.
 */
export async function applyFsGroup(path: string, fsGroup: number, readOnly: boolean): Promise<void> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) return;
  await lchown(path, info.uid, fsGroup);
  let mask = readOnly ? 0o440 : 0o660;
  if (info.isDirectory()) mask |= 0o2110;
  await chmod(path, (info.mode & 0o7777) | mask);
  if (info.isDirectory()) for (const e of await readdir(path)) await applyFsGroup(join(path, e), fsGroup, readOnly);
}

/** `spec.serviceAccountName`, defaulted to `default` as the ServiceAccount admission plugin does. */
export const serviceAccountOf = (pod: V1Pod): string => pod.spec?.serviceAccountName || 'default';

/**
 * Sets up every volume of the pod. Throws MountError (the kubelet's FailedMount) for a missing Secret/ConfigMap/PVC
 * or service account; the caller retries, as the kubelet's volume manager does.
 */
export async function mountVolumes(ctx: MountContext): Promise<MountedVolumes> {
  const { core, pod, podDir } = ctx;
  const ns = pod.metadata?.namespace ?? '';
  const paths = new Map<string, string>();
  const volRoot = (plugin: string, name: string): string => join(podDir, 'volumes', plugin, name);
  const token = async (volume: string, audience?: string, expirationSeconds?: number): Promise<string> => {
    const sa = serviceAccountOf(pod);
    try {
      return await requestToken(ctx, sa, audience, expirationSeconds);
    } catch (err) {
      throw new MountError(volume, `failed to fetch token: ${apiErrorMessage(err)}`);
    }
  };

  for (const v of pod.spec?.volumes ?? []) {
    if (v.emptyDir) {
      const dir = volRoot('kubernetes.io~empty-dir', v.name);
      await mkdir(dir, { recursive: true });
      // The emptyDir plugin creates its directory world-writable (0777), whoever the containers run as.
      await chmod(dir, 0o777);
      paths.set(v.name, dir);
    } else if (v.persistentVolumeClaim) {
      const claim = v.persistentVolumeClaim.claimName;
      const pvc = await readOrUndefined(() => core.readNamespacedPersistentVolumeClaim({ name: claim, namespace: ns }));
      if (!pvc) throw new MountError(v.name, `persistentvolumeclaim "${claim}" not found`);
      if (!pvc.spec?.volumeName || pvc.status?.phase !== 'Bound')
        throw new MountError(v.name, `PVC ${ns}/${claim} is not bound`);
      const pv = await readOrUndefined(() => core.readPersistentVolume({ name: pvc.spec!.volumeName! }));
      const dir = pv?.spec?.hostPath?.path ?? pv?.spec?.local?.path;
      if (!dir)
        throw new MountError(v.name, `persistentvolume "${pvc.spec.volumeName}" is not a hostPath or local volume`);
      await mkdir(dir, { recursive: true });
      paths.set(v.name, dir);
    } else if (v.hostPath) {
      if (v.hostPath.type === 'DirectoryOrCreate') await mkdir(v.hostPath.path, { recursive: true });
      paths.set(v.name, v.hostPath.path);
    } else if (v.secret) {
      const name = v.secret.secretName ?? '';
      const secret = await readOrUndefined(() => core.readNamespacedSecret({ name, namespace: ns }));
      const dir = volRoot('kubernetes.io~secret', v.name);
      if (!secret && !v.secret.optional) throw new MountError(v.name, `secret "${name}" not found`);
      const payload: Payload = secret
        ? payloadOf(
            decodeSecret(secret.data),
            v.secret.items,
            (k) => `references non-existent secret key: ${k}`,
            v.name,
          )
        : new Map();
      await writePayload(dir, payload, v.secret.defaultMode);
      paths.set(v.name, dir);
    } else if (v.configMap) {
      const name = v.configMap.name ?? '';
      const cm = await readOrUndefined(() => core.readNamespacedConfigMap({ name, namespace: ns }));
      const dir = volRoot('kubernetes.io~configmap', v.name);
      if (!cm && !v.configMap.optional) throw new MountError(v.name, `configmap "${name}" not found`);
      const payload: Payload = cm
        ? payloadOf(
            configMapData(cm),
            v.configMap.items,
            (k) => `configmap references non-existent config key: ${k}`,
            v.name,
          )
        : new Map();
      await writePayload(dir, payload, v.configMap.defaultMode);
      paths.set(v.name, dir);
    } else if (v.projected) {
      const dir = volRoot('kubernetes.io~projected', v.name);
      const payload: Payload = new Map();
      for (const src of v.projected.sources ?? []) {
        if (src.secret) {
          const name = src.secret.name ?? '';
          const secret = await readOrUndefined(() => core.readNamespacedSecret({ name, namespace: ns }));
          if (!secret && !src.secret.optional) throw new MountError(v.name, `secret "${name}" not found`);
          if (!secret) continue;
          const files = payloadOf(
            decodeSecret(secret.data),
            src.secret.items,
            (key) => `references non-existent secret key: ${key}`,
            v.name,
          );
          for (const [k, e] of files) payload.set(k, e);
        } else if (src.configMap) {
          const name = src.configMap.name ?? '';
          const cm = await readOrUndefined(() => core.readNamespacedConfigMap({ name, namespace: ns }));
          if (!cm && !src.configMap.optional) throw new MountError(v.name, `configmap "${name}" not found`);
          if (!cm) continue;
          const files = payloadOf(
            configMapData(cm),
            src.configMap.items,
            (key) => `configmap references non-existent config key: ${key}`,
            v.name,
          );
          for (const [k, e] of files) payload.set(k, e);
        } else if (src.serviceAccountToken) {
          const t = await token(v.name, src.serviceAccountToken.audience, src.serviceAccountToken.expirationSeconds);
          payload.set(src.serviceAccountToken.path, { data: Buffer.from(t) });
        } else if (src.downwardAPI) {
          let files: Map<string, string>;
          try {
            files = downwardApiFiles(pod, src.downwardAPI.items ?? []);
          } catch (err) {
            throw new MountError(v.name, (err as Error).message);
          }
          for (const [k, data] of files) payload.set(k, { data: Buffer.from(data) });
        } else {
          throw new MountError(
            v.name,
            'the process kubelet supports only secret, configMap, serviceAccountToken and downwardAPI projections',
          );
        }
      }
      await writePayload(dir, payload, v.projected.defaultMode);
      paths.set(v.name, dir);
    } else {
      throw new MountError(v.name, 'volume type not supported by the process kubelet');
    }
  }

  // The service-account token. The API server's ServiceAccount admission plugin adds a projected `kube-api-access-*`
  // volume (mounted above like any other); a process finds no in-cluster config at its container path, so it also
  // gets a kubeconfig holding such a token, and RBAC of the pod's service account is exercised for real. A missing account fails the mount like the real one (FailedMount, pod Pending).
  let kubeconfigPath: string | undefined;
  let automount = pod.spec?.automountServiceAccountToken;
  if (automount === undefined) {
    const sa = await readOrUndefined(() =>
      core.readNamespacedServiceAccount({ name: serviceAccountOf(pod), namespace: ns }),
    );
    if (!sa)
      throw new MountError(
        KUBE_API_ACCESS,
        `failed to fetch token: serviceaccounts "${serviceAccountOf(pod)}" not found`,
      );
    automount = sa.automountServiceAccountToken ?? true;
  }
  if (automount) {
    const t = await token(KUBE_API_ACCESS);
    const dir = volRoot('kubernetes.io~projected', KUBE_API_ACCESS);
    kubeconfigPath = join(dir, 'kubeconfig');
    const doc = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'in-cluster', cluster: { server: ctx.server, 'certificate-authority-data': ctx.caData } }],
      users: [{ name: 'service-account', user: { token: t } }],
      contexts: [{ name: 'in-cluster', context: { cluster: 'in-cluster', user: 'service-account', namespace: ns } }],
      'current-context': 'in-cluster',
    };
    await writePayload(
      dir,
      new Map([
        ['token', { data: Buffer.from(t) }],
        ['ca.crt', { data: Buffer.from(ctx.caData, 'base64') }],
        ['namespace', { data: Buffer.from(ns) }],
        ['kubeconfig', { data: Buffer.from(stringify(doc)), mode: 0o600 }],
      ]),
      0o644,
    );
  }
  const fsGroup = pod.spec?.securityContext?.fsGroup;
  if (fsGroup !== undefined) {
    for (const v of pod.spec?.volumes ?? []) {
      const dir = paths.get(v.name);
      if (!dir) continue;
      if (v.emptyDir) await applyFsGroup(dir, fsGroup, false);
      else if (v.secret || v.configMap || v.projected) await applyFsGroup(dir, fsGroup, true);
    }
  }
  if (kubeconfigPath) {
    const dir = dirname(kubeconfigPath);
    if (fsGroup !== undefined) await applyFsGroup(dir, fsGroup, true);
    // The token (here: the kubeconfig holding it) belongs to the containers' one runAsUser, else is group-readable.
    const own = tokenOwnership(pod);
    for (const f of ['token', 'kubeconfig']) {
      await chown(join(dir, f), own.uid ?? 0, own.gid ?? 0);
      await chmod(join(dir, f), own.mode);
    }
  }
  return { paths, ...(kubeconfigPath ? { kubeconfigPath } : {}) };
}

/** Host path of a volume mount: the volume's path plus `subPath` (created when missing, as the kubelet does). */
export async function mountHostPath(volumePath: string, subPath: string | undefined): Promise<string> {
  if (!subPath) return volumePath;
  const p = join(volumePath, subPath);
  if (!(await stat(p).catch(() => undefined))) await mkdir(p, { recursive: true });
  return p;
}

/** Removes a provisioned volume's directory (only below `volumesRoot`: never anything else). */
export async function removeVolumeDir(volumesRoot: string, dir: string): Promise<boolean> {
  if (!dir.startsWith(`${volumesRoot}/`)) return false;
  await rm(dir, { recursive: true, force: true });
  return true;
}
