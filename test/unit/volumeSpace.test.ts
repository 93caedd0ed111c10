import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { notEnoughSpaceMessage, ranOutOfSpaceMessage, volumeSpace } from '../../downloader/volumeSpace.js';

const MiB = 1024 * 1024;

describe('InsufficientStorage messages name both sizes (spec 7)', () => {
  it('statfs before the transfer: free, needed, source and volume', () => {
    expect(notEnoughSpaceMessage({ sizeBytes: 12 * MiB, freeBytes: 6 * MiB }, 8 * MiB, 8 * MiB + 23)).toBe(
      'the volume has 6 MiB free but 8 MiB are still needed (source 8 MiB, volume 12 MiB); raise size or ' +
        "headroomPercent, or free space on the volume's disk",
    );
  });

  it('ENOSPC during the transfer: what completed, the source, the volume and what is free now', () => {
    expect(ranOutOfSpaceMessage({ sizeBytes: 12 * MiB, freeBytes: 1.05 * MiB }, 8 * MiB, 23)).toBe(
      'the volume ran out of space (ENOSPC) during the transfer, with 23 B of it complete: the source holds 8 MiB, ' +
        "the volume 12 MiB (1.05 MiB free now); raise size or headroomPercent, or free space on the volume's disk",
    );
  });
});

describe('volumeSpace', () => {
  it('reports statfs, capped by VOLUME_CAPACITY_BYTES minus what is on the volume', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aim-volume-space-'));
    try {
      const real = await volumeSpace(dir);
      expect(real.sizeBytes).toBeGreaterThan(0);
      expect(real.freeBytes).toBeLessThanOrEqual(real.sizeBytes);
      writeFileSync(join(dir, 'f'), Buffer.alloc(40_000));
      expect(await volumeSpace(dir, 100_000)).toEqual({ sizeBytes: 100_000, freeBytes: 60_000 });
      expect(await volumeSpace(dir, 10_000)).toEqual({ sizeBytes: 10_000, freeBytes: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
