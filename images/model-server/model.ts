// What the stand-in model server knows about a model: the files in its directory (as the download Job left them in
// the cache volume), their total size, a digest of their contents and the parsed config.json. A real server (vLLM)
// refuses to start when the weights are missing; so does this one, with a message that says which check failed.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

export interface ModelFile {
  /** Relative to the model directory, `/`-separated. */
  path: string;
  bytes: number;
}

export interface ModelInventory {
  dir: string;
  files: ModelFile[];
  totalBytes: number;
  /** sha256 over every file's path and content, in path order: changes whenever any weight byte changes. */
  digest: string;
  config: Record<string, unknown>;
}

/** The model directory cannot be served; `message` is what goes to stderr and the termination log. */
export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}

async function walk(root: string, dir: string, out: ModelFile[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    // Hidden entries are the download tools' bookkeeping (`hf download --local-dir` keeps `.cache/huggingface/`,
    // the downloader its markers), not the model: a server loads neither.
    if (entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await walk(root, full, out);
    else if (entry.isFile())
      out.push({ path: relative(root, full).split('\\').join('/'), bytes: (await stat(full)).size });
  }
}

async function fileDigest(path: string, hash: ReturnType<typeof createHash>): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/**
 * Lists, checks and digests the model directory; throws `ModelLoadError` when it cannot be served. `shownAs` is the
 * directory's name in messages and answers: the path inside the container, where the process kubelet has the
 * server read a host directory (what a user of a real cluster sees is the container path).
 */
export async function inspectModelDir(dir: string, shownAs: string = dir): Promise<ModelInventory> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new ModelLoadError(`model directory ${shownAs} does not exist`);
  if (!info.isDirectory()) throw new ModelLoadError(`model path ${shownAs} is not a directory`);
  const files: ModelFile[] = [];
  await walk(dir, dir, files);
  if (files.length === 0) throw new ModelLoadError(`model directory ${shownAs} is empty: no weights to load`);
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  let config: unknown;
  try {
    config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ModelLoadError(`cannot read ${join(shownAs, 'config.json')}: ${why.replaceAll(dir, shownAs)}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ModelLoadError(`${join(shownAs, 'config.json')} is not a JSON object`);
  }

  const hash = createHash('sha256');
  for (const f of files) {
    hash.update(`${f.path}\0${f.bytes}\0`);
    await fileDigest(join(dir, f.path), hash);
  }
  return {
    dir: shownAs,
    files,
    totalBytes: files.reduce((sum, f) => sum + f.bytes, 0),
    digest: hash.digest('hex'),
    config: config as Record<string, unknown>,
  };
}

/**
 * The reply to a completion: deterministic in the prompt and the weights, and honest about what it is, so a test
 * can tell which weights served it and nobody mistakes it for a language model.
 */
export function completionText(modelId: string, digest: string, prompt: string): string {
  const promptDigest = createHash('sha256').update(`${digest}\0${prompt}`).digest('hex').slice(0, 16);
  return (
    `[aim test model server: not a language model] model ${modelId}, weights ${digest.slice(0, 12)}, ` +
    `prompt of ${prompt.length} characters, reply ${promptDigest}`
  );
}
