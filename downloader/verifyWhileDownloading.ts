import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { looksComplete } from './completions.js';
import { hasDigest, type ContentVerdict } from './digests.js';
import type { HashPool } from './hashPool.js';
import { filesOfEtag, hfIncompleteEtag } from './hf/incompleteFiles.js';
import type { Listing, RemoteFile } from './listing.js';

/**
 * Hashes each listed file as soon as the tool has completed it, on the pool's threads, while the rest transfers.
 * Completion comes from the tool (`offer`: s5cmd's per-object line) or from the file system (`poll`: at its final path
 * with its listed size; both tools only rename complete files into place). Verdicts are kept with the fingerprint of
 * what was read; the final pass (verify.ts) trusts a verdict only if the file still has that fingerprint, and judges
 * every other file itself. Nothing is deleted here: only the final pass prunes, after the tool has exited.
 *
 * With `followDir` (where `hf download` keeps the files it is writing, hf/incompleteFiles.ts), each file is hashed
 * while it is written, so that the last files to finish need no read after the transfer either.
 */
export class VerifyWhileDownloading {
  private readonly files: Map<string, RemoteFile>;
  private readonly verdicts = new Map<string, ContentVerdict>();
  private readonly hashing = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly followed = new Set<string>();
  /** Temporary files older than this are a killed attempt's leftovers (hf names each run's files afresh). */
  private readonly since = Date.now() - 1000;

  constructor(
    private readonly root: string,
    listing: Listing,
    private readonly pool: HashPool,
    private readonly followDir?: string,
  ) {
    // Files without a digest are checked by size at the end; nothing to read for them now.
    this.files = new Map(listing.files.filter(hasDigest).map((f) => [f.path, f]));
  }

  private track(job: Promise<void>): void {
    const tracked = job.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** The tool reports `path` (model-relative) complete. Unknown paths and files already judged are ignored. */
  offer(path: string): void {
    const file = this.files.get(path);
    if (!file || this.hashing.has(path) || this.verdicts.has(path)) return;
    this.hashing.add(path);
    this.track(this.judge(file).finally(() => this.hashing.delete(path)));
  }

  /**
   * Follows each temporary file of the tool's that carries a listed file's etag. The files it may become are marked
   * as being hashed until the follow ends; one that ends without a verdict is judged as usual once complete.
   */
  private async followNew(): Promise<void> {
    const names = await readdir(this.followDir!).catch(() => [] as string[]);
    for (const name of names) {
      const etag = hfIncompleteEtag(name);
      if (!etag || this.followed.has(name)) continue;
      this.followed.add(name);
      const path = join(this.followDir!, name);
      const st = await stat(path).catch(() => undefined);
      if (!st || st.mtimeMs < this.since) continue;
      const open = filesOfEtag(this.files.values(), etag).filter(
        (f) => !this.hashing.has(f.path) && !this.verdicts.has(f.path),
      );
      if (!open.length) continue;
      for (const f of open) this.hashing.add(f.path);
      const finals = open.map((f) => join(this.root, f.path));
      this.track(
        this.pool
          .follow(path, finals, open[0]!)
          .then((done) => {
            if (done) this.verdicts.set(relative(this.root, done.final).split(sep).join('/'), done.verdict);
          })
          .catch(() => undefined) // left to the final pass
          .finally(() => {
            for (const f of open) this.hashing.delete(f.path);
          }),
      );
    }
  }

  private async judge(file: RemoteFile): Promise<void> {
    const path = join(this.root, file.path);
    const st = await stat(path, { bigint: true }).catch(() => undefined);
    if (!looksComplete(file, st?.size)) return;
    // A file that changed while read, or could not be read, is simply left to the final pass.
    const verdict = await this.pool.judge(path, file).catch(() => undefined);
    if (verdict) this.verdicts.set(file.path, verdict);
  }

  /** Offers every listed file not yet judged that is at its final path with its listed size; follows new ones. */
  async poll(): Promise<void> {
    if (this.followDir) await this.followNew();
    for (const file of this.files.values()) {
      if (this.hashing.has(file.path) || this.verdicts.has(file.path)) continue;
      const st = await stat(join(this.root, file.path), { bigint: true }).catch(() => undefined);
      if (looksComplete(file, st?.size)) this.offer(file.path);
    }
  }

  /** After the tool has exited: waits for the hashing under way; the verdicts for the final pass. */
  async settle(): Promise<ReadonlyMap<string, ContentVerdict>> {
    this.pool.toolExited();
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
    return this.verdicts;
  }
}
