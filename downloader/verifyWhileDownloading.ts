import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { looksComplete } from './completions.js';
import { hasDigest, type ContentVerdict } from './digests.js';
import type { HashPool } from './hashPool.js';
import type { Listing, RemoteFile } from './listing.js';

/**
 * Hashes each listed file as soon as the tool has completed it, on the pool's threads, while the rest transfers.
 * Completion comes from the tool (`offer`: s5cmd's per-object line) or from the file system (`poll`: at its final path
 * with its listed size; both tools only rename complete files into place). Verdicts are kept with the fingerprint of
 * what was read; the final pass (verify.ts) trusts a verdict only if the file still has that fingerprint, and judges
 * every other file itself. Nothing is deleted here: only the final pass prunes, after the tool has exited.
 */
export class VerifyWhileDownloading {
  private readonly files: Map<string, RemoteFile>;
  private readonly verdicts = new Map<string, ContentVerdict>();
  private readonly hashing = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly root: string,
    listing: Listing,
    private readonly pool: HashPool,
  ) {
    // Files without a digest are checked by size at the end; nothing to read for them now.
    this.files = new Map(listing.files.filter(hasDigest).map((f) => [f.path, f]));
  }

  /** The tool reports `path` (model-relative) complete. Unknown paths and files already judged are ignored. */
  offer(path: string): void {
    const file = this.files.get(path);
    if (!file || this.hashing.has(path) || this.verdicts.has(path)) return;
    this.hashing.add(path);
    const job = this.judge(file).finally(() => {
      this.hashing.delete(path);
      this.inFlight.delete(job);
    });
    this.inFlight.add(job);
  }

  private async judge(file: RemoteFile): Promise<void> {
    const path = join(this.root, file.path);
    const st = await stat(path, { bigint: true }).catch(() => undefined);
    if (!looksComplete(file, st?.size)) return;
    // A file that changed while read, or could not be read, is simply left to the final pass.
    const verdict = await this.pool.judge(path, file).catch(() => undefined);
    if (verdict) this.verdicts.set(file.path, verdict);
  }

  /** Offers every listed file not yet judged that is at its final path with its listed size. */
  async poll(): Promise<void> {
    for (const file of this.files.values()) {
      if (this.hashing.has(file.path) || this.verdicts.has(file.path)) continue;
      const st = await stat(join(this.root, file.path), { bigint: true }).catch(() => undefined);
      if (looksComplete(file, st?.size)) this.offer(file.path);
    }
  }

  /** Waits for the hashing under way; the verdicts for the final pass. */
  async settle(): Promise<ReadonlyMap<string, ContentVerdict>> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
    return this.verdicts;
  }
}
