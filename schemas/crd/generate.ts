/**
 * `npm run crds`: writes deploy/crds/*.yaml from the zod schemas. `--check` exits non-zero when a committed file
 * is stale (the unit tests run the same comparison).
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KINDS } from '../kinds.js';
import { crdFileName, renderCrd } from './toCrd.js';

export const CRD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'deploy', 'crds');

export function renderAll(): Map<string, string> {
  return new Map(Object.values(KINDS).map((def) => [crdFileName(def), renderCrd(def)]));
}

/** Files whose committed content differs from what the schemas generate (or that are missing/extra). */
export function staleCrdFiles(dir = CRD_DIR): string[] {
  const want = renderAll();
  const stale = [...want]
    .filter(([f, text]) => !existsSync(join(dir, f)) || readFileSync(join(dir, f), 'utf8') !== text)
    .map(([f]) => f);
  const extra = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml') && !want.has(f)) : [];
  return [...stale, ...extra];
}

function main(): void {
  if (process.argv.includes('--check')) {
    const stale = staleCrdFiles();
    if (stale.length) {
      console.error(`stale CRDs (run npm run crds): ${stale.join(', ')}`);
      process.exit(1);
    }
    console.log('CRDs are up to date');
    return;
  }
  mkdirSync(CRD_DIR, { recursive: true });
  for (const [file, text] of renderAll()) writeFileSync(join(CRD_DIR, file), text);
  console.log(`wrote ${renderAll().size} CRDs to ${CRD_DIR}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
