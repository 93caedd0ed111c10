import { isAbsolute, relative, sep } from 'node:path';
import type { RemoteFile } from './listing.js';

/**
 * How each tool tells that a file is complete, as observed with the real tools (s5cmd v2.3.0, huggingface_hub 1.33):
 * - s5cmd writes every object to a temporary sibling (`name` + random digits), renames it into place, then prints one
 *   line per finished object on stdout; with `--json` it is `{"operation":"cp","success":true,"destination":...}`.
 * - `hf download --local-dir` writes to `.cache/huggingface/download/…incomplete` and renames into place (or copies
 *   from HF_HOME's cache in one sequential pass); it prints nothing per file.
 * So a listed file at its final path with its listed size is complete for both; s5cmd's line says so sooner.
 */

/** The model-relative path of the object an s5cmd `--json` line reports as copied, if it is one under `dest`. */
export function s5cmdCompletedPath(line: string, dest: string): string | undefined {
  if (!line.startsWith('{')) return undefined;
  let msg: { operation?: unknown; success?: unknown; destination?: unknown };
  try {
    msg = JSON.parse(line) as typeof msg;
  } catch {
    return undefined;
  }
  if (msg.operation !== 'cp' || msg.success !== true || typeof msg.destination !== 'string') return undefined;
  const rel = relative(dest, msg.destination);
  if (!rel || rel.startsWith('..') || isAbsolute(rel)) return undefined;
  return rel.split(sep).join('/');
}

/** A listed file is a candidate for hashing once it is at its final path with its listed size. */
export const looksComplete = (file: RemoteFile, size: number | bigint | undefined): boolean =>
  size !== undefined && BigInt(size) === BigInt(file.size);

/** Splits a stream of chunks into lines (the tool's stdout), keeping a partial last line for the next chunk. */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: string): void; end(): void } {
  let rest = '';
  return {
    push(chunk) {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const l of parts) if (l.trim()) onLine(l.trim());
    },
    end() {
      if (rest.trim()) onLine(rest.trim());
      rest = '';
    },
  };
}
