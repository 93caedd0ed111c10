/**
 * The fleet bench's script baseline: the objects the orchestrator made for the fleet, created again by a plain script
 * at the same concurrency, timed the same way (first apply → every InferenceService created). The shared objects
 * (the warm-up service's model, template, Shared cache, its Jobs and PVC) are replayed once, untimed, as the fleet's
 * warm-up was; then each fleet service is replayed as recorded (bench/baseline.ts `recordFleetServices`): the
 * user's apply, the finalizer, its owner entry on the model, the service status, its attach probe Job if it had one
 * (waited for Complete on a watch), its InferenceService, with BENCH_FLEET_CONCURRENCY replays in flight, into a
 * namespace of its own (the bridge does not watch it, so nothing but the script and the cluster's controllers act on
 * it). Its predictors stay Pending: the node's GPUs are taken by then.
 */
import { performance } from 'node:perf_hooks';
import { recordFleetServices, recordService, replayService, replayWrites } from './baseline.js';
import type { BenchCluster } from './cluster.js';
import { percentile, pool } from './measure.js';
import type { TargetRow } from './table.js';

export async function measureFleetScript(o: {
  c: BenchCluster;
  namespace: string;
  names: readonly string[];
  concurrency: number;
  /** The fleet's time to all InferenceServices created (s). */
  fleetSeconds: number;
  /** When the script runs, for the note (the machine's state then). */
  conditions: string;
}): Promise<TargetRow[]> {
  const { c, names, concurrency } = o;
  const warm = await recordService(c.kc, o.namespace, 'fleet-warm');
  const recordings = await recordFleetServices(c.kc, o.namespace, names);
  const scriptNs = `${o.namespace}-script`;
  await c.createNamespace(scriptNs);
  const shared = await replayService(c.kc, warm, scriptNs);
  const latencies: number[] = [];
  const t0 = performance.now();
  await pool(recordings, concurrency, async (rec) => {
    const t = performance.now();
    await replayService(c.kc, rec, scriptNs, shared);
    latencies.push((performance.now() - t) / 1000);
  });
  const seconds = (performance.now() - t0) / 1000;
  const writes = recordings.reduce((s, r) => s + replayWrites(r), 0) / recordings.length;
  // What was replayed per service, as recorded (e.g. no attach probe when the cache needed none for this service).
  const steps = new Map<string, number>();
  for (const r of recordings) for (const x of r.steps) steps.set(x.what, (steps.get(x.what) ?? 0) + 1);
  const perService = ['apply', ...[...steps].map(([what, n]) => (n === recordings.length ? what : `${what} (${n})`))];
  return [
    {
      metric: `script: ${names.length} services' objects created back to back`,
      value: seconds,
      unit: 's',
      note: `${concurrency} in flight; per service: ${perService.join(', ')} (${writes.toFixed(1)} writes; a Job waited for Complete); p50 ${percentile(latencies, 50).toFixed(1)} s, p95 ${percentile(latencies, 95).toFixed(1)} s per service; ${o.conditions}`,
    },
    {
      metric: 'fleet time / script time',
      value: o.fleetSeconds / seconds,
      unit: '×',
      target: { kind: 'max', value: 1.5 },
      note: `fleet ${o.fleetSeconds.toFixed(1)} s to all InferenceServices created, script ${seconds.toFixed(1)} s`,
    },
  ];
}
