/**
 * The per-process Kubernetes API request logs that bench/requestTap.ts writes for the worker and the bridge, read
 * back and counted: each request classified as the API server authorizes it (GET of one object, LIST, WATCH, or a
 * write), counted per window of the run, per service, and as a steady rate.
 */
import { readFile } from 'node:fs/promises';
import { rbacAttributes } from '../test/harness/apiRequests.js';

export interface LoggedRequest {
  /** Epoch ms when the response head arrived. */
  at: number;
  method: string;
  /** A server-side apply (PATCH with `application/apply-patch+yaml`). */
  apply: boolean;
  status: number;
  /** Path and query, as sent. */
  path: string;
}

export const READ_VERBS = ['GET', 'LIST', 'WATCH'] as const;
export const WRITE_VERBS = ['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE', 'DELETECOLLECTION'] as const;
export type RequestVerb = (typeof READ_VERBS)[number] | (typeof WRITE_VERBS)[number];
const READS = new Set<string>(READ_VERBS);

/** Parses the tap's lines (malformed lines, e.g. one cut by a crash, are skipped). */
export function parseRequestLog(text: string): LoggedRequest[] {
  const out: LoggedRequest[] = [];
  for (const line of text.split('\n')) {
    const [at, method, apply, status, path] = line.split('\t');
    if (path === undefined || !Number.isFinite(Number(at))) continue;
    out.push({ at: Number(at), method: method!, apply: apply === 'apply', status: Number(status), path });
  }
  return out;
}

/**
 * What the request is to the API server: its verb (a GET of a collection is a LIST, with `watch=true` a WATCH; a
 * PATCH with an apply body is an APPLY, as `apiserver_request_total` names it) and `group resource[/subresource]`
 * (`core` for the core group; a non-resource URL such as `/version` is its path).
 */
export function classifyRequest(r: Pick<LoggedRequest, 'method' | 'path' | 'apply'>): {
  verb: RequestVerb;
  resource: string;
} {
  const a = rbacAttributes(r.method, r.path);
  const resource = 'resource' in a ? `${a.group || 'core'} ${a.resource}` : a.nonResourceURL;
  const verb: RequestVerb =
    a.verb === 'get'
      ? 'GET'
      : a.verb === 'list'
        ? 'LIST'
        : a.verb === 'watch'
          ? 'WATCH'
          : a.verb === 'deletecollection'
            ? 'DELETECOLLECTION'
            : r.method.toUpperCase() === 'PATCH' && r.apply
              ? 'APPLY'
              : (r.method.toUpperCase() as RequestVerb);
  return { verb, resource };
}

export const isRead = (verb: RequestVerb): boolean => READS.has(verb);

/** The requests whose response arrived in [from, to) (epoch ms). */
export const between = (requests: readonly LoggedRequest[], from: number, to: number): LoggedRequest[] =>
  requests.filter((r) => r.at >= from && r.at < to);

export interface RequestCounts {
  byVerb: Record<RequestVerb, number>;
  reads: number;
  writes: number;
  total: number;
  /** Answered with a status other than 2xx (e.g. 404 of a create-or-get, 409 of a create). */
  failed: number;
}

export function countRequests(requests: readonly LoggedRequest[]): RequestCounts {
  const byVerb = Object.fromEntries([...READ_VERBS, ...WRITE_VERBS].map((v) => [v, 0])) as Record<RequestVerb, number>;
  let failed = 0;
  for (const r of requests) {
    byVerb[classifyRequest(r).verb] += 1;
    if (r.status < 200 || r.status >= 300) failed += 1;
  }
  const reads = READ_VERBS.reduce((s, v) => s + byVerb[v], 0);
  const writes = WRITE_VERBS.reduce((s, v) => s + byVerb[v], 0);
  return { byVerb, reads, writes, total: reads + writes, failed };
}

/** `GET 3.1, LIST 2.0, WATCH 0.0` per `per` (e.g. per service), verbs of `verbs` only. */
export function verbSummary(counts: RequestCounts, per: number, verbs: readonly RequestVerb[]): string {
  return verbs
    .filter((v) => counts.byVerb[v] > 0 || READS.has(v))
    .map((v) => `${v} ${(counts.byVerb[v] / per).toFixed(per === 1 ? 0 : 2)}`)
    .join(', ');
}

/** `GET 0.10/s, LIST 0.02/s, WATCH 0.00/s, APPLY 0.01/s` over `seconds`: reads always, writes that occurred. */
export function verbRates(counts: RequestCounts, seconds: number): string {
  return [...READ_VERBS, ...WRITE_VERBS]
    .filter((v) => counts.byVerb[v] > 0 || READS.has(v))
    .map((v) => `${v} ${(counts.byVerb[v] / seconds).toFixed(2)}/s`)
    .join(', ');
}

/** Rows `resource VERB`, total, per `per`, non-2xx: biggest first (the bench's "where do the requests go" table). */
export function requestRows(requests: readonly LoggedRequest[], per: number, top = 40): string[][] {
  const by = new Map<string, { count: number; failed: number }>();
  for (const r of requests) {
    const { verb, resource } = classifyRequest(r);
    const key = `${resource} ${verb}`;
    const e = by.get(key) ?? { count: 0, failed: 0 };
    e.count += 1;
    if (r.status < 200 || r.status >= 300) e.failed += 1;
    by.set(key, e);
  }
  return [...by]
    .sort((a, b) => b[1].count - a[1].count || a[0].localeCompare(b[0]))
    .slice(0, top)
    .map(([k, v]) => [k, String(v.count), (v.count / per).toFixed(2), v.failed ? `${v.failed} non-2xx` : '']);
}

/** Requests per service per minute over a window of `seconds` (the steady-state measure). */
export function perServicePerMinute(count: number, seconds: number, services: number): number {
  if (seconds <= 0 || services <= 0) return NaN;
  return count / services / (seconds / 60);
}

/**
 * How many steady safety-net re-reads (every `steadyMs` after a service became Running) fall due in [from, to):
 * with a window shorter than the interval, a window can miss most of them, and the bench says how many it could see.
 */
export function rereadsDue(runningAt: readonly number[], steadyMs: number, from: number, to: number): number {
  if (steadyMs <= 0) return NaN;
  let due = 0;
  for (const t of runningAt) {
    const first = Math.max(1, Math.ceil((from - t) / steadyMs));
    for (let k = first; t + k * steadyMs < to; k++) due += 1;
  }
  return due;
}

/** Reads a tap log once every line up to `until` (epoch ms) has been flushed (the tap appends every 250 ms). */
export async function readRequestLog(file: string, until = Date.now()): Promise<LoggedRequest[]> {
  const wait = until + 600 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  return parseRequestLog(await readFile(file, 'utf8').catch(() => ''));
}
