import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { REPO_ROOT } from '../test/harness/stack.js';

/** Plain-text tables for the benches: aligned columns, the last one left ragged (it holds commands and notes). */
export function printRows(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  console.log(fmt(header));
  console.log(fmt(widths.map((w) => '-'.repeat(w))));
  for (const l of rows) console.log(fmt(header.map((_, i) => l[i] ?? '')));
}

/** Machine, commit and the commands that reproduce the numbers, printed above each bench's tables. */
export function printHeader(bench: string, commands: string[]): void {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    } catch {
      return '';
    }
  };
  const commit = git('rev-parse', '--short', 'HEAD') || 'unknown';
  const dirty = git('status', '--porcelain', '--untracked-files=no') ? ' (with uncommitted changes)' : '';
  console.log(`\n=== ${bench} ===`);
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM; ` +
      `node ${process.version}; commit ${commit}${dirty}; ${new Date().toISOString()}`,
  );
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (other work on the machine skews timings)`,
  );
  for (const c of commands) console.log(`reproduce: ${c}`);
}

/** A measured value against its target; `ratio` is measured / target. */
export interface TargetRow {
  metric: string;
  value: number;
  unit: string;
  /** `max`: the value must stay at or below the target; `min`: at or above. Omitted: informational. */
  target?: { kind: 'max' | 'min'; value: number };
  note?: string;
}

export function printTargets(title: string, rows: TargetRow[]): void {
  console.log(`\n${title}`);
  const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(v >= 100 ? 0 : 2));
  printRows(
    ['metric', 'measured', 'target', 'ratio', 'verdict', 'note'],
    rows.map((r) => {
      const t = r.target;
      const ok =
        t && Number.isFinite(r.value) ? (t.kind === 'max' ? r.value <= t.value : r.value >= t.value) : undefined;
      return [
        r.metric,
        `${num(r.value)} ${r.unit}`.trim(),
        t ? `${t.kind === 'max' ? '≤' : '≥'} ${num(t.value)} ${r.unit}`.trim() : '-',
        t ? (r.value / t.value).toFixed(2) : '-',
        ok === undefined ? '' : ok ? 'ok' : 'MISSED',
        r.note ?? '',
      ];
    }),
  );
}

/** A throughput table (download bench) with a ratio column against a named baseline. */
export interface Row {
  name: string;
  command: string;
  /** The median when there are several runs. */
  seconds: number;
  bytes: number;
  /** Every run's seconds, in the order they ran. */
  runs?: number[];
}

export function printTable(
  title: string,
  rows: Row[],
  baseline: string,
  extraRatios: Array<[string, string, number?]> = [],
): void {
  const mbps = (r: Row) => r.bytes / 1e6 / r.seconds;
  const base = rows.find((r) => r.name === baseline);
  console.log(`\n${title}`);
  printRows(
    ['contender', 'runs (s)', 'seconds', 'MB/s', `× ${baseline}`, 'command'],
    rows.map((r) => [
      r.name,
      (r.runs ?? [r.seconds]).map((x) => x.toFixed(2)).join(' '),
      r.seconds.toFixed(2),
      mbps(r).toFixed(1),
      base ? (mbps(r) / mbps(base)).toFixed(2) : '-',
      r.command,
    ]),
  );
  const targets: TargetRow[] = [];
  for (const [a, b, min] of extraRatios) {
    const ra = rows.find((r) => r.name === a);
    const rb = rows.find((r) => r.name === b);
    if (ra && rb)
      targets.push({
        metric: `${a} / ${b}`,
        value: mbps(ra) / mbps(rb),
        unit: '×',
        ...(min !== undefined ? { target: { kind: 'min' as const, value: min } } : {}),
      });
  }
  if (targets.length) printTargets('throughput ratios', targets);
}
