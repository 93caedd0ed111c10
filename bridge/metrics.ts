/**
 * The bridge's few metrics in the Prometheus text format (served as `/metrics` by its health server). The bridge has
 * no Temporal worker Runtime, so a handful of counters is kept by hand instead of pulling in a metrics library.
 */
type Labels = Record<string, string>;

interface Family {
  type: 'counter' | 'gauge';
  help: string;
  series: Map<string, { labels: Labels; value: number }>;
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labelText = (labels: Labels) => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};

export class MetricRegistry {
  private readonly families = new Map<string, Family>();

  define(name: string, type: Family['type'], help: string): void {
    if (!this.families.has(name)) this.families.set(name, { type, help, series: new Map() });
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    const s = this.series(name, labels);
    s.value += by;
  }

  set(name: string, value: number, labels: Labels = {}): void {
    this.series(name, labels).value = value;
  }

  /** The current value of one series (0 when never touched). */
  get(name: string, labels: Labels = {}): number {
    return this.families.get(name)?.series.get(labelText(labels))?.value ?? 0;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      for (const { labels, value } of f.series.values()) out.push(`${name}${labelText(labels)} ${value}`);
    }
    return `${out.join('\n')}\n`;
  }

  private series(name: string, labels: Labels) {
    const f = this.families.get(name);
    if (!f) throw new Error(`metric ${name} is not defined`);
    const key = labelText(labels);
    let s = f.series.get(key);
    if (!s) f.series.set(key, (s = { labels, value: 0 }));
    return s;
  }
}

/** The bridge's metrics: nudges sent by target kind and signal, relists by watched kind, errors by stage. */
export function bridgeMetrics(): MetricRegistry {
  const m = new MetricRegistry();
  m.define('aim_bridge_nudges_total', 'counter', 'signals delivered to workflows, by target kind and signal');
  m.define('aim_bridge_relists_total', 'counter', 'lists after the first one (410 Gone or a broken watch), by kind');
  m.define('aim_bridge_errors_total', 'counter', 'errors, by stage (watch, deliver, sweep)');
  m.define('aim_bridge_ready', 'gauge', '1 once every initial list is done and orphans were told');
  m.set('aim_bridge_ready', 0);
  return m;
}
