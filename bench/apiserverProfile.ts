/**
 * BENCH_APISERVER_PROF=DIR: the API server's Go CPU profile over a bench window, as consecutive slices of its
 * `/debug/pprof/profile` (the stack then starts it with `--profiling=true`). Where the fleet's API server time goes
 * (serialisation, server-side apply's merge, watch fan-out) is what says whether a cost grows with N. The slices are
 * merged by `go tool pprof` (Go is on the machine: the stack's binaries are built from Go modules).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../test/harness/kube.js';

/** Short slices: stopping drops at most the one in flight, and the window is rarely a multiple of the slice. */
const SLICE_SECONDS = 5;

export interface ApiServerProfiler {
  /**
   * Ends the slices and returns the files written. The slice in flight is dropped, unless it would be the only one
   * (a window shorter than a slice): then it is waited for, running on past the window.
   */
  stop(): Promise<string[]>;
}

async function fetchProfile(kc: KubeConfig, seconds: number, signal: AbortSignal): Promise<Buffer> {
  const res = await kubeRequest(kc, {
    method: 'GET',
    path: `/debug/pprof/profile?seconds=${seconds}`,
    accept: 'application/octet-stream',
    timeoutMs: (seconds + 30) * 1000,
    signal,
  });
  if (res.status !== 200) throw new Error(`pprof: HTTP ${res.status} ${res.body.slice(0, 200)}`);
  return res.bytes;
}

/** Starts taking slices into `dir` with the admin credentials of `kc`. */
export function profileApiServer(kc: KubeConfig, dir: string): ApiServerProfiler {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const abort = new AbortController();
  let stopping = false;
  const loop = (async () => {
    for (let i = 0; !abort.signal.aborted && !stopping; i++) {
      const body = await fetchProfile(kc, SLICE_SECONDS, abort.signal).catch((err: unknown) => {
        if (!abort.signal.aborted) console.log(`API server profile slice ${i} failed: ${(err as Error).message}`);
        return undefined;
      });
      if (abort.signal.aborted) continue;
      // A refused slice (profiling off, no rights) would be refused again at once: the profile ends with the window
      // it has, rather than asking in a tight loop until the bench stops it.
      if (!body) break;
      const file = join(dir, `apiserver-${String(i).padStart(4, '0')}.pb.gz`);
      writeFileSync(file, body);
      files.push(file);
    }
  })();
  return {
    async stop() {
      stopping = true;
      if (files.length) abort.abort();
      await loop;
      return files;
    },
  };
}

/** `go tool pprof -top` of the merged slices, by self time or (`cum`) by time in a function and its callees. */
export function pprofTop(files: string[], opts: { cum?: boolean; nodes?: number } = {}): string {
  if (!files.length) return 'no API server profile slices were taken';
  const args = ['tool', 'pprof', '-top', ...(opts.cum ? ['-cum'] : []), `-nodecount=${opts.nodes ?? 25}`, ...files];
  const r = spawnSync('go', args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `go tool pprof failed: ${r.error?.message ?? r.stderr.slice(0, 300)}`;
  return r.stdout;
}
