import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { checkManifest, parseManifestText, type Manifest } from '../manifests.js';
import { UsageError, type Session } from './session.js';

const MANIFEST_EXTENSIONS = /\.(ya?ml|json)$/i;

/**
 * The files behind `-f` values as kubectl reads them: `-` is standard input, a directory is every *.yaml, *.yml and
 * *.json file directly in it (sorted, not recursive), anything else a file. Pure: the file system is the input.
 */
export function expandFilenames(values: string[], cwd: string | undefined): string[] {
  const out: string[] = [];
  for (const value of values) {
    if (value === '-') {
      out.push('-');
      continue;
    }
    const path = cwd && !isAbsolute(value) ? join(cwd, value) : value;
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) throw new UsageError(`cannot read ${value}: no such file or directory`);
    if (!stat.isDirectory()) {
      out.push(path);
      continue;
    }
    const inDir = readdirSync(path)
      .filter((f) => MANIFEST_EXTENSIONS.test(f))
      .sort()
      .map((f) => join(path, f))
      .filter((f) => statSync(f).isFile());
    if (inDir.length === 0) throw new UsageError(`${value}: no *.yaml, *.yml or *.json files in the directory`);
    out.push(...inDir);
  }
  return out;
}

async function readAll(input: AsyncIterable<string | Uint8Array> | undefined): Promise<string> {
  if (!input) return '';
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of input) text += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}

interface ReadDoc {
  file: string;
  index: number;
  value: unknown;
}

async function readManifests(s: Session): Promise<{ docs: ReadDoc[]; errors: string[] }> {
  const values = s.list('filename');
  if (values.length === 0) throw new UsageError(`"${s.verb}" needs -f FILE`);
  if (values.filter((v) => v === '-').length > 1) throw new UsageError('standard input (-f -) can be read only once');
  const docs: ReadDoc[] = [];
  const errors: string[] = [];
  for (const file of expandFilenames(values, s.io.cwd)) {
    let text: string;
    try {
      text = file === '-' ? await readAll(s.io.stdin) : readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
    }
    const name = file === '-' ? '<stdin>' : file;
    const parsed = parseManifestText(text);
    for (const e of parsed.errors) errors.push(`${name}: ${e.path}: ${e.message}`);
    parsed.docs.forEach((value, index) => docs.push({ file: name, index, value }));
  }
  return { docs, errors };
}

/** Validates every document of `-f`; prints each `path: message` and returns undefined when any is invalid. */
export async function validManifests(s: Session): Promise<Manifest[] | undefined> {
  const { docs, errors } = await readManifests(s);
  const out: Manifest[] = [];
  const problems: string[] = [...errors];
  for (const d of docs) {
    const r = checkManifest(d.value);
    if (r.ok) {
      out.push(r.manifest);
      continue;
    }
    const v = d.value as { kind?: unknown; metadata?: { name?: unknown } } | null;
    const what = [
      typeof v?.kind === 'string' ? v.kind : undefined,
      typeof v?.metadata?.name === 'string' ? v.metadata.name : undefined,
    ]
      .filter(Boolean)
      .join(' ');
    problems.push(`${d.file}: document ${d.index + 1}${what ? ` (${what})` : ''} is invalid:`);
    for (const e of r.errors) problems.push(`  ${e.path}: ${e.message}`);
  }
  if (problems.length > 0) {
    s.err(problems.join('\n'));
    s.err('nothing was applied');
    return undefined;
  }
  if (out.length === 0) {
    s.err('no objects in the given files');
    return undefined;
  }
  return out;
}
