/* eslint-disable @typescript-eslint/no-explicit-any -- fakes record loosely typed calls */
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { ResourceRef } from '../../activities/kube/resources.js';
import {
  AimClient,
  ManifestInvalidError,
  RETRY_FIELD_MANAGER,
  type ObjectStore,
  type ObjectWatcher,
  type WatchEvent,
  type WatchQuery,
} from '../../client/sdk.js';
import { listDifferences } from '../../client/watch.js';
import { example } from '../cases/examples.js';

/** The SDK against an in-memory object store and a recording Temporal client: ordering and shapes, no servers. */
function fakeStore() {
  const objects = new Map<string, any>();
  const calls: Array<{ op: string; plural: string; body?: any; opts?: any; name?: string; namespace?: string }> = [];
  const key = (res: ResourceRef, name: string, ns?: string) => `${res.plural}/${ns ?? ''}/${name}`;
  let uid = 0;
  const store: ObjectStore = {
    async get<T extends KubernetesObject>(res: ResourceRef, name: string, namespace?: string) {
      calls.push({ op: 'get', plural: res.plural, name, ...(namespace ? { namespace } : {}) });
      const o = objects.get(key(res, name, namespace));
      return o ? (structuredClone(o) as T) : undefined;
    },
    async apply<T extends KubernetesObject>(res: ResourceRef, body: T, opts?: { fieldManager?: string }) {
      calls.push({ op: 'apply', plural: res.plural, body: structuredClone(body), opts });
      const b = body as any;
      const k = key(res, b.metadata.name, b.metadata.namespace);
      const prev = objects.get(k);
      const merged = {
        ...prev,
        ...b,
        metadata: {
          ...prev?.metadata,
          ...b.metadata,
          uid: prev?.metadata?.uid ?? `uid-${++uid}`,
          generation: (prev?.metadata?.generation ?? 0) + 1,
          resourceVersion: String(uid * 10 + calls.length),
          annotations: { ...prev?.metadata?.annotations, ...b.metadata.annotations },
        },
      };
      objects.set(k, merged);
      return structuredClone(merged) as T;
    },
    async replace<T extends KubernetesObject>(res: ResourceRef, body: T) {
      calls.push({ op: 'replace', plural: res.plural, body: structuredClone(body) });
      const b = body as any;
      objects.set(key(res, b.metadata.name, b.metadata.namespace), structuredClone(b));
      return body;
    },
    async delete(res: ResourceRef, name: string, namespace?: string) {
      calls.push({ op: 'delete', plural: res.plural, name, ...(namespace ? { namespace } : {}) });
      const k = key(res, name, namespace);
      const o = objects.get(k);
      if (!o) return;
      if (o.metadata.finalizers?.length) o.metadata.deletionTimestamp = new Date().toISOString();
      else objects.delete(k);
    },
    async list<T extends KubernetesObject>(res: ResourceRef, namespace?: string) {
      calls.push({ op: 'list', plural: res.plural, ...(namespace ? { namespace } : {}) });
      return [...objects.entries()]
        .filter(([k]) => k.startsWith(`${res.plural}/${namespace ?? ''}`))
        .map(([, v]) => structuredClone(v) as T);
    },
  };
  return { store, objects, calls };
}

function fakeTemporal() {
  const starts: any[] = [];
  const signals: any[] = [];
  const client = {
    workflow: {
      signalWithStart: async (type: string, opts: any) => void starts.push({ type, ...opts }),
      getHandle: (id: string) => ({
        describe: async () => ({ status: { name: 'RUNNING' }, runId: 'run-1', memo: {} }),
        signal: async (name: string, arg: unknown) => void signals.push({ id, name, arg }),
        query: async () => ({ phase: 'Templates', step: 'applyModelTemplates', attempt: 1 }),
      }),
    },
  } as unknown as Client;
  return { temporalClient: client, starts, signals };
}

function makeClient(withTemporal = true) {
  const s = fakeStore();
  const t = fakeTemporal();
  const client = new AimClient({
    kubeConfig: new KubeConfig(),
    objects: s.store,
    namespace: 'team-a',
    ...(withTemporal ? { temporal: { client: t.temporalClient, taskQueue: 'aim-test' } } : {}),
  });
  return { client, ...s, ...t };
}

