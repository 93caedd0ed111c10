/**
 * `npm run bench:fleet`: BENCH_FLEET AIMServices (default 200) applied at once, BENCH_FLEET_CONCURRENCY applies in
 * flight (default 20), all asking for the same tiny S3 model with Shared caching, so the run measures orchestration
 * rather than 200 downloads on two cores. A warm-up service first creates the model, its template and the Shared cache
 * (one download); each fleet service then reuses them after its own attach probe Job (spec 5.3 step 5). Not a test: it
 * prints numbers, targets and ratios (issue 7: 200 services ≤ 60 s, worker RSS ≤ 500 MB, ≤ 150 history events and
 * ≤ 40 API writes per service).
 *
 * Measured twice: when every InferenceService exists, and after the bench has played KServe (all Ready) and every
 * service is Running.
 */
import { performance } from 'node:perf_hooks';
import { BatchV1Api } from '@kubernetes/client-node';
import { RESOURCES } from '../activities/kube/resources.js';
import { startBenchCluster, type BenchCluster, type ServiceWithStatus } from './cluster.js';
import {
  CreationWatch,
  diffWrites,
  historyLengths,
  historyStats,
  MiB,
  percentile,
  scrapeWrites,
  within,
  writeRows,
  writesByWriter,
} from './measure.js';
import { printHeader, printRows, printTargets } from './table.js';

const FLEET = Number(process.env.BENCH_FLEET ?? 200);
const CONCURRENCY = Number(process.env.BENCH_FLEET_CONCURRENCY ?? 20);
const SOURCE_KB = Number(process.env.BENCH_SOURCE_KB ?? 4);
const NS = 'bench-fleet';

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const run = async () => {
    for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, run));
}

