import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Listing, RemoteFile } from './listing.js';

export interface VerifyResult {
  ok: string[];
  missing: string[];
  bad: Array<{ path: string; why: string }>;
}

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

/** Streams the file once, computing only what this file can be checked against. */
async function digests(path: string, f: RemoteFile): Promise<Record<string, string>> {
  const md5 = f.md5 ? createHash('md5') : undefined;
  const sha256 = f.sha256 || f.checksum?.algorithm === 'SHA256' ? createHash('sha256') : undefined;
  const sha1 = f.checksum?.algorithm === 'SHA1' ? createHash('sha1') : undefined;
  const blob = f.gitBlobSha1 ? createHash('sha1').update(`blob ${f.size}\0`) : undefined;
  let c32 = 0;
  let c32c = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 }) as AsyncIterable<Buffer>) {
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

/**
 * Every expected file present with the expected size, then its strongest available digest. Files that fail are
 * deleted so that the next attempt fetches them again (spec section 6).
 */
export async function verifyAndPrune(root: string, listing: Listing): Promise<VerifyResult> {
  const result: VerifyResult = { ok: [], missing: [], bad: [] };
  for (const f of listing.files) {
    const path = join(root, f.path);
    const st = await stat(path).catch(() => undefined);
    if (!st) {
      result.missing.push(f.path);
      continue;
    }
    let why: string | undefined;
    if (st.size !== f.size) why = `size ${st.size} != ${f.size}`;
    else {
      const d = await digests(path, f);
      if (f.sha256 && d.sha256 !== f.sha256) why = 'sha256 mismatch';
      else if (f.checksum && d[f.checksum.algorithm] !== f.checksum.value) why = `${f.checksum.algorithm} mismatch`;
      else if (f.md5 && d.md5 !== f.md5) why = 'MD5 (ETag) mismatch';
      else if (f.gitBlobSha1 && d.gitBlobSha1 !== f.gitBlobSha1) why = 'git blob sha1 mismatch';
    }
    if (why) {
      result.bad.push({ path: f.path, why });
      await rm(path, { force: true });
    } else result.ok.push(f.path);
  }
  return result;
}
