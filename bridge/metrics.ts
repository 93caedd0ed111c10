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
  private readonly collectors: Array<() => void> = [];

  /** Runs `fn` before every render: gauges that read live state (queue depth, readiness) set themselves there. */
  collect(fn: () => void): void {
    this.collectors.push(fn);
  }

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
    for (const fn of this.collectors) fn();
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

/**
 * The bridge's metrics: nudges sent by target kind and signal, relists by watched kind, errors by stage, readiness,
 * and the delivery queue (workflows with an undelivered nudge, the oldest one's age).
 */
export function bridgeMetrics(): MetricRegistry {
  const m = new MetricRegistry();
  m.define('aim_bridge_nudges_total', 'counter', 'signals delivered to workflows, by target kind and signal');
  m.define('aim_bridge_relists_total', 'counter', 'lists after the first one (410 Gone or a broken watch), by kind');
  m.define('aim_bridge_errors_total', 'counter', 'errors, by stage (watch, deliver, sweep); deliver counts attempts');
  m.define('aim_bridge_nudges_dropped_total', 'counter', 'nudges Temporal refused on every attempt, by target kind');
  m.define('aim_bridge_ready', 'gauge', '1 when /readyz is ok: every source listed, orphans told, Temporal answering');
  m.define('aim_bridge_deliveries_pending', 'gauge', 'workflows with a nudge not yet delivered (bounded by objects)');
  m.define('aim_bridge_delivery_oldest_pending_seconds', 'gauge', 'age of the oldest undelivered nudge (0: none)');
  m.set('aim_bridge_ready', 0);
  m.set('aim_bridge_deliveries_pending', 0);
  m.set('aim_bridge_delivery_oldest_pending_seconds', 0);
  return m;
}
