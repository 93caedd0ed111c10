/** A plain-text table with a ratio column against a named baseline. */
export interface Row {
  name: string;
  command: string;
  seconds: number;
  bytes: number;
}

export function printTable(
  title: string,
  rows: Row[],
  baseline: string,
  extraRatios: Array<[string, string]> = [],
): void {
  const mbps = (r: Row) => r.bytes / 1e6 / r.seconds;
  const base = rows.find((r) => r.name === baseline);
  console.log(`\n${title}`);
  const header = ['contender', 'seconds', 'MB/s', `× ${baseline}`, 'command'];
  const lines = rows.map((r) => [
    r.name,
    r.seconds.toFixed(2),
    mbps(r).toFixed(1),
    base ? (mbps(r) / mbps(base)).toFixed(2) : '-',
    r.command,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  console.log(fmt(header));
  console.log(fmt(widths.map((w) => '-'.repeat(w))));
  for (const l of lines) console.log(fmt(l));
  for (const [a, b] of extraRatios) {
    const ra = rows.find((r) => r.name === a);
    const rb = rows.find((r) => r.name === b);
    if (ra && rb) console.log(`ratio ${a} / ${b}: ${(mbps(ra) / mbps(rb)).toFixed(2)}`);
  }
}
