import type { z } from 'zod';
import { crd } from './crd/registry.js';

/**
 * Validation rules (spec section 2). Each rule is written once with its message and says which layer enforces it:
 * - `zod`: only our runtime validation (cross-field facts CEL cannot express cheaply, or checks we keep out of the CRD);
 * - `api`: only the API server (transition rules: zod cannot see the old object);
 * - `both`: a CEL rule in the CRD and the same check in zod, with the same message.
 */
export type EnforcedBy = 'zod' | 'api' | 'both';

export interface Rule<T> {
  /** Stable identifier, used by tests and docs. */
  id: string;
  message: string;
  enforcedBy: EnforcedBy;
  /** CEL expression over `self` (and `oldSelf` for transition rules). Required unless enforcedBy is `zod`. */
  cel?: string;
  /** Field the API server should name, relative to the schema (e.g. `.hardware`). */
  fieldPath?: string;
  /** zod side: true when the value is valid. Required unless enforcedBy is `api`. */
  check?: (value: T) => boolean;
  /** zod issue path relative to the schema (defaults to the schema itself). */
  path?: (value: T) => PropertyKey[];
}

/** Every rule ever attached, for the test table and the docs. */
export const RULE_CATALOG: Array<Pick<Rule<unknown>, 'id' | 'message' | 'enforcedBy' | 'cel'>> = [];

/** Attaches rules to a schema: CEL for the CRD, superRefine for zod. */
export function withRules<S extends z.ZodType>(schema: S, rules: Array<Rule<z.output<S>>>): S {
  for (const r of rules) {
    if (r.enforcedBy !== 'zod' && !r.cel) throw new Error(`rule ${r.id} is enforced by the API server but has no CEL`);
    if (r.enforcedBy !== 'api' && !r.check) throw new Error(`rule ${r.id} is enforced by zod but has no check`);
    if (!RULE_CATALOG.some((c) => c.id === r.id)) {
      RULE_CATALOG.push({ id: r.id, message: r.message, enforcedBy: r.enforcedBy, cel: r.cel });
    }
  }
  const zodRules = rules.filter((r) => r.enforcedBy !== 'api');
  const refined = zodRules.length
    ? (schema.superRefine((value, ctx) => {
        for (const r of zodRules) {
          if (!r.check!(value as z.output<S>)) {
            ctx.addIssue({ code: 'custom', message: r.message, path: r.path?.(value as z.output<S>) ?? [] });
          }
        }
      }) as unknown as S)
    : // A clone, so that API-only rules never leak onto a schema shared with other fields.
      (schema.clone() as S);
  const celRules = rules.filter((r) => r.enforcedBy !== 'zod');
  return celRules.length
    ? crd(refined, {
        cel: celRules.map((r) => ({
          rule: r.cel!,
          message: r.message,
          ...(r.fieldPath ? { fieldPath: r.fieldPath } : {}),
        })),
      })
    : refined;
}

/** A strict-object error map: unknown keys are errors, with a targeted hint for the plan's old field names. */
export function unknownKeyHints(hints: Record<string, string>) {
  return {
    error: (issue: { code?: string; keys?: string[] }) => {
      if (issue.code !== 'unrecognized_keys' || !issue.keys) return undefined;
      const hinted = issue.keys.map((k) => hints[k]).filter(Boolean);
      return hinted.length
        ? hinted.join('; ')
        : `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    },
  };
}
