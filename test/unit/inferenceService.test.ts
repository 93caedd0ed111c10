import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  buildInferenceService,
  inferenceServiceReady,
  inferenceServiceUrls,
  predictorPodFailure,
  servingResources,
  type InferenceServiceInput,
} from '../../domain/inferenceService.js';
import { NameTooShortError } from '../../domain/naming.js';
import { CREDENTIAL_ENV_NAMES, KSERVE_VERSION } from '../../schemas/constants.js';
import type { AIMModelSpec, AIMServiceSpec, AIMServiceTemplateSpec } from '../../schemas/types.js';
import { cacheDir } from '../harness/bins.js';

const secret = (name: string, key: string) => ({ valueFrom: { secretKeyRef: { name, key } } });

const modelSpec = (over: Partial<AIMModelSpec> = {}): AIMModelSpec => ({
  image: 'ghcr.io/silogen/aim-base:0.8',
  modelSources: [
    { modelId: 'Qwen/Qwen2-0.5B', sourceUri: 's3://models/qwen' },
    { modelId: 'org/tokenizer', sourceUri: 'hf://org/tokenizer' },
  ],
  hardware: { gpu: { requests: 2, models: ['MI300X'] } },
  imagePullSecrets: [{ name: 'registry' }],
  ...over,
});

const templateSpec = (over: Partial<AIMServiceTemplateSpec> = {}): AIMServiceTemplateSpec => ({
  modelName: 'qwen',
  hardware: { gpu: { requests: 2, models: ['MI300X'] } },
  type: 'optimized',
  metric: 'latency',
  precision: 'fp16',
  env: [
    { name: 'LOG_LEVEL', value: 'info' },
    { name: 'AWS_ACCESS_KEY_ID', ...secret('s3', 'id') },
    { name: 'HF_TOKEN', ...secret('hf', 'token') },
  ],
  ...over,
});

const serviceSpec = (over: Partial<AIMServiceSpec> = {}): AIMServiceSpec => ({
  model: { name: 'qwen' },
  caching: { mode: 'Dedicated' },
  replicas: 2,
  ...over,
});

const affinity = {
  requiredDuringSchedulingIgnoredDuringExecution: {
    nodeSelectorTerms: [
      {
        matchExpressions: [
          { key: 'amd.com/gpu.product-name', operator: 'In' as const, values: ['AMD_Instinct_MI300X_OAM'] },
        ],
      },
    ],
  },
};

const input = (
  parts: {
    service?: Partial<AIMServiceSpec>;
    model?: Partial<AIMModelSpec>;
    template?: Partial<AIMServiceTemplateSpec>;
    status?: InferenceServiceInput['template']['status'];
  } = {},
): InferenceServiceInput => ({
  service: { metadata: { name: 'chat', namespace: 'team', uid: 'uid-chat' }, spec: serviceSpec(parts.service) },
  model: { metadata: { name: 'qwen' }, spec: modelSpec(parts.model) },
  template: {
    metadata: { name: 'qwen-fast' },
    spec: templateSpec(parts.template),
    status:
      'status' in parts
        ? parts.status
        : {
            resolvedHardware: { gpu: { requests: 2, models: ['MI300X'], resourceName: 'amd.com/gpu' } },
            resolvedNodeAffinity: affinity,
          },
  },
  caches: [
    { modelId: 'org/tokenizer', pvcName: 'chat-org-tokenizer-22222222-bbbbbbbb' },
    { modelId: 'Qwen/Qwen2-0.5B', pvcName: 'chat-qwen-qwen2-0-5b-11111111-aaaaaaaa' },
  ],
});

const predictorOf = (i: InferenceServiceInput) => buildInferenceService(i).spec.predictor;
const containerOf = (i: InferenceServiceInput) => predictorOf(i).containers[0]!;
const envOf = (i: InferenceServiceInput) =>
  (containerOf(i).env ?? []).map((e) => [e.name, e.value ?? e.valueFrom] as const);

