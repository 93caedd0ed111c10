import { createHash } from 'node:crypto';

/**
 * Canonical JSON for identities (spec section 3): sorted keys; absent, null and empty values (``, [], {}) omitted,
 * so that "not set" and "set to nothing" hash alike whatever the entry point wrote.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(prune(value) ?? null);
}

function prune(value: unknown): unknown {
  if (value === null || value === undefined || value === '') return undefined;
  if (Array.isArray(value)) {
    const items = value.map(prune).filter((v) => v !== undefined);
    return items.length ? items : undefined;
  }
  if (typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .map((k) => [k, prune((value as Record<string, unknown>)[k])] as const)
      .filter(([, v]) => v !== undefined);
    return entries.length ? Object.fromEntries(entries) : undefined;
  }
  return value;
}

/** First 8 hex characters of SHA-256 of the canonical JSON (or of a plain string). */
export function shortHash(value: unknown): string {
  const text = typeof value === 'string' ? value : canonicalJson(value);
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}
