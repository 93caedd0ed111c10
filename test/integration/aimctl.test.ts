/* eslint-disable @typescript-eslint/no-explicit-any -- objects are asserted field by field */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { RESOURCES } from '../../activities/kube/resources.js';
import { EXIT, run } from '../../client/aimctl.js';
import { AimClient, type StatusSnapshot } from '../../client/sdk.js';
import { example } from '../cases/examples.js';
import { startOrchestrator, type OrchestratorFixture } from '../harness/orchestrator.js';
import { waitFor } from '../harness/processes.js';
import { runAimctl } from '../harness/scenarios.js';

/**
 * aimctl against a real API server and Temporal with a worker running: apply → the SDK nudges the workflow → wait,
 * get, describe; an invalid manifest creates nothing; delete --force removes a service held by its finalizer.
 */
let orch: OrchestratorFixture;
const work = mkdtempSync(join(tmpdir(), 'aimctl-it-'));

beforeAll(async () => {
  orch = await startOrchestrator({
    kubeconfigPath: inject('kubeconfigPath'),
    temporalAddress: inject('temporalAddress'),
    temporalNamespace: inject('temporalNamespace'),
  });
}, 180_000);

afterAll(async () => {
  await orch?.stop();
  rmSync(work, { recursive: true, force: true });
});

const aimctl = (...argv: string[]) =>
  runAimctl([...argv, '-n', orch.namespace], {
    KUBECONFIG: inject('kubeconfigPath'),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_NAMESPACE: inject('temporalNamespace'),
    AIM_TASK_QUEUE: orch.taskQueue,
    TEMPORAL_UI: 'http://temporal-ui.test:8233',
  });

function writeYaml(name: string, docs: unknown[]): string {
  const path = join(work, name);
  writeFileSync(path, docs.map((d) => stringify(d)).join('---\n'));
  return path;
}