describe('the InferenceService', () => {
  it('is named for the service, owned by it and labelled for service, model and template', () => {
    const isvc = buildInferenceService(input());
    expect(isvc).toMatchObject({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService' });
    expect(isvc.metadata.name).toBe('chat');
    expect(isvc.metadata.namespace).toBe('team');
    expect(isvc.metadata.labels).toEqual({
      'aim.silogen.ai/service': 'chat',
      'aim.silogen.ai/model': 'qwen',
      'aim.silogen.ai/template': 'qwen-fast',
      'app.kubernetes.io/managed-by': 'aim-orchestrator',
      'aim.silogen.ai/naming': 'v1',
    });
    expect(isvc.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'aim.silogen.ai/v1alpha1',
        kind: 'AIMService',
        name: 'chat',
        uid: 'uid-chat',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it('runs as a raw deployment without an autoscaler', () => {
    expect(buildInferenceService(input()).metadata.annotations).toEqual({
      'serving.kserve.io/deploymentMode': 'RawDeployment',
      'serving.kserve.io/autoscalerClass': 'none',
    });
  });

  it('shortens the name to fit the predictor suffix, and refuses namespaces that leave no room', () => {
    const long = input();
    long.service.metadata.name = 'a-very-long-service-name-that-keeps-going-on';
    long.service.metadata.namespace = 'a-long-namespace';
    const name = buildInferenceService(long).metadata.name;
    expect(name.length + '-predictor-'.length + 'a-long-namespace'.length).toBeLessThanOrEqual(63);
    const tiny = input();
    tiny.service.metadata.namespace = 'n'.repeat(45);
    expect(() => buildInferenceService(tiny)).toThrow(NameTooShortError);
  });

  it('pins replicas: minReplicas = maxReplicas = replicas', () => {
    expect(predictorOf(input({ service: { replicas: 3 } }))).toMatchObject({ minReplicas: 3, maxReplicas: 3 });
  });

  it('serves the model image on port 8000 named http from kserve-container', () => {
    const c = containerOf(input());
    expect(c.name).toBe('kserve-container');
    expect(c.image).toBe('ghcr.io/silogen/aim-base:0.8');
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8000, protocol: 'TCP' }]);
    expect(predictorOf(input()).containers).toHaveLength(1);
  });

  it('pulls with the model and service secrets, each once', () => {
    const p = predictorOf(input({ service: { imagePullSecrets: [{ name: 'mine' }, { name: 'registry' }] } }));
    expect(p.imagePullSecrets).toEqual([{ name: 'registry' }, { name: 'mine' }]);
    expect(predictorOf(input({ model: { imagePullSecrets: undefined } }))).not.toHaveProperty('imagePullSecrets');
  });

  it.each([
    [
      'the service account of the service',
      { service: { serviceAccountName: 'svc' }, model: { serviceAccountName: 'mdl' } },
      'svc',
    ],
    [
      'else the template (a hand-made one may name its own)',
      { template: { serviceAccountName: 'tpl' }, model: { serviceAccountName: 'mdl' } },
      'tpl',
    ],
    ['else the model', { model: { serviceAccountName: 'mdl' } }, 'mdl'],
    ['else none (the namespace default)', {}, undefined],
  ])('runs as %s', (_what, parts, expected) => {
    expect(predictorOf(input(parts)).serviceAccountName).toBe(expected);
  });

  it('sets AIM variables, then template env, then service env as written', () => {
    const env = envOf(
      input({
        service: {
          env: [
            { name: 'LOG_LEVEL', value: 'debug' },
            { name: 'AIM_PRECISION', value: 'fp8' },
            { name: 'API_KEY', ...secret('api', 'key') },
          ],
        },
      }),
    );
    expect(env).toEqual([
      ['AIM_CACHE_PATH', '/workspace/model-cache'],
      ['AIM_MODEL_ID', 'Qwen/Qwen2-0.5B'],
      ['AIM_METRIC', 'latency'],
      ['AIM_PRECISION', 'fp8'],
      ['LOG_LEVEL', 'debug'],
      ['API_KEY', { secretKeyRef: { name: 'api', key: 'key' } }],
    ]);
  });

  it('omits AIM_METRIC and AIM_PRECISION when the template has none', () => {
    const names = envOf(input({ template: { metric: undefined, precision: undefined } })).map(([n]) => n);
    expect(names).not.toContain('AIM_METRIC');
    expect(names).not.toContain('AIM_PRECISION');
  });

  it('keeps credentials out of the serving env', () => {
    const names = envOf(
      input({
        model: {
          env: [
            { name: 'AWS_SECRET_ACCESS_KEY', ...secret('s3', 'secret') },
            { name: 'FROM_MODEL', value: '1' },
          ],
        },
      }),
    ).map(([n]) => n);
    for (const c of CREDENTIAL_ENV_NAMES) expect(names).not.toContain(c);
    expect(names).toContain('FROM_MODEL');
    expect(names).toContain('LOG_LEVEL');
  });

  it.each<[string, Parameters<typeof input>[0], Record<string, string>, Record<string, string>]>([
    [
      'scales memory and cpu with the GPU count',
      {},
      { 'amd.com/gpu': '2', cpu: '8', memory: '64Gi' },
      { 'amd.com/gpu': '2', memory: '96Gi' },
    ],
    [
      'takes cpu requests and limits from the hardware',
      {
        status: {
          resolvedHardware: { gpu: { requests: 1, resourceName: 'amd.com/gpu' }, cpu: { requests: '6', limits: 12 } },
        },
      },
      { 'amd.com/gpu': '1', cpu: '6', memory: '32Gi' },
      { 'amd.com/gpu': '1', cpu: '12', memory: '48Gi' },
    ],
    [
      'uses the resolved GPU resource name',
      { status: { resolvedHardware: { gpu: { requests: 4, resourceName: 'nvidia.com/gpu' } } } },
      { cpu: '16', memory: '128Gi', 'nvidia.com/gpu': '4' },
      { memory: '192Gi', 'nvidia.com/gpu': '4' },
    ],
    [
      'falls back to the template spec and then amd.com/gpu without a status',
      { status: undefined, template: { hardware: { gpu: { requests: 1 } } } },
      { 'amd.com/gpu': '1', cpu: '4', memory: '32Gi' },
      { 'amd.com/gpu': '1', memory: '48Gi' },
    ],
    [
      'asks for no GPU on a CPU template',
      { status: { resolvedHardware: { cpu: { requests: '2' } } }, template: { hardware: { cpu: { requests: '2' } } } },
      { cpu: '2', memory: '32Gi' },
      { memory: '48Gi' },
    ],
    [
      'lets template and then service resources override key by key',
      {
        template: { resources: { requests: { memory: '40Gi', 'ephemeral-storage': '10Gi' }, limits: { cpu: '20' } } },
        service: { resources: { requests: { memory: '50Gi' }, limits: { 'ephemeral-storage': '20Gi' } } },
      },
      { 'amd.com/gpu': '2', cpu: '8', 'ephemeral-storage': '10Gi', memory: '50Gi' },
      { 'amd.com/gpu': '2', cpu: '20', 'ephemeral-storage': '20Gi', memory: '96Gi' },
    ],
    [
      'raises a default limit below an overridden request',
      { service: { resources: { requests: { memory: '200Gi' } } } },
      { 'amd.com/gpu': '2', cpu: '8', memory: '200Gi' },
      { 'amd.com/gpu': '2', memory: '200Gi' },
    ],
  ])('%s', (_name, parts, requests, limits) => {
    expect(containerOf(input(parts)).resources).toEqual({ requests, limits });
  });

  it('keeps a limit the user wrote even below the request', () => {
    expect(
      servingResources(undefined, 'amd.com/gpu', [{ requests: { memory: '64Gi' }, limits: { memory: '16Gi' } }]).limits,
    ).toEqual({ memory: '16Gi' });
  });

  it('pins the predictor with the template’s node affinity and tolerates the GPU taint', () => {
    const p = predictorOf(input());
    expect(p.affinity).toEqual({ nodeAffinity: affinity });
    expect(p.tolerations).toEqual([{ key: 'amd.com/gpu', operator: 'Exists' }]);
    const cpu = predictorOf(input({ status: { resolvedHardware: { cpu: { requests: '2' } } } }));
    expect(cpu).not.toHaveProperty('affinity');
    expect(cpu).not.toHaveProperty('tolerations');
  });

  it('mounts each cache read-only at /workspace/model-cache/{modelId} with subPath {modelId}', () => {
    const c = containerOf(input());
    const p = predictorOf(input());
    expect(c.volumeMounts).toEqual([
      expect.objectContaining({
        mountPath: '/workspace/model-cache/Qwen/Qwen2-0.5B',
        subPath: 'Qwen/Qwen2-0.5B',
        readOnly: true,
      }),
      expect.objectContaining({
        mountPath: '/workspace/model-cache/org/tokenizer',
        subPath: 'org/tokenizer',
        readOnly: true,
      }),
      { name: 'dshm', mountPath: '/dev/shm' },
    ]);
    const claims = Object.fromEntries(p.volumes.map((v) => [v.name, v.persistentVolumeClaim?.claimName]));
    expect(claims[c.volumeMounts![0]!.name]).toBe('chat-qwen-qwen2-0-5b-11111111-aaaaaaaa');
    expect(claims[c.volumeMounts![1]!.name]).toBe('chat-org-tokenizer-22222222-bbbbbbbb');
    for (const v of p.volumes) if (v.persistentVolumeClaim) expect(v.persistentVolumeClaim.readOnly).toBe(true);
    for (const v of p.volumes) expect(v.name).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
  });

  it('gives /dev/shm a memory emptyDir of 8Gi', () => {
    expect(predictorOf(input()).volumes).toContainEqual({
      name: 'dshm',
      emptyDir: { medium: 'Memory', sizeLimit: '8Gi' },
    });
  });

  it('gives modelIds that differ only in case their own volumes', () => {
    const i = input();
    i.caches = [
      { modelId: 'Org/Model', pvcName: 'a' },
      { modelId: 'org/model', pvcName: 'b' },
    ];
    const names = predictorOf(i).volumes.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('refuses two caches for one modelId', () => {
    const i = input();
    i.caches = [
      { modelId: 'org/model', pvcName: 'a' },
      { modelId: 'org/model', pvcName: 'b' },
    ];
    expect(() => buildInferenceService(i)).toThrow(/two caches for org\/model/);
  });

  it('is deterministic whatever the order of the caches', () => {
    const a = input();
    const b = input();
    b.caches = [...b.caches].reverse();
    expect(JSON.stringify(buildInferenceService(a))).toBe(JSON.stringify(buildInferenceService(b)));
  });
});

// --- the real KServe CRD ------------------------------------------------------------------------------------------

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  anyOf?: Schema[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
};

/** Structural check of a value against an OpenAPI v3 schema: unknown fields, types, enums and required fields. */
function schemaErrors(value: unknown, schema: Schema, path = ''): string[] {
  if (schema['x-kubernetes-int-or-string']) {
    return typeof value === 'string' || Number.isInteger(value) ? [] : [`${path}: not int-or-string`];
  }
  if (schema.enum && !schema.enum.includes(value)) return [`${path}: ${JSON.stringify(value)} not in enum`];
  switch (schema.type) {
    case 'string':
      return typeof value === 'string' ? [] : [`${path}: not a string`];
    case 'integer':
      return Number.isInteger(value) ? [] : [`${path}: not an integer`];
    case 'number':
      return typeof value === 'number' ? [] : [`${path}: not a number`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: not a boolean`];
    case 'array':
      if (!Array.isArray(value)) return [`${path}: not an array`];
      return value.flatMap((v, i) => schemaErrors(v, schema.items ?? {}, `${path}[${i}]`));
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: not an object`];
      const obj = value as Record<string, unknown>;
      const errors = (schema.required ?? []).filter((k) => !(k in obj)).map((k) => `${path}.${k}: required`);
      for (const [k, v] of Object.entries(obj)) {
        const sub =
          schema.properties?.[k] ??
          (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
        if (sub) errors.push(...schemaErrors(v, sub, `${path}.${k}`));
        else if (
          !schema['x-kubernetes-preserve-unknown-fields'] &&
          !schema.properties &&
          schema.additionalProperties === undefined
        )
          continue;
        else if (!schema['x-kubernetes-preserve-unknown-fields']) errors.push(`${path}.${k}: unknown field`);
      }
      return errors;
    }
    default:
      return [];
  }
}

const crdPath = join(cacheDir(), `kserve-${KSERVE_VERSION}`, 'serving.kserve.io_inferenceservices.yaml');

describe.skipIf(!existsSync(crdPath))(
  `the InferenceService against KServe ${KSERVE_VERSION}'s CRD (npm run setup)`,
  () => {
    const crd = existsSync(crdPath)
      ? (parse(readFileSync(crdPath, 'utf8')) as {
          spec: { versions: Array<{ name: string; schema: { openAPIV3Schema: Schema } }> };
        })
      : undefined;
    const schema = () => crd!.spec.versions.find((v) => v.name === 'v1beta1')!.schema.openAPIV3Schema;

    it('checks what it should: a misspelt field is caught', () => {
      const isvc = buildInferenceService(input()) as unknown as { spec: { predictor: Record<string, unknown> } };
      isvc.spec.predictor.minReplica = 1;
      (isvc.spec.predictor.containers as Array<Record<string, unknown>>)[0]!.port = 8000;
      expect(schemaErrors(isvc, schema())).toEqual([
        '.spec.predictor.containers[0].port: unknown field',
        '.spec.predictor.minReplica: unknown field',
      ]);
    });

    it.each<[string, Parameters<typeof input>[0]]>([
      [
        'a GPU service with every optional field',
        {
          service: {
            serviceAccountName: 'svc',
            imagePullSecrets: [{ name: 'mine' }],
            env: [{ name: 'API_KEY', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k', optional: true } } }],
            resources: { requests: { 'ephemeral-storage': 100 }, limits: { cpu: '500m' } },
          },
        },
      ],
      ['a CPU service with no status', { status: undefined, template: { hardware: { cpu: { requests: 2 } } } }],
    ])('emits only fields the CRD knows, with the right types: %s', (_name, parts) => {
      expect(schemaErrors(buildInferenceService(input(parts)), schema())).toEqual([]);
    });
  },
);

// --- readiness ----------------------------------------------------------------------------------------------------

const cond = (type: string, status: string, reason?: string, message?: string) => ({
  type,
  status,
  ...(reason && { reason }),
  ...(message && { message }),
});

describe('InferenceService readiness', () => {
  it.each([
    ['is not ready before KServe writes a status', {}, { ready: false, failed: false }],
    [
      'is ready when Ready=True',
      { status: { conditions: [cond('PredictorReady', 'True'), cond('Ready', 'True')] } },
      { ready: true, failed: false },
    ],
    [
      'is ready when Ready=True even with an old failure recorded',
      {
        status: {
          conditions: [cond('Ready', 'True')],
          modelStatus: { transitionStatus: 'UpToDate', lastFailureInfo: { reason: 'ModelLoadFailed', message: 'old' } },
        },
      },
      { ready: true, failed: false },
    ],
    [
      'is still starting while the Deployment has no available replica',
      {
        status: {
          conditions: [
            cond(
              'PredictorReady',
              'False',
              'MinimumReplicasUnavailable',
              'Deployment does not have minimum availability.',
            ),
            cond('Ready', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'),
          ],
          modelStatus: {
            transitionStatus: 'InProgress',
            states: { activeModelState: 'Pending', targetModelState: 'Pending' },
          },
        },
      },
      { ready: false, failed: false, message: 'Deployment does not have minimum availability.' },
    ],
    [
      'reports a reason when KServe gives no message',
      { status: { conditions: [cond('Ready', 'Unknown', 'PredictorReady not ready')] } },
      { ready: false, failed: false, message: 'PredictorReady not ready' },
    ],
    [
      'copies KServe’s failure message when the model cannot load',
      {
        status: {
          conditions: [
            cond('Ready', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'),
          ],
          modelStatus: {
            transitionStatus: 'BlockedByFailedLoad',
            states: { activeModelState: '', targetModelState: 'FailedToLoad' },
            lastFailureInfo: { reason: 'ModelLoadFailed', message: 'CUDA out of memory', exitCode: 1 },
          },
        },
      },
      {
        ready: false,
        failed: true,
        reason: 'InferenceServiceFailed',
        message: 'ModelLoadFailed: CUDA out of memory (exit code 1)',
      },
    ],
    [
      'fails on a spec KServe refuses',
      {
        status: {
          conditions: [
            cond('PredictorReady', 'False', 'InvalidGPUAllocation', 'GPU resource is not allowed'),
            cond('Ready', 'False', 'InvalidGPUAllocation', 'GPU resource is not allowed'),
          ],
        },
      },
      { ready: false, failed: true, reason: 'InferenceServiceFailed', message: 'GPU resource is not allowed' },
    ],
    [
      'fails on an invalid spec, falling back to the condition message',
      {
        status: {
          conditions: [cond('Ready', 'False', 'PredictorReady not ready', 'no runtime found')],
          modelStatus: { transitionStatus: 'InvalidSpec' },
        },
      },
      { ready: false, failed: true, reason: 'InferenceServiceFailed', message: 'no runtime found' },
    ],
  ])('%s', (_name, isvc, expected) => {
    expect(inferenceServiceReady(isvc)).toEqual(expected);
  });
});

describe('the endpoint KServe reports (spec 8: status.endpoint)', () => {
  it.each([
    [
      'both URLs',
      {
        status: {
          url: 'http://chat-team-a.example.com',
          address: { url: 'http://chat-predictor.team-a.svc.cluster.local' },
        },
      },
      { url: 'http://chat-team-a.example.com', internalUrl: 'http://chat-predictor.team-a.svc.cluster.local' },
    ],
    [
      'only the in-cluster address',
      { status: { address: { url: 'http://a.b.svc' } } },
      { internalUrl: 'http://a.b.svc' },
    ],
    ['not reconciled yet', {}, {}],
  ])('%s', (_, isvc, expected) => {
    expect(inferenceServiceUrls(isvc)).toEqual(expected);
  });
});

describe('a predictor that cannot serve, read from its pods before KServe notices', () => {
  const pod = (containerStatus: object) => ({
    metadata: { name: 'chat-predictor-abc' },
    status: { containerStatuses: [containerStatus] },
  });
  it.each([
    [
      'a crash loop names the exit code and termination message of the last run, as KServe would',
      pod({
        name: 'kserve-container',
        restartCount: 3,
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
        lastState: {
          terminated: { exitCode: 1, reason: 'Error', message: 'model directory /workspace/model-cache/q is empty\n' },
        },
      }),
      'predictor pod chat-predictor-abc container kserve-container: CrashLoopBackOff, 3 restart(s): ModelLoadFailed: model directory /workspace/model-cache/q is empty (exit code 1)',
    ],
    [
      'an image that cannot be pulled',
      pod({
        name: 'kserve-container',
        restartCount: 0,
        state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"' } },
      }),
      'predictor pod chat-predictor-abc container kserve-container: ImagePullBackOff: Back-off pulling image "x"',
    ],
    [
      'still starting',
      pod({ name: 'kserve-container', state: { waiting: { reason: 'ContainerCreating' } } }),
      undefined,
    ],
    ['running, not ready yet', pod({ name: 'kserve-container', state: { running: {} } }), undefined],
  ])('%s', (_, p, expected) => {
    expect(predictorPodFailure([p])).toBe(expected);
  });

  it('KServe Ready wins over a pod; a crash-looping pod fails a not-Ready InferenceService', () => {
    const crashing = pod({
      name: 'c',
      restartCount: 1,
      state: { waiting: { reason: 'CrashLoopBackOff' } },
      lastState: { terminated: { exitCode: 2 } },
    });
    expect(inferenceServiceReady({ status: { conditions: [{ type: 'Ready', status: 'True' }] } }, [crashing])).toEqual({
      ready: true,
      failed: false,
    });
    expect(
      inferenceServiceReady(
        { status: { conditions: [{ type: 'Ready', status: 'False', reason: 'MinimumReplicasUnavailable' }] } },
        [crashing],
      ),
    ).toEqual({
      ready: false,
      failed: true,
      reason: 'InferenceServiceFailed',
      message:
        'predictor pod chat-predictor-abc container c: CrashLoopBackOff, 1 restart(s): ModelLoadFailed: exited (exit code 2)',
    });
  });
});
