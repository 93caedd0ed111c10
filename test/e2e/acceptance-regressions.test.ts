/* eslint-disable @typescript-eslint/no-explicit-any -- objects are asserted field by field */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { example, exampleSecret, type Manifest } from '../cases/examples.js';
import { deterministicBytes } from '../harness/fixtures.js';
import { waitForObject } from '../harness/orchestrator.js';
import { waitFor } from '../harness/processes.js';
import {
  condition,
  customSource,
  EXAMPLE_BUCKET,
  putTinyModel,
  startAcceptance,
  SCENARIO,
  standaloneCache,
  useS3,
  type AcceptanceFixture,
} from '../harness/scenarios.js';
import { createTestNamespace } from '../harness/namespaces.js';

/**
 * Defects an independent acceptance run found (black box, the worker and the bridge as a user runs them): each case
 * failed before its fix. The product is driven only by `kubectl apply --server-side` and `kubectl delete`; the test
 * sends no signal and plays only KServe.
 */
let e2e: AcceptanceFixture;
const WEIGHTS = deterministicBytes('e2e-regressions/weights', 2 * 1024 * 1024);
const PREFIXES = ['qwen-spell', 'qwen-again', 'qwen-again-svc', 'qwen-again-shared', 'qwen-unbound'] as const;

beforeAll(async () => {
  e2e = await startAcceptance();
  for (const prefix of PREFIXES) await putTinyModel(e2e.s3, EXAMPLE_BUCKET, prefix, WEIGHTS);
}, 240_000);

afterAll(async () => {
  await e2e?.stop();
});

const get = (res: (typeof RESOURCES)[keyof typeof RESOURCES], name: string) =>
  e2e.orch.objects.get<any>(res, name, res.namespaced ? e2e.namespace : undefined);
const until = (
  res: (typeof RESOURCES)[keyof typeof RESOURCES],
  name: string,
  until: (o: any) => boolean,
  ms = 150_000,
) => waitForObject<any>(e2e.orch.objects, res, name, res.namespaced ? e2e.namespace : undefined, until, ms);
const remove = async (res: (typeof RESOURCES)[keyof typeof RESOURCES], name: string) => {
  await e2e.orch.objects.delete(res, name, res.namespaced ? e2e.namespace : undefined);
  await e2e.gone(res, name, 120_000);
};

/** A standalone AIMModelCache on the local S3, without an access mode (the default applies). */
const cacheWithoutAccessMode = (name: string, prefix: string, storageClassName?: string): Manifest =>
  standaloneCache(e2e.s3.endpoint, name, prefix, {
    accessMode: undefined,
    ...(storageClassName ? { storageClassName } : {}),
  });

// The scenarios before the last wait on downloads, probes and predictor pods of objects of their own, so they run
// concurrently; the last deletes the whole namespace and runs alone after them.
describe.concurrent('a shared custom model keeps its creator spelling (spec 4)', SCENARIO, () => {
  /** The S3 example at prefix qwen-spell; `other` spells the same request differently (trailing `/`, bytes). */
  function spelled(name: string, other: boolean): Manifest {
    const m = e2e.s3Service(name, { prefix: 'qwen-spell' });
    const src = customSource(m);
    const gpu = (m.spec.model as any).custom.hardware.gpu;
    if (other) {
      src.sourceUri = `${src.sourceUri}/`;
      gpu.minVram = String(64 * 2 ** 30);
    } else {
      gpu.minVram = '64Gi';
    }
    return m;
  }

  it('three services, two spellings: one model, its spec never rewritten, all Running', async () => {
    await e2e.apply(spelled('spell-a', false));
    const a = await e2e.service('spell-a', (s) => s.status?.resolvedModel?.name);
    const modelName = a.status.resolvedModel.name;
    const created = await until(RESOURCES.AIMModel, modelName, (m) => m.status?.status === 'Ready');
    await e2e.apply(spelled('spell-b', true));
    await e2e.apply(spelled('spell-c', true));
    for (const name of ['spell-a', 'spell-b', 'spell-c']) {
      const running = await e2e.runToRunning(name);
      expect(running.status.resolvedModel.name).toBe(modelName);
    }
    // A later pass of each service (a spec change re-resolves the model) still leaves the model alone.
    const b = spelled('spell-b', true);
    b.spec.env = [{ name: 'AIM_LOG_LEVEL', value: 'debug' }];
    await e2e.apply(b);
    await e2e.service('spell-b', (s) => s.status?.observedGeneration === 2 && s.status.status === 'Running');

    const model = await get(RESOURCES.AIMModel, modelName);
    expect(model.metadata.generation).toBe(created.metadata.generation);
    expect(model.spec).toEqual(created.spec);
    expect(model.spec.modelSources[0].sourceUri).toBe(`s3://${EXAMPLE_BUCKET}/qwen-spell`);
    expect(model.spec.hardware.gpu.minVram).toBe('64Gi');
    expect(model.metadata.ownerReferences.map((o: any) => o.name).sort()).toEqual(['spell-a', 'spell-b', 'spell-c']);
    for (const name of ['spell-a', 'spell-b', 'spell-c']) {
      const s = await get(RESOURCES.AIMService, name);
      expect(s.status.status).toBe('Running');
      const rejected = (await e2e.eventsFor(name)).filter((e) => e.reason === 'ApplyRejected');
      expect(rejected).toEqual([]);
    }
  });
});

