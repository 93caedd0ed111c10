/**
 * `npx tsx bench/cpuProfileTop.ts FILE.cpuprofile [N]`: where a V8 CPU profile's time went (the worker's, written by
 * the benches with BENCH_WORKER_CPU_PROF=DIR): self time per package or source file, and the top functions.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The package (node_modules/<pkg>), the project file, or what V8 calls it ("(garbage collector)", "(program)"). */
export function ownerOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node internals';
  const own = /\/(activities|workflows|domain|worker|bridge|client|schemas|bench)\/[^/]+$/.exec(url);
  return own ? `${own[1]}/${url.split('/').pop()}` : url.split('/').slice(-2).join('/');
}

export function selfTimes(p: Profile): {
  byOwner: Map<string, number>;
  byFunction: Map<string, number>;
  total: number;
} {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const n = byId.get(id);
    if (!n) return;
    total += dt;
    const { functionName, url, lineNumber } = n.callFrame;
    const owner = ownerOf(url, functionName);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + dt);
    const fn = `${functionName || '(anonymous)'} ${owner}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + dt);
  });
  return { byOwner, byFunction, total };
}

if (process.argv[1]?.endsWith('cpuProfileTop.ts')) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: tsx bench/cpuProfileTop.ts FILE.cpuprofile [N]');
  const top = Number(process.argv[3] ?? 25);
  const { byOwner, byFunction, total } = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  const show = (title: string, m: Map<string, number>) => {
    console.log(`\n${title} (self time, of ${(total / 1e6).toFixed(1)} s sampled on the main thread)`);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`${(us / 1e6).toFixed(2).padStart(8)} s  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
  };
  show('by package or file', byOwner);
  show('by function', byFunction);
}
