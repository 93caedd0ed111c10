import { statfs } from 'node:fs/promises';
import { formatBytes } from '../schemas/quantity.js';
import { bytesOnDisk } from './progress.js';

/** What the volume's filesystem holds and has free for this (non-root) process, as statfs reports it. */
export interface VolumeSpace {
  sizeBytes: number;
  freeBytes: number;
}

/**
 * statfs of the volume, capped by `capacityBytes` (VOLUME_CAPACITY_BYTES, a test hook the product never sets) minus what
 * is already on it. `bavail`, not `bfree`: blocks reserved for root are not ours (the downloader runs as uid 1000).
 */
export async function volumeSpace(mountPath: string, capacityBytes?: number): Promise<VolumeSpace> {
  const fs = await statfs(mountPath);
  let sizeBytes = Number(fs.blocks) * Number(fs.bsize);
  let freeBytes = Number(fs.bavail) * Number(fs.bsize);
  if (capacityBytes !== undefined) {
    sizeBytes = Math.min(sizeBytes, capacityBytes);
    freeBytes = Math.min(freeBytes, capacityBytes - (await bytesOnDisk(mountPath)));
  }
  return { sizeBytes, freeBytes: Math.max(0, freeBytes) };
}

/** statfs before the transfer found too little room (spec 6): both sizes, and what to change. */
export function notEnoughSpaceMessage(space: VolumeSpace, neededBytes: number, sourceBytes: number): string {
  return (
    `the volume has ${formatBytes(space.freeBytes)} free but ${formatBytes(neededBytes)} are still needed ` +
    `(source ${formatBytes(sourceBytes)}, volume ${formatBytes(space.sizeBytes)}); raise size or headroomPercent, ` +
    "or free space on the volume's disk"
  );
}

/**
 * The tool hit ENOSPC mid-transfer (the free space statfs reported was taken, e.g. by other data on a shared disk):
 * both sizes, what this attempt wrote, and what to change. The files written stay for the next attempt to resume.
 */
export function ranOutOfSpaceMessage(space: VolumeSpace, sourceBytes: number, completedBytes: number): string {
  return (
    `the volume ran out of space (ENOSPC) during the transfer, with ${formatBytes(completedBytes)} of it complete: ` +
    `the source holds ${formatBytes(sourceBytes)}, the volume ${formatBytes(space.sizeBytes)} ` +
    `(${formatBytes(space.freeBytes)} free now); raise size or headroomPercent, or free space on the volume's disk`
  );
}
