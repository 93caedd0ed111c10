import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineSplitter, looksComplete, s5cmdCompletedPath } from '../../downloader/completions.js';
import { fingerprintOf, type ContentVerdict } from '../../downloader/digests.js';
import { HashPool } from '../../downloader/hashPool.js';
import { listingOf, type RemoteFile } from '../../downloader/listing.js';
import { finalStep, verifyAndPrune } from '../../downloader/verify.js';
import { VerifyWhileDownloading } from '../../downloader/verifyWhileDownloading.js';

const DEST = '/cache/Qwen/Qwen2-0.5B';
const cp = (destination: string, success = true) =>
  JSON.stringify({ operation: 'cp', success, source: 's3://b/p/x', destination, object: { type: 'file', size: 1 } });

describe('completion from s5cmd output', () => {
  it.each([
    [cp(`${DEST}/config.json`), 'config.json'],
    [cp(`${DEST}/sub/tokenizer.json`), 'sub/tokenizer.json'],
    [cp(`${DEST}/x`, false), undefined],
    [cp('/cache/other/config.json'), undefined],
    [cp(DEST), undefined],
    [JSON.stringify({ operation: 'rm', success: true, destination: `${DEST}/a` }), undefined],
    [`cp s3://b/p/config.json ${DEST}/config.json`, undefined],
    ['{"operation":"cp",', undefined],
  ])('%s → %s', (line, path) => {
    expect(s5cmdCompletedPath(line, DEST)).toBe(path);
  });

  it('splits stdout into lines across chunk boundaries', () => {
    const lines: string[] = [];
    const s = lineSplitter((l) => lines.push(l));
    s.push('{"a":1}\n{"b"');
    s.push(':2}\n\n{"c":3}');
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
    s.end();
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('takes a file at its listed size as a candidate, nothing else', () => {
    const f: RemoteFile = { path: 'a', size: 10 };
    expect(looksComplete(f, 10)).toBe(true);
    expect(looksComplete(f, 10n)).toBe(true);
    expect(looksComplete(f, 9n)).toBe(false);
    expect(looksComplete(f, undefined)).toBe(false);
  });
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

let dir: string;
let pool: HashPool;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'aim-verify-'));
  pool = new HashPool(2);
});
afterAll(async () => {
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
});

function volume(files: Record<string, Buffer>): string {
  const root = mkdtempSync(join(dir, 'vol-'));
  for (const [p, b] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), b);
  }
  return root;
}

describe('final pass decisions', () => {
  const good = Buffer.from('weights');
  const root = () => volume({ w: good });
  const file: RemoteFile = { path: 'w', size: good.length, sha256: sha(good) };

  it('missing, wrong size, no digest: decided from stat alone', () => {
    const r = root();
    const st = statSync(join(r, 'w'), { bigint: true });
    expect(finalStep(file, undefined)).toEqual({ kind: 'missing' });
    expect(finalStep({ ...file, size: 99 }, st)).toEqual({ kind: 'bad', why: `size ${good.length} != 99` });
    expect(finalStep({ path: 'w', size: good.length }, st)).toEqual({ kind: 'ok' });
  });

  it('reuses a verdict from the transfer only for the same fingerprint', () => {
    const r = root();
    const st = statSync(join(r, 'w'), { bigint: true });
    const same: ContentVerdict = { fingerprint: fingerprintOf(st) };
    expect(finalStep(file, st, same)).toEqual({ kind: 'ok' });
    expect(finalStep(file, st, { ...same, why: 'sha256 mismatch' })).toEqual({ kind: 'bad', why: 'sha256 mismatch' });
    expect(finalStep(file, st, { fingerprint: `${same.fingerprint}x` })).toEqual({ kind: 'hash' });
    expect(finalStep(file, st)).toEqual({ kind: 'hash' });
  });
});

