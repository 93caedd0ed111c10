// Container memory limits (`resources.limits.memory`), enforced the way the node does it: a memory cgroup per
// container with the limit set, so the kernel's OOM killer acts when the container goes above it, and the runtime
// reports `OOMKilled` when its cgroup counted an OOM kill (containerd's TaskOOM event), whatever the exit code.
//
// Three ways, the first that works on this host wins (detectMemoryEnforcement):
//   - cgroup v2 with the memory controller delegated (memory.max, memory.swap.max 0, memory.oom.group 1 as the kubelet
//     sets it on v2, so the whole container dies; OOM kills counted in memory.events);
//   - cgroup v1 memory controller (memory.limit_in_bytes, memsw too when swap accounting exists; OOM kills counted in
//     memory.oom_control), what runc does on a v1 host;
//   - sampling, when no cgroup can be created (not root, read-only cgroupfs): every 200 ms the RSS of the container's
//     process tree is summed from /proc and, above the limit, the tree gets SIGKILL and the container counts as
//     OOM-killed. Coarser than the kernel (a fast allocation can overshoot between samples) but same outcome.
// The kubelet's own cgroup is a child of the test process's, named by its pid; stale ones of dead processes are
// removed on start.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseQuantity } from '../../../schemas/quantity.js';

export type MemoryEnforcementKind = 'cgroup-v2' | 'cgroup-v1' | 'sampling';

/** One container instance's memory accounting. */
export interface ContainerMemory {
  /** `cgroup.procs` the container's first process writes its pid into before exec (absent when sampling). */
  procsFile?: string;
  /** The container runs as `pid`; `kill` SIGKILLs the whole container (sampling uses it above the limit). */
  attach(pid: number, kill: () => void): void;
  /** The container's cgroup counted an OOM kill (or the sampler killed it). */
  oomKilled(): boolean;
  /** Processes in the container's cgroup (for the final kill: catches children that left the process group). */
  members(): number[];
  /** Stops sampling and removes the cgroup once empty. */
  release(): void;
}

export interface MemoryEnforcement {
  kind: MemoryEnforcementKind;
  /** Why this kind was chosen (for the kubelet log and the report). */
  why: string;
  forContainer(name: string, limitBytes: number): ContainerMemory;
  /** Removes the kubelet's cgroup (its containers' are released first). */
  close(): void;
}

/** `resources.limits.memory` in bytes, or undefined when unset. */
export function memoryLimitBytes(limits: Record<string, string> | undefined): number | undefined {
  const raw = limits?.memory;
  if (raw === undefined) return undefined;
  const q = parseQuantity(raw);
  return Number((q.num + q.den - 1n) / q.den);
}

/** `/proc/<pid>/cgroup` lines → controller → path (`''` is the v2 unified hierarchy). */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    for (const c of m[1]!.split(',')) out.set(c.replace(/^name=/, ''), m[2]!);
  }
  return out;
}

/** A `key value` line of memory.events / memory.oom_control. */
export function counter(text: string, key: string): number {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

const readOr = (path: string, fallback = ''): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
};

function pidsOf(dir: string): number[] {
  return readOr(join(dir, 'cgroup.procs')).split('\n').filter(Boolean).map(Number);
}

function removeCgroup(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroup(join(dir, e.name));
    rmdirSync(dir);
  } catch {
    // still has (zombie) members, or gone: a later start cleans it up
  }
}

/** Stale kubelet cgroups of processes that no longer exist (a killed test run). */
function removeStale(parent: string): void {
  for (const e of safeList(parent)) {
    const m = /^aim-process-kubelet-(\d+)$/.exec(e);
    if (m && !existsSync(`/proc/${m[1]}`)) removeCgroup(join(parent, e));
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

interface Layout {
  kind: 'cgroup-v2' | 'cgroup-v1';
  /** The test process's own cgroup directory in that hierarchy. */
  parent: string;
}

function layouts(fsRoot: string, self: Map<string, string>): Layout[] {
  const out: Layout[] = [];
  const v2path = self.get('');
  if (v2path !== undefined) {
    for (const mount of [fsRoot, join(fsRoot, 'unified')]) {
      if (existsSync(join(mount, 'cgroup.controllers'))) {
        out.push({ kind: 'cgroup-v2', parent: join(mount, v2path) });
        break;
      }
    }
  }
  const v1path = self.get('memory');
  if (v1path !== undefined) out.push({ kind: 'cgroup-v1', parent: join(fsRoot, 'memory', v1path) });
  return out;
}

/** Creates the kubelet's cgroup in one layout and checks a container cgroup can get a limit; throws otherwise. */
function tryCgroup(layout: Layout): string {
  const { kind, parent } = layout;
  if (kind === 'cgroup-v2') {
    if (!readOr(join(parent, 'cgroup.controllers')).split(/\s+/).includes('memory'))
      throw new Error(`memory controller not available in ${parent}`);
    if (!readOr(join(parent, 'cgroup.subtree_control')).split(/\s+/).includes('memory'))
      writeFileSync(join(parent, 'cgroup.subtree_control'), '+memory');
  } else if (!existsSync(join(parent, 'memory.limit_in_bytes'))) {
    throw new Error(`no memory.limit_in_bytes in ${parent}`);
  }
  removeStale(parent);
  const root = join(parent, `aim-process-kubelet-${process.pid}`);
  mkdirSync(root, { recursive: true });
  try {
    if (kind === 'cgroup-v2') writeFileSync(join(root, 'cgroup.subtree_control'), '+memory');
    // Writable limits, checked on the kubelet's own cgroup (left unlimited: each container gets its own limit).
    writeFileSync(
      join(root, kind === 'cgroup-v2' ? 'memory.max' : 'memory.limit_in_bytes'),
      kind === 'cgroup-v2' ? 'max' : '-1',
    );
  } catch (err) {
    removeCgroup(root);
    throw err;
  }
  return root;
}

function cgroupContainer(kind: 'cgroup-v2' | 'cgroup-v1', root: string, name: string, limit: number): ContainerMemory {
  const dir = join(root, name.replace(/[^A-Za-z0-9_.-]/g, '_'));
  mkdirSync(dir, { recursive: true });
  const optional = (file: string, value: string): void => {
    try {
      writeFileSync(join(dir, file), value);
    } catch {
      // no swap accounting / older kernel: the limit alone still holds
    }
  };
  if (kind === 'cgroup-v2') {
    writeFileSync(join(dir, 'memory.max'), String(limit));
    optional('memory.swap.max', '0');
    optional('memory.oom.group', '1');
  } else {
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limit));
    optional('memory.memsw.limit_in_bytes', String(limit));
  }
  const oomKills = (): number =>
    kind === 'cgroup-v2'
      ? counter(readOr(join(dir, 'memory.events')), 'oom_kill')
      : counter(readOr(join(dir, 'memory.oom_control')), 'oom_kill');
  return {
    procsFile: join(dir, 'cgroup.procs'),
    attach: () => undefined,
    oomKilled: () => oomKills() > 0,
    members: () => pidsOf(dir),
    release: () => removeCgroup(dir),
  };
}