describe('AimClient.apply', () => {
  it('validates first: an invalid manifest throws with every path: message and nothing is sent', async () => {
    const { client, calls, starts } = makeClient();
    const bad = example('aimservice-custom-s3.yaml');
    (bad.spec.model as any).image = 'x';
    bad.spec.replicas = 0;
    const err = await client.apply(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestInvalidError);
    expect((err as ManifestInvalidError).errors.map((e) => e.path)).toEqual(
      expect.arrayContaining(['spec.model', 'spec.replicas']),
    );
    expect((err as Error).message).toContain('spec.model: exactly one of name, image, or custom must be specified');
    expect(calls).toEqual([]);
    expect(starts).toEqual([]);
  });

  it('applyAll applies nothing when any manifest is invalid', async () => {
    const { client, calls } = makeClient();
    const good = example('aimmodel-s3-custom-templates.yaml');
    await expect(client.applyAll([good, { kind: 'AIMModel', metadata: { name: 'x' } }])).rejects.toThrow(
      ManifestInvalidError,
    );
    expect(calls).toEqual([]);
  });

  it('server-side applies the manifest as written (namespace filled in, no status) under aimctl, then nudges', async () => {
    const { client, calls, starts } = makeClient();
    const m = example('aimservice-custom-s3.yaml');
    (m as any).status = { status: 'Running' };
    const r = await client.apply(m);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ op: 'apply', plural: 'aimservices', opts: { fieldManager: 'aimctl' } });
    expect(calls[0]!.body.metadata).toEqual({ name: 'qwen-chat', namespace: 'team-a' });
    expect(calls[0]!.body.status).toBeUndefined();
    expect(calls[0]!.body.spec).toEqual(m.spec); // CRD defaults stay the API server's: not the zod output
    expect(r).toMatchObject({
      kind: 'AIMService',
      name: 'qwen-chat',
      namespace: 'team-a',
      workflowId: 'aim/AIMService/team-a/qwen-chat',
    });
    expect(starts).toEqual([
      expect.objectContaining({
        type: 'serviceLifecycle',
        workflowId: 'aim/AIMService/team-a/qwen-chat',
        taskQueue: 'aim-test',
        args: [{ name: 'qwen-chat', namespace: 'team-a' }],
        signalArgs: [expect.objectContaining({ uid: 'uid-1', generation: 1 })],
      }),
    ]);
    expect(starts[0].signal.name).toBe('changed');
  });

  it('without Temporal it only applies', async () => {
    const { client, starts } = makeClient(false);
    const r = await client.apply(example('aimmodel-s3-custom-templates.yaml'));
    expect(r.workflowId).toBeUndefined();
    expect(starts).toEqual([]);
  });

  it('cluster-scoped kinds get no namespace', async () => {
    const { client, calls, starts } = makeClient();
    const m = example('aimclustermodel-hf.yaml');
    await client.apply(m);
    expect(calls[0]!.body.metadata.namespace).toBeUndefined();
    expect(starts[0].workflowId).toBe(`aim/AIMClusterModel/${m.metadata.name}`);
  });
});

