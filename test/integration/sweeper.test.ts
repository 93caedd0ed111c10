import type { V1ManagedFieldsEntry, V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { USAGE_FIELD_MANAGER } from '../../activities/cacheUsage.js';
import { RESOURCES } from '../../activities/kube/resources.js';
import { SHARED_CACHE_EXPIRED, type SweepResult } from '../../activities/sweeper.js';
import { API_GROUP_VERSION, FIELD_MANAGERS, LABELS, MANAGED_BY } from '../../schemas/constants.js';
import { ensureCacheSweeper } from '../../worker/sweeper.js';
import { lastSweepQuery, sharedCacheSweeperId } from '../../workflows/cacheSweeper.js';
import { example, exampleSecret } from '../cases/examples.js';
import { startOrchestrator, waitForObject, type OrchestratorFixture } from '../harness/orchestrator.js';
import { waitFor } from '../harness/processes.js';
import { customSource, useS3, waitForGone } from '../harness/scenarios.js';

/** Spec section 4: Shared caches are kept while a service lists them (which writes `lastUsed`), then the TTL. */
let orch: OrchestratorFixture;

interface CacheObject {
  metadata: { name: string; uid: string; managedFields?: V1ManagedFieldsEntry[] };
  status?: { status?: string; lastUsed?: string };
}
interface ServiceObject {
  metadata: { uid: string };
  status?: { caches?: Array<{ name: string }> };
}

const MODEL_ID = 'Qwen/Qwen2-0.5B';
const TEST_MANAGER = 'aim-test';
const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();

beforeAll(async () => {
  orch = await startOrchestrator({
    kubeconfigPath: inject('kubeconfigPath'),
    temporalAddress: inject('temporalAddress'),
    temporalNamespace: inject('temporalNamespace'),
    gpu: { vendor: 'amd', product: 'AMD_Instinct_MI300X_OAM', vramMiB: 192 * 1024, count: 8 },
  });
  // Wrong keys on purpose: the source endpoint below refuses connections, so they are never checked.
  const secret = exampleSecret('secret-s3-credentials.yaml', {
    'access-key': 'nobody',
    'secret-key': 'wrong-secret-value',
  });
  await orch.core.createNamespacedSecret({ namespace: orch.namespace, body: secret as V1Secret });
}, 180_000);

afterAll(async () => {
  if (!orch) return;
  await ensureCacheSweeper(orch.client, { taskQueue: orch.taskQueue, ttlSeconds: 0 }).catch(() => undefined);
  await orch.stop();
});

async function createCache(name: string, mode: 'shared' | 'dedicated', owner?: V1OwnerReference): Promise<void> {
  await orch.objects.create(RESOURCES.AIMModelCache, {
    apiVersion: API_GROUP_VERSION,
    kind: 'AIMModelCache',
    metadata: {
      name,
      namespace: orch.namespace,
      labels: { [LABELS.cacheMode]: mode, [LABELS.managedBy]: MANAGED_BY },
      ...(owner ? { ownerReferences: [owner] } : {}),
    },
    spec: { modelId: MODEL_ID, sourceUri: `s3://models/${name}` },
  } as never);
}

async function setStatus(res: 'AIMModelCache' | 'AIMService', name: string, status: object): Promise<void> {
  await orch.objects.applyStatus(
    RESOURCES[res],
    { apiVersion: API_GROUP_VERSION, kind: res, metadata: { name, namespace: orch.namespace }, status } as never,
    { fieldManager: TEST_MANAGER },
  );
}

const getCache = (name: string) => orch.objects.get<CacheObject>(RESOURCES.AIMModelCache, name, orch.namespace);

const waitGone = (name: string) => waitForGone(orch.objects, RESOURCES.AIMModelCache, name, orch.namespace);

/** The sweeper's report of its last sweep, once it names `name` (entries of other namespaces are dropped). */
async function sweepNaming(name: string): Promise<SweepResult> {
  const handle = orch.client.workflow.getHandle(sharedCacheSweeperId(orch.taskQueue));
  const mine = (r: SweepResult): SweepResult => ({
    ...r,
    deleted: r.deleted.filter((e) => e.namespace === orch.namespace),
    kept: r.kept.filter((e) => e.namespace === orch.namespace),
  });
  return waitFor(
    `a sweep that reports ${name}`,
    async () => {
      const last = await handle.query(lastSweepQuery);
      if (!last || last.at === undefined) return undefined;
      const r = mine(last);
      return [...r.deleted, ...r.kept].some((e) => e.name === name) ? r : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
}

const reasonsOf = (entries: SweepResult['kept']) => Object.fromEntries(entries.map((e) => [e.name, e.reason]));

describe('the Shared-cache TTL sweeper', () => {
  it('deletes an unlisted Shared cache idle past the TTL, after an Event; keeps listed, recent and Dedicated ones', async () => {
    const lister = example('aimservice-by-name.yaml');
    lister.metadata = { name: 'lister', namespace: orch.namespace };
    await orch.objects.create(RESOURCES.AIMService, lister as never);
    const listerObj = (await orch.objects.get<ServiceObject>(RESOURCES.AIMService, 'lister', orch.namespace))!;
    await createCache('old-unlisted', 'shared');
    await createCache('old-listed', 'shared');
    await createCache('fresh', 'shared');
    await createCache('dedicated', 'dedicated', {
      apiVersion: API_GROUP_VERSION,
      kind: 'AIMService',
      name: 'lister',
      uid: listerObj.metadata.uid,
      controller: true,
    });
    await setStatus('AIMModelCache', 'old-unlisted', { lastUsed: hoursAgo(2) });
    await setStatus('AIMModelCache', 'old-listed', { lastUsed: hoursAgo(2) });
    await setStatus('AIMService', 'lister', { caches: [{ name: 'old-listed', modelId: MODEL_ID, status: 'Ready' }] });

    const first = await ensureCacheSweeper(orch.client, { taskQueue: orch.taskQueue, ttlSeconds: 3600 });
    expect(first.state).toBe('running');
    await waitGone('old-unlisted');

    const sweep = await sweepNaming('old-unlisted');
    expect(sweep.ttlSeconds).toBe(3600);
    expect(reasonsOf(sweep.deleted)).toEqual({ 'old-unlisted': 'Expired' });
    expect(reasonsOf(sweep.kept)).toEqual({ 'old-listed': 'Listed', fresh: 'NotExpired' });
    for (const name of ['old-listed', 'fresh', 'dedicated']) expect(await getCache(name), name).toBeDefined();

    const events = (
      await orch.core.listNamespacedEvent({
        namespace: orch.namespace,
        fieldSelector: 'involvedObject.name=old-unlisted',
      })
    ).items;
    const expired = events.find((e) => e.reason === SHARED_CACHE_EXPIRED);
    expect(expired?.involvedObject.kind).toBe('AIMModelCache');
    expect(expired?.message).toContain('TTL 1h');

    // Every worker start calls it again: the running sweeper is reused, not restarted.
    const again = await ensureCacheSweeper(orch.client, { taskQueue: orch.taskQueue, ttlSeconds: 3600 });
    expect(again).toEqual(first);
  }, 120_000);

  it("a service with Shared caching writes its cache's lastUsed, which the cache workflow's status writes leave alone", async () => {
    const before = Date.now();
    const m = example('aimservice-custom-s3-shared.yaml');
    m.metadata = { name: 'user', namespace: orch.namespace };
    // Connections to this endpoint are refused: the cache fails its probe, no download needed. One attempt: an
    // unreachable source is otherwise probed again after each attempt pause (minutes before the cache is Failed).
    useS3(customSource(m), 'http://127.0.0.1:1');
    (m.spec as { download?: { maxAttempts: number } }).download = { maxAttempts: 1 };
    await orch.objects.create(RESOURCES.AIMService, m as never);
    await orch.startService('user', orch.namespace);
    const svc = await waitForObject<ServiceObject>(orch.objects, RESOURCES.AIMService, 'user', orch.namespace, (s) =>
      Boolean(s.status?.caches?.length),
    );
    const name = svc.status!.caches![0]!.name;
    // The cache workflow writes its status after the service's first pass marked it used: the final write counts.
    const cache = await waitForObject<CacheObject>(
      orch.objects,
      RESOURCES.AIMModelCache,
      name,
      orch.namespace,
      (c) => c.status?.status === 'Failed' && Boolean(c.status.lastUsed),
      150_000,
    );
    expect(Date.parse(cache.status!.lastUsed!)).toBeGreaterThanOrEqual(before);
    const statusFieldsOf = (manager: string) =>
      JSON.stringify(
        cache.metadata.managedFields?.filter((f) => f.manager === manager && f.subresource === 'status') ?? [],
      );
    expect(statusFieldsOf(USAGE_FIELD_MANAGER)).toContain('"f:lastUsed"');
    expect(statusFieldsOf(FIELD_MANAGERS.orchestrator)).toContain('"f:status"');
    expect(statusFieldsOf(FIELD_MANAGERS.orchestrator)).not.toContain('"f:lastUsed"');
  }, 200_000);

  it('once its service is gone, the Shared cache is deleted after the TTL; the listed and Dedicated ones stay', async () => {
    const svc = (await orch.objects.get<ServiceObject>(RESOURCES.AIMService, 'user', orch.namespace))!;
    const name = svc.status!.caches![0]!.name;
    await orch.objects.delete(RESOURCES.AIMService, 'user', orch.namespace);
    await orch.startService('user', orch.namespace);
    await waitForGone(orch.objects, RESOURCES.AIMService, 'user', orch.namespace);
    expect(await getCache(name), 'deleting a service leaves its Shared cache').toBeDefined();
    // Idle for longer than the 1 s TTL below before the sweep that judges it.
    await waitFor(
      'lastUsed over 1 s old',
      async () => {
        const c = await getCache(name);
        return Date.now() - Date.parse(c!.status!.lastUsed!) > 1500 ? true : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );

    // A new TTL reaches the running sweeper at once and sweeps with it.
    const state = await ensureCacheSweeper(orch.client, { taskQueue: orch.taskQueue, ttlSeconds: 1 });
    expect(state.state).toBe('running');
    await waitGone(name);
    const sweep = await sweepNaming(name);
    expect(sweep.ttlSeconds).toBe(1);
    expect(reasonsOf(sweep.deleted)[name]).toBe('Expired');
    expect(reasonsOf(sweep.kept)['old-listed']).toBe('Listed');
    expect(await getCache('old-listed')).toBeDefined();
    expect(await getCache('dedicated')).toBeDefined();
  }, 120_000);

  it('TTL 0 stops a running sweeper and starts none', async () => {
    const handle = orch.client.workflow.getHandle(sharedCacheSweeperId(orch.taskQueue));
    expect((await ensureCacheSweeper(orch.client, { taskQueue: orch.taskQueue, ttlSeconds: 0 })).state).toBe('stopped');
    await handle.result();
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    expect((await ensureCacheSweeper(orch.client, { taskQueue: orch.taskQueue, ttlSeconds: 0 })).state).toBe(
      'disabled',
    );
    expect((await handle.describe()).status.name).toBe('COMPLETED');
  }, 60_000);
});
