import type { Payload } from '@temporalio/common';

/** Looking into raw Temporal data (histories fetched by a client without our codec): which payloads it holds. */

export interface FoundPayload {
  /** Where in the structure, e.g. `events[0].workflowExecutionStartedEventAttributes.input.payloads[0]`. */
  path: string;
  payload: Payload;
}

const isPayload = (v: Record<string, unknown>): boolean =>
  !!v.metadata &&
  typeof v.metadata === 'object' &&
  (v.metadata as Record<string, unknown>).encoding instanceof Uint8Array;

/**
 * Every payload in a structure. Search attributes are skipped unless asked for: Temporal indexes them, so no codec
 * ever touches them.
 */
export function payloadsIn(value: unknown, opts: { searchAttributes?: boolean } = {}, path = ''): FoundPayload[] {
  if (!value || typeof value !== 'object' || value instanceof Uint8Array) return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => payloadsIn(v, opts, `${path}[${i}]`));
  const obj = value as Record<string, unknown>;
  if (isPayload(obj)) return [{ path, payload: obj as Payload }];
  return Object.entries(obj).flatMap(([k, v]) =>
    k === 'searchAttributes' && !opts.searchAttributes ? [] : payloadsIn(v, opts, path ? `${path}.${k}` : k),
  );
}

/** The `encoding` metadata of a payload (`json/plain`, `binary/encrypted`, …). */
export function encodingOf(p: Payload): string {
  return Buffer.from(p.metadata?.encoding ?? new Uint8Array()).toString('utf8');
}
