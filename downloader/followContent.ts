import type { BigIntStats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { contentDigests, digestMismatch, fingerprintOf, type ContentVerdict } from './digests.js';
import type { RemoteFile } from './listing.js';

/** A followed file that was moved into place, with the verdict on the content read while it was written. */
export interface Followed {
  /** The final path the file was moved to (one of the candidates). */
  final: string;
  verdict: ContentVerdict;
}

export interface FollowOptions {
  /** How long to wait at the end of what is written before looking again. */
  pollMs?: number;
  /** True once the tool has exited: a file not moved into place by then is given up. */
  toolExited: () => boolean;
}

/** The candidate that is now this very inode (the tool renamed the file into place), if any. */
async function movedTo(own: BigIntStats, finals: readonly string[]): Promise<string | undefined> {
  for (const final of finals) {
    const st = await stat(final, { bigint: true }).catch(() => undefined);
    if (st && st.dev === own.dev && st.ino === own.ino) return final;
  }
  return undefined;
}

class GaveUp extends Error {}

/**
 * The bytes of a file that a tool is still writing front to back, as it writes them: reads to the end of what is
 * written, waits, reads on; ends when the file has been moved to one of `finals` (the tool closed it first; noted in
 * `at.final`) and everything up to its size was read. Bytes below the written size are final: the kernel raises the
 * size only after a write's data is in place, and the tool never seeks back except to start the file over, which
 * shrinks it (detected: given up).
 */
async function* written(
  handle: FileHandle,
  finals: readonly string[],
  opts: FollowOptions,
  at: { final?: string },
): AsyncGenerator<Buffer> {
  const own = await handle.stat({ bigint: true });
  // 1 MiB: reads keep up with a network writer at that size, and a tool writes up to 8 files at once.
  const buf = Buffer.allocUnsafe(1 << 20);
  let pos = 0;
  for (;;) {
    // The consumer hashes each chunk before asking for the next, so one buffer serves every read.
    const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
    if (bytesRead > 0) {
      pos += bytesRead;
      yield buf.subarray(0, bytesRead);
      continue;
    }
    const now = await handle.stat({ bigint: true });
    if (now.size < BigInt(pos)) throw new GaveUp('the file was started over');
    if (now.size > BigInt(pos)) continue;
    if (at.final) return;
    // Looked at before the exit flag, so that a file moved just before the tool exited is still finished.
    const exited = opts.toolExited();
    at.final = await movedTo(own, finals);
    if (at.final) continue; // one more read: anything written before the move is in the file now
    if (exited || now.nlink === 0n) throw new GaveUp('not moved into place');
    await sleep(opts.pollMs ?? 25);
  }
}

/**
 * Hashes a file while the tool writes it (`path`: its temporary name), so that its verdict is ready when the tool
 * moves it into place instead of after a second full read. Undefined when the file was not moved into place, was
 * started over, or changed after it was read: the final pass then judges whatever is on disk.
 */
export async function followContent(
  path: string,
  finals: readonly string[],
  file: RemoteFile,
  opts: FollowOptions,
): Promise<Followed | undefined> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const at: { final?: string } = {};
    const why = digestMismatch(file, await contentDigests(written(handle, finals, opts, at), file));
    const st = await handle.stat({ bigint: true });
    if (!at.final || st.size !== BigInt(file.size)) return undefined;
    return { final: at.final, verdict: { fingerprint: fingerprintOf(st), ...(why ? { why } : {}) } };
  } catch (err) {
    if (err instanceof GaveUp) return undefined;
    throw err;
  } finally {
    await handle.close();
  }
}
