import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintOf } from '../../downloader/digests.js';
import { followContent } from '../../downloader/followContent.js';
import { HashPool } from '../../downloader/hashPool.js';
import { filesOfEtag, hfIncompleteDir, hfIncompleteEtag } from '../../downloader/hf/incompleteFiles.js';
import { listingOf, type RemoteFile } from '../../downloader/listing.js';
import { verifyAndPrune } from '../../downloader/verify.js';
import { VerifyWhileDownloading } from '../../downloader/verifyWhileDownloading.js';

const SHA256 = 'a'.repeat(64);
const SHA1 = 'b'.repeat(40);

describe("hf's temporary files", () => {
  it.each([
    [`Yx0T0hGO_yG_JnC2hSVSU6rRtqw=.${SHA256}.1f2e3d4c.incomplete`, SHA256], // huggingface_hub 1.33
    [`Yx0T0hGO_yG_JnC2hSVSU6rRtqw=.${SHA1}.1f2e3d4c.incomplete`, SHA1],
    [`Yx0T0hGO-yG_JnC2hSVSU6rRtqw=.${SHA256}.incomplete`, SHA256], // before the per-process suffix
    [`Yx0T0hGO_yG_JnC2hSVSU6rRtqw=.${SHA256}.1f2e3d4c.lock`, undefined],
    ['model.safetensors.metadata', undefined],
    ['tmp_0b1c2d3e-0000-4000-8000-000000000000', undefined],
    [`x.${SHA256.slice(1)}.incomplete`, undefined],
    [`x.${SHA256}.1f2e3d4c.incomplete.extra`, undefined],
  ])('%s → %s', (name, etag) => {
    expect(hfIncompleteEtag(name)).toBe(etag);
  });

  it('lives under the local dir, and names the listed files by LFS sha256 or git blob id', () => {
    expect(hfIncompleteDir('/cache/org/model')).toBe('/cache/org/model/.cache/huggingface/download');
    const files: RemoteFile[] = [
      { path: 'a', size: 1, sha256: SHA256 },
      { path: 'b', size: 1, gitBlobSha1: SHA1 },
      { path: 'copy-of-a', size: 1, sha256: SHA256 },
      { path: 'c', size: 1, md5: 'c'.repeat(32) },
    ];
    expect(filesOfEtag(files, SHA256).map((f) => f.path)).toEqual(['a', 'copy-of-a']);
    expect(filesOfEtag(files, SHA1).map((f) => f.path)).toEqual(['b']);
    expect(filesOfEtag(files, 'c'.repeat(64))).toEqual([]);
  });
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'aim-follow-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A writer like hf's: the file front to back in chunks under a temporary name, then renamed into place. */
async function writeLikeHf(
  tmp: string,
  final: string,
  content: Buffer,
  opts: { chunks?: number; move?: boolean } = {},
) {
  const chunks = opts.chunks ?? 8;
  const step = Math.ceil(content.length / chunks);
  writeFileSync(tmp, '');
  for (let at = 0; at < content.length; at += step) {
    appendFileSync(tmp, content.subarray(at, at + step));
    await sleep(15);
  }
  if (opts.move ?? true) renameSync(tmp, final);
}

describe('following a file while it is written', () => {
  const content = randomBytes(3 << 20);
  const file: RemoteFile = { path: 'w.safetensors', size: content.length, sha256: sha(content) };
  let n = 0;
  const paths = () => {
    const d = join(dir, `f${n++}`);
    mkdirSync(d);
    return { tmp: join(d, 'x.incomplete'), final: join(d, 'w.safetensors') };
  };

  it('has the verdict when the writer moves the file into place, for the inode now at its final path', async () => {
    const { tmp, final } = paths();
    writeFileSync(tmp, '');
    const writing = writeLikeHf(tmp, final, content);
    const followed = await followContent(tmp, [join(dir, 'elsewhere'), final], file, {
      pollMs: 5,
      toolExited: () => false,
    });
    await writing;
    expect(followed).toEqual({ final, verdict: { fingerprint: fingerprintOf(statSync(final, { bigint: true })) } });
  });

  it('says which digest disagrees when the bytes written are not the listed ones', async () => {
    const { tmp, final } = paths();
    writeFileSync(tmp, '');
    const bad = Buffer.from(content);
    bad[1000] = bad[1000]! ^ 0xff;
    const writing = writeLikeHf(tmp, final, bad);
    const followed = await followContent(tmp, [final], file, { pollMs: 5, toolExited: () => false });
    await writing;
    expect(followed?.verdict.why).toBe('sha256 mismatch');
  });

  it('gives up on a file started over (shrunk), deleted, or not moved by the time the tool exits', async () => {
    const shrunk = paths();
    writeFileSync(shrunk.tmp, content.subarray(0, 1 << 20));
    const f1 = followContent(shrunk.tmp, [shrunk.final], file, { pollMs: 5, toolExited: () => false });
    await sleep(30);
    truncateSync(shrunk.tmp, 10);
    expect(await f1).toBeUndefined();

    const deleted = paths();
    writeFileSync(deleted.tmp, content.subarray(0, 1 << 20));
    const f2 = followContent(deleted.tmp, [deleted.final], file, { pollMs: 5, toolExited: () => false });
    await sleep(30);
    unlinkSync(deleted.tmp);
    expect(await f2).toBeUndefined();

    const left = paths();
    let exited = false;
    writeFileSync(left.tmp, content);
    const f3 = followContent(left.tmp, [left.final], file, { pollMs: 5, toolExited: () => exited });
    await sleep(30);
    exited = true;
    expect(await f3).toBeUndefined();
  });

  it('finishes a file moved into place just before the tool exited', async () => {
    const { tmp, final } = paths();
    writeFileSync(tmp, content);
    renameSync(tmp, final);
    // Opened by its final path here (the rename raced the open); the exit flag is already up.
    const followed = await followContent(final, [final], file, { pollMs: 5, toolExited: () => true });
    expect(followed?.final).toBe(final);
    expect(followed?.verdict.why).toBeUndefined();
  });

  it('judges a file moved into place with the wrong size as nothing (the final pass reports the size)', async () => {
    const { tmp, final } = paths();
    writeFileSync(tmp, content.subarray(0, 1000));
    renameSync(tmp, final);
    expect(await followContent(final, [final], file, { pollMs: 5, toolExited: () => true })).toBeUndefined();
  });
});

/** Waits until a thread of this process holds `path` open (the pool's follow has begun), by /proc/self/fd. */
async function heldOpen(...paths: string[]): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const open = new Set(
      readdirSync('/proc/self/fd').map((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`);
        } catch {
          return '';
        }
      }),
    );
    if (paths.every((p) => open.has(p))) return;
    await sleep(25);
  }
  throw new Error(`never opened: ${paths.join(', ')}`);
}

describe('verifying hf downloads while they are written', () => {
  let pool: HashPool;
  beforeAll(async () => {
    pool = new HashPool(1);
    // The thread starts first (under tsx it takes a second): a follow posted to it begins at once, as in the image.
    writeFileSync(join(dir, 'warm'), 'x');
    await pool.judge(join(dir, 'warm'), { path: 'warm', size: 1, sha256: sha(Buffer.from('x')) });
  });
  afterAll(() => pool.close());

  it('follows the temporary files of listed content on the pool: the final pass reads nothing again', async () => {
    const root = mkdtempSync(join(dir, 'vol-'));
    const tmpDir = hfIncompleteDir(root);
    mkdirSync(tmpDir, { recursive: true });
    const big = randomBytes(2 << 20);
    const other = randomBytes(1 << 20);
    const listing = listingOf([
      { path: 'a.safetensors', size: big.length, sha256: sha(big) },
      { path: 'sub/b.safetensors', size: other.length, sha256: sha(other) },
      { path: 'plain.txt', size: 3 },
    ]);
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'plain.txt'), 'abc');
    const v = new VerifyWhileDownloading(root, listing, pool, tmpDir);
    const tmpA = join(tmpDir, `AAAA.${sha(big)}.0000000a.incomplete`);
    const tmpB = join(tmpDir, `BBBB.${sha(other)}.0000000b.incomplete`);
    writeFileSync(tmpA, '');
    writeFileSync(tmpB, '');
    await v.poll(); // both followed from their first bytes, on one thread
    await heldOpen(tmpA, tmpB);
    await Promise.all([
      writeLikeHf(tmpA, join(root, 'a.safetensors'), big, { chunks: 16 }),
      writeLikeHf(tmpB, join(root, 'sub/b.safetensors'), other, { chunks: 16 }),
    ]);
    await v.poll(); // already followed: nothing is offered twice
    const early = await v.settle();
    expect([...early.keys()].sort()).toEqual(['a.safetensors', 'sub/b.safetensors']);
    const result = await verifyAndPrune(root, listing, { pool, early });
    expect(result).toMatchObject({ bad: [], missing: [], hashedDuringTransfer: 2, hashedAfterTransfer: 0 });
  });

  it("ignores a killed attempt's leftover temporary file: this attempt's own file is followed", async () => {
    const root = mkdtempSync(join(dir, 'vol-'));
    const tmpDir = hfIncompleteDir(root);
    mkdirSync(tmpDir, { recursive: true });
    const body = randomBytes(1 << 20);
    const listing = listingOf([{ path: 'w.safetensors', size: body.length, sha256: sha(body) }]);
    const leftover = join(tmpDir, `EEEE.${sha(body)}.0000000e.incomplete`);
    writeFileSync(leftover, body.subarray(0, 1000));
    utimesSync(leftover, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    const v = new VerifyWhileDownloading(root, listing, pool, tmpDir);
    const tmp = join(tmpDir, `EEEE.${sha(body)}.0000000f.incomplete`);
    writeFileSync(tmp, '');
    await v.poll();
    await heldOpen(tmp);
    await writeLikeHf(tmp, join(root, 'w.safetensors'), body);
    // No look after the move (the tool exits at once): only a follow can have judged it.
    const result = await verifyAndPrune(root, listing, { pool, early: await v.settle() });
    expect(result).toMatchObject({ ok: ['w.safetensors'], hashedDuringTransfer: 1, hashedAfterTransfer: 0 });
  });

  it('gives a file whose follow gave up back to the usual path: judged once complete', async () => {
    const root = mkdtempSync(join(dir, 'vol-'));
    const tmpDir = hfIncompleteDir(root);
    mkdirSync(tmpDir, { recursive: true });
    const body = randomBytes(1 << 20);
    const listing = listingOf([{ path: 'w.safetensors', size: body.length, sha256: sha(body) }]);
    const v = new VerifyWhileDownloading(root, listing, pool, tmpDir);
    const tmp = join(tmpDir, `CCCC.${sha(body)}.0000000c.incomplete`);
    writeFileSync(tmp, body.subarray(0, 1000));
    await v.poll();
    await sleep(50);
    // The tool starts the file over under a new temporary name (a retry); the first one is deleted.
    unlinkSync(tmp);
    const again = join(tmpDir, `CCCC.${sha(body)}.0000000d.incomplete`);
    writeFileSync(again, body);
    renameSync(again, join(root, 'w.safetensors'));
    // The tool is still running: once the first follow has seen its file deleted, the complete file is judged.
    for (let i = 0; i < 40; i++) {
      await v.poll();
      await sleep(50);
    }
    const early = await v.settle();
    const result = await verifyAndPrune(root, listing, { pool, early });
    expect(result).toMatchObject({ ok: ['w.safetensors'], bad: [], hashedDuringTransfer: 1, hashedAfterTransfer: 0 });
  });
});
