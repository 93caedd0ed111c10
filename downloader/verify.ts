import type { BigIntStats } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fingerprintOf, hasDigest, judgeContent, type ContentVerdict } from './digests.js';
import type { HashPool } from './hashPool.js';
import type { Listing, RemoteFile } from './listing.js';

export interface VerifyResult {
  ok: string[];
  missing: string[];
  bad: Array<{ path: string; why: string }>;
  /** Files judged by a verdict reached while the tool ran. */
  hashedDuringTransfer: number;
  /** Files whose content was read in this final pass. */
  hashedAfterTransfer: number;
}

/** What the final pass does with one listed file, given what is on disk now and any verdict from the transfer. */
export type FinalStep = { kind: 'missing' } | { kind: 'bad'; why: string } | { kind: 'ok' } | { kind: 'hash' };

export function finalStep(file: RemoteFile, st: BigIntStats | undefined, early?: ContentVerdict): FinalStep {
  if (!st) return { kind: 'missing' };
  // A size of -1: the source reported none (the spec's `size` stood in for the total); present is all we can check.
  if (file.size >= 0 && st.size !== BigInt(file.size)) return { kind: 'bad', why: `size ${st.size} != ${file.size}` };
  if (!hasDigest(file)) return { kind: 'ok' };
  // A verdict from during the transfer counts only for the very inode, size and modification it read.
  if (early && early.fingerprint === fingerprintOf(st))
    return early.why ? { kind: 'bad', why: early.why } : { kind: 'ok' };
  return { kind: 'hash' };
}

/** After the tool has exited nothing writes any more; a file that still changes while read is not trusted. */
async function judgeNow(path: string, file: RemoteFile, pool: HashPool | undefined): Promise<string | undefined> {
  for (let i = 0; i < 3; i++) {
    const v = pool ? await pool.judge(path, file) : await judgeContent(path, file);
    if (v) return v.why;
  }
  return 'changed while it was verified';
}

/**
 * Every expected file present with the expected size, then its strongest available digest. Files that fail are
 * deleted so that the next attempt fetches them again (spec section 6). `early` holds verdicts reached while the tool
 * was still running (verifyWhileDownloading.ts); files without one, or changed since, are read here, on `pool`'s
 * threads when given.
 */
export async function verifyAndPrune(
  root: string,
  listing: Listing,
  opts: { pool?: HashPool; early?: ReadonlyMap<string, ContentVerdict> } = {},
): Promise<VerifyResult> {
  // With a pool its queue bounds the reading; without one, files are read one at a time as before.
  let previous: Promise<unknown> = Promise.resolve();
  const judge = (path: string, f: RemoteFile): Promise<string | undefined> => {
    if (opts.pool) return judgeNow(path, f, opts.pool);
    const next = previous.then(() => judgeNow(path, f, undefined));
    previous = next.catch(() => undefined);
    return next;
  };
  const verdicts = await Promise.all(
    listing.files.map(async (f): Promise<{ step: FinalStep; why?: string; early: boolean }> => {
      const path = join(root, f.path);
      const st = await stat(path, { bigint: true }).catch(() => undefined);
      const early = opts.early?.get(f.path);
      const step = finalStep(f, st, early);
      if (step.kind === 'hash') return { step, why: await judge(path, f), early: false };
      return { step, early: Boolean(st && early && hasDigest(f) && early.fingerprint === fingerprintOf(st)) };
    }),
  );
  const result: VerifyResult = { ok: [], missing: [], bad: [], hashedDuringTransfer: 0, hashedAfterTransfer: 0 };
  for (const [i, f] of listing.files.entries()) {
    const { step, why, early } = verdicts[i]!;
    if (step.kind === 'hash') result.hashedAfterTransfer += 1;
    if (early) result.hashedDuringTransfer += 1;
    const failed = step.kind === 'bad' ? step.why : step.kind === 'hash' ? why : undefined;
    if (step.kind === 'missing') result.missing.push(f.path);
    else if (failed) {
      result.bad.push({ path: f.path, why: failed });
      await rm(join(root, f.path), { force: true });
    } else result.ok.push(f.path);
  }
  return result;
}
