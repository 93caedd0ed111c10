/**
 * `npm run bench:fleet`: BENCH_FLEET AIMServices (default 200) applied at once, BENCH_FLEET_CONCURRENCY applies in
 * flight (default 20), all asking for the same tiny S3 model with Shared caching, so the run measures orchestration
 * rather than 200 downloads on two cores. A warm-up service first creates the model, its template and the Shared cache
 * (one download); each fleet service then reuses them after its own attach probe Job (spec 5.3 step 5). Not a test: it
 * prints numbers, targets and ratios (issue 7: 200 services ≤ 60 s, worker RSS ≤ 500 MB, ≤ 150 history events and
 * ≤ 40 API writes per service).
 *
 * The main measurement is the orchestration's work: the time until every InferenceService exists. KServe's real
 * controller then creates a Deployment for each, and the node decides what can serve: it is one 8 × MI300X node, each
 * predictor asks for one GPU and the warm-up service holds one, so the first 7 predictor pods the node places (in
 * practice those of the first InferenceServices) are started (the AIM serving image as the stand-in model server,
 * ~50 MB each) and become Ready after KServe's tcpSocket readiness probe (period 10 s); every other predictor stays
 * Pending (Insufficient amd.com/gpu) and its service stays Starting, as on a real node. Time to Running (KServe Ready)
 * is measured for that serving sample, and the run's second snapshot (history, writes) is taken once the sample is
 * Running. Nothing writes an InferenceService's status but KServe.
 */
import { performance } from 'node:perf_hooks';
import { BatchV1Api } from '@kubernetes/client-node';
import { RESOURCES } from '../activities/kube/resources.js';
import { BENCH_NODE, startBenchCluster, type ServiceWithStatus } from './cluster.js';
import {
  CreationWatch,
  diffWrites,
  historyLengths,
  historyStats,
  MiB,
  percentile,
  rssOf,
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
/** Predictors the node can place besides the warm-up's: one GPU each. */
const SERVE = Math.min(FLEET, BENCH_NODE.gpus - 1);

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const run = async () => {
    for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, run));
}

