/**
 * What the orchestration benches measure, each from its source of truth: process memory from /proc, object creation
 * from a watch (local clock: creationTimestamp has one-second resolution), API writes from the API server's
 * `/metrics`, and workflow histories from Temporal.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time.js';
import { kubeRequest } from '../test/harness/kube.js';

// --- memory ----------------------------------------------------------------------------------------------------------

/** Samples a process's VmRSS every 200 ms (peak kept); VmHWM is the kernel's own peak since the process started. */
export class RssSampler {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 200);
    this.timer.unref();
  }

  private read(field: 'VmRSS' | 'VmHWM'): number {
    try {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : 0;
    } catch {
      return 0; // the process is gone
    }
  }

  private sample(): void {
    this.peak = Math.max(this.peak, this.read('VmRSS'));
  }

  /** Forget the peak so far (e.g. the start-up's workflow bundling). */
  resetPeak(): void {
    this.peak = this.read('VmRSS');
  }

  /** Bytes: the sampled peak since the last reset, the kernel's high-water mark, the current RSS. */
  stats(): { peakRss: number; hwm: number; rss: number } {
    this.sample();
    return { peakRss: this.peak, hwm: this.read('VmHWM'), rss: this.read('VmRSS') };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export const MiB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

/** A process's current VmRSS in bytes (0 when it is gone). */
export function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

// --- creation times ----------------------------------------------------------------------------------------------------

/**
 * Watches one collection (e.g. `/apis/serving.kserve.io/v1beta1/namespaces/x/inferenceservices`) and records, by
 * local monotonic clock (`performance.now()`, ms), when each object was first seen, or with `matches` first seen
 * matching it (e.g. KServe's Ready condition, an AIMService's `Running`). Relists and re-watches when the watch ends;
 * objects that existed before `start()` are ignored.
 */
export class CreationWatch<T extends KubernetesObject = KubernetesObject> {
  readonly seen = new Map<string, number>();
  private readonly waiters = new Map<string, Array<(t: number) => void>>();
  private abort: AbortController | undefined;
  private stopped = false;
  private readonly existing = new Set<string>();

  constructor(
    private readonly kc: KubeConfig,
    private readonly path: string,
    private readonly matches: (obj: T) => boolean = () => true,
  ) {}

  async start(): Promise<void> {
    const rv = await this.list(true);
    void this.loop(rv);
  }

  private async list(initial: boolean): Promise<string> {
    const res = await kubeRequest(this.kc, { method: 'GET', path: this.path });
    if (res.status !== 200) throw new Error(`list ${this.path}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
    const body = JSON.parse(res.body) as { items: T[]; metadata: { resourceVersion: string } };
    for (const o of body.items) {
      const name = o.metadata?.name ?? '';
      if (initial) this.existing.add(name);
      else if (this.matches(o)) this.record(name);
    }
    return body.metadata.resourceVersion;
  }

  private record(name: string): void {
    if (this.existing.has(name) || this.seen.has(name)) return;
    const t = performance.now();
    this.seen.set(name, t);
    for (const w of this.waiters.get(name) ?? []) w(t);
    this.waiters.delete(name);
  }

  private async loop(resourceVersion: string): Promise<void> {
    let rv = resourceVersion;
    while (!this.stopped) {
      const ended = await new Promise<Error | undefined>((resolve) => {
        void new Watch(this.kc)
          .watch(
            this.path,
            { resourceVersion: rv, allowWatchBookmarks: true },
            (type: string, obj: T) => {
              if (obj.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
              if ((type === 'ADDED' || type === 'MODIFIED') && this.matches(obj)) this.record(obj.metadata?.name ?? '');
            },
            (err?: unknown) => resolve(err instanceof Error ? err : undefined),
          )
          .then((ac) => (this.abort = ac))
          .catch((err: unknown) => resolve(err as Error));
      });
      if (this.stopped) return;
      // A dropped or expired watch: relist (recording what appeared meanwhile) and watch from there.
      if (ended) await new Promise((r) => setTimeout(r, 200));
      rv = await this.list(false).catch(() => rv);
    }
  }

  /** Resolves with the first-seen time of `name` (at once if already seen). */
  when(name: string): Promise<number> {
    const t = this.seen.get(name);
    if (t !== undefined) return Promise.resolve(t);
    return new Promise((resolve) => this.waiters.set(name, [...(this.waiters.get(name) ?? []), resolve]));
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}

/** Runs `fn` over `items` with at most `n` in flight. */
export async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const run = async () => {
    for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, run));
}

/** Resolves with `p`, or rejects after `ms` naming `what` (so that a stuck run ends with a message, not a hang). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`gave up after ${ms / 1000} s waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least p% of the values at or below it.
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

// --- API server writes -----------------------------------------------------------------------------------------------

const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE', 'DELETECOLLECTION']);

/** `group resource[/subresource] VERB` → request count (all response codes), from `apiserver_request_total`. */
export type WriteCounts = Map<string, { count: number; failed: number }>;

export async function scrapeWrites(kc: KubeConfig): Promise<WriteCounts> {
  const res = await kubeRequest(kc, { method: 'GET', path: '/metrics', accept: 'text/plain', timeoutMs: 30_000 });
  if (res.status !== 200) throw new Error(`GET /metrics: HTTP ${res.status}`);
  const out: WriteCounts = new Map();
  for (const line of res.body.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const close = line.lastIndexOf('}');
    const labels = Object.fromEntries(
      [...line.slice(line.indexOf('{') + 1, close).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    const verb = labels.verb ?? '';
    if (!WRITE_VERBS.has(verb) || labels.dry_run) continue;
    const value = Number(line.slice(close + 1).trim());
    const key = `${labels.group || 'core'} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''} ${verb}`;
    const entry = out.get(key) ?? { count: 0, failed: 0 };
    entry.count += value;
    if (!(labels.code ?? '').startsWith('2')) entry.failed += value;
    out.set(key, entry);
  }
  return out;
}

export function diffWrites(after: WriteCounts, before: WriteCounts): WriteCounts {
  const out: WriteCounts = new Map();
  for (const [k, v] of after) {
    const b = before.get(k) ?? { count: 0, failed: 0 };
    const d = { count: v.count - b.count, failed: v.failed - b.failed };
    if (d.count > 0) out.set(k, d);
  }
  return out;
}

export type Writer = 'orchestrator' | 'kserve' | 'bench' | 'cluster';

/** KServe's objects in RawDeployment mode (its controller creates and updates them; the garbage collector deletes). */
const KSERVE_MADE = new Set([
  'apps deployments',
  'core services',
  'autoscaling horizontalpodautoscalers',
  'networking.k8s.io ingresses',
]);

/**
 * Who issued a write, from what it wrote (the API server's metrics carry no user):
 * - `orchestrator`: the worker, plus the downloader's progress applies (same verb and subresource as the worker's
 *   status applies): our kinds, the InferenceService itself (server-side apply, verb APPLY; DELETE), and the Jobs,
 *   PVCs, ServiceAccounts, Roles and RoleBindings it creates;
 * - `kserve`: KServe's controller manager, a real writer here: the InferenceService's status and its finalizer
 *   (PUT/PATCH, never APPLY), and the predictor's Deployment and Service (plus an HPA or Ingress, which the product's
 *   InferenceServices turn off). `kserveClientWrites` cross-checks the sum with KServe's own client metrics;
 * - `bench`: the user applying AIMServices (moved here by `writesByWriter`);
 * - `cluster`: the controller-manager (ReplicaSets, pods, Job and Deployment status, garbage collection, PV binder,
 *   endpoints) and the process kubelet (bindings, pod status, PVs, Events, Leases, token requests).
 */
export function writerOf(key: string): Writer {
  const [group, resource, verb] = key.split(' ') as [string, string, string];
  if (group === 'serving.kserve.io') {
    if (resource === 'inferenceservices' && (verb === 'APPLY' || verb === 'DELETE')) return 'orchestrator';
    return 'kserve';
  }
  if (KSERVE_MADE.has(`${group} ${resource}`) && verb !== 'DELETE') return 'kserve';
  if (group === 'aim.silogen.ai') return 'orchestrator';
  if (group === 'rbac.authorization.k8s.io' && (resource === 'roles' || resource === 'rolebindings'))
    return 'orchestrator';
  const created = ['batch jobs', 'core persistentvolumeclaims', 'core serviceaccounts'].includes(
    `${group} ${resource}`,
  );
  if (created && (verb === 'POST' || verb === 'DELETE')) return 'orchestrator';
  return 'cluster';
}

/** Sums of a diff by writer; `benchApplies` AIMService applies of the user are moved from orchestrator to bench. */
export function writesByWriter(diff: WriteCounts, benchApplies: number): Record<Writer, number> {
  const sums: Record<Writer, number> = { orchestrator: 0, kserve: 0, bench: 0, cluster: 0 };
  for (const [k, v] of diff) sums[writerOf(k)] += v.count;
  sums.orchestrator -= benchApplies;
  sums.bench += benchApplies;
  return sums;
}

/**
 * KServe's controller manager's own count of its write requests (POST, PUT, PATCH, DELETE; its Events included),
 * from client-go's `rest_client_requests_total` on its metrics endpoint: by its identity, where the API server's
 * metrics only say what was written. Undefined when the endpoint does not answer or has no such metric.
 */
export async function kserveClientWrites(metricsUrl: string | undefined): Promise<number | undefined> {
  if (!metricsUrl) return undefined;
  try {
    const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return undefined;
    let total: number | undefined;
    for (const line of (await res.text()).split('\n')) {
      if (!line.startsWith('rest_client_requests_total{')) continue;
      const method = /method="([A-Z]+)"/.exec(line)?.[1] ?? '';
      if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) continue;
      total = (total ?? 0) + Number(line.slice(line.lastIndexOf('}') + 1).trim());
    }
    return total;
  } catch {
    return undefined;
  }
}

/** The diff as table rows, biggest first. */
export function writeRows(diff: WriteCounts, per: number, top = 40): string[][] {
  return [...diff]
    .sort((a, b) => b[1].count - a[1].count)
    .slice(0, top)
    .map(([k, v]) => [
      k,
      writerOf(k),
      String(v.count),
      (v.count / per).toFixed(2),
      v.failed ? `${v.failed} non-2xx` : '',
    ]);
}

// --- workflow histories ----------------------------------------------------------------------------------------------

export interface HistoryStats {
  workflows: number;
  events: number;
  /** Every event by cause: `activity <type>` (scheduled, started, closed), `workflow task`, `timer`, `signal <name>`, else the event's attribute name. */
  byKind: Map<string, number>;
}

/** Fetches the current run's history of every workflow id and counts its events by cause. */
export async function historyStats(client: Client, ids: readonly string[], concurrency = 8): Promise<HistoryStats> {
  const stats: HistoryStats = { workflows: 0, events: 0, byKind: new Map() };
  const add = (k: string) => stats.byKind.set(k, (stats.byKind.get(k) ?? 0) + 1);
  const queue = [...ids];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
      stats.workflows += 1;
      stats.events += events.length;
      const activities = new Map<string, string>();
      for (const e of events) {
        const scheduled = e.activityTaskScheduledEventAttributes;
        const later =
          e.activityTaskStartedEventAttributes ??
          e.activityTaskCompletedEventAttributes ??
          e.activityTaskFailedEventAttributes ??
          e.activityTaskTimedOutEventAttributes ??
          e.activityTaskCancelRequestedEventAttributes ??
          e.activityTaskCanceledEventAttributes;
        const attrs = Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k as keyof typeof e]) ?? '?';
        if (scheduled) {
          const name = `activity ${scheduled.activityType?.name ?? '?'}`;
          activities.set(String(e.eventId), name);
          add(name);
        } else if (later) add(activities.get(String(later.scheduledEventId)) ?? 'activity ?');
        else if (attrs.startsWith('workflowTask')) add('workflow task');
        else if (attrs.startsWith('timer')) add('timer');
        else if (e.workflowExecutionSignaledEventAttributes)
          add(`signal ${e.workflowExecutionSignaledEventAttributes.signalName ?? ''}`);
        else add(attrs.replace(/EventAttributes$/, ''));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return stats;
}

/** Current history length of each workflow (DescribeWorkflowExecution: cheap, no history transfer). */
export async function historyLengths(client: Client, ids: readonly string[], concurrency = 16): Promise<number[]> {
  const out: number[] = [];
  const queue = [...ids];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      out.push((await client.workflow.getHandle(id).describe()).historyLength);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

export interface TimelineEntry {
  workflow: string;
  what: string;
  /** Wall-clock ms (Temporal's event times). */
  start: number;
  end?: number;
}

/** Activities (scheduled → closed), signals and workflow starts of some workflows, by Temporal's event times. */
export async function timeline(client: Client, ids: readonly string[]): Promise<TimelineEntry[]> {
  const out: TimelineEntry[] = [];
  for (const id of ids) {
    const workflow = id.split('/').slice(1, 2).join('') || id;
    const scheduled = new Map<string, TimelineEntry>();
    for (const e of (await client.workflow.getHandle(id).fetchHistory()).events ?? []) {
      const at = tsToMs(e.eventTime);
      const eventId = String(e.eventId);
      const closed =
        e.activityTaskCompletedEventAttributes ??
        e.activityTaskFailedEventAttributes ??
        e.activityTaskTimedOutEventAttributes;
      if (e.workflowExecutionStartedEventAttributes) out.push({ workflow, what: 'workflow started', start: at });
      else if (e.activityTaskScheduledEventAttributes) {
        const entry = { workflow, what: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', start: at };
        scheduled.set(eventId, entry);
        out.push(entry);
      } else if (closed) {
        const entry = scheduled.get(String(closed.scheduledEventId));
        if (entry) entry.end = at;
      } else if (e.workflowExecutionSignaledEventAttributes)
        out.push({
          workflow,
          what: `signal ${e.workflowExecutionSignaledEventAttributes.signalName ?? ''}`,
          start: at,
        });
      else if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity') {
        // A local activity's marker is written when its workflow task completes; its data has the real completion.
        const data = localActivityMarker(e.markerRecordedEventAttributes.details?.data?.payloads?.[0]?.data);
        out.push({ workflow, what: `local ${data?.activity_type ?? '?'} done`, start: data?.completedAt ?? at });
      }
    }
  }
  return out.sort((a, b) => a.start - b.start);
}

/** sdk-core's local-activity marker data (JSON): the activity type and when it completed. */
function localActivityMarker(
  bytes: Uint8Array | null | undefined,
): { activity_type?: string; completedAt?: number } | undefined {
  if (!bytes) return undefined;
  try {
    const d = JSON.parse(Buffer.from(bytes).toString('utf8')) as {
      activity_type?: string;
      complete_time?: { seconds?: number | string; nanos?: number } | string;
    };
    const ct = d.complete_time;
    const completedAt =
      typeof ct === 'string'
        ? Date.parse(ct)
        : ct?.seconds !== undefined
          ? Number(ct.seconds) * 1000 + (ct.nanos ?? 0) / 1e6
          : undefined;
    return { ...(d.activity_type ? { activity_type: d.activity_type } : {}), ...(completedAt ? { completedAt } : {}) };
  } catch {
    return undefined;
  }
}
