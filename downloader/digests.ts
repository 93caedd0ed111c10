import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import type { RemoteFile } from './listing.js';

/** CRC32C (Castagnoli), table-driven: S3 checksums use it and Node has no built-in. */
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

function crc32c(prev: number, buf: Buffer): number {
  let c = ~prev >>> 0;
  for (const b of buf) c = CRC32C_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
};

/** Whether the source told us anything to compare the content with; if not, the size is all there is to check. */
export const hasDigest = (f: RemoteFile): boolean => Boolean(f.md5 || f.sha256 || f.checksum || f.gitBlobSha1);

/**
 * Which inode, at which size and modification, a verdict is about. A verdict is kept only while the file still has
 * the same fingerprint: a tool that replaces or rewrites the file after it was hashed changes it.
 */
export type Fingerprint = string;

export const fingerprintOf = (st: BigIntStats): Fingerprint =>
  `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;

/** The first digest that disagrees with the source, in order of strength; undefined when the content matches. */
export function digestMismatch(f: RemoteFile, d: Record<string, string>): string | undefined {
  if (f.sha256 && d.sha256 !== f.sha256) return 'sha256 mismatch';
  if (f.checksum && d[f.checksum.algorithm] !== f.checksum.value) return `${f.checksum.algorithm} mismatch`;
  if (f.md5 && d.md5 !== f.md5) return 'MD5 (ETag) mismatch';
  if (f.gitBlobSha1 && d.gitBlobSha1 !== f.gitBlobSha1) return 'git blob sha1 mismatch';
  return undefined;
}

/** Reads the content once, computing only what this file can be checked against. */
export async function contentDigests(stream: AsyncIterable<Buffer>, f: RemoteFile): Promise<Record<string, string>> {
  const md5 = f.md5 ? createHash('md5') : undefined;
  const sha256 = f.sha256 || f.checksum?.algorithm === 'SHA256' ? createHash('sha256') : undefined;
  const sha1 = f.checksum?.algorithm === 'SHA1' ? createHash('sha1') : undefined;
  const blob = f.gitBlobSha1 ? createHash('sha1').update(`blob ${f.size}\0`) : undefined;
  let c32 = 0;
  let c32c = 0;
  for await (const chunk of stream) {
    md5?.update(chunk);
    sha256?.update(chunk);
    sha1?.update(chunk);
    blob?.update(chunk);
    if (f.checksum?.algorithm === 'CRC32') c32 = crc32(chunk, c32);
    if (f.checksum?.algorithm === 'CRC32C') c32c = crc32c(c32c, chunk);
  }
  const sha256Digest = sha256?.digest();
  return {
    ...(md5 ? { md5: md5.digest('hex') } : {}),
    ...(sha256Digest ? { sha256: sha256Digest.toString('hex'), SHA256: sha256Digest.toString('base64') } : {}),
    ...(sha1 ? { SHA1: sha1.digest('base64') } : {}),
    ...(blob ? { gitBlobSha1: blob.digest('hex') } : {}),
    ...(f.checksum?.algorithm === 'CRC32' ? { CRC32: u32(c32) } : {}),
    ...(f.checksum?.algorithm === 'CRC32C' ? { CRC32C: u32(c32c) } : {}),
  };
}

/** A verdict on one file's content: `why` is undefined when it matches; `fingerprint` is what was read. */
export interface ContentVerdict {
  fingerprint: Fingerprint;
  why?: string;
}

/**
 * Reads the file once through one descriptor and judges it. The verdict carries the fingerprint of the inode that was
 * read, or none (`undefined`) when the file changed while it was read: that verdict would be about no file at all.
 */
export async function judgeContent(path: string, f: RemoteFile): Promise<ContentVerdict | undefined> {
  const handle = await open(path, 'r');
  try {
    const before = fingerprintOf(await handle.stat({ bigint: true }));
    const stream = handle.createReadStream({ autoClose: false, highWaterMark: 4 << 20 });
    const why = digestMismatch(f, await contentDigests(stream as AsyncIterable<Buffer>, f));
    const after = fingerprintOf(await handle.stat({ bigint: true }));
    if (before !== after) return undefined;
    return { fingerprint: before, ...(why ? { why } : {}) };
  } finally {
    await handle.close();
  }
}
