import { parseAllDocuments } from 'yaml';
import { KIND_NAMES, type KindName } from '../schemas/kinds.js';
import { formatErrors, validateObject, type FieldError } from '../schemas/validate.js';

/** A manifest of one of our kinds, as written by the user (never the zod output: CRD defaults stay the server's). */
export interface Manifest {
  apiVersion: string;
  kind: KindName;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  spec?: unknown;
  [k: string]: unknown;
}

/** Thrown before anything is sent: every problem as `path: message`. */
export class ManifestInvalidError extends Error {
  constructor(
    readonly errors: FieldError[],
    readonly subject = 'manifest',
  ) {
    super(`invalid ${subject}:\n${errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`);
    this.name = 'ManifestInvalidError';
  }
}

/** One YAML/JSON text → its documents (empty documents skipped). YAML syntax errors are reported as field errors. */
export function parseManifestText(text: string): { docs: unknown[]; errors: FieldError[] } {
  const docs: unknown[] = [];
  const errors: FieldError[] = [];
  parseAllDocuments(text).forEach((d, i) => {
    if ('errors' in d && d.errors.length > 0) {
      for (const e of d.errors)
        errors.push({ path: `document[${i}]`, message: e.message.split('\n')[0] ?? 'YAML error' });
      return;
    }
    const value: unknown = d.toJS();
    if (value !== null && value !== undefined) docs.push(value);
  });
  return { docs, errors };
}

/** Validates one manifest with the kind's zod schema; the kind itself must be one of ours. */
export function checkManifest(value: unknown): { ok: true; manifest: Manifest } | { ok: false; errors: FieldError[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, errors: [{ path: '(root)', message: 'must be an object' }] };
  }
  const obj = value as Record<string, unknown>;
  const kind = obj.kind;
  if (typeof kind !== 'string' || !(KIND_NAMES as string[]).includes(kind)) {
    return {
      ok: false,
      errors: [
        {
          path: 'kind',
          message:
            kind === undefined
              ? 'Required value'
              : `unknown kind ${JSON.stringify(kind)}; expected one of ${KIND_NAMES.join(', ')}`,
        },
      ],
    };
  }
  const v = validateObject(kind as KindName, value);
  if (!v.ok) return { ok: false, errors: v.errors };
  return { ok: true, manifest: value as Manifest };
}

/** Throws ManifestInvalidError when the manifest is invalid; returns it typed otherwise. */
export function assertManifest(value: unknown): Manifest {
  const r = checkManifest(value);
  if (!r.ok) {
    const o = value as { kind?: unknown; metadata?: { name?: unknown } } | null;
    const subject =
      typeof o?.kind === 'string'
        ? `${o.kind} ${typeof o.metadata?.name === 'string' ? o.metadata.name : ''}`.trim()
        : 'manifest';
    throw new ManifestInvalidError(r.errors, subject);
  }
  return r.manifest;
}

export { formatErrors, type FieldError };
