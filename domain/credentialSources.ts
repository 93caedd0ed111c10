import { needsReprobe } from './failureReasons.js';

/** An env entry as a Job's container carries it: a value, or a reference (only references matter here). */
interface EnvEntry {
  name: string;
  valueFrom?: { secretKeyRef?: { name?: string; key?: string } };
}

/**
 * Where a container's credentials come from, by Secret: `Secret s3-creds (key access-key → AWS_ACCESS_KEY_ID, key
 * secret-key → AWS_SECRET_ACCESS_KEY)`. Names only — the downloader sees values, the user fixes a Secret's key, so a
 * refused credential is reported by the reference the user wrote (spec 7: the message names the Secret and key).
 */
export function credentialSources(env: readonly EnvEntry[] | undefined): string[] {
  const bySecret = new Map<string, string[]>();
  for (const e of env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (!ref?.name || !ref.key) continue;
    bySecret.set(ref.name, [...(bySecret.get(ref.name) ?? []), `key ${ref.key} → ${e.name}`]);
  }
  return [...bySecret].map(([secret, keys]) => `Secret ${secret} (${keys.join(', ')})`);
}

/**
 * A downloader's message for a refused credential (AuthFailed, GatedModel), completed with the Secrets it came from;
 * any other reason, or a container without Secret references, keeps its message.
 */
export function withCredentialSources(reason: string, message: string, env: readonly EnvEntry[] | undefined): string {
  const sources = needsReprobe(reason) ? credentialSources(env) : [];
  return sources.length === 0 ? message : `${message}; credentials from ${sources.join(', ')}`;
}
