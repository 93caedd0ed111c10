/** What a source holds, as the probe and each download attempt list it. Paths are relative to the model root. */
export interface RemoteFile {
  path: string;
  size: number;
  /** MD5 hex from a single-part S3 ETag. */
  md5?: string;
  /** An `x-amz-checksum-*` value (base64) with its algorithm, when the object has one. */
  checksum?: { algorithm: 'CRC32' | 'CRC32C' | 'SHA1' | 'SHA256'; value: string };
  /** Hugging Face LFS sha256 (hex). */
  sha256?: string;
  /** Hugging Face git blob id (sha1 of `blob {size}\0{content}`) for non-LFS files. */
  gitBlobSha1?: string;
}

export interface Listing {
  files: RemoteFile[];
  totalBytes: number;
  revision?: string;
}

export function listingOf(files: RemoteFile[], revision?: string): Listing {
  return { files, totalBytes: files.reduce((n, f) => n + f.size, 0), ...(revision ? { revision } : {}) };
}
