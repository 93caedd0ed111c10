import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HEADROOM_PERCENT,
  buildCachePvc,
  cacheDisplaySize,
  cacheModeOf,
  cacheSizeBytes,
  accessModeToWrite,
  chooseAccessMode,
  desiredCaches,
  downloadEnv,
  type DesiredCachesInput,
} from '../../domain/caches.js';
import { buildCustomModel } from '../../domain/customModel.js';
import { cacheName, pvcName } from '../../domain/naming.js';
import { cacheSpec } from '../../schemas/cache.js';
import { validateObject } from '../../schemas/validate.js';
import type { AIMModelSource, AIMServiceSpec, EnvVar } from '../../schemas/types.js';

const secret = (name: string, key: string) => ({ valueFrom: { secretKeyRef: { name, key } } });
const GiB = 1n << 30n;

const s3Source: AIMModelSource = {
  modelId: 'Qwen/Qwen2-0.5B',
  sourceUri: 's3://models/qwen',
  size: '1Gi',
  env: [
    { name: 'AWS_ENDPOINT_URL', value: 'http://minio:9000' },
    { name: 'AWS_ACCESS_KEY_ID', ...secret('s3', 'id') },
  ],
};
const hfSource: AIMModelSource = { modelId: 'org/tokenizer', sourceUri: 'hf://org/tokenizer' };

const serviceSpec = (over: Partial<AIMServiceSpec> = {}): AIMServiceSpec => ({
  model: { name: 'qwen' },
  caching: { mode: 'Dedicated' },
  replicas: 1,
  ...over,
});

const input = (spec: Partial<AIMServiceSpec> = {}, over: Partial<DesiredCachesInput> = {}): DesiredCachesInput => ({
  service: { metadata: { name: 'chat', namespace: 'team', uid: 'uid-chat' }, spec: serviceSpec(spec) },
  modelSources: [s3Source, hfSource],
  template: {
    resolvedHardware: { gpu: { requests: 1, models: ['MI300X'], resourceName: 'amd.com/gpu' } },
    resolvedNodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          {
            matchExpressions: [
              { key: 'amd.com/gpu.product-name', operator: 'In', values: ['AMD_Instinct_MI300X_OAM'] },
            ],
          },
        ],
      },
    },
  },
  ...over,
});

