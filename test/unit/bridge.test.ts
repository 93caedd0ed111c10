import { describe, expect, it } from 'vitest';
import { diffList } from '../../bridge/informer.js';
import {
  parseWorkflowId,
  route,
  serviceUses,
  waitsOnSecret,
  type BridgeObject,
  type EventType,
  type RoutingContext,
  type Target,
  type WatchedKind,
} from '../../bridge/routing.js';

const NS = 'team-a';
const ctx = (exists: string[] = [], dependents: Target[] = []): RoutingContext => ({
  exists: (t) => exists.includes(`${t.kind}/${t.name}`),
  hardwareDependents: () => dependents,
});

function obj(over: {
  name?: string;
  namespace?: string | null;
  generation?: number;
  rv?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  owners?: Array<{ apiVersion: string; kind: string; name: string; controller?: boolean }>;
  deleting?: boolean;
  status?: unknown;
}): BridgeObject {
  return {
    metadata: {
      name: over.name ?? 'x',
      ...(over.namespace === null ? {} : { namespace: over.namespace ?? NS }),
      uid: 'uid-1',
      generation: over.generation ?? 1,
      resourceVersion: over.rv ?? '10',
      ...(over.labels ? { labels: over.labels } : {}),
      ...(over.annotations ? { annotations: over.annotations } : {}),
      ...(over.owners ? { ownerReferences: over.owners } : {}),
      ...(over.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    ...(over.status !== undefined ? { status: over.status } : {}),
  };
}

const summary = (kind: WatchedKind, type: EventType, old: BridgeObject | undefined, o: BridgeObject, c = ctx()) =>
  route(kind, type, old, o, c).map(
    (s) =>
      `${s.signal}${s.start ? '+start' : ''} ${s.target.kind}/${s.target.namespace ? `${s.target.namespace}/` : ''}${s.target.name}`,
  );

const svcOwner = { apiVersion: 'aim.silogen.ai/v1alpha1', kind: 'AIMService', name: 'chat', controller: true };
const cacheOwner = { apiVersion: 'aim.silogen.ai/v1alpha1', kind: 'AIMModelCache', name: 'c1', controller: true };

describe('bridge routing (spec section 9)', () => {
  it.each<[string, WatchedKind, EventType, BridgeObject | undefined, BridgeObject, string[]]>([
    [
      'added → changed (signal-with-start)',
      'AIMService',
      'ADDED',
      undefined,
      obj({ name: 'chat' }),
      [`changed+start AIMService/${NS}/chat`],
    ],
    [
      'generation bump → changed',
      'AIMModel',
      'MODIFIED',
      obj({ name: 'm' }),
      obj({ name: 'm', generation: 2, rv: '11' }),
      [`changed+start AIMModel/${NS}/m`],
    ],
    [
      'status-only update → nothing for its own workflow',
      'AIMService',
      'MODIFIED',
      obj({ name: 'chat' }),
      obj({ name: 'chat', rv: '11', status: { status: 'Running' } }),
      [],
    ],
    [
      'retry annotation → retry',
      'AIMService',
      'MODIFIED',
      obj({ name: 'chat' }),
      obj({ name: 'chat', rv: '11', annotations: { 'aim.silogen.ai/retry': '1700000000' } }),
      [`retry+start AIMService/${NS}/chat`],
    ],
    [
      'other annotation → nothing',
      'AIMService',
      'MODIFIED',
      obj({ name: 'chat' }),
      obj({ name: 'chat', rv: '11', annotations: { note: 'x' } }),
      [],
    ],
    [
      'deletionTimestamp set → deleted (plain signal, even with a generation bump)',
      'AIMService',
      'MODIFIED',
      obj({ name: 'chat' }),
      obj({ name: 'chat', rv: '11', generation: 2, deleting: true }),
      [`deleted AIMService/${NS}/chat`],
    ],
    [
      'finalizer removed while deleting → nothing more',
      'AIMService',
      'MODIFIED',
      obj({ name: 'chat', deleting: true }),
      obj({ name: 'chat', rv: '12', deleting: true }),
      [],
    ],
    [
      'deleted without a finalizer → deleted',
      'AIMModelCache',
      'DELETED',
      obj({ name: 'c1' }),
      obj({ name: 'c1' }),
      [`deleted AIMModelCache/${NS}/c1`],
    ],
    [
      'relisted while being deleted → changed (start) and deleted',
      'AIMService',
      'ADDED',
      undefined,
      obj({ name: 'chat', deleting: true }),
      [`changed+start AIMService/${NS}/chat`, `deleted AIMService/${NS}/chat`],
    ],
    [
      'cluster-scoped model added',
      'AIMClusterModel',
      'ADDED',
      undefined,
      obj({ name: 'cm', namespace: null }),
      ['changed+start AIMClusterModel/cm'],
    ],
    [
      'owned Job status change → dependencyChanged to the cache',
      'Job',
      'MODIFIED',
      obj({ name: 'c1-download-1', owners: [cacheOwner] }),
      obj({ name: 'c1-download-1', rv: '11', owners: [cacheOwner], status: { succeeded: 1 } }),
      [`dependencyChanged+start AIMModelCache/${NS}/c1`],
    ],
    [
      'owned and labelled InferenceService → one dependencyChanged to the service',
      'InferenceService',
      'MODIFIED',
      obj({ name: 'chat', owners: [svcOwner], labels: { 'aim.silogen.ai/service': 'chat' } }),
      obj({
        name: 'chat',
        rv: '11',
        owners: [svcOwner],
        labels: { 'aim.silogen.ai/service': 'chat' },
        status: { ready: true },
      }),
      [`dependencyChanged+start AIMService/${NS}/chat`],
    ],
    [
      'labelled-only InferenceService → dependencyChanged to the service',
      'InferenceService',
      'MODIFIED',
      obj({ name: 'chat', labels: { 'aim.silogen.ai/service': 'chat' } }),
      obj({ name: 'chat', rv: '11', labels: { 'aim.silogen.ai/service': 'chat' }, status: { ready: true } }),
      [`dependencyChanged+start AIMService/${NS}/chat`],
    ],
    [
      'a shared model gaining an owner entry wakes nobody (only bookkeeping changed)',
      'AIMModel',
      'MODIFIED',
      obj({ name: 'm', owners: [svcOwner] }),
      obj({ name: 'm', rv: '11', owners: [svcOwner, { ...svcOwner, name: 'chat-2', controller: false }] }),
      [],
    ],
    [
      'dedicated cache turning Ready: nothing to itself, dependencyChanged to its service',
      'AIMModelCache',
      'MODIFIED',
      obj({ name: 'c1', owners: [svcOwner] }),
      obj({ name: 'c1', rv: '11', owners: [svcOwner], status: { status: 'Ready' } }),
      [`dependencyChanged+start AIMService/${NS}/chat`],
    ],
    [
      'generated template: no workflow of its own, its model is woken',
      'AIMServiceTemplate',
      'ADDED',
      undefined,
      obj({
        name: 't1',
        labels: { 'aim.silogen.ai/origin': 'auto-generated', 'aim.silogen.ai/model': 'm' },
        owners: [{ apiVersion: 'aim.silogen.ai/v1alpha1', kind: 'AIMModel', name: 'm', controller: true }],
      }),
      [`dependencyChanged+start AIMModel/${NS}/m`],
    ],
    [
      'hand-made template: its own workflow',
      'AIMServiceTemplate',
      'ADDED',
      undefined,
      obj({ name: 't2' }),
      [`changed+start AIMServiceTemplate/${NS}/t2`],
    ],
    [
      'auto-created model owned by two services: both woken, itself only on generation change',
      'AIMModel',
      'MODIFIED',
      obj({ name: 'm', owners: [svcOwner, { ...svcOwner, name: 'chat-2', controller: false }] }),
      obj({ name: 'm', rv: '11', owners: [svcOwner, { ...svcOwner, name: 'chat-2', controller: false }], status: {} }),
      [`dependencyChanged+start AIMService/${NS}/chat`, `dependencyChanged+start AIMService/${NS}/chat-2`],
    ],
    [
      'foreign owners are ignored',
      'PersistentVolumeClaim',
      'MODIFIED',
      obj({ name: 'p', owners: [{ apiVersion: 'apps/v1', kind: 'AIMService', name: 'chat' }] }),
      obj({ name: 'p', rv: '11', owners: [{ apiVersion: 'apps/v1', kind: 'AIMService', name: 'chat' }] }),
      [],
    ],
  ])('%s', (_name, kind, type, old, o, expected) => {
    expect(
      summary(kind, type, old, o, ctx(['AIMService/chat', 'AIMService/chat-2', 'AIMModelCache/c1', 'AIMModel/m'])),
    ).toEqual(expected);
  });

  it('a dependency whose owner is gone or deleting gets a plain signal, never a start', () => {
    const o = obj({ name: 'chat', owners: [svcOwner] });
    expect(summary('InferenceService', 'DELETED', o, o, ctx())).toEqual([`dependencyChanged AIMService/${NS}/chat`]);
  });

  it('Node allocatable or label changes wake every model and hand-made template workflow; other changes do not', () => {
    const deps: Target[] = [
      { kind: 'AIMModel', name: 'm', namespace: NS },
      { kind: 'AIMClusterModel', name: 'cm' },
      { kind: 'AIMServiceTemplate', name: 't2', namespace: NS },
    ];
    const node = (alloc: Record<string, string>, labels: Record<string, string> = {}, rv = '10') =>
      obj({
        name: 'n1',
        namespace: null,
        rv,
        labels,
        status: { allocatable: alloc, conditions: [{ type: 'Ready', lastHeartbeatTime: rv }] },
      });
    const before = node({ 'amd.com/gpu': '8' });
    expect(summary('Node', 'MODIFIED', before, node({ 'amd.com/gpu': '4' }, {}, '11'), ctx([], deps))).toEqual([
      `dependencyChanged+start AIMModel/${NS}/m`,
      'dependencyChanged+start AIMClusterModel/cm',
      `dependencyChanged+start AIMServiceTemplate/${NS}/t2`,
    ]);
    expect(
      summary('Node', 'MODIFIED', before, node({ 'amd.com/gpu': '8' }, { gpu: 'mi300x' }, '11'), ctx([], deps)),
    ).toHaveLength(3);
    expect(summary('Node', 'MODIFIED', before, node({ 'amd.com/gpu': '8' }, {}, '11'), ctx([], deps))).toEqual([]);
    expect(summary('Node', 'ADDED', undefined, before, ctx([], deps))).toHaveLength(3);
  });

  it('every signal carries uid, generation and resourceVersion', () => {
    const [s] = route('AIMService', 'ADDED', undefined, obj({ name: 'chat', generation: 3, rv: '42' }), ctx());
    expect(s?.nudge).toEqual({ uid: 'uid-1', generation: 3, resourceVersion: '42' });
  });

  it('marks the start of an object no workflow has reported on as fresh (a recreated name ends the old run)', () => {
    const [neu] = route('AIMModelCache', 'ADDED', undefined, obj({ name: 'c' }), ctx());
    expect(neu).toMatchObject({ signal: 'changed', start: true, fresh: true });
    const [seen] = route('AIMModelCache', 'ADDED', undefined, obj({ name: 'c', status: { status: 'Ready' } }), ctx());
    expect(seen).toMatchObject({ signal: 'changed', start: true });
    expect(seen?.fresh).toBeUndefined();
  });

  it('a cache whose download progress or lastUsed stamp moved wakes nobody', () => {
    const owners = [{ apiVersion: 'aim.silogen.ai/v1alpha1', kind: 'AIMService', name: 'chat', controller: true }];
    const before = obj({ name: 'c', owners, status: { status: 'Progressing', progress: { percent: 10 } } });
    const ticked = obj({ name: 'c', owners, rv: '11', status: { status: 'Progressing', progress: { percent: 11 } } });
    const used = obj({
      name: 'c',
      owners,
      rv: '12',
      status: { status: 'Progressing', progress: { percent: 10 }, lastUsed: 'x' },
    });
    expect(route('AIMModelCache', 'MODIFIED', before, ticked, ctx())).toEqual([]);
    expect(route('AIMModelCache', 'MODIFIED', before, used, ctx())).toEqual([]);
    const ready = obj({ name: 'c', owners, rv: '13', status: { status: 'Ready', progress: { percent: 100 } } });
    expect(route('AIMModelCache', 'MODIFIED', before, ready, ctx())).toEqual([
      expect.objectContaining({
        signal: 'dependencyChanged',
        target: { kind: 'AIMService', name: 'chat', namespace: NS },
      }),
    ]);
  });

  it('a Shared cache, a model or a template wakes the services whose status uses it', () => {
    const users = { ...ctx(), usersOf: () => [{ kind: 'AIMService' as const, name: 'user', namespace: NS }] };
    const before = obj({ name: 'shared', status: { status: 'Ready' } });
    const gone = obj({ name: 'shared', rv: '11', status: { status: 'Ready' } });
    expect(route('AIMModelCache', 'DELETED', before, gone, users)).toContainEqual(
      expect.objectContaining({
        signal: 'dependencyChanged',
        target: { kind: 'AIMService', name: 'user', namespace: NS },
      }),
    );
  });

  it.each([
    ['a cache it lists', 'AIMModelCache', obj({ name: 'c1' }), true],
    ['a cache of another namespace', 'AIMModelCache', obj({ name: 'c1', namespace: 'other' }), false],
    ['a cache it does not list', 'AIMModelCache', obj({ name: 'c2' }), false],
    ['its model', 'AIMModel', obj({ name: 'm' }), true],
    ['a cluster model of that name', 'AIMClusterModel', obj({ name: 'm', namespace: null }), false],
    ['a template of its model', 'AIMServiceTemplate', { ...obj({ name: 't' }), spec: { modelName: 'm' } }, true],
    ['a template of another model', 'AIMServiceTemplate', { ...obj({ name: 't' }), spec: { modelName: 'x' } }, false],
  ] as const)('a service uses %s: %s', (_, kind, o, expected) => {
    const svc = obj({
      name: 'svc',
      status: { resolvedModel: { kind: 'AIMModel', name: 'm', namespace: NS }, caches: [{ name: 'c1' }] },
    });
    expect(serviceUses(svc, kind, o as never)).toBe(expected);
  });

  it('parses workflow IDs', () => {
    expect(parseWorkflowId(`aim/AIMService/${NS}/chat`)).toEqual({ kind: 'AIMService', name: 'chat', namespace: NS });
    expect(parseWorkflowId('aim/AIMClusterModel/cm')).toEqual({ kind: 'AIMClusterModel', name: 'cm' });
    expect(parseWorkflowId('aim/AIMService/chat')).toBeUndefined();
    expect(parseWorkflowId('aim/submit/123')).toBeUndefined();
    expect(parseWorkflowId('other/AIMService/a/b')).toBeUndefined();
  });

  it('a relist diffs against the cache: new → ADDED, changed → MODIFIED, missing → DELETED', () => {
    const a = obj({ name: 'a' });
    const b = obj({ name: 'b' });
    const prev = new Map([
      [`${NS}/a`, a],
      [`${NS}/b`, b],
    ]);
    const out = diffList(
      prev,
      [obj({ name: 'a' }), obj({ name: 'c' }), obj({ name: 'b', rv: '11' })].filter((o) => o.metadata?.name !== 'b'),
    );
    expect(out.map((e) => `${e.type} ${e.obj.metadata?.name}`)).toEqual(['ADDED c', 'DELETED b']);
    expect(diffList(prev, [a, obj({ name: 'b', rv: '11' })]).map((e) => e.type)).toEqual(['MODIFIED']);
  });
});

describe('a Secret created or edited retries what waits on a credential (spec 7: re-checked at once on a fix)', () => {
  const waiting: Target[] = [
    { kind: 'AIMModelCache', name: 'c1', namespace: NS },
    { kind: 'AIMModel', name: 'm1', namespace: NS },
  ];
  const secretCtx = (): RoutingContext => ({
    ...ctx(),
    waitingOnSecret: (namespace) => (namespace === NS ? waiting : []),
  });
  const secret = (rv: string) => obj({ name: 's3-creds', rv });

  it.each<[EventType, BridgeObject | undefined]>([
    ['ADDED', undefined],
    ['MODIFIED', secret('1')],
  ])('%s: retry to every waiting object of the namespace, never a start', (type, old) => {
    const sends = route('Secret', type, old, secret('2'), secretCtx());
    expect(sends.map((s) => [s.signal, s.target.kind, s.target.name, s.start])).toEqual([
      ['retry', 'AIMModelCache', 'c1', false],
      ['retry', 'AIMModel', 'm1', false],
    ]);
  });

  it('a deleted Secret fixes nothing', () => {
    expect(route('Secret', 'DELETED', secret('1'), secret('1'), secretCtx())).toEqual([]);
  });

  it('another namespace, or nothing waiting: no signal', () => {
    expect(route('Secret', 'ADDED', undefined, obj({ name: 's', namespace: 'other' }), secretCtx())).toEqual([]);
    expect(route('Secret', 'ADDED', undefined, secret('2'), ctx())).toEqual([]);
  });

  it.each([
    ['Ready=False SecretNotFound', [{ type: 'Ready', status: 'False', reason: 'SecretNotFound' }], true],
    ['AuthValid=False AuthFailed', [{ type: 'AuthValid', status: 'False', reason: 'AuthFailed' }], true],
    ['Ready=False GatedModel', [{ type: 'Ready', status: 'False', reason: 'GatedModel' }], true],
    ['Ready=False SourceNotFound', [{ type: 'Ready', status: 'False', reason: 'SourceNotFound' }], false],
    ['AuthValid=True', [{ type: 'AuthValid', status: 'True', reason: 'SecretsFound' }], false],
    ['no status', undefined, false],
  ])('waits on a Secret when %s: %s', (_, conditions, expected) => {
    expect(waitsOnSecret(obj({ status: conditions ? { conditions } : undefined }))).toBe(expected);
  });
});

describe('a retry annotation on an object whose deletion is stuck', () => {
  it('sends retry (never a start); other edits of a deleting object send nothing', () => {
    const deletingSvc = (retry?: string, rv = '11') =>
      obj({ name: 'svc', rv, deleting: true, ...(retry ? { annotations: { 'aim.silogen.ai/retry': retry } } : {}) });
    const sends = route(
      'AIMService',
      'MODIFIED',
      deletingSvc(undefined, '10'),
      deletingSvc('1'),
      ctx(['AIMService/svc']),
    );
    expect(sends.filter((s) => s.target.kind === 'AIMService').map((s) => [s.signal, s.start])).toEqual([
      ['retry', false],
    ]);
    const quiet = route('AIMService', 'MODIFIED', deletingSvc('1', '10'), deletingSvc('1'), ctx(['AIMService/svc']));
    expect(quiet.filter((s) => s.target.kind === 'AIMService' && s.signal !== 'dependencyChanged')).toEqual([]);
  });
});
