/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are built field by field */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { installRuntime, startClusterMetrics, type ClusterMetrics } from '../../worker/metrics.js';
import { pingCluster } from '../../workflows/index.js';
import { example } from '../cases/examples.js';
import { startOrchestrator, type OrchestratorFixture } from '../harness/orchestrator.js';
import { freePort } from '../harness/processes.js';

/**
 * The worker program's telemetry against the real servers: the Runtime installed as worker/main.ts does (before any
 * connection; the fixture's own Runtime setup then stands aside), a worker running workflows, and one scrape of the
 * Prometheus endpoint that must show the SDK's `temporal_*` metrics next to ours. The bridge serves its own /metrics.
 */
let orch: OrchestratorFixture;
let cluster: ClusterMetrics | undefined;
let metricsUrl: string;
const logLines: string[] = [];

beforeAll(async () => {
  const port = await freePort();
  installRuntime({ logLevel: 'INFO', metricsAddress: `127.0.0.1:${port}`, write: (line) => logLines.push(line) });
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  orch = await startOrchestrator({
    kubeconfigPath: inject('kubeconfigPath'),
    temporalAddress: inject('temporalAddress'),
    temporalNamespace: inject('temporalNamespace'),
  });
}, 180_000);

afterAll(async () => {
  cluster?.stop();
  await orch?.stop();
});

const scrape = async () => (await fetch(metricsUrl)).text();
/** The value of the one series of `name` whose labels include all of `labels` (undefined when none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}

async function service(name: string, status?: string): Promise<void> {
  const m = example('aimservice-by-name.yaml') as any;
  m.metadata = { name, namespace: orch.namespace };
  m.spec.model = { name: 'no-such-model' };
  await orch.objects.create(RESOURCES.AIMService, m as never);
  if (status)
    await orch.objects.applyStatus(
      RESOURCES.AIMService,
      {
        apiVersion: m.apiVersion,
        kind: 'AIMService',
        metadata: { name, namespace: orch.namespace },
        status: { status },
      },
      { fieldManager: 'metrics-test' },
    );
}

describe('worker metrics on the Prometheus endpoint', () => {
  it('serves the SDK metrics, aim_deployments by status and aim_download_bytes', async () => {
    await service('run-a', 'Running');
    await service('run-b', 'Running');
    await service('broken', 'Failed');
    await service('fresh');
    const cache = example('aimmodelcache.yaml') as any;
    cache.metadata = { name: 'cache-a', namespace: orch.namespace };
    await orch.objects.create(RESOURCES.AIMModelCache, cache as never);
    await orch.objects.applyStatus(
      RESOURCES.AIMModelCache,
      {
        apiVersion: cache.apiVersion,
        kind: 'AIMModelCache',
        metadata: { name: 'cache-a', namespace: orch.namespace },
        status: { status: 'Progressing', progress: { downloadedBytes: 123_456_789, totalBytes: 500_000_000 } },
      },
      { fieldManager: 'metrics-test' },
    );
    await orch.client.workflow.execute(pingCluster, {
      taskQueue: orch.taskQueue,
      workflowId: `metrics-ping-${Date.now()}`,
      args: ['kube-system'],
    });
    cluster = startClusterMetrics(orch.kc, { namespaces: [orch.namespace], intervalMs: 60_000 });
    await cluster.refresh();

    const text = await scrape();
    expect(sample(text, 'aim_deployments', { status: 'Running' })).toBe(2);
    expect(sample(text, 'aim_deployments', { status: 'Failed' })).toBe(1);
    expect(sample(text, 'aim_deployments', { status: 'Unknown' })).toBe(1);
    expect(sample(text, 'aim_deployments', { status: 'Degraded' })).toBe(0);
    expect(sample(text, 'aim_download_bytes')).toBe(123_456_789);
    expect(text).toMatch(/^# TYPE aim_deployments gauge$/m);
    // The SDK's own metrics, labelled by task queue, named as Temporal's dashboards and Prometheus expect: counters
    // end in _total, histograms carry their unit and durations are in seconds.
    expect(sample(text, 'temporal_workflow_completed_total', { task_queue: orch.taskQueue })).toBe(1);
    expect(text).toMatch(/^# TYPE temporal_workflow_completed_total counter$/m);
    expect(sample(text, 'temporal_workflow_completed', { task_queue: orch.taskQueue })).toBeUndefined();
    const latency = { activity_type: 'readNamespace' };
    expect(sample(text, 'temporal_activity_execution_latency_seconds_count', latency)).toBe(1);
    expect(sample(text, 'temporal_activity_execution_latency_count', latency)).toBeUndefined();
    // One quick API read took well under a second: a sum in milliseconds would not be.
    const seconds = sample(text, 'temporal_activity_execution_latency_seconds_sum', latency)!;
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(1);
    expect(sample(text, 'temporal_activity_execution_latency_seconds_bucket', { ...latency, le: '1' })).toBe(1);
    // Every counter of the endpoint, ours too, ends in _total exactly once.
    const counters = [...text.matchAll(/^# TYPE (\S+) counter$/gm)].map((m) => m[1]!);
    expect(counters.length).toBeGreaterThan(0);
    for (const name of counters) expect(name, name).toMatch(/(?<!_total)_total$/);
  });

  it('counts typed failures by reason in aim_failures_total', async () => {
    // Valid for our schema, refused by the API server (label syntax): the submit activity reports ApplyRejected.
    const manifest = {
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModel',
      metadata: { name: 'bad-labels', namespace: orch.namespace, labels: { 'not a label!': 'x' } },
      spec: { image: 'ghcr.io/silogen/llama:1' },
    };
    const failed = await orch.client.workflow
      .execute('submit', { taskQueue: orch.taskQueue, workflowId: `metrics-submit-${Date.now()}`, args: [manifest] })
      .then(
        () => false,
        () => true,
      );
    expect(failed).toBe(true);
    const text = await scrape();
    expect(sample(text, 'aim_failures_total', { reason: 'ApplyRejected' })).toBe(1);
    expect(text).toMatch(/^# TYPE aim_failures_total counter$/m);
  });

  it('logs one JSON object per line for the SDK and worker', () => {
    expect(logLines.length).toBeGreaterThan(0);
    const parsed = logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const p of parsed) expect(Object.keys(p).slice(0, 3)).toEqual(['ts', 'level', 'msg']);
    expect(parsed.some((p) => p.msg === 'serving Prometheus metrics')).toBe(true);
    expect(parsed.some((p) => p.sdkComponent === 'worker' && p.taskQueue === orch.taskQueue)).toBe(true);
  });
});

describe('bridge metrics', () => {
  it('serves nudges by kind and signal and readiness on its health port', async () => {
    const bridge = orch.startBridge();
    await bridge.ready;
    const res = await fetch(`http://127.0.0.1:${bridge.healthPort()}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(sample(text, 'aim_bridge_ready')).toBe(1);
    // The four services of this namespace were listed and each workflow got `changed` (signal-with-start).
    expect(sample(text, 'aim_bridge_nudges_total', { kind: 'AIMService', signal: 'changed' })).toBe(4);
    expect(sample(text, 'aim_bridge_nudges_total', { kind: 'AIMModelCache', signal: 'changed' })).toBe(1);
    expect(text).toMatch(/^# TYPE aim_bridge_relists_total counter$/m);
  });
});
