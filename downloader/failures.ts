import { writeFileSync } from 'node:fs';
import { CREDENTIAL_ENV_NAMES } from '../schemas/constants.js';
import { DOWNLOADER_REASONS, type DownloaderReason } from '../domain/failureReasons.js';

// The reasons a downloader can report are part of the one failure vocabulary (spec section 7). `DownloadFailed` is
// the catch-all for a tool that failed in a way we could not classify; like `Stalled` it is retried by the next attempt.
export { DOWNLOADER_REASONS, type DownloaderReason };

/** A classified failure with a curated message (never a raw body, stderr dump or URL with userinfo). */
export class DownloaderFailure extends Error {
  constructor(
    readonly reason: DownloaderReason,
    message: string,
  ) {
    super(scrub(message));
    this.name = 'DownloaderFailure';
  }
}

/** Secrets a platform injects into the pod (EKS Pod Identity's token when given inline), not set through our specs. */
const INJECTED_SECRET_ENV_NAMES = ['AWS_CONTAINER_AUTHORIZATION_TOKEN'] as const;

/**
 * Removes credential material from any text: URL userinfo, Authorization headers, bearer tokens, Hugging Face and
 * AWS key shapes, and the literal values of every credential variable in our environment.
 */
export function scrub(text: string, env: NodeJS.ProcessEnv = process.env): string {
  let out = text
    .replace(/([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/\s@]+@/g, '$1***@')
    .replace(/(authorization\s*[:=]\s*)("?)[^\s",]+(\s+[^\s",]+)?/gi, '$1$2***')
    .replace(/\bBearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer ***')
    .replace(/\bhf_[A-Za-z0-9]{8,}\b/g, 'hf_***')
    .replace(/\b(AKIA|ASIA)[A-Z0-9]{12,}\b/g, '$1***')
    .replace(/(X-Amz-Credential=|X-Amz-Signature=|Signature=)[^&\s"]+/gi, '$1***');
  for (const name of [...CREDENTIAL_ENV_NAMES, ...INJECTED_SECRET_ENV_NAMES]) {
    const value = env[name];
    if (value && value.length >= 4) out = out.split(value).join('***');
  }
  return out;
}

const MAX_TERMINATION_BYTES = 4096;

/**
 * Writes one JSON line to the termination message path (Kubernetes keeps at most 4 KiB). Lists are truncated with
 * counts and the message shortened until the line fits.
 */
export function writeTerminationMessage(path: string, payload: Record<string, unknown>): string {
  const line = fitTerminationMessage(payload);
  try {
    writeFileSync(path, line);
  } catch {
    // The message also goes to stdout, which FallbackToLogsOnError turns into the termination message.
  }
  return line;
}

export function fitTerminationMessage(payload: Record<string, unknown>): string {
  const p: Record<string, unknown> = { ...payload };
  if (typeof p.message === 'string') p.message = scrub(p.message);
  let line = JSON.stringify(p);
  for (const [k, v] of Object.entries(p)) {
    if (Buffer.byteLength(line) <= MAX_TERMINATION_BYTES) break;
    if (Array.isArray(v) && v.length > 3) {
      p[k] = v.slice(0, 3);
      p[`${k}Truncated`] = v.length - 3;
      line = JSON.stringify(p);
    }
  }
  while (Buffer.byteLength(line) > MAX_TERMINATION_BYTES && typeof p.message === 'string' && p.message.length > 20) {
    p.message = `${p.message.slice(0, Math.floor(p.message.length / 2))}…`;
    line = JSON.stringify(p);
  }
  return line;
}
