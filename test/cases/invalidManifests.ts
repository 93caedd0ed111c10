import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { CREDENTIAL_ENV_NAMES } from '../../schemas/constants.js';
import type { EnforcedBy } from '../../schemas/rules.js';
import { example, type Manifest } from './examples.js';

/**
 * The bad-input corpus (issue 7; spec section 2 and section 10 scenario 9): `test/corpus/NNN-slug.yaml`, one invalid
 * manifest per file, each opening with a header that says which layers must refuse it and how:
 *
 *     # case: literal AWS secret key in a source          (the test title)
 *     # category: literal-credential                      (one or more of CATEGORIES, comma-separated)
 *     # refusedBy: zod, api                               (zod | api | zod, api)
 *     # rule: env-credentials-from-secret                 (optional: the RULE_CATALOG id whose message is asserted)
 *     # from: aimmodel-s3-custom-templates.yaml           (the examples/ file this one changes)
 *     # update: true                                      (optional: a transition — create `from` under this file's
 *                                                          name first, then this change is what gets refused)
 *     # zod: spec.modelSources[0].env[2]: credentials must come from a Secret   (field path: message substring)
 *     # api: spec.modelSources[0].env[2]: credentials must come from a Secret   (field the server names: substring)
 *     # note: free text                                   (optional: why a rule lives in one layer only)
 *
 * `zod` gives the field path zod reports and a substring of its message; `api` the field path the API server names and
 * a substring of its message (our own message for CEL rules, the server's wording for patterns, types and limits).
 * This module is the one source of truth: the tests read the files, nothing else lists the cases.
 */
export const CORPUS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'corpus');

/** What a corpus file may be tagged with. The first group is issue 7's list: each must have at least one file. */
export const REQUIRED_CATEGORIES = [
  'wrong-pattern',
  'missing-field',
  'model-selection', // both or none of name / image / custom
  'hardware-missing',
  'negative-size',
  'duplicate-env',
  'secretkeyref-without-key',
  'huge-list', // beyond maxItems
  'uri-unicode-whitespace',
  'literal-credential',
  'wrong-type',
] as const;
export const CATEGORIES = [
  ...REQUIRED_CATEGORIES,
  'unknown-field',
  'out-of-range',
  'enum',
  'immutable',
  'too-long',
  'duplicate-key',
  'reference-choice',
  'endpoint-rule',
  'cross-field',
  'empty-list',
] as const;
export type Category = (typeof CATEGORIES)[number];

export interface Expectation {
  path: string;
  message: string;
}

export interface InvalidCase {
  /** The header's `case:` line. */
  name: string;
  /** Absolute path of the corpus file. */
  file: string;
  categories: Category[];
  /** The examples/ file this case changes (for `update` cases, the object created first). */
  example: string;
  enforcedBy: EnforcedBy;
  rule?: string;
  zod?: Expectation;
  api?: Expectation;
  update?: boolean;
  note?: string;
}

const HEADER_KEYS = ['case', 'category', 'refusedBy', 'rule', 'from', 'update', 'zod', 'api', 'note'] as const;
type HeaderKey = (typeof HEADER_KEYS)[number];
const REFUSED_BY: Record<string, EnforcedBy> = { zod: 'zod', api: 'api', 'zod, api': 'both' };

/** The leading `# key: value` lines of a corpus file; throws on anything else (a typo must not drop a check). */
export function parseHeader(file: string, text: string): Partial<Record<HeaderKey, string>> {
  const out: Partial<Record<HeaderKey, string>> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('#')) break;
    const m = /^# ([A-Za-z]+): (\S.*)$/.exec(line);
    const key = m?.[1] as HeaderKey | undefined;
    if (!m || !key || !HEADER_KEYS.includes(key)) throw new Error(`${file}: bad header line ${JSON.stringify(line)}`);
    if (out[key] !== undefined) throw new Error(`${file}: header key "${key}" given twice`);
    out[key] = m[2]!;
  }
  return out;
}

function expectation(file: string, value: string | undefined): Expectation | undefined {
  if (value === undefined) return undefined;
  const at = value.indexOf(': ');
  if (at <= 0) throw new Error(`${file}: expected "field.path: message", got ${JSON.stringify(value)}`);
  return { path: value.slice(0, at), message: value.slice(at + 2) };
}

function loadCase(file: string): InvalidCase {
  const text = readFileSync(file, 'utf8');
  const h = parseHeader(file, text);
  const enforcedBy = h.refusedBy === undefined ? undefined : REFUSED_BY[h.refusedBy];
  if (!h.case || !h.category || !h.from || !enforcedBy) {
    throw new Error(`${file}: the header needs case, category, from and refusedBy (zod | api | zod, api)`);
  }
  const categories = h.category.split(/,\s*/) as Category[];
  const unknown = categories.filter((c) => !(CATEGORIES as readonly string[]).includes(c));
  if (unknown.length) throw new Error(`${file}: unknown category ${unknown.join(', ')}`);
  const zod = expectation(file, h.zod);
  const api = expectation(file, h.api);
  if ((enforcedBy !== 'api') !== (zod !== undefined) || (enforcedBy !== 'zod') !== (api !== undefined)) {
    throw new Error(`${file}: give a "zod:" line iff refusedBy has zod, an "api:" line iff it has api`);
  }
  if (h.update !== undefined && h.update !== 'true') throw new Error(`${file}: update is "true" or absent`);
  return {
    name: h.case,
    file,
    categories,
    example: h.from,
    enforcedBy,
    ...(h.rule ? { rule: h.rule } : {}),
    ...(zod ? { zod } : {}),
    ...(api ? { api } : {}),
    ...(h.update ? { update: true } : {}),
    ...(h.note ? { note: h.note } : {}),
  };
}

/** The corpus files in number order. */
export function corpusFiles(): string[] {
  return readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(CORPUS_DIR, f));
}

export const INVALID_CASES: InvalidCase[] = corpusFiles().map(loadCase);

/** The invalid manifest exactly as its file has it (a fresh copy). */
export function invalidManifest(c: InvalidCase): Manifest {
  const doc = parseDocument(readFileSync(c.file, 'utf8'));
  if (doc.errors.length) throw new Error(`${c.file}: ${doc.errors[0]!.message}`);
  return doc.toJS() as Manifest;
}

/** For `update` cases: the valid object created first — the `from` example under the case's own name. */
export function baseManifest(c: InvalidCase): Manifest {
  const m = example(c.example);
  m.metadata.name = invalidManifest(c).metadata.name;
  return m;
}

/** Literal values of credential variables anywhere in a manifest: no error message or CLI output may repeat them. */
export function literalCredentials(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(literalCredentials);
  if (typeof value !== 'object' || value === null) return [];
  const o = value as Record<string, unknown>;
  const own =
    typeof o.name === 'string' &&
    (CREDENTIAL_ENV_NAMES as readonly string[]).includes(o.name) &&
    typeof o.value === 'string' &&
    o.value !== ''
      ? [o.value]
      : [];
  return [...own, ...Object.values(o).flatMap(literalCredentials)];
}
