import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { API_GROUP } from '../../schemas/constants.js';

export const EXAMPLES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');

/** Any Kubernetes object of examples/ (AIM kinds and the Secret templates beside them). */
export type KubeManifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
};

/** An AIM object of examples/: one of our kinds, with a spec. */
export type Manifest = KubeManifest & { spec: Record<string, unknown> };

const isAim = (m: KubeManifest): m is Manifest => m.apiVersion.startsWith(`${API_GROUP}/`);

/** Every manifest of examples/*.yaml, whatever its kind, keyed by file name (one document per file). */
export function loadAllExamples(): Map<string, KubeManifest> {
  const out = new Map<string, KubeManifest>();
  for (const file of readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    const docs = parseAllDocuments(readFileSync(join(EXAMPLES_DIR, file), 'utf8')).map((d) => d.toJS() as KubeManifest);
    if (docs.length !== 1 || !docs[0]) throw new Error(`${file}: expected exactly one manifest`);
    out.set(file, docs[0]);
  }
  return out;
}

/**
 * The AIM manifests of examples/*.yaml (our kinds only: the Secret templates are for `kubectl apply`, not for
 * zod or the CRDs), keyed by file name.
 */
export function loadExamples(): Map<string, Manifest> {
  const out = new Map<string, Manifest>();
  for (const [file, m] of loadAllExamples()) if (isAim(m)) out.set(file, m);
  return out;
}

/** A fresh copy of one AIM example. */
export function example(file: string): Manifest {
  const m = loadExamples().get(file);
  if (!m) throw new Error(`no AIM example ${file}`);
  return structuredClone(m);
}

/**
 * A Secret template of examples/ with its placeholder values replaced by `values` (the test servers' real
 * credentials). Every key of the template must be filled and no other key added, so a template that drifts from
 * what the AIM examples reference fails here instead of deep inside a scenario.
 */
export function exampleSecret(file: string, values: Record<string, string>): KubeManifest {
  const m = structuredClone(loadAllExamples().get(file));
  if (!m || m.kind !== 'Secret') throw new Error(`no Secret example ${file}`);
  const template = (m.stringData ?? {}) as Record<string, string>;
  const expected = Object.keys(template).sort();
  if (JSON.stringify(expected) !== JSON.stringify(Object.keys(values).sort())) {
    throw new Error(`${file} has keys ${expected.join(', ')}; got values for ${Object.keys(values).sort().join(', ')}`);
  }
  m.stringData = { ...values };
  return m;
}