describe('verifying while downloading', () => {
  const a = Buffer.alloc(3 << 20, 7);
  const b = Buffer.from('{"model_type":"llama"}\n');
  const listing = listingOf([
    { path: 'a.bin', size: a.length, md5: md5(a) },
    { path: 'sub/b.json', size: b.length, sha256: sha(b) },
    { path: 'plain.txt', size: 3 },
  ]);

  it('hashes completed files on the pool, and the final pass reads none again', async () => {
    const root = volume({ 'a.bin': a, 'sub/b.json': b, 'plain.txt': Buffer.from('abc') });
    const v = new VerifyWhileDownloading(root, listing, pool);
    v.offer('a.bin');
    await v.poll();
    const early = await v.settle();
    expect([...early.keys()].sort()).toEqual(['a.bin', 'sub/b.json']);
    const r = await verifyAndPrune(root, listing, { pool, early });
    expect(r).toMatchObject({ missing: [], bad: [], hashedDuringTransfer: 2, hashedAfterTransfer: 0 });
    expect(r.ok.sort()).toEqual(['a.bin', 'plain.txt', 'sub/b.json']);
  });

  it('never hashes a file short of its listed size, nor paths outside the listing', async () => {
    const root = volume({ 'a.bin': a.subarray(0, 1000), 'sub/b.json': b });
    const v = new VerifyWhileDownloading(root, listing, pool);
    v.offer('a.bin');
    v.offer('../outside');
    expect([...(await v.settle()).keys()]).toEqual([]);
  });

  it('re-reads a file replaced after its verdict, and catches a corruption there', async () => {
    const root = volume({ 'a.bin': a, 'sub/b.json': b, 'plain.txt': Buffer.from('abc') });
    const v = new VerifyWhileDownloading(root, listing, pool);
    await v.poll();
    const early = await v.settle();
    // The tool replaces the file after it was judged good (same size, other content): that verdict no longer counts.
    const corrupt = Buffer.from(a);
    corrupt[12345] = 0;
    writeFileSync(join(root, 'a.bin.tmp'), corrupt);
    rmSync(join(root, 'a.bin'));
    writeFileSync(join(root, 'a.bin'), corrupt);
    const r = await verifyAndPrune(root, listing, { pool, early });
    expect(r.bad).toEqual([{ path: 'a.bin', why: 'MD5 (ETag) mismatch' }]);
    expect(r.hashedAfterTransfer).toBe(1);
    expect(existsSync(join(root, 'a.bin'))).toBe(false);
  });

  it('deletes a file found bad during the transfer only in the final pass', async () => {
    const bad = Buffer.from(b);
    bad[0] = 0x5b;
    const root = volume({ 'a.bin': a, 'sub/b.json': bad, 'plain.txt': Buffer.from('ab') });
    const v = new VerifyWhileDownloading(root, listing, pool);
    await v.poll();
    const early = await v.settle();
    expect(early.get('sub/b.json')?.why).toBe('sha256 mismatch');
    expect(existsSync(join(root, 'sub/b.json'))).toBe(true);
    const r = await verifyAndPrune(root, listing, { pool, early });
    expect(r.bad).toEqual([
      { path: 'sub/b.json', why: 'sha256 mismatch' },
      { path: 'plain.txt', why: 'size 2 != 3' },
    ]);
    expect(existsSync(join(root, 'sub/b.json'))).toBe(false);
  });

  it('settles every check when the pool closes mid-way (a failed attempt ends)', async () => {
    const root = volume({ 'a.bin': a });
    const own = new HashPool(1);
    const checks = [1, 2, 3].map(() => own.judge(join(root, 'a.bin'), listing.files[0]!));
    // Observed before the close, as the downloader observes its checks: a rejection nobody awaits yet is unhandled.
    const settling = Promise.allSettled(checks);
    await own.close();
    const settled = await settling;
    expect(settled.every((r) => r.status === 'rejected' || r.value !== undefined)).toBe(true);
    expect(settled.some((r) => r.status === 'rejected')).toBe(true);
  });

  it('verifies on the calling thread without a pool, as before', async () => {
    const root = volume({ 'a.bin': a, 'sub/b.json': b });
    const r = await verifyAndPrune(root, listing);
    expect(r).toMatchObject({ ok: ['a.bin', 'sub/b.json'], missing: ['plain.txt'], hashedAfterTransfer: 2 });
  });
});
