// What a non-root container can reach of the node's files. In a real container the image brings its own tools; here
// they are the host's (extraPath: s5cmd, hf, kubectl in a venv under ~/.cache), and a 0700 home directory in front of
// them would stop a container running as uid 1000 where the image's copy would not. So such a container gets a
// private mount namespace (an image's view of the filesystem, nothing on the host changes): the 0700 directory is
// covered by an empty tmpfs and only the tool directories are bind-mounted back into it, at the same paths (the venv's
// scripts name their interpreter by absolute path). The container sees neither the rest of that home nor anything
// else it could not see before: it just can reach its image's tools.
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, readSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface Exposure {
  /** The topmost directory others cannot traverse: covered by an empty tmpfs. */
  hide: string;
  /** The directory (below the deepest untraversable one) that is mounted back. */
  expose: string;
}

const traversableByOthers = (dir: string): boolean => {
  try {
    return (statSync(dir).mode & 0o001) !== 0;
  } catch {
    return true; // missing: nothing to expose
  }
};

/** `/a/b/c` → [`/a`, `/a/b`] (strict ancestors, without `/`). */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let d = dirname(path); d !== dirname(d); d = dirname(d)) out.unshift(d);
  return out;
}

const realpathOr = (p: string): string | undefined => {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
};

/** The interpreter named by a script's `#!` line, if any. */
function shebang(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const buf = Buffer.alloc(256);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const m = /^#!\s*(\S+)/.exec(buf.subarray(0, n).toString('latin1'));
    return m?.[1];
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Everything the tools on `extraPath` need besides the directories themselves: where their symlinks lead (a venv's
 * `bin/`), the interpreters their scripts name and those interpreters' installation (`<prefix>/bin/python3` →
 * `<prefix>`, which holds the standard library).
 */
export function toolPaths(extraPath: readonly string[]): string[] {
  const out = new Set<string>();
  for (const dir of extraPath) {
    out.add(resolve(dir));
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries) {
      const real = realpathOr(join(dir, e));
      if (!real) continue;
      out.add(dirname(real));
      const interpreter = shebang(real);
      const realInterpreter = interpreter && realpathOr(interpreter);
      if (interpreter) out.add(dirname(interpreter));
      if (realInterpreter) out.add(dirname(dirname(realInterpreter)));
    }
  }
  return [...out];
}

/** For each path behind a directory other users cannot traverse: what to hide and what to mount back. */
export function exposuresFor(
  paths: readonly string[],
  traversable: (dir: string) => boolean = traversableByOthers,
): Exposure[] {
  const out = new Map<string, Exposure>();
  for (const raw of paths) {
    const path = resolve(raw);
    const chain = [...ancestors(path), path];
    const blocked = chain.slice(0, -1).filter((d) => !traversable(d));
    if (blocked.length === 0) continue;
    const deepest = blocked.at(-1)!;
    const expose = chain[chain.indexOf(deepest) + 1]!;
    out.set(expose, { hide: blocked[0]!, expose });
  }
  // A directory mounted back brings everything below it: nested ones need no mount of their own.
  const all = [...out.values()];
  return all.filter((e) => !all.some((o) => o !== e && e.expose.startsWith(`${o.expose}/`)));
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The shell script run inside `unshare --mount --propagation private` that sets the view up and execs its arguments;
 * the staging directories (one per exposure, created here under `stageRoot`) hold each bind mount while the tmpfs
 * covers its source. Undefined when nothing needs exposing.
 */
export function rootfsScript(exposures: readonly Exposure[], stageRoot: string): string | undefined {
  if (exposures.length === 0) return undefined;
  const lines = ['set -e'];
  exposures.forEach((e, i) => {
    const stage = join(stageRoot, `stage-${i}`);
    mkdirSync(stage, { recursive: true });
    lines.push(`mount --bind ${quote(e.expose)} ${quote(stage)}`);
  });
  for (const hide of new Set(exposures.map((e) => e.hide)))
    lines.push(`mount -t tmpfs -o mode=0755,size=1m aim-image-view ${quote(hide)}`);
  exposures.forEach((e, i) => {
    lines.push(`mkdir -p ${quote(e.expose)}`);
    lines.push(`mount --move ${quote(join(stageRoot, `stage-${i}`))} ${quote(e.expose)}`);
  });
  lines.push('exec "$@"');
  return lines.join('\n');
}

/** Adds o+x (search, not read) to `dir` and its ancestors so a container's user can reach the pod directories in it. */
export function makeTraversable(dir: string, log: (line: string) => void): void {
  const chain = [...ancestors(resolve(dir)), resolve(dir)];
  for (const d of chain) {
    const mode = statSync(d).mode & 0o7777;
    if ((mode & 0o001) !== 0) continue;
    try {
      // chmod, not a mount: the pod directories hold the "mounted" volumes, so the path to them must be walkable.
      chmodSync(d, mode | 0o001);
      log(`made ${d} traversable (o+x) for non-root containers`);
    } catch (err) {
      log(`cannot make ${d} traversable: ${(err as Error).message}`);
    }
  }
}
