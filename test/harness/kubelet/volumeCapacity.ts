// Real capacity for provisioned volumes, opt-in per StorageClass (classes without these parameters keep plain
// directories that enforce nothing, as before). Two StorageClass `parameters`, read only for classes of this
// provisioner:
//
//   nodeStorage: <quantity>   What this node can provision for the class. A claim asking for more than is left is
//                             refused as a CSI driver with storage capacity refuses it (topolvm, a cloud disk quota):
//                             a `ProvisioningFailed` Warning Event on the claim, retried with back-off, the claim stays
//                             Pending. Without `filesystem` it is bookkeeping only.
//   filesystem: perVolume     Each PV is its own tmpfs mounted with `size=` the claim's request (a CSI volume of exactly
//                             the requested size): statfs shows that size, writing past it fails with ENOSPC.
//   filesystem: nodeDisk      The class's volumes are directories on one tmpfs of `nodeStorage` (rancher's local-path on
//                             a node with a small disk): a request is nominal and never checked, statfs shows the node
//                             disk, and the volumes (and anything else on that disk) share its space.
//
// Why tmpfs: it is what mounts in this sandbox (root in a container: `mount -t tmpfs -o size=` works, and so do loop
// devices, but a loop-mounted ext4 image needs mkfs and a backing file per volume for the same ENOSPC), it needs no
// backing file, it costs memory only for the bytes written, and `umount` frees everything at once. Mounts live under
// the kubelet's work dir; they are unmounted when the volume is reclaimed and when the kubelet stops (a simulated
// crash keeps them, as a node keeps its disks, and the next instance with the same work dir adopts them).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from '@kubernetes/client-node';
import { formatBytes, quantityToBytes } from '../../../schemas/quantity.js';

const run = promisify(execFile);

export type VolumeFilesystem = 'directory' | 'perVolume' | 'nodeDisk';

export interface ClassCapacity {
  filesystem: VolumeFilesystem;
  /** Bytes this node can provision for the class (undefined: unlimited). */
  nodeStorageBytes?: bigint;
}

/** The capacity parameters of a class of this provisioner; a bad value is an error naming the parameter. */
export function classCapacity(sc: V1StorageClass): ClassCapacity {
  const p = sc.parameters ?? {};
  const filesystem = (p.filesystem ?? 'directory') as VolumeFilesystem;
  if (!['directory', 'perVolume', 'nodeDisk'].includes(filesystem))
    throw new Error(`StorageClass ${sc.metadata?.name}: parameters.filesystem must be perVolume or nodeDisk`);
  const nodeStorageBytes = p.nodeStorage !== undefined ? quantityToBytes(p.nodeStorage) : undefined;
  if (filesystem === 'nodeDisk' && nodeStorageBytes === undefined)
    throw new Error(`StorageClass ${sc.metadata?.name}: filesystem nodeDisk needs parameters.nodeStorage`);
  return { filesystem, ...(nodeStorageBytes !== undefined ? { nodeStorageBytes } : {}) };
}

export const requestBytes = (pvc: V1PersistentVolumeClaim): bigint =>
  quantityToBytes(pvc.spec?.resources?.requests?.storage ?? '1Gi');

/**
 * Why a claim cannot be provisioned on this node, or undefined when it can: requests of the class's volumes already
 * provisioned here count against `nodeStorage` (a nodeDisk class does not check requests, as local-path does not).
 * The message follows the external-provisioner's `failed to provision volume with StorageClass "x": rpc error: ...`.
 */
export function provisioningRefusal(
  pvc: V1PersistentVolumeClaim,
  sc: V1StorageClass,
  capacity: ClassCapacity,
  provisioned: readonly V1PersistentVolume[],
): string | undefined {
  if (capacity.nodeStorageBytes === undefined || capacity.filesystem === 'nodeDisk') return undefined;
  const used = provisioned
    .filter((pv) => pv.spec?.storageClassName === sc.metadata?.name)
    .reduce((sum, pv) => sum + quantityToBytes(pv.spec?.capacity?.storage ?? '0'), 0n);
  const free = capacity.nodeStorageBytes > used ? capacity.nodeStorageBytes - used : 0n;
  const want = requestBytes(pvc);
  if (want <= free) return undefined;
  return (
    `failed to provision volume with StorageClass "${sc.metadata?.name}": rpc error: code = ResourceExhausted ` +
    `desc = not enough space on the node: requested ${formatBytes(want)}, free ${formatBytes(free)} of ${formatBytes(capacity.nodeStorageBytes)}`
  );
}

/** Mount points under `root` (from /proc/mounts): what this kubelet, or a crashed instance before it, mounted. */
export function mountsUnder(root: string): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' ') ?? '')
    .filter((m) => m.startsWith(`${root}/`));
}

export const isMounted = (dir: string): boolean => mountsUnder(dir.replace(/\/[^/]+$/, '')).includes(dir);

/** A tmpfs of `sizeBytes` at `dir`, writable by any container user (local-path's helper makes its dirs 0777). */
export async function mountTmpfs(dir: string, sizeBytes: bigint): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (isMounted(dir)) return;
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0777`, 'aim-volume', dir]);
}

/** Unmounts `dir` if mounted (lazily when busy: a process still holding a file must not keep a test from ending). */
export async function unmount(dir: string): Promise<void> {
  if (!isMounted(dir)) return;
  await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
}