async function waitAllRunning(c: BenchCluster, names: readonly string[], timeoutMs: number): Promise<void> {
  const want = new Set(names);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const running = (await c.objects.list<ServiceWithStatus>(RESOURCES.AIMService, NS)).filter(
      (s) => want.has(s.metadata?.name ?? '') && s.status?.status === 'Running',
    ).length;
    if (running === want.size) return;
    if (Date.now() > deadline) throw new Error(`only ${running} of ${want.size} services Running`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function main(): Promise<void> {
  printHeader('fleet (npm run bench:fleet)', [
    `BENCH_FLEET=${FLEET} BENCH_FLEET_CONCURRENCY=${CONCURRENCY} BENCH_SOURCE_KB=${SOURCE_KB} npm run bench:fleet`,
  ]);
  const c = await startBenchCluster({ watchedNamespaces: [NS] });
  try {
    const isvcs = new CreationWatch(c.kc, `/apis/serving.kserve.io/v1beta1/namespaces/${NS}/inferenceservices`);
    await isvcs.start();
    const uri = await c.putTinySource('tiny-shared', SOURCE_KB * 1024);

    // Warm-up: creates the model, template and Shared cache and downloads once.
    const t = performance.now();
    await c.applyService(c.customService('fleet-warm', NS, uri, { shared: true }));
    await within(isvcs.when('fleet-warm'), 600_000, 'the warm-up InferenceService');
    await c.markReady('fleet-warm', NS);
    await c.waitRunning('fleet-warm', NS);
    console.log(`warm-up service Running after ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const names = Array.from({ length: FLEET }, (_, i) => `fleet-${String(i).padStart(3, '0')}`);
    const ids = names.map((n) => `aim/AIMService/${NS}/${n}`);
    const applied = new Map<string, number>();
    const before = await scrapeWrites(c.kc);
    c.workerRss.resetPeak();
    const t0 = performance.now();
    await pool(names, CONCURRENCY, async (name) => {
      applied.set(name, performance.now());
      await c.applyService(c.customService(name, NS, uri, { shared: true }));
    });
    const appliedAll = (performance.now() - t0) / 1000;
    const created = await within(Promise.all(names.map((n) => isvcs.when(n))), 1_800_000, `${FLEET} InferenceServices`);
    const allCreated = (Math.max(...created) - t0) / 1000;
    const rssCreated = c.workerRss.stats();
    const writesCreated = diffWrites(await scrapeWrites(c.kc), before);
    const eventsCreated = await historyLengths(c.client, ids);
    const perServiceLatency = names.map((n, i) => (created[i]! - applied.get(n)!) / 1000);
    console.log(`all ${FLEET} InferenceServices after ${allCreated.toFixed(1)} s; playing KServe, waiting for Running`);

    const r0 = performance.now();
    await pool(names, CONCURRENCY, (name) => c.markReady(name, NS));
    await waitAllRunning(c, names, 900_000);
    const toRunning = (performance.now() - r0) / 1000;
    const rss = c.workerRss.stats();
    const writesRunning = diffWrites(await scrapeWrites(c.kc), before);
    const eventsRunning = await historyLengths(c.client, ids);
    const others = [...new Set((await Promise.all(names.map((n) => c.workflowsOf(n, NS)))).flat())].filter(
      (id) => !id.startsWith('aim/AIMService/'),
    );
    const otherEvents = (await historyLengths(c.client, others)).reduce((a, b) => a + b, 0);
    const services = await historyStats(c.client, ids);
    const jobs = await c.kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: NS });
    isvcs.stop();

    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const wCreated = writesByWriter(writesCreated, FLEET);
    const wRunning = writesByWriter(writesRunning, FLEET);
    printTargets(
      `fleet: ${FLEET} AIMServices applied at once (${CONCURRENCY} applies in flight), one ${SOURCE_KB} KiB S3 source, Shared caching (after a warm-up service made the model, template and cache)`,
      [
        {
          metric: `time to all ${FLEET} InferenceServices created`,
          value: allCreated,
          unit: 's',
          target: { kind: 'max', value: 60 },
          note: `applies took ${appliedAll.toFixed(1)} s`,
        },
        {
          metric: 'services per second',
          value: FLEET / allCreated,
          unit: '/s',
          target: { kind: 'min', value: FLEET / 60 },
        },
        {
          metric: 'per service apply → InferenceService p50',
          value: percentile(perServiceLatency, 50),
          unit: 's',
          note: `p95 ${percentile(perServiceLatency, 95).toFixed(1)} s`,
        },
        {
          metric: 'worker peak RSS (VmHWM, whole life)',
          value: rss.hwm / 2 ** 20,
          unit: 'MiB',
          target: { kind: 'max', value: 500 },
          note: `includes start-up workflow bundling; sampled peak during the fleet ${MiB(rss.peakRss)}, at all-created ${MiB(rssCreated.rss)}`,
        },
        {
          metric: 'history events per service workflow, at all created',
          value: mean(eventsCreated),
          unit: '',
          target: { kind: 'max', value: 150 },
          note: `max ${Math.max(...eventsCreated)}; a snapshot: local activities are recorded when their workflow task ends`,
        },
        {
          metric: 'history events per service workflow, at Running',
          value: mean(eventsRunning),
          unit: '',
          target: { kind: 'max', value: 150 },
          note: `max ${Math.max(...eventsRunning)}; + model/cache workflows ${(otherEvents / FLEET).toFixed(1)} per service (${others.length} workflows, ${otherEvents} events)`,
        },
        {
          metric: 'API writes per service, at all created',
          value: wCreated.orchestrator / FLEET,
          unit: '',
          target: { kind: 'max', value: 40 },
          note: `orchestrator (incl. downloader progress); cluster components ${(wCreated.cluster / FLEET).toFixed(1)} (Events, pods, Job status)`,
        },
        {
          metric: 'API writes per service, at Running',
          value: wRunning.orchestrator / FLEET,
          unit: '',
          target: { kind: 'max', value: 40 },
          note: `time from all Ready to all Running ${toRunning.toFixed(1)} s`,
        },
        {
          metric: 'Jobs in the namespace',
          value: jobs.items.length,
          unit: '',
          note: Object.entries(
            jobs.items.reduce<Record<string, number>>((acc, j) => {
              const kind = j.metadata?.labels?.['aim.silogen.ai/job-kind'] ?? 'other';
              acc[kind] = (acc[kind] ?? 0) + 1;
              return acc;
            }, {}),
          )
            .map(([k, v]) => `${v} ${k}`)
            .join(', '),
        },
      ],
    );

    console.log(`\nAPI writes from apply to all Running, by resource × verb (who: inferred from what was written)`);
    printRows(['resource verb', 'who', 'total', 'per service', 'note'], writeRows(writesRunning, FLEET));
    console.log(
      `\nservice workflow history at Running: what the ${services.events} events of ${services.workflows} workflows are`,
    );
    printRows(
      ['cause', 'events', 'per service'],
      [...services.byKind]
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => [k, String(v), (v / services.workflows).toFixed(1)]),
    );
  } finally {
    await c.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
