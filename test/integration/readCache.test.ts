import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timingFromEnv } from '../../domain/timing.js';
import { rbacAttributes, type RecordedRequest } from '../harness/apiRequests.js';
import { deterministicBytes } from '../harness/fixtures.js';
import { EXAMPLE_BUCKET, putTinyModel, startAcceptance, type AcceptanceFixture } from '../harness/scenarios.js';

/**
 * Issue 15, "reads from a cache, writes to the API server": with the worker running as its ServiceAccount (its
 * requests recorded per token), a service goes to Running and then idles through a few steady re-reads. Its
 * dependencies (models, templates, caches, Jobs, pods, PVCs, InferenceServices, Nodes) come from the worker's
 * watch-backed cache: a steady pass makes no LIST and GETs only the objects the passes reconcile (readCache.ts rule
 * 1), and the download's Job wait is woken by watch events instead of GETting its Job and LISTing its pods each second.
 *
 * The steady re-read is every 6 s here (the rest of the clocks ×0.1, as AIM_TIME_SCALE=0.1 sets them). With
 * AIM_READ_CACHE=off in the test's env the worker reads everything directly: the test then only prints the counts
 * (the "before" of the comparison).
 */
const STEADY_SECONDS = 6;
const TIMING = { ...timingFromEnv({ AIM_TIME_SCALE: '0.1' }), steadySeconds: STEADY_SECONDS };
const CACHE_ON = process.env.AIM_READ_CACHE !== 'off'; // the product's default; AIM_READ_CACHE=off in the env turns it off
const WEIGHTS = deterministicBytes('it-read-cache/weights', 256 * 1024);
let e2e: AcceptanceFixture;

beforeAll(async () => {
  e2e = await startAcceptance({ timing: TIMING, workerSettings: { readCache: CACHE_ON } });
  await putTinyModel(e2e.s3, EXAMPLE_BUCKET, 'qwen-rc', WEIGHTS);
}, 240_000);

afterAll(async () => {
  await e2e?.stop();
});

type Read = { verb: string; resource: string; name?: string; path: string };
/** The GETs and LISTs (not watches, not writes) among recorded requests. */
function readsOf(requests: RecordedRequest[]): Read[] {
  return requests.flatMap((r) => {
    const a = rbacAttributes(r.method, r.path);
    if (!('resource' in a) || (a.verb !== 'get' && a.verb !== 'list')) return [];
    return [{ verb: a.verb, resource: a.resource, ...(a.name ? { name: a.name } : {}), path: r.path }];
  });
}
const summary = (reads: Read[]) => {
  const by = new Map<string, number>();
  for (const r of reads) by.set(`${r.verb} ${r.resource}`, (by.get(`${r.verb} ${r.resource}`) ?? 0) + 1);
  return [...by].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}: ${n}`);
};
const hold = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Timers fired in the service's workflow since `from` (each steady pass is one). */
async function timersFired(workflowId: string, from: number): Promise<number> {
  const history = await e2e.orch.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter(
    (ev) => ev.timerFiredEventAttributes && Number(ev.eventTime?.seconds ?? 0) * 1000 >= from,
  ).length;
}

describe('the worker reads from its cache', () => {
  it('to Running without Job polling, then steady passes that GET only the objects they reconcile', async () => {
    const mark = () => e2e.orch.workerRequests().length;
    const start = mark();
    // A name of its own per attempt: a retry counts a service's whole way to Running again.
    const name = `rc-svc-${Date.now().toString(36)}`;
    await e2e.apply(e2e.s3Service(name, { prefix: 'qwen-rc' }));
    await e2e.runToRunning(name);
    const toRunning = readsOf(e2e.orch.workerRequests().slice(start));

    const steadyFrom = Date.now();
    const steadyStart = mark();
    await hold(STEADY_SECONDS * 3 * 1000 + 1000);
    const steady = readsOf(e2e.orch.workerRequests().slice(steadyStart));
    const passes = await timersFired(`aim/AIMService/${e2e.namespace}/${name}`, steadyFrom);
    const perPass = steady.length / Math.max(1, passes);
    console.log(
      `[read-cache ${CACHE_ON ? 'on' : 'off'}] to Running: ${toRunning.length} GET/LIST (${summary(toRunning).join(', ')}); ` +
        `steady: ${steady.length} GET/LIST in ${passes} service passes (${perPass.toFixed(1)} per pass: ` +
        `${summary(steady).join(', ')})`,
    );
    if (!CACHE_ON) return;

    // The Job waits: no GET of a Job or LIST of its pods (`job-name=`) each second; nor a LIST of the predictor's pods
    // while the InferenceService is not Ready yet: every pod the worker reads is in its cache.
    const jobGets = toRunning.filter((r) => r.resource === 'jobs' && r.verb === 'get');
    const podLists = toRunning.filter((r) => r.resource === 'pods');
    expect(jobGets.length).toBeLessThanOrEqual(2);
    expect(podLists).toEqual([]);
    // Steady: no LIST at all; GETs only of the AIM objects the lifecycles reconcile (their own object, once per
    // pass) and of the Secrets the service references (never cached: the worker may only `get` a Secret by name).
    expect(passes).toBeGreaterThanOrEqual(2);
    expect(steady.filter((r) => r.verb === 'list')).toEqual([]);
    const own = new Set(['aimservices', 'aimmodels', 'aimclustermodels', 'aimmodelcaches', 'aimservicetemplates']);
    expect(steady.filter((r) => !own.has(r.resource) && r.resource !== 'secrets')).toEqual([]);
    expect(steady.filter((r) => r.resource === 'aimservices').length).toBeLessThanOrEqual(passes + 1);
    expect(perPass).toBeLessThanOrEqual(4);
  });
});
