import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { clusterView } from '../../bridge/clusterView.js';
import { startHealthServer } from '../../bridge/health.js';
import { bridgeMetrics } from '../../bridge/metrics.js';
import type { BridgeObject, WatchedKind } from '../../bridge/routing.js';
import { bridgeSources } from '../../bridge/sources.js';
import { orphanSignals } from '../../bridge/sweep.js';

function offlineKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}
const MANAGED = 'app.kubernetes.io/managed-by=aim-orchestrator';

describe('bridge source table', () => {
  it('watches each namespaced kind per namespace, cluster-scoped kinds once, ours by the managed-by label', () => {
    const table = bridgeSources(offlineKubeConfig(), ['team-a', 'team-b']).map(
      (s) =>
        `${s.kind} ${s.path}${s.labelSelector ? ` ?${s.labelSelector}` : ''}${s.metadataOnly ? ' (metadata)' : ''}`,
    );
    expect(table.filter((r) => r.includes('team-a'))).toEqual([
      'AIMModel /apis/aim.silogen.ai/v1alpha1/namespaces/team-a/aimmodels',
      'AIMServiceTemplate /apis/aim.silogen.ai/v1alpha1/namespaces/team-a/aimservicetemplates',
      'AIMModelCache /apis/aim.silogen.ai/v1alpha1/namespaces/team-a/aimmodelcaches',
      'AIMService /apis/aim.silogen.ai/v1alpha1/namespaces/team-a/aimservices',
      `InferenceService /apis/serving.kserve.io/v1beta1/namespaces/team-a/inferenceservices ?${MANAGED}`,
      `Job /apis/batch/v1/namespaces/team-a/jobs ?${MANAGED}`,
      `PersistentVolumeClaim /api/v1/namespaces/team-a/persistentvolumeclaims ?${MANAGED}`,
      'ResourceQuota /api/v1/namespaces/team-a/resourcequotas',
      'Secret /api/v1/namespaces/team-a/secrets (metadata)',
    ]);
    expect(table.filter((r) => !r.includes('/namespaces/'))).toEqual([
      'AIMClusterModel /apis/aim.silogen.ai/v1alpha1/aimclustermodels',
      'AIMClusterServiceTemplate /apis/aim.silogen.ai/v1alpha1/aimclusterservicetemplates',
      'Node /api/v1/nodes',
    ]);
    expect(table.length).toBe(9 * 2 + 3);
  });

  it('without namespaces watches cluster-wide; Secrets through a metadata-only watch of their own', () => {
    const sources = bridgeSources(offlineKubeConfig());
    expect(sources.every((s) => s.namespace === undefined && !s.path.includes('/namespaces/'))).toBe(true);
    const secret = sources.find((s) => s.kind === 'Secret')!;
    const job = sources.find((s) => s.kind === 'Job')!;
    expect(secret.metadataOnly).toBe(true);
    expect(secret.watcher).not.toBe(job.watcher);
  });
});

describe('bridge cluster view (what routing asks, answered from the caches)', () => {
  const o = (name: string, namespace: string | undefined, extra: Partial<BridgeObject> = {}): BridgeObject => ({
    metadata: { name, ...(namespace ? { namespace } : {}), uid: `uid-${name}`, ...extra.metadata },
    ...(extra.status !== undefined ? { status: extra.status } : {}),
  });
  const caches: Partial<Record<WatchedKind, Array<Map<string, BridgeObject>>>> = {
    AIMModel: [new Map([['ns/m', o('m', 'ns')]]), new Map([['other/m2', o('m2', 'other')]])],
    AIMClusterModel: [
      new Map([['/cm', o('cm', undefined, { metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } })]]),
    ],
  };
  const view = clusterView((kind) => caches[kind] ?? []);
  it('finds objects across the per-namespace caches and tells deleting objects from live ones', () => {
    expect(view.lookup({ kind: 'AIMModel', namespace: 'other', name: 'm2' })?.metadata?.uid).toBe('uid-m2');
    expect(view.exists({ kind: 'AIMModel', namespace: 'ns', name: 'm' })).toBe(true);
    expect(view.exists({ kind: 'AIMModel', namespace: 'ns', name: 'nope' })).toBe(false);
    expect(view.lookup({ kind: 'AIMClusterModel', name: 'cm' })).toBeDefined();
    expect(view.exists({ kind: 'AIMClusterModel', name: 'cm' })).toBe(false);
  });
  it('hardware dependents are the live models and templates with a workflow of their own', () => {
    expect(view.hardwareDependents().map((t) => `${t.kind}/${t.name}`)).toEqual(['AIMModel/m', 'AIMModel/m2']);
  });
});

describe('bridge orphan sweep', () => {
  it('sends deleted to running workflows whose object is gone, in the watched namespaces only', () => {
    const known = new Set(['aim/AIMModel/ns/alive']);
    const lookup = (t: { kind: string; name: string; namespace?: string }) =>
      known.has(`aim/${t.kind}/${t.namespace}/${t.name}`)
        ? ({ metadata: { name: t.name, namespace: t.namespace } } as BridgeObject)
        : undefined;
    const ids = ['aim/AIMModel/ns/alive', 'aim/AIMModel/ns/gone', 'aim/AIMService/elsewhere/gone', 'not-ours'];
    expect(orphanSignals(ids, ['ns'], lookup)).toEqual([
      {
        signal: 'deleted',
        target: { kind: 'AIMModel', namespace: 'ns', name: 'gone' },
        start: false,
        nudge: { uid: '' },
      },
    ]);
    expect(orphanSignals(ids, [], lookup).map((s) => s.target.name)).toEqual(['gone', 'gone']);
  });
});

describe('bridge health server', () => {
  it('serves liveness, readiness and metrics from what the bridge reports at the moment of the request', async () => {
    const state = { live: true, ready: false };
    const metrics = bridgeMetrics();
    const h = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      metrics,
      live: () => state.live,
      ready: () => state.ready,
    });
    try {
      const get = async (p: string) => (await fetch(`http://127.0.0.1:${h.port}${p}`)).status;
      expect([await get('/healthz'), await get('/readyz'), await get('/nope')]).toEqual([200, 503, 404]);
      state.ready = true;
      expect(await get('/readyz')).toBe(200);
      state.live = false;
      expect(await get('/healthz')).toBe(503);
      const res = await fetch(`http://127.0.0.1:${h.port}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      expect(text).toMatch(/^aim_bridge_deliveries_pending 0$/m);
      expect(text).toMatch(/^aim_bridge_delivery_oldest_pending_seconds 0$/m);
    } finally {
      await h.close();
    }
  });
});