describe.concurrent('a recreated object gets a run of its own (spec 5.0: the UID decides)', SCENARIO, () => {
  // The second reads the cache the first leaves: in order, but beside the other cases.
  describe.concurrent('again-cache', () => {
    it.sequential(
      'a cache deleted mid-download and created again at once, three times, reaches Ready each time',
      async () => {
        let previousUid = '';
        for (let round = 0; round < 3; round++) {
          const created = await e2e.apply<any>(cacheWithoutAccessMode('again-cache', 'qwen-again'));
          expect(created.metadata.uid).not.toBe(previousUid);
          previousUid = created.metadata.uid;
          if (round < 2) {
            // Mid-work: its probe or download is running when it goes.
            await until(RESOURCES.AIMModelCache, 'again-cache', (c) => (c.status?.probeAttempt ?? 0) >= 1);
            await remove(RESOURCES.AIMModelCache, 'again-cache');
          } else {
            const ready = await until(RESOURCES.AIMModelCache, 'again-cache', (c) => c.status?.status === 'Ready');
            expect(ready.metadata.uid).toBe(previousUid);
          }
        }
      },
    );

    it.sequential(
      'a standalone cache without an access mode gets ReadWriteMany written into its spec and its PVC',
      async () => {
        const cache = await get(RESOURCES.AIMModelCache, 'again-cache');
        expect(cache.spec.accessMode).toBe('ReadWriteMany');
        const pvcs = await e2e.pvcsOf('again-cache');
        expect(pvcs.map((p) => p.spec?.accessModes)).toEqual([['ReadWriteMany']]);
        expect(condition(cache, 'VolumeReady')).toMatchObject({ status: 'True', reason: 'VolumeBound' });
      },
    );
  });

  it('a model deleted while probing and created again at once reaches Ready', async () => {
    const model = () => {
      const m = example('aimmodel-s3-custom-templates.yaml');
      m.metadata.name = 'again-model';
      for (const s of m.spec.modelSources as any[]) useS3(s, e2e.s3.endpoint, 'qwen-again');
      return m;
    };
    for (let round = 0; round < 2; round++) {
      const created = await e2e.apply<any>(model());
      if (round === 0) {
        await until(RESOURCES.AIMModel, 'again-model', (m) => !!m.status?.status);
        await remove(RESOURCES.AIMModel, 'again-model');
      } else {
        const ready = await until(RESOURCES.AIMModel, 'again-model', (m) => m.status?.status === 'Ready');
        expect(ready.metadata.uid).toBe(created.metadata.uid);
      }
    }
  });

  it('a service deleted while downloading and created again at once reaches Running', async () => {
    for (let round = 0; round < 2; round++) {
      const created = await e2e.apply<any>(e2e.s3Service('again-svc', { prefix: 'qwen-again-svc' }));
      if (round === 0) {
        await e2e.service('again-svc', (s) => (s.status?.caches ?? []).length > 0);
        await remove(RESOURCES.AIMService, 'again-svc');
      } else {
        const running = await e2e.runToRunning('again-svc');
        expect(running.metadata.uid).toBe(created.metadata.uid);
      }
    }
  });

  it('a Shared cache deleted by hand is created again by its service and becomes Ready', async () => {
    const m = e2e.s3Service('again-shared', { file: 'aimservice-custom-s3-shared.yaml', prefix: 'qwen-again-shared' });
    await e2e.apply(m);
    const running = await e2e.runToRunning('again-shared');
    const cacheName = running.status.caches[0].name;
    const old = await get(RESOURCES.AIMModelCache, cacheName);
    await remove(RESOURCES.AIMModelCache, cacheName);
    const again = await until(
      RESOURCES.AIMModelCache,
      cacheName,
      (c) => c.metadata.uid !== old.metadata.uid && c.status?.status === 'Ready',
      240_000,
    );
    expect(again.status.verified).toBe(true);
    await e2e.service('again-shared', (s) => s.status?.status === 'Running', 120_000);
  });
});