async function main(): Promise<void> {
  printHeader('fleet (npm run bench:fleet)', [
    `BENCH_FLEET=${FLEET} BENCH_FLEET_CONCURRENCY=${CONCURRENCY} BENCH_SOURCE_KB=${SOURCE_KB} npm run bench:fleet`,
  ]);
  const c = await startBenchCluster({ watchedNamespaces: [NS] });
  try {
    const { group, version, plural } = RESOURCES.AIMService;
    const isvcs = new CreationWatch(c.kc, `/apis/serving.kserve.io/v1beta1/namespaces/${NS}/inferenceservices`);
    const running = new CreationWatch<ServiceWithStatus>(
      c.kc,
      `/apis/${group}/${version}/namespaces/${NS}/${plural}`,
      (s) => s.status?.status === 'Running',
    );
    await Promise.all([isvcs.start(), running.start()]);
    const uri = await c.putTinySource('tiny-shared', SOURCE_KB * 1024);

    // Warm-up: creates the model, template and Shared cache and downloads once; KServe serves it (one GPU).
    const t = performance.now();
    await c.applyService(c.customService('fleet-warm', NS, uri, { shared: true }));
    await within(isvcs.when('fleet-warm'), 600_000, 'the warm-up InferenceService');
    await within(running.when('fleet-warm'), 300_000, 'the warm-up service Running');
    console.log(`warm-up service Running (KServe Ready) after ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const names = Array.from({ length: FLEET }, (_, i) => `fleet-${String(i).padStart(3, '0')}`);
    const fleet = new Set(names);
    const ids = names.map((n) => `aim/AIMService/${NS}/${n}`);
    const applied = new Map<string, number>();
    const before = await scrapeWrites(c.kc);
    const kBefore = await c.kserveWrites();
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
    console.log(
      `all ${FLEET} InferenceServices after ${allCreated.toFixed(1)} s; waiting for the ${SERVE} services the node can serve to be Running (KServe Ready)`,
    );

    // The serving sample: whichever services' predictors got the node's free GPUs.
    const servingNow = () => [...running.seen.keys()].filter((n) => fleet.has(n));
    await within(
      (async () => {
        while (servingNow().length < SERVE) await new Promise((r) => setTimeout(r, 500));
      })(),
      900_000,
      `${SERVE} fleet services Running`,
    ).catch(async (err: unknown) => {
      const pods = await c.predictorPods(NS);
      throw new Error(
        `${(err as Error).message} (${servingNow().length} Running; predictor pods ${pods.filter((p) => p.ready).length} ready, ${pods.filter((p) => p.scheduled).length} placed of ${pods.length})`,
      );
    });
    const sample = servingNow();
    const sampleRunning = sample.map((n) => running.seen.get(n)!);
    const toSample = (Math.max(...sampleRunning) - t0) / 1000;
    const sampleLatency = sample.map((n) => (running.seen.get(n)! - applied.get(n)!) / 1000);
    const rss = c.workerRss.stats();
    const writesEnd = diffWrites(await scrapeWrites(c.kc), before);
    const kAfter = await c.kserveWrites();
    const eventsEnd = await historyLengths(c.client, ids);
    const others = [...new Set((await Promise.all(names.map((n) => c.workflowsOf(n, NS)))).flat())].filter(
      (id) => !id.startsWith('aim/AIMService/'),
    );
    const otherEvents = (await historyLengths(c.client, others)).reduce((a, b) => a + b, 0);
    const services = await historyStats(c.client, ids);
    const jobs = await c.kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: NS });
    const statuses = (await c.objects.list<ServiceWithStatus>(RESOURCES.AIMService, NS)).filter((s) =>
      fleet.has(s.metadata?.name ?? ''),
    );
    const pods = (await c.predictorPods(NS)).filter((p) => fleet.has(p.service));
    // The model servers the node runs for the fleet's predictors (the warm-up's excluded): what each pod costs here.
    const servers = c.kubelet
      .processes()
      .filter((p) => p.namespace === NS && pods.some((x) => x.name === p.pod))
      .map((p) => rssOf(p.pid));
    isvcs.stop();
    running.stop();

    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const count = (xs: string[]) =>
      Object.entries(xs.reduce<Record<string, number>>((acc, x) => ({ ...acc, [x]: (acc[x] ?? 0) + 1 }), {}))
        .map(([k, v]) => `${v} ${k}`)
        .join(', ');
    const starting = statuses.find((s) => s.status?.status !== 'Running');
    const waitingFor = starting?.status?.conditions?.find((x) => x.type === 'InferenceServiceReady');
    const unschedulable = pods.find((p) => p.unschedulable)?.unschedulable;
    const wCreated = writesByWriter(writesCreated, FLEET);
    const wEnd = writesByWriter(writesEnd, FLEET);
    printTargets(
      `fleet: ${FLEET} AIMServices applied at once (${CONCURRENCY} applies in flight), one ${SOURCE_KB} KiB S3 source, Shared caching (after a warm-up service made the model, template and cache); one ${BENCH_NODE.gpus} × MI300X node, so ${SERVE} of them can serve`,
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
          metric: `time to the serving sample Running (${sample.length} services)`,
          value: toSample,
          unit: 's',
          note: `from the first apply; Running = KServe Ready (predictor pod started, readiness probe passed); the ${sample.length} whose predictors got the node's free GPUs: ${sample.join(' ')}`,
        },
        {
          metric: 'serving sample: apply → Running p50',
          value: percentile(sampleLatency, 50),
          unit: 's',
          note: `max ${Math.max(...sampleLatency).toFixed(1)} s`,
        },
        {
          metric: 'fleet services by status at the end',
          value: statuses.filter((s) => s.status?.status === 'Running').length,
          unit: 'Running',
          note: `${count(statuses.map((s) => s.status?.status ?? '-'))}${waitingFor ? `; e.g. ${starting?.metadata?.name}: ${waitingFor.reason}: ${waitingFor.message ?? ''}` : ''}`,
        },
        {
          metric: 'fleet predictor pods ready',
          value: pods.filter((p) => p.ready).length,
          unit: '',
          note: `of ${pods.length} (KServe made one Deployment each): ${count(pods.map((p) => (p.scheduled ? p.phase : 'unplaced')))}${unschedulable ? `; ${unschedulable}` : ''}`,
        },
        {
          metric: 'model server processes (fleet predictors)',
          value: servers.length,
          unit: '',
          note: `RSS ${MiB(servers.reduce((x, y) => x + y, 0))} in all, ${MiB(Math.max(0, ...servers))} the largest: ${FLEET} would need ${FLEET} GPUs and ~${MiB((FLEET * servers.reduce((x, y) => x + y, 0)) / Math.max(1, servers.length))}`,
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
          metric: 'history events per service workflow, at the end',
          value: mean(eventsEnd),
          unit: '',
          target: { kind: 'max', value: 150 },
          note: `max ${Math.max(...eventsEnd)}; sample Running, the rest Starting; + model/cache workflows ${(otherEvents / FLEET).toFixed(1)} per service (${others.length} workflows, ${otherEvents} events)`,
        },
        {
          metric: 'API writes per service, at all created',
          value: wCreated.orchestrator / FLEET,
          unit: '',
          target: { kind: 'max', value: 40 },
          note: `orchestrator (incl. downloader progress); KServe ${(wCreated.kserve / FLEET).toFixed(1)}; cluster components ${(wCreated.cluster / FLEET).toFixed(1)} (pods, Job status, ReplicaSets; Events excluded)`,
        },
        {
          metric: 'API writes per service, at the end',
          value: wEnd.orchestrator / FLEET,
          unit: '',
          target: { kind: 'max', value: 40 },
          note: `orchestrator; KServe ${(wEnd.kserve / FLEET).toFixed(1)} (its own client metrics: ${kBefore !== undefined && kAfter !== undefined ? ((kAfter - kBefore) / FLEET).toFixed(1) : 'not exposed'}, incl. its Events); cluster ${(wEnd.cluster / FLEET).toFixed(1)}`,
        },
        {
          metric: 'Jobs in the namespace',
          value: jobs.items.length,
          unit: '',
          note: count(jobs.items.map((j) => j.metadata?.labels?.['aim.silogen.ai/job-kind'] ?? 'other')),
        },
      ],
    );

    console.log(
      `\nAPI writes from the first apply to the end, by resource × verb (who: inferred from what was written)`,
    );
    printRows(['resource verb', 'who', 'total', 'per service', 'note'], writeRows(writesEnd, FLEET));
    console.log(
      `\nservice workflow history at the end: what the ${services.events} events of ${services.workflows} workflows are`,
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
