/**
 * A hashing thread of the verification pool (hashPool.ts): judges completed files one at a time and follows files
 * still being written (any number at once, each at the pace of its writer), so that digests are computed beside the
 * transfer instead of on the thread that watches it.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { judgeContent, type ContentVerdict } from './digests.js';
import { followContent } from './followContent.js';
import type { RemoteFile } from './listing.js';

/** Marks the threads the pool starts: importing this module anywhere else does nothing. */
export const HASH_WORKER_ROLE = 'aim-downloader-hash';

export type HashRequest =
  | { kind: 'judge'; id: number; path: string; file: RemoteFile }
  /** `path`: the tool's temporary file; `finals`: where it may be moved once complete. */
  | { kind: 'follow'; id: number; path: string; finals: string[]; file: RemoteFile }
  /** The tool has exited: the follows under way finish with what was moved into place and give up on the rest. */
  | { kind: 'toolExited' };

export type HashReply =
  | { id: number; verdict: ContentVerdict | undefined; final?: string }
  | { id: number; error: { message: string; code?: string } };

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === HASH_WORKER_ROLE) {
  const port = parentPort!;
  /** The follows under way, each with whether its tool has exited (a pool may serve one attempt after another). */
  const follows = new Map<number, { toolExited: boolean }>();
  const answer = (id: number, work: Promise<{ verdict: ContentVerdict | undefined; final?: string }>) =>
    work.then(
      (r) => port.postMessage({ id, ...r } satisfies HashReply),
      (err: unknown) => {
        const e = err as NodeJS.ErrnoException;
        port.postMessage({
          id,
          error: { message: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) },
        } satisfies HashReply);
      },
    );
  port.on('message', (req: HashRequest) => {
    if (req.kind === 'toolExited') for (const f of follows.values()) f.toolExited = true;
    else if (req.kind === 'judge')
      void answer(
        req.id,
        judgeContent(req.path, req.file).then((verdict) => ({ verdict })),
      );
    else {
      const state = { toolExited: false };
      follows.set(req.id, state);
      void answer(
        req.id,
        followContent(req.path, req.finals, req.file, { toolExited: () => state.toolExited })
          .then((f) => ({ verdict: f?.verdict, ...(f ? { final: f.final } : {}) }))
          .finally(() => follows.delete(req.id)),
      );
    }
  });
}