describe.concurrent('an unbound volume is not progress (spec 7)', SCENARIO, () => {
  it('a cache whose claim cannot bind is Pending with VolumeReady not True, naming the class', async () => {
    await e2e.apply(cacheWithoutAccessMode('unbound-cache', 'qwen-unbound', 'no-such-class'));
    // The download Job exists (it is created right after the claim) and its pod waits for the volume.
    await waitFor(
      'the download Job of unbound-cache',
      async () => (await e2e.jobsOf('unbound-cache')).find((j) => j.metadata?.name?.includes('-dl-')),
      { timeoutMs: 90_000 },
    );
    const pending = await until(RESOURCES.AIMModelCache, 'unbound-cache', (c) => c.status?.attempt === 1);
    expect(pending.status.status).toBe('Pending');
    expect(condition(pending, 'VolumeReady')).toMatchObject({ status: 'Unknown', reason: 'WaitingForBinding' });
    expect(condition(pending, 'VolumeReady').message).toContain('class no-such-class');
    expect(condition(pending, 'VolumeReady').message).toContain('ReadWriteMany');
    // It stays so while the claim cannot bind (VolumeNotBound only after 5 minutes).
    await new Promise((r) => setTimeout(r, 3000));
    const still = await get(RESOURCES.AIMModelCache, 'unbound-cache');
    expect(still.status.status).toBe('Pending');
    expect(condition(still, 'VolumeReady').status).not.toBe('True');
    await remove(RESOURCES.AIMModelCache, 'unbound-cache');
  });
});

describe('recreated inside a namespace that was deleted (spec 5.0)', SCENARIO, () => {
  it('the namespace deleted mid-download and created again with the same cache: Ready', async () => {
    await e2e.apply(cacheWithoutAccessMode('ns-cache', 'qwen-again'));
    await until(RESOURCES.AIMModelCache, 'ns-cache', (c) => (c.status?.probeAttempt ?? 0) >= 1);
    await e2e.orch.core.deleteNamespace({ name: e2e.namespace });
    await waitFor(
      `namespace ${e2e.namespace} gone`,
      async () =>
        (await e2e.orch.core.readNamespace({ name: e2e.namespace }).catch(() => undefined)) ? undefined : true,
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    await createTestNamespace(e2e.orch.core, e2e.namespace);
    await e2e.apply(
      exampleSecret('secret-s3-credentials.yaml', { 'access-key': e2e.s3.accessKey, 'secret-key': e2e.s3.secretKey }),
    );
    const created = await e2e.apply<any>(cacheWithoutAccessMode('ns-cache', 'qwen-again'));
    const ready = await until(RESOURCES.AIMModelCache, 'ns-cache', (c) => c.status?.status === 'Ready', 180_000);
    expect(ready.metadata.uid).toBe(created.metadata.uid);
  });
});