describe('aimctl with a running worker', () => {
  it('apply an image AIMModel → the SDK nudges its workflow → wait --for=Ready exits 0; get and describe', async () => {
    const file = writeYaml('image-model.yaml', [
      {
        apiVersion: 'aim.silogen.ai/v1alpha1',
        kind: 'AIMModel',
        metadata: { name: 'llama-image' },
        spec: { image: 'ghcr.io/silogen/llama:1' },
      },
    ]);
    const applied = await aimctl('apply', '-f', file);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(EXIT.ok);
    expect(applied.stdout).toContain(
      `aimmodel.aim.silogen.ai/llama-image applied (workflow aim/AIMModel/${orch.namespace}/llama-image nudged)`,
    );

    // Nobody but the SDK started the workflow: no bridge runs here.
    const waited = await aimctl(
      'wait',
      'aimmdl',
      'llama-image',
      '--for=Ready',
      '--timeout',
      '90s',
      '--interval',
      '300ms',
    );
    expect(waited.stderr).toBe('');
    expect(waited.code).toBe(EXIT.ok);
    expect(waited.stdout).toContain('aimmodel.aim.silogen.ai/llama-image is Ready');

    const got = await aimctl('get', 'aimmdl');
    expect(got.code).toBe(EXIT.ok);
    const [header, row] = got.stdout.trim().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['NAME', 'STATUS', 'SOURCE', 'IMAGE', 'AGE']);
    expect(row).toMatch(/^llama-image\s+Ready\s+\S+\s+ghcr\.io\/silogen\/llama:1\s+\d+[smhd]$/);

    const json = await aimctl('get', 'aimmodels', 'llama-image', '-o', 'json');
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'AIMModel', status: { status: 'Ready' } });

    const described = await aimctl('describe', 'aimmodel', 'llama-image');
    expect(described.code).toBe(EXIT.ok);
    expect(described.stdout).toContain('Status:        Ready');
    expect(described.stdout).toMatch(/Conditions:\n\s+TYPE\s+STATUS\s+REASON\s+AGE\s+MESSAGE/);
    expect(described.stdout).toMatch(/ImageMetadataReady\s+True\s+ImageDiscoveryNotSupported/);
    expect(described.stdout).toMatch(/Ready\s+True/);
    expect(described.stdout).toMatch(/Events:\n\s+TYPE\s+REASON\s+AGE\s+MESSAGE\n\s+(Normal|Warning)\s+\S+/);
    expect(described.stdout).toContain(`Workflow:      aim/AIMModel/${orch.namespace}/llama-image`);
    expect(described.stdout).toContain(
      `Temporal UI:   http://temporal-ui.test:8233/namespaces/${inject('temporalNamespace')}/workflows/aim%2FAIMModel%2F${orch.namespace}%2Fllama-image`,
    );
    expect(described.stdout).toMatch(/Current step:  \S+ \/ \S+/);
  });

  it('an invalid manifest exits 65 with field paths and creates nothing (not even its valid neighbours)', async () => {
    const good = {
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModel',
      metadata: { name: 'fine-model' },
      spec: { image: 'ghcr.io/silogen/llama:2' },
    };
    const bad = example('aimservice-custom-s3.yaml');
    bad.metadata = { name: 'broken-svc' };
    (bad.spec.model as any).custom.hardware = {};
    const r = await aimctl('apply', '-f', writeYaml('invalid.yaml', [good, bad]));
    expect(r.code).toBe(EXIT.invalid);
    expect(r.stderr).toContain('document 2 (AIMService broken-svc) is invalid:');
    expect(r.stderr).toMatch(/spec\.model\.custom\.hardware: /);
    expect(await orch.objects.get(RESOURCES.AIMModel, 'fine-model', orch.namespace)).toBeUndefined();
    expect(await orch.objects.get(RESOURCES.AIMService, 'broken-svc', orch.namespace)).toBeUndefined();
    expect((await aimctl('get', 'aimsvc', 'broken-svc')).code).toBe(EXIT.failure);
  });

  it('delete --force removes an AIMService held by its finalizer and its InferenceService', async () => {
    const svc = example('aimservice-by-name.yaml');
    svc.metadata = { name: 'held-svc', namespace: orch.namespace, finalizers: ['aim.silogen.ai/cleanup'] };
    // Created directly, with no workflow: nothing would ever remove the finalizer.
    await orch.objects.create(RESOURCES.AIMService, svc as never, { fieldManager: 'test' });
    await orch.objects.create(RESOURCES.InferenceService, {
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      metadata: { name: 'held-svc', namespace: orch.namespace },
      spec: { predictor: { containers: [{ name: 'kserve-container', image: 'x' }] } },
    } as never);

    const plain = await aimctl('delete', 'aimsvc', 'held-svc');
    expect(plain.code).toBe(EXIT.ok);
    expect(plain.stdout).toContain('deletion requested');
    const terminating = await orch.objects.get<any>(RESOURCES.AIMService, 'held-svc', orch.namespace);
    expect(terminating.metadata.deletionTimestamp).toBeTruthy();

    const forced = await aimctl('delete', 'aimsvc', 'held-svc', '--force');
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(EXIT.ok);
    expect(forced.stdout).toContain('aimservice.aim.silogen.ai/held-svc deleted');
    expect(await orch.objects.get(RESOURCES.AIMService, 'held-svc', orch.namespace)).toBeUndefined();
    // Deleted by aimctl; KServe's own finalizer on it goes when its controller gets to it (a moment under load).
    await waitFor(
      'the InferenceService gone',
      async () => ((await orch.objects.get(RESOURCES.InferenceService, 'held-svc', orch.namespace)) ? undefined : true),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  });

  it('get caches --unused lists Shared caches that no AIMService lists in status.caches', async () => {
    const cache = (name: string) => ({
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModelCache',
      metadata: { name, namespace: orch.namespace, labels: { 'aim.silogen.ai/cache-mode': 'shared' } },
      spec: { modelId: 'Qwen/Qwen2-0.5B', sourceUri: `s3://models/${name}`, size: '1Gi', accessMode: 'ReadWriteMany' },
    });
    await orch.objects.create(RESOURCES.AIMModelCache, cache('shared-used') as never, { fieldManager: 'test' });
    await orch.objects.create(RESOURCES.AIMModelCache, cache('shared-orphan') as never, { fieldManager: 'test' });
    const svc = example('aimservice-by-name.yaml');
    svc.metadata = { name: 'user-svc', namespace: orch.namespace };
    await orch.objects.create(RESOURCES.AIMService, svc as never, { fieldManager: 'test' });
    await orch.objects.applyStatus(
      RESOURCES.AIMService,
      {
        apiVersion: 'aim.silogen.ai/v1alpha1',
        kind: 'AIMService',
        metadata: { name: 'user-svc', namespace: orch.namespace },
        status: { caches: [{ name: 'shared-used', modelId: 'Qwen/Qwen2-0.5B', status: 'Ready' }] },
      } as never,
      { fieldManager: 'test' },
    );
    const r = await aimctl('get', 'caches', '--unused');
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/^NAME\s+MODEL\s+SIZE\s+STATUS\s+LAST USED\s+AGE/);
    expect(r.stdout).toContain('shared-orphan');
    expect(r.stdout).not.toContain('shared-used');
  });

  it('kubectl flags against the API server: apply --dry-run=server, -l, get -w and the SDK watch as real watches', async () => {
    const ns = orch.namespace;
    const imageModel = (name: string, team: string) => ({
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModel',
      metadata: { name, namespace: ns, labels: { team } },
      spec: { image: `ghcr.io/silogen/${name}:1` },
    });
    const setStatus = (name: string, status: string) =>
      orch.objects.applyStatus(
        RESOURCES.AIMModel,
        {
          apiVersion: 'aim.silogen.ai/v1alpha1',
          kind: 'AIMModel',
          metadata: { name, namespace: ns },
          status: { status },
        } as never,
        { fieldManager: 'test' },
      );

    // --dry-run=server: the API server admits the object and keeps nothing; it also checks what only it can (an
    // immutable field of an existing object), and changes nothing then either.
    const dry = await aimctl('apply', '-f', writeYaml('dry.yaml', [imageModel('dry-model', 'x')]), '--dry-run=server');
    expect(dry.stderr).toBe('');
    expect(dry.stdout).toBe('aimmodel.aim.silogen.ai/dry-model applied (server dry run)\n');
    expect(await orch.objects.get(RESOURCES.AIMModel, 'dry-model', ns)).toBeUndefined();
    const cache = (sourceUri: string) => ({
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModelCache',
      metadata: { name: 'dry-cache', namespace: ns },
      spec: { modelId: 'Qwen/Qwen2-0.5B', sourceUri, size: '1Gi', accessMode: 'ReadWriteMany' },
    });
    await orch.objects.create(RESOURCES.AIMModelCache, cache('s3://models/a') as never, { fieldManager: 'test' });
    const moved = await aimctl('apply', '-f', writeYaml('moved.yaml', [cache('s3://models/b')]), '--dry-run=server');
    expect(moved.code).toBe(EXIT.invalid);
    expect(moved.stderr).toContain('sourceUri is immutable');
    const kept = await orch.objects.get<any>(RESOURCES.AIMModelCache, 'dry-cache', ns);
    expect(kept.spec.sourceUri).toBe('s3://models/a');

    // -l: only the labelled objects.
    await orch.objects.create(RESOURCES.AIMModel, imageModel('watch-a', 'a') as never, { fieldManager: 'test' });
    await orch.objects.create(RESOURCES.AIMModel, imageModel('other-b', 'b') as never, { fieldManager: 'test' });
    expect((await aimctl('get', 'aimmdl', '-l', 'team=a', '-o', 'name')).stdout).toBe(
      'aimmodel.aim.silogen.ai/watch-a\n',
    );
    expect(
      (await aimctl('get', 'aimmdl', '-l', 'team in (a,b)', '-o', 'jsonpath={.items[*].metadata.name}')).stdout,
    ).toBe('other-b watch-a\n');

    // get -w: the list, then a row per event of the watch (selector applied by the server), until Ctrl-C.
    const stop = new AbortController();
    let out = '';
    let errors = '';
    const watching = run(['get', 'aimmdl', '-l', 'team=a', '-w', '-n', ns], {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (errors += t) },
      env: { KUBECONFIG: inject('kubeconfigPath') },
      signal: stop.signal,
    });
    await waitFor(
      'the initial list',
      async () => (/^NAME\s+STATUS/.test(out) && out.includes('watch-a') ? true : undefined),
      {
        timeoutMs: 20_000,
        intervalMs: 50,
      },
    );
    await setStatus('watch-a', 'Ready');
    await orch.objects.create(RESOURCES.AIMModel, imageModel('watch-a2', 'a') as never, { fieldManager: 'test' });
    await setStatus('other-b', 'Ready'); // not selected: never printed
    await waitFor('the watched rows', async () => (/^watch-a2\s/m.test(out) ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    stop.abort();
    expect(await watching).toBe(EXIT.ok);
    expect(errors).toBe('');
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+STATUS/);
    expect(lines.filter((l) => /^NAME\s/.test(l))).toHaveLength(1);
    expect(lines.some((l) => /^watch-a\s+Ready\s/.test(l))).toBe(true);
    expect(out).not.toContain('other-b');

    // The SDK's watch: a snapshot per status change, the end when the object is deleted.
    const sdk = new AimClient({ kubeConfig: orch.kc, namespace: ns });
    const snaps: StatusSnapshot[] = [];
    const following = (async () => {
      for await (const snap of sdk.watch('AIMModel', 'watch-a2')) snaps.push(snap);
    })();
    await waitFor('the first snapshot', async () => (snaps.length > 0 ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    await setStatus('watch-a2', 'Progressing');
    await waitFor('the status change', async () => (snaps.length > 1 ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    await orch.objects.delete(RESOURCES.AIMModel, 'watch-a2', ns);
    await following;
    expect(snaps.map((x) => (x.exists ? (x.status?.status ?? 'none') : 'gone'))).toEqual([
      'none',
      'Progressing',
      'gone',
    ]);
  });
});