const envMap = (env: EnvVar[] | undefined) =>
  Object.fromEntries((env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

describe('desired caches', () => {
  it('are one per source of the model', () => {
    const caches = desiredCaches(input());
    expect(caches.map((c) => c.spec.modelId)).toEqual(['Qwen/Qwen2-0.5B', 'org/tokenizer']);
    expect(caches.map((c) => c.spec.sourceUri)).toEqual(['s3://models/qwen', 'hf://org/tokenizer']);
    expect(caches[0]!.spec.size).toBe('1Gi');
    expect(caches[1]!.spec).not.toHaveProperty('size');
  });

  it('are Dedicated by default: named for the service, labelled with it and owned by it', () => {
    const [cache] = desiredCaches(input());
    expect(cache!.metadata.name).toBe(
      cacheName({
        source: { modelId: s3Source.modelId, sourceUri: s3Source.sourceUri, env: s3Source.env },
        serviceUid: 'uid-chat',
        serviceName: 'chat',
      }),
    );
    expect(cache!.metadata.name).toMatch(/^chat-qwen-qwen2-0-5b-[0-9a-f]{8}$/);
    expect(cache!.metadata.labels).toEqual({
      'aim.silogen.ai/cache-mode': 'dedicated',
      'aim.silogen.ai/service': 'chat',
      'app.kubernetes.io/managed-by': 'aim-orchestrator',
      'aim.silogen.ai/naming': 'v1',
    });
    expect(cache!.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'aim.silogen.ai/v1alpha1',
        kind: 'AIMService',
        name: 'chat',
        uid: 'uid-chat',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(cache!.metadata.namespace).toBe('team');
  });

  it('are Shared by identity: no service in the name, no service label, no owner', () => {
    const shared = desiredCaches(input({ caching: { mode: 'Shared' } }));
    const fromOther = desiredCaches({
      ...input({ caching: { mode: 'Shared' } }),
      service: {
        metadata: { name: 'other', namespace: 'team', uid: 'uid-other' },
        spec: serviceSpec({ caching: { mode: 'Shared' } }),
      },
    });
    expect(shared[0]!.metadata.name).toMatch(/^qwen-qwen2-0-5b-[0-9a-f]{8}$/);
    expect(shared.map((c) => c.metadata.name)).toEqual(fromOther.map((c) => c.metadata.name));
    expect(shared[0]!.metadata.labels).toEqual({
      'aim.silogen.ai/cache-mode': 'shared',
      'app.kubernetes.io/managed-by': 'aim-orchestrator',
      'aim.silogen.ai/naming': 'v1',
    });
    expect(shared[0]!.metadata).not.toHaveProperty('ownerReferences');
  });

  it('fall back to Dedicated for the sources named in dedicatedFor', () => {
    const caches = desiredCaches(input({ caching: { mode: 'Shared' } }, { dedicatedFor: ['org/tokenizer'] }));
    expect(caches.map((c) => cacheModeOf(c))).toEqual(['Shared', 'Dedicated']);
    expect(caches[1]!.metadata.ownerReferences).toHaveLength(1);
  });

  it('put the storage class into the name', () => {
    const plain = desiredCaches(input({ caching: { mode: 'Shared' } }))[0]!;
    const fast = desiredCaches(input({ caching: { mode: 'Shared' }, storage: { storageClassName: 'fast' } }))[0]!;
    expect(fast.metadata.name).not.toBe(plain.metadata.name);
    expect(fast.spec.storageClassName).toBe('fast');
    expect(plain.spec).not.toHaveProperty('storageClassName');
  });

  it('name caches by the endpoint the download really uses', () => {
    const a = desiredCaches(input({ caching: { mode: 'Shared' } }))[0]!;
    const b = desiredCaches(
      input(
        { caching: { mode: 'Shared' }, env: [{ name: 'AWS_ENDPOINT_URL', value: 'http://other:9000' }] },
        {
          modelSources: [{ ...s3Source, env: [] }],
        },
      ),
    )[0]!;
    const c = desiredCaches(input({ caching: { mode: 'Shared' } }, { modelSources: [{ ...s3Source, env: [] }] }))[0]!;
    expect(new Set([a.metadata.name, b.metadata.name, c.metadata.name]).size).toBe(3);
  });

  it.each([
    ['gives Dedicated caches of one-replica services ReadWriteOnce', { replicas: 1 }, 'ReadWriteOnce'],
    ['gives Dedicated caches of scaled services ReadWriteMany', { replicas: 3 }, 'ReadWriteMany'],
    ['gives Shared caches ReadWriteMany', { replicas: 1, caching: { mode: 'Shared' as const } }, 'ReadWriteMany'],
    [
      'keeps the access mode the service asks for',
      { replicas: 3, storage: { accessMode: 'ReadWriteOncePod' as const } },
      'ReadWriteOncePod',
    ],
  ])('%s', (_name, spec, expected) => {
    expect(desiredCaches(input(spec)).map((c) => c.spec.accessMode)).toEqual([expected, expected]);
  });

  it('never change the access mode of an existing cache when replicas change', () => {
    const before = desiredCaches(input({ replicas: 1 }));
    const after = desiredCaches(input({ replicas: 4 }, { existing: before }));
    expect(after.map((c) => c.spec.accessMode)).toEqual(['ReadWriteOnce', 'ReadWriteOnce']);
    expect(after.map((c) => c.metadata.name)).toEqual(before.map((c) => c.metadata.name));
  });

  it('overlay the download env: model < service < source', () => {
    const [cache] = desiredCaches(
      input(
        {
          env: [
            { name: 'LEVEL', value: 'service' },
            { name: 'SERVICE_ONLY', value: '1' },
            { name: 'AWS_ACCESS_KEY_ID', ...secret('svc', 'id') },
          ],
        },
        {
          modelEnv: [
            { name: 'LEVEL', value: 'model' },
            { name: 'MODEL_ONLY', value: '1' },
          ],
        },
      ),
    );
    expect(envMap(cache!.spec.env)).toEqual({
      LEVEL: 'service',
      MODEL_ONLY: '1',
      SERVICE_ONLY: '1',
      AWS_ENDPOINT_URL: 'http://minio:9000',
      AWS_ACCESS_KEY_ID: { secretKeyRef: { name: 's3', key: 'id' } },
    });
  });

  it('download a custom model with the service’s own credentials, not the shared model’s copy', () => {
    const custom = {
      baseImage: 'ghcr.io/silogen/aim-base:0.8',
      modelSources: [
        {
          ...s3Source,
          caBundle: { configMapKeyRef: { name: 'minio-ca', key: 'ca.crt' } },
          env: [...s3Source.env!, { name: 'AWS_SECRET_ACCESS_KEY', ...secret('s3', 'secret') }],
        },
      ],
      hardware: { gpu: { requests: 1 } },
    };
    const spec = serviceSpec({ model: { custom } });
    const model = buildCustomModel({ metadata: { name: 'chat', namespace: 'team', uid: 'uid-chat' }, spec });
    const [cache] = desiredCaches(input({ model: { custom } }, { modelSources: model.spec.modelSources! }));
    expect(envMap(cache!.spec.env)).toEqual({
      AWS_ENDPOINT_URL: 'http://minio:9000',
      AWS_ACCESS_KEY_ID: { secretKeyRef: { name: 's3', key: 'id' } },
      AWS_SECRET_ACCESS_KEY: { secretKeyRef: { name: 's3', key: 'secret' } },
    });
    expect(cache!.spec.caBundle).toEqual({ configMapKeyRef: { name: 'minio-ca', key: 'ca.crt' } });

    const explicit = desiredCaches(
      input(
        { model: { custom } },
        {
          modelSources: model.spec.modelSources!,
          serviceSourceEnv: { 'Qwen/Qwen2-0.5B': [{ name: 'HF_TOKEN', ...secret('hf', 't') }] },
        },
      ),
    )[0]!;
    expect(envMap(explicit.spec.env)).toEqual({ HF_TOKEN: { secretKeyRef: { name: 'hf', key: 't' } } });
  });

  it('take storage and download settings from the service only when it sets them', () => {
    const plain = desiredCaches(input())[0]!.spec;
    for (const key of ['headroomPercent', 'stallTimeoutSeconds', 'maxAttempts', 'serviceAccountName']) {
      expect(plain).not.toHaveProperty(key);
    }
    const tuned = desiredCaches(
      input(
        {
          storage: { headroomPercent: 25 },
          download: { stallTimeoutSeconds: 30, maxAttempts: 9 },
          serviceAccountName: 'svc-sa',
        },
        { modelServiceAccountName: 'model-sa' },
      ),
    )[0]!.spec;
    expect(tuned).toMatchObject({
      headroomPercent: 25,
      stallTimeoutSeconds: 30,
      maxAttempts: 9,
      serviceAccountName: 'svc-sa',
    });
    expect(desiredCaches(input({}, { modelServiceAccountName: 'model-sa' }))[0]!.spec.serviceAccountName).toBe(
      'model-sa',
    );
  });

  it('place the download with the template’s node affinity and tolerate its GPU taint', () => {
    const [cache] = desiredCaches(input());
    expect(cache!.spec.nodeAffinity).toEqual(input().template.resolvedNodeAffinity);
    expect(cache!.spec.tolerations).toEqual([{ key: 'amd.com/gpu', operator: 'Exists' }]);
    const nvidia = desiredCaches(
      input({}, { template: { resolvedHardware: { gpu: { requests: 2, resourceName: 'nvidia.com/gpu' } } } }),
    )[0]!;
    expect(nvidia.spec.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists' }]);
    expect(nvidia.spec).not.toHaveProperty('nodeAffinity');
    const cpu = desiredCaches(input({}, { template: { resolvedHardware: { cpu: { requests: '4' } } } }))[0]!;
    expect(cpu.spec).not.toHaveProperty('tolerations');
  });

  it('pass the AIMModelCache schema', () => {
    for (const mode of ['Dedicated', 'Shared'] as const) {
      for (const cache of desiredCaches(
        input({ caching: { mode }, storage: { storageClassName: 'fast', headroomPercent: 5 } }),
      )) {
        const result = validateObject('AIMModelCache', cache);
        expect(result.ok ? [] : result.errors).toEqual([]);
      }
    }
  });

  it('are deterministic', () => {
    expect(JSON.stringify(desiredCaches(input()))).toBe(JSON.stringify(desiredCaches(input())));
  });
});

describe('the download env', () => {
  it('lets later layers win by name and keeps first-appearance order', () => {
    expect(
      downloadEnv({
        modelEnv: [
          { name: 'A', value: 'm' },
          { name: 'B', value: 'm' },
        ],
        serviceEnv: [{ name: 'A', value: 's' }],
        sourceEnv: [
          { name: 'C', value: 'src' },
          { name: 'B', value: 'src' },
        ],
      }),
    ).toEqual([
      { name: 'A', value: 's' },
      { name: 'B', value: 'src' },
      { name: 'C', value: 'src' },
    ]);
  });
});

describe('access mode choice', () => {
  it.each([
    [{ mode: 'Dedicated' as const, replicas: 1 }, 'ReadWriteOnce'],
    [{ mode: 'Dedicated' as const, replicas: 2 }, 'ReadWriteMany'],
    [{ mode: 'Shared' as const, replicas: 1 }, 'ReadWriteMany'],
    [{ mode: 'Shared' as const, replicas: 1, requested: 'ReadWriteOnce' as const }, 'ReadWriteOnce'],
  ])('%j → %s', (args, expected) => {
    expect(chooseAccessMode(args)).toBe(expected);
  });

  it.each([
    ['a standalone cache without one gets ReadWriteMany', {}, 'ReadWriteMany'],
    ['a cache with one keeps it (nothing to write)', { accessMode: 'ReadWriteOnce' as const }, undefined],
    ['even ReadWriteMany is not written twice', { accessMode: 'ReadWriteMany' as const }, undefined],
  ])('%s', (_, spec, expected) => {
    expect(accessModeToWrite({ spec })).toBe(expected);
  });
});

describe('the cache volume', () => {
  const cache = {
    metadata: { name: 'chat-qwen-qwen2-0-5b-0a1b2c3d', namespace: 'team' },
    spec: { accessMode: 'ReadWriteOnce' as const, storageClassName: 'fast', headroomPercent: 10 },
  };
  const uid = '9f8e7d6c-5b4a-3210-fedc-ba9876543210';

  it('is named {cache}-{8 hex of the cache UID} and owned by the cache', () => {
    const pvc = buildCachePvc(cache, uid, GiB);
    expect(pvc.metadata!.name).toBe(pvcName(cache.metadata.name, uid));
    expect(pvc.metadata!.name).toBe('chat-qwen-qwen2-0-5b-0a1b2c3d-9f8e7d6c');
    expect(pvc.metadata!.namespace).toBe('team');
    expect(pvc.metadata!.ownerReferences).toEqual([
      {
        apiVersion: 'aim.silogen.ai/v1alpha1',
        kind: 'AIMModelCache',
        name: cache.metadata.name,
        uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(pvc.metadata!.labels).toEqual({
      'app.kubernetes.io/managed-by': 'aim-orchestrator',
      'aim.silogen.ai/cache': cache.metadata.name,
    });
  });

  it.each([
    ['sizes the PVC with headroom', 10n * GiB, 10, '11Gi'],
    ['rounds up to whole GiB', 1000n * 1000n * 1000n, 10, '2Gi'],
    ['sizes with no headroom exactly', 4n * GiB, 0, '4Gi'],
    ['never asks for less than 1Gi', 1n, 10, '1Gi'],
    ['adds large headroom', 100n * GiB, 100, '200Gi'],
  ])('%s', (_name, bytes, headroomPercent, expected) => {
    const pvc = buildCachePvc({ ...cache, spec: { ...cache.spec, headroomPercent } }, uid, bytes);
    expect(pvc.spec!.resources!.requests).toEqual({ storage: expected });
  });

  it('defaults headroom to the CRD default when the cache omits it', () => {
    const { headroomPercent: _omit, ...spec } = cache.spec;
    expect(buildCachePvc({ ...cache, spec }, uid, 10n * GiB).spec!.resources!.requests!.storage).toBe('11Gi');
    expect(DEFAULT_HEADROOM_PERCENT).toBe(
      cacheSpec.parse({ modelId: 'a/b', sourceUri: 's3://bucket/x' }).headroomPercent,
    );
  });

  it('uses the cache access mode and storage class, else the cluster default class', () => {
    expect(buildCachePvc(cache, uid, GiB).spec).toMatchObject({
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'fast',
    });
    const { storageClassName: _omit, ...spec } = cache.spec;
    const pvc = buildCachePvc({ ...cache, spec: { ...spec, accessMode: 'ReadWriteMany' } }, uid, GiB);
    expect(pvc.spec!.accessModes).toEqual(['ReadWriteMany']);
    expect(pvc.spec).not.toHaveProperty('storageClassName');
  });

  it('refuses a cache whose access mode was never chosen', () => {
    expect(() => buildCachePvc({ ...cache, spec: {} }, uid, GiB)).toThrow(/no accessMode/);
  });
});

describe('cache size', () => {
  it.each([
    ['the probe measurement wins', { specSize: '1Gi', probedTotalBytes: 123456 }, 123456n],
    ['the spec size when the probe could not measure', { specSize: '1Gi' }, GiB],
    ['decimal quantities round up to whole bytes', { specSize: '1.5k' }, 1500n],
    ['bigint measurements', { probedTotalBytes: 5n * GiB }, 5n * GiB],
    ['nothing known → SizeUnknown', {}, undefined],
  ])('%s', (_name, args, expected) => {
    expect(cacheSizeBytes(args)).toBe(expected);
  });

  it.each([
    [0, '0 B'],
    [1536, '1.5 KiB'],
    [GiB, '1 GiB'],
    [15n * GiB + GiB / 2n, '15.5 GiB'],
  ])('displays %s bytes as %s', (bytes, expected) => {
    expect(cacheDisplaySize(bytes)).toBe(expected);
  });
});