/** `/proc/<pid>/stat` → [pid, ppid] of every process. */
function processTable(): Array<[number, number]> {
  const rows: Array<[number, number]> = [];
  for (const entry of safeList('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readOr(`/proc/${entry}/stat`);
    if (!stat) continue;
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state !== 'Z' && state !== 'X') rows.push([Number(entry), Number(ppid)]);
  }
  return rows;
}

/** `root` and its descendants in a (pid, ppid) table. */
export function descendants(rows: ReadonlyArray<readonly [number, number]>, root: number): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of rows) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const out: number[] = [];
  const queue = rows.some(([pid]) => pid === root) ? [root] : [];
  while (queue.length) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

const PAGE_SIZE = 4096;

/** Resident set size of a process in bytes (0 when gone). */
function rssBytes(pid: number): number {
  const statm = readOr(`/proc/${pid}/statm`);
  return Number(statm.split(' ')[1] ?? 0) * PAGE_SIZE;
}

/** RSS of a process and its descendants, in bytes. */
export function treeRssBytes(pid: number): number {
  return descendants(processTable(), pid).reduce((sum, p) => sum + rssBytes(p), 0);
}

function sampledContainer(limit: number, intervalMs: number): ContainerMemory {
  let killed = false;
  let timer: NodeJS.Timeout | undefined;
  let root: number | undefined;
  const stop = (): void => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  return {
    attach(pid, kill) {
      root = pid;
      timer = setInterval(() => {
        const tree = descendants(processTable(), pid);
        if (tree.length === 0) return stop();
        const rss = tree.reduce((sum, p) => sum + rssBytes(p), 0);
        if (rss <= limit) return;
        killed = true;
        stop();
        for (const p of tree) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            // exited meanwhile
          }
        }
        kill();
      }, intervalMs);
      timer.unref();
    },
    oomKilled: () => killed,
    members: () => (root === undefined ? [] : descendants(processTable(), root)),
    release: stop,
  };
}

/**
 * Picks how limits are enforced on this host: a real memory cgroup when one can be created under the test process's
 * own (v2 first, then v1), sampling otherwise. `force` pins a kind (tests of the sampler).
 */
export function detectMemoryEnforcement(
  opts: { fsRoot?: string; procSelfCgroup?: string; force?: MemoryEnforcementKind; sampleIntervalMs?: number } = {},
): MemoryEnforcement {
  const sampleMs = opts.sampleIntervalMs ?? 200;
  const sampling = (why: string): MemoryEnforcement => ({
    kind: 'sampling',
    why,
    forContainer: (_name, limit) => sampledContainer(limit, sampleMs),
    close: () => undefined,
  });
  if (opts.force === 'sampling') return sampling('sampling requested');
  const fsRoot = opts.fsRoot ?? '/sys/fs/cgroup';
  const self = parseProcCgroup(opts.procSelfCgroup ?? readOr('/proc/self/cgroup'));
  const reasons: string[] = [];
  for (const layout of layouts(fsRoot, self)) {
    if (opts.force && layout.kind !== opts.force) continue;
    try {
      const root = tryCgroup(layout);
      const live = new Set<ContainerMemory>();
      return {
        kind: layout.kind,
        why: `memory cgroup ${root}`,
        forContainer(name, limit) {
          const c = cgroupContainer(layout.kind, root, name, limit);
          live.add(c);
          return { ...c, release: () => (live.delete(c), c.release()) };
        },
        close() {
          for (const c of live) c.release();
          removeCgroup(root);
        },
      };
    } catch (err) {
      reasons.push(`${layout.kind} at ${layout.parent}: ${(err as Error).message}`);
    }
  }
  return sampling(`no writable memory cgroup (${reasons.join('; ') || 'no memory hierarchy in /proc/self/cgroup'})`);
}
