import { readFileSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { KINDS, RULE_CATALOG, type KindName } from '../../schemas/index.js';
import { loadExamples } from '../cases/examples.js';
import {
  CORPUS_DIR,
  INVALID_CASES,
  invalidManifest,
  parseHeader,
  REQUIRED_CATEGORIES,
} from '../cases/invalidManifests.js';

/** The corpus files themselves (test/corpus/*.yaml): readable YAML, a well-formed header, issue 7's categories. */
const files = readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.yaml'));
const byFile = new Map(INVALID_CASES.map((c) => [basename(c.file), c]));
const examples = loadExamples();

describe('the bad-input corpus', () => {
  it('has at least 90 files, named NNN-slug.yaml with unique numbers, every one loaded as a case', () => {
    expect(files.length).toBeGreaterThanOrEqual(90);
    for (const f of files) expect(f).toMatch(/^\d{3}-[a-z0-9]+(-[a-z0-9]+)*\.yaml$/);
    const numbers = files.map((f) => f.slice(0, 3));
    expect(new Set(numbers).size).toBe(files.length);
    expect([...byFile.keys()].sort()).toEqual([...files].sort());
  });

  it.each(files)('%s is one YAML document of one of our kinds', (file) => {
    const docs = parseAllDocuments(readFileSync(`${CORPUS_DIR}/${file}`, 'utf8'));
    if (!Array.isArray(docs)) throw new Error('expected documents');
    expect(docs).toHaveLength(1);
    expect(docs[0]!.errors.map((e) => e.message)).toEqual([]);
    expect(docs[0]!.warnings.map((e) => e.message)).toEqual([]);
    const m = docs[0]!.toJS() as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
    expect(m.apiVersion).toBe('aim.silogen.ai/v1alpha1');
    expect(Object.keys(KINDS)).toContain(m.kind);
    expect(typeof m.metadata?.name).toBe('string');
  });

  it.each(files)('%s opens with the header: case, category, refusedBy, from, and zod/api lines to match', (file) => {
    const text = readFileSync(`${CORPUS_DIR}/${file}`, 'utf8');
    expect(text.startsWith('# case: ')).toBe(true);
    const h = parseHeader(file, text);
    expect(Object.keys(h)).toEqual(expect.arrayContaining(['case', 'category', 'refusedBy', 'from']));
    const c = byFile.get(file)!;
    expect(c.zod !== undefined).toBe(h.refusedBy!.includes('zod'));
    expect(c.api !== undefined).toBe(h.refusedBy!.includes('api'));
    // `from` names a real example of the same kind: the reader can diff the two to see the one change.
    expect(examples.get(c.example)?.kind).toBe(invalidManifest(c).kind);
    // Transition rules are the API server's alone (zod cannot see the old object).
    if (c.update) expect(c.enforcedBy).toBe('api');
  });

  it('names each object once per kind, so a test can look for exactly that object', () => {
    const keys = INVALID_CASES.map((c) => {
      const m = invalidManifest(c);
      return `${m.kind}/${m.metadata.name}`;
    });
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
    const names = INVALID_CASES.map((c) => c.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it.each(REQUIRED_CATEGORIES.map((c) => [c]))('covers the issue 7 category %s', (category) => {
    expect(INVALID_CASES.filter((c) => c.categories.includes(category)).map((c) => c.name)).not.toEqual([]);
  });

  it('covers every layer: zod only, API server only, and both', () => {
    for (const layer of ['zod', 'api', 'both'] as const) {
      expect(
        INVALID_CASES.some((c) => c.enforcedBy === layer),
        layer,
      ).toBe(true);
    }
    const kinds = new Set(INVALID_CASES.map((c) => invalidManifest(c).kind as KindName));
    expect([...kinds].sort()).toEqual(Object.keys(KINDS).sort());
  });

  it('names only rules of the catalog, with a message the rule really has', () => {
    for (const c of INVALID_CASES.filter((x) => x.rule)) {
      const rule = RULE_CATALOG.find((r) => r.id === c.rule);
      expect(rule, `${c.name}: rule ${c.rule}`).toBeDefined();
      const messages = [c.zod?.message, c.api?.message].filter((m): m is string => m !== undefined);
      expect(
        messages.some((m) => rule!.message.includes(m)),
        `${c.name}: ${messages.join(' | ')} vs ${rule!.message}`,
      ).toBe(true);
    }
  });

  it('has a file for every rule of the catalog', () => {
    const named = new Set(INVALID_CASES.map((c) => c.rule));
    expect(RULE_CATALOG.filter((r) => !named.has(r.id)).map((r) => r.id)).toEqual([]);
  });
});