describe('AimClient.retry, watch, delete, plan', () => {
  it('retry sets the annotation under its own field manager and signals retry', async () => {
    const { client, calls, starts } = makeClient();
    await client.apply(example('aimmodel-s3-custom-templates.yaml'));
    const at = await client.retry('AIMModel', 'qwen-small');
    const applyCall = calls.filter((c) => c.op === 'apply').at(-1)!;
    expect(applyCall.opts).toEqual({ fieldManager: RETRY_FIELD_MANAGER });
    expect(applyCall.body).toEqual({
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModel',
      metadata: { name: 'qwen-small', namespace: 'team-a', annotations: { 'aim.silogen.ai/retry': at } },
    });
    expect(starts.at(-1).signal.name).toBe('retry');
    await expect(client.retry('AIMModel', 'nope')).rejects.toThrow(/not found/);
  });

  it('watch follows a Kubernetes watch on the name: a snapshot per status change, ends when aborted or gone', async () => {
    const model = (rv: string, status?: string) => ({
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModel',
      metadata: { name: 'qwen-small', namespace: 'team-a', resourceVersion: rv, generation: 1 },
      ...(status ? { status: { status } } : {}),
    });
    const queries: WatchQuery[] = [];
    const scripted =
      (events: WatchEvent[]): ObjectWatcher =>
      (_res, query) => {
        queries.push(query);
        return (async function* () {
          for (const e of events) yield e as never;
          // A real watch stays open until aborted.
          if (!query.signal?.aborted)
            await new Promise((resolve) => query.signal?.addEventListener('abort', resolve, { once: true }));
        })();
      };
    const clientWith = (watcher: ObjectWatcher) =>
      new AimClient({ kubeConfig: new KubeConfig(), objects: fakeStore().store, namespace: 'team-a', watcher });

    const ac = new AbortController();
    const seen: string[] = [];
    const following = clientWith(
      scripted([
        { type: 'ADDED', object: model('1') },
        { type: 'SYNCED' },
        { type: 'MODIFIED', object: model('2') }, // same status: no snapshot
        { type: 'MODIFIED', object: model('3', 'Progressing') },
        { type: 'MODIFIED', object: model('4', 'Ready') },
      ]),
    );
    for await (const snap of following.watch('AIMModel', 'qwen-small', undefined, { signal: ac.signal })) {
      seen.push(`${snap.status?.status ?? 'none'}@${snap.resourceVersion}`);
      if (seen.length === 3) ac.abort();
    }
    expect(seen).toEqual(['none@1', 'Progressing@3', 'Ready@4']);
    expect(queries[0]).toMatchObject({ namespace: 'team-a', fieldSelector: 'metadata.name=qwen-small' });
    expect(queries[0]!.signal?.aborted).toBe(true);

    const never = clientWith(scripted([{ type: 'SYNCED' }]));
    const missing: boolean[] = [];
    for await (const snap of never.watch('AIMModel', 'qwen-small')) missing.push(snap.exists);
    expect(missing).toEqual([false]);

    const deleted = clientWith(
      scripted([
        { type: 'ADDED', object: model('1', 'Ready') },
        { type: 'SYNCED' },
        { type: 'DELETED', object: model('5') },
      ]),
    );
    const ends: boolean[] = [];
    for await (const snap of deleted.watch('AIMModel', 'qwen-small')) ends.push(snap.exists);
    expect(ends).toEqual([true, false]);
    expect(queries.at(-1)!.signal?.aborted).toBe(true); // leaving the loop closed the watch
  });

  it('delete --force deletes the InferenceService and removes the cleanup finalizer under the finalizer manager', async () => {
    const { client, calls, objects } = makeClient(false);
    await client.apply(example('aimservice-custom-s3.yaml'));
    const svc = objects.get('aimservices/team-a/qwen-chat');
    svc.metadata.finalizers = ['aim.silogen.ai/cleanup'];
    objects.set('inferenceservices/team-a/qwen-chat', { metadata: { name: 'qwen-chat', namespace: 'team-a' } });

    expect(await client.delete('AIMService', 'qwen-chat')).toBe(false); // waits on the finalizer
    expect(objects.has('inferenceservices/team-a/qwen-chat')).toBe(true);

    await client.delete('AIMService', 'qwen-chat', undefined, { force: true });
    expect(objects.has('inferenceservices/team-a/qwen-chat')).toBe(false);
    const fin = calls.find((c) => c.op === 'apply' && c.opts?.fieldManager === 'aim-orchestrator/finalizer');
    expect(fin?.body.metadata).toEqual({
      name: 'qwen-chat',
      namespace: 'team-a',
      uid: svc.metadata.uid,
      finalizers: [],
    });
  });

  it('plan uses the existing UID for Dedicated cache names, and never writes', async () => {
    const { client, calls } = makeClient(false);
    const m = example('aimservice-custom-s3.yaml');
    const before = await client.plan(m);
    expect(before.caches[0]!.name).toBe('qwen-chat-qwen-qwen2-0-5b-<uid-hash>');
    expect(before.namespace).toBe('team-a');
    await client.apply(m);
    const after = await client.plan(m);
    expect(after.caches[0]!.name).toMatch(/^qwen-chat-qwen-qwen2-0-5b-[0-9a-f]{8}$/);
    expect(after.model).toEqual(before.model);
    expect(calls.filter((c) => c.op !== 'get' && c.op !== 'apply')).toEqual([]);
    expect(calls.filter((c) => c.op === 'apply')).toHaveLength(1);
  });

  it('progress comes from the workflow query when Temporal is configured', async () => {
    expect(await makeClient(true).client.progress('AIMModel', 'm')).toMatchObject({ step: 'applyModelTemplates' });
    expect(await makeClient(false).client.progress('AIMModel', 'm')).toBeUndefined();
  });
});

describe('watch relists', () => {
  it('turn a fresh list into the events missed while the watch was gone (410)', () => {
    const obj = (name: string, rv: string) => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });
    const had = new Map([
      ['ns/kept', obj('kept', '1')],
      ['ns/changed', obj('changed', '2')],
      ['ns/removed', obj('removed', '3')],
    ]);
    const events = listDifferences(had, [obj('kept', '1'), obj('changed', '7'), obj('new', '8')]);
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      'MODIFIED changed',
      'ADDED new',
      'DELETED removed',
    ]);
  });
});
