/**
 * A hashing thread of the verification pool (hashPool.ts): reads one file at a time and answers with its verdict, so
 * that digests of completed files are computed beside the transfer instead of on the thread that watches it.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { judgeContent, type ContentVerdict } from './digests.js';
import type { RemoteFile } from './listing.js';

/** Marks the threads the pool starts: importing this module anywhere else does nothing. */
export const HASH_WORKER_ROLE = 'aim-downloader-hash';

export interface HashRequest {
  id: number;
  path: string;
  file: RemoteFile;
}

export type HashReply =
  { id: number; verdict: ContentVerdict | undefined } | { id: number; error: { message: string; code?: string } };

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === HASH_WORKER_ROLE) {
  const port = parentPort!;
  port.on('message', (req: HashRequest) => {
    judgeContent(req.path, req.file).then(
      (verdict) => port.postMessage({ id: req.id, verdict } satisfies HashReply),
      (err: unknown) => {
        const e = err as NodeJS.ErrnoException;
        port.postMessage({
          id: req.id,
          error: { message: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) },
        } satisfies HashReply);
      },
    );
  });
}
