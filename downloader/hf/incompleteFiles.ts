import { join } from 'node:path';
import type { RemoteFile } from '../listing.js';

/**
 * Where `hf download --local-dir DIR` writes a file before it is complete (huggingface_hub 1.33, _local_folder.py
 * and file_download.py): `DIR/.cache/huggingface/download/{short}.{etag}.{uuid8}.incomplete`, opened "wb" and written
 * front to back, then closed, chmod-ed and renamed to its final path. `short` is a hash of the file's base name;
 * `etag` is the file's LFS sha256, or its git blob id for a plain file (the Hub's X-Linked-Etag / ETag). Earlier
 * releases left out the `.{uuid8}`.
 */
export const hfIncompleteDir = (localDir: string): string => join(localDir, '.cache', 'huggingface', 'download');

const INCOMPLETE = /^[A-Za-z0-9_=-]+\.([0-9a-f]{40}|[0-9a-f]{64})(?:\.[0-9a-f]{8})?\.incomplete$/;

/** The etag a temporary file's name carries, or undefined for any other name. */
export function hfIncompleteEtag(name: string): string | undefined {
  return INCOMPLETE.exec(name)?.[1];
}

/** The listed files whose content that etag names (one, or several with identical content). */
export function filesOfEtag(files: Iterable<RemoteFile>, etag: string): RemoteFile[] {
  return [...files].filter((f) => f.sha256 === etag || f.gitBlobSha1 === etag);
}
