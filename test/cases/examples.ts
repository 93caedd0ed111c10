import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const EXAMPLES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');

export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  spec: Record<string, unknown>;
  [k: string]: unknown;
};

/** Every manifest of examples/*.yaml, keyed by file name (one document per file). */
export function loadExamples(): Map<string, Manifest> {
  const out = new Map<string, Manifest>();
  for (const file of readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    const docs = parseAllDocuments(readFileSync(join(EXAMPLES_DIR, file), 'utf8')).map((d) => d.toJS() as Manifest);
    if (docs.length !== 1 || !docs[0]) throw new Error(`${file}: expected exactly one manifest`);
    out.set(file, docs[0]);
  }
  return out;
}

export function example(file: string): Manifest {
  const m = loadExamples().get(file);
  if (!m) throw new Error(`no example ${file}`);
  return structuredClone(m);
}
