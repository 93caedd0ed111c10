/**
 * Where the machine's CPU went during a bench window: CPU seconds (user + system, from /proc/PID/stat) of every
 * process of the machine, grouped by what it is (the API server, etcd, Temporal, the AIM worker, …). On two cores the
 * stack's processes share the CPU with the orchestrator, so this is what shows what limits a fleet's time. A process
 * that starts and ends inside the window (a Job's pod) is not seen; a model server is.
 */
import { cpus } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { printRows } from './table.js';

/** Clock ticks per second of /proc/PID/stat (USER_HZ: 100 on Linux). */
const TICKS = 100;

export type CpuSnapshot = Map<number, { label: string; ticks: number }>;

/** What a process is, from its command name and arguments. */
export function processLabel(comm: string, args: string[], benchPid = process.pid, pid = -1): string {
  if (pid === benchPid) return 'the bench process (the process kubelet, its watches and applies)';
  if (comm !== 'node') return comm;
  const line = args.join(' ');
  if (/cli\.js worker\b/.test(line)) return 'aim worker';
  if (/cli\.js bridge\b/.test(line)) return 'aim bridge';
  if (/model-server/.test(line)) return 'model servers (predictor pods)';
  if (/downloader/.test(line)) return 'downloader (Job pods)';
  return 'node (other)';
}

export function cpuSnapshot(): CpuSnapshot {
  const out: CpuSnapshot = new Map();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // comm is in parentheses and may hold spaces; the fields after it are space-separated (utime 14th, stime 15th).
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      out.set(pid, { label: processLabel(comm, args, process.pid, pid), ticks });
    } catch {
      // ended while being read
    }
  }
  return out;
}

/** CPU seconds per label between two snapshots, largest first (processes started in between count from zero). */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): Array<{ label: string; seconds: number }> {
  const by = new Map<string, number>();
  for (const [pid, { label, ticks }] of after) {
    const used = ticks - (before.get(pid)?.ticks ?? 0);
    if (used > 0) by.set(label, (by.get(label) ?? 0) + used / TICKS);
  }
  return [...by.entries()].map(([label, seconds]) => ({ label, seconds })).sort((a, b) => b.seconds - a.seconds);
}

/** The CPU table of a window of `wallSeconds`: each group's seconds and its share of the cores' capacity. */
export function printCpu(used: Array<{ label: string; seconds: number }>, wallSeconds: number): void {
  const capacity = cpus().length * wallSeconds;
  const total = used.reduce((a, u) => a + u.seconds, 0);
  console.log(
    `\nCPU from the first apply to all InferenceServices created, by process (/proc/PID/stat): ${total.toFixed(0)} of ${capacity.toFixed(0)} CPU-seconds (${cpus().length} cores × ${wallSeconds.toFixed(1)} s) were used`,
  );
  printRows(
    ['process', 'CPU s', 'share of the cores'],
    used
      .filter((u) => u.seconds >= 0.5)
      .map((u) => [u.label, u.seconds.toFixed(1), `${((100 * u.seconds) / capacity).toFixed(0)} %`]),
  );
}
