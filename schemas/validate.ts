import type { z } from 'zod';
import { KINDS, type KindName } from './kinds.js';

export interface FieldError {
  /** e.g. `spec.modelSources[0].modelId` */
  path: string;
  message: string;
}

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** `["spec", "modelSources", 0, "modelId"]` → `spec.modelSources[0].modelId` */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** Messages in the API server's style for the generic cases; rule messages come from the schemas. */
const errorMap = (issue: z.core.$ZodRawIssue): string | undefined => {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'Required value';
  if (issue.code === 'invalid_type') return `must be ${issue.expected}`;
  if (issue.code === 'too_big' && issue.origin === 'array') return `must have at most ${String(issue.maximum)} items`;
  if (issue.code === 'too_small' && issue.origin === 'array')
    return `must have at least ${String(issue.minimum)} items`;
  if (issue.code === 'too_big' && issue.origin === 'string') return `may not be longer than ${String(issue.maximum)}`;
  if (issue.code === 'too_small' && issue.origin === 'string')
    return `must be at least ${String(issue.minimum)} characters`;
  if (issue.code === 'too_big') return `must be less than or equal to ${String(issue.maximum)}`;
  if (issue.code === 'too_small') return `must be greater than or equal to ${String(issue.minimum)}`;
  if (issue.code === 'unrecognized_keys')
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_value') return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return undefined;
};

/** Parses with any schema and reports every problem as `path: message` (never echoing values: they may be secret). */
export function validateWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  pathPrefix: PropertyKey[] = [],
): Validation<z.output<S>> {
  const result = schema.safeParse(value, { error: errorMap });
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    errors: result.error.issues.map((i) => ({ path: formatPath([...pathPrefix, ...i.path]), message: i.message })),
  };
}

/** Validates a whole object of one of our kinds. */
export function validateObject<K extends KindName>(
  kind: K,
  value: unknown,
): Validation<z.output<(typeof KINDS)[K]['schema']>> {
  return validateWith(KINDS[kind].schema, value) as Validation<z.output<(typeof KINDS)[K]['schema']>>;
}

export function formatErrors(errors: FieldError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('; ');
}

/** Thrown by `parseObject`; the message lists every field path and rule. */
export class InvalidSpecError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(formatErrors(errors));
    this.name = 'InvalidSpecError';
  }
}

export function parseObject<K extends KindName>(kind: K, value: unknown): z.output<(typeof KINDS)[K]['schema']> {
  const v = validateObject(kind, value);
  if (!v.ok) throw new InvalidSpecError(v.errors);
  return v.value;
}
