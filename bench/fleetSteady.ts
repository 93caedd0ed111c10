/**
 * The fleet bench's steady phase: every fleet service Running, then the worker's own Kubernetes API requests (client
 * side, bench/requestTap.ts) over a window of BENCH_STEADY_SECONDS, against the issue's target of ≤ 1 request per
 * Running service per minute (reads included).
 *
 * During the fleet phase the node has 8 GPUs, so only 7 fleet predictors serve. Here the node's GPUs are raised to
 * one per service (`setGpu`; its cpu, memory and pods were sized for that at start, nodeCapacityFor) so that KServe's
 * Pending predictors are placed, started (the compiled model server, one process each) and Ready, and every service
 * becomes Running: a cluster of N/8 such nodes, on one process kubelet (the Shared cache's volume is a hostPath on this
 * node, so its predictors cannot go to a second one). When the machine's memory cannot hold one model server per
 * service, the phase is skipped and the bench says why.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { timingFromEnv } from '../domain/timing.js';
import { BENCH_GPU, type BenchCluster, type ServiceWithStatus } from './cluster.js';
import { MiB, within, type CreationWatch } from './measure.js';
import { peakMemory } from './memoryLog.js';
import {
  between,
  countRequests,
  perServicePerMinute,
  readRequestLog,
  READ_VERBS,
  requestRows,
  rereadsDue,
  verbRates,
  verbSummary,
  WRITE_VERBS,
} from './requestLog.js';
import type { TargetRow } from './table.js';
import { RESOURCES } from '../activities/kube/resources.js';

export interface SteadyResult {
  rows: TargetRow[];
  /** The window's requests by resource × verb (per Running service). */
  detail: string[][];
  skipped?: string;
}

/** Bytes the kernel says can be allocated without swapping (MemAvailable). */
function memAvailable(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Whether one more model server per not-yet-serving service fits in memory: at most `share` of what is available
 * (the stack, the worker and the other model servers need the rest). Pure, for the unit test.
 */
export function steadyFits(o: { toStart: number; perServerBytes: number; availableBytes: number; share?: number }): {
  fits: boolean;
  needBytes: number;
} {
  const needBytes = o.toStart * o.perServerBytes;
  return { fits: needBytes <= o.availableBytes * (o.share ?? 0.6), needBytes };
}

export async function measureSteady(o: {
  c: BenchCluster;
  namespace: string;
  names: readonly string[];
  running: CreationWatch<ServiceWithStatus>;
  seconds: number;
  /** RSS of the model servers already running (the serving sample): what each further predictor will cost. */
  serverRss: number[];
}): Promise<SteadyResult> {
  const { c, names, running, seconds } = o;
  const fleet = new Set(names);
  const servingNow = () => [...running.seen.keys()].filter((n) => fleet.has(n));
  const perServer = o.serverRss.length ? o.serverRss.reduce((a, b) => a + b, 0) / o.serverRss.length : 64 * 2 ** 20;
  const toStart = names.length - servingNow().length;
  const available = memAvailable();
  const fit = steadyFits({ toStart, perServerBytes: perServer, availableBytes: available });
  if (!fit.fits)
    return {
      rows: [],
      detail: [],
      skipped: `${toStart} more model servers (${MiB(perServer)} each, ${MiB(fit.needBytes)}) do not fit in 60 % of the ${MiB(available)} this machine has available: a steady state of ${names.length} Running services needs one predictor process each`,
    };

  const t = performance.now();
  await c.kubelet.setGpu({ ...BENCH_GPU, count: names.length + 1 });
  const timeoutMs = 300_000 + names.length * 3_000;
  try {
    await within(
      (async () => {
        while (servingNow().length < names.length) await new Promise((r) => setTimeout(r, 1000));
      })(),
      timeoutMs,
      `all ${names.length} fleet services Running`,
    );
  } catch (err) {
    return {
      rows: [],
      detail: [],
      skipped: `${(err as Error).message} (${servingNow().length} Running; the node had ${names.length + 1} GPUs)`,
    };
  }
  const toAllRunning = (performance.now() - t) / 1000;

  c.workerRss.resetPeak();
  const from = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const to = Date.now();
  const rss = c.workerRss.stats();
  const memory = await peakMemory(c.workerMemoryLog, from, to);
  const statuses = (await c.objects.list<ServiceWithStatus>(RESOURCES.AIMService, o.namespace)).filter((s) =>
    fleet.has(s.metadata?.name ?? ''),
  );
  const runningAtEnd = statuses.filter((s) => s.status?.status === 'Running').length;
  const worker = between(await readRequestLog(c.requestLogs.worker, to), from, to);
  const bridge = between(await readRequestLog(c.requestLogs.bridge, to), from, to);
  const w = countRequests(worker);
  const b = countRequests(bridge);
  const steadySeconds = timingFromEnv(process.env).steadySeconds;
  const runningAt = names.map((n) => performance.timeOrigin + running.seen.get(n)!);
  const due = rereadsDue(runningAt, steadySeconds * 1000, from, to);
  const perSecond = (n: number) => (n / seconds).toFixed(2);
  const verbsPerSecond = verbRates(w, seconds);
  return {
    rows: [
      {
        metric: `steady: worker API requests per Running service per minute`,
        value: perServicePerMinute(w.total, seconds, runningAtEnd),
        unit: '',
        target: { kind: 'max', value: 1 },
        note: `${w.total} requests (${verbSummary(w, 1, [...READ_VERBS, ...WRITE_VERBS])}${w.failed ? `; ${w.failed} non-2xx` : ''}) in ${seconds} s with ${runningAtEnd} of ${names.length} services Running (all were Running ${toAllRunning.toFixed(0)} s after the node got one GPU per service)`,
      },
      {
        metric: 'steady: worker API requests per second',
        value: w.total / seconds,
        unit: '/s',
        note: verbsPerSecond,
      },
      {
        metric: 'steady: worker API reads per Running service per minute',
        value: perServicePerMinute(w.reads, seconds, runningAtEnd),
        unit: '',
        note: `GET, LIST, WATCH: ${perSecond(w.reads)}/s`,
      },
      {
        metric: 'steady: safety-net re-reads due in the window',
        value: due,
        unit: '',
        note: `a Running service re-reads every ${steadySeconds} s (steadySeconds, AIM_TIME_SCALE ${process.env.AIM_TIME_SCALE ?? 'unset'}; the bench does not set it), counted from when each became Running: a ${seconds} s window ${due === 0 ? 'sees none of them, so what it counts is everything else the worker does' : `sees ${due} of them`}`,
      },
      {
        metric: 'steady: bridge API requests per second',
        value: b.total / seconds,
        unit: '/s',
        note: `${b.total} in the window (${verbSummary(b, 1, [...READ_VERBS, ...WRITE_VERBS])})`,
      },
      {
        metric: 'steady: worker peak RSS in the window',
        value: rss.peakRss / 2 ** 20,
        unit: 'MiB',
        note: `${runningAtEnd} services Running; ${MiB(perServer)} per model server process here; at the peak sample: ${memory.text}`,
      },
    ],
    detail: requestRows(worker, Math.max(1, runningAtEnd)),
  };
}
