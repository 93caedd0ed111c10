import { describe, expect, it } from 'vitest';
import {
  buildCustomModel,
  customModelIdentityOf,
  customModelMatches,
  customModelOwnerPatch,
  type CustomModelService,
} from '../../domain/customModel.js';
import { customModelIdentity, customModelName } from '../../domain/naming.js';
import { CREDENTIAL_ENV_NAMES, FIELD_MANAGERS } from '../../schemas/constants.js';
import { validateObject } from '../../schemas/validate.js';
import type { AIMServiceModelCustom, AIMServiceSpec } from '../../schemas/types.js';

const secret = (name: string, key: string) => ({ valueFrom: { secretKeyRef: { name, key } } });

const custom = (over: Partial<AIMServiceModelCustom> = {}): AIMServiceModelCustom => ({
  baseImage: 'ghcr.io/silogen/aim-base:0.8',
  modelSources: [
    {
      modelId: 'Qwen/Qwen2-0.5B',
      sourceUri: 's3://models/qwen2-0.5b/',
      size: '1Gi',
      caBundle: { configMapKeyRef: { name: 'minio-ca', key: 'ca.crt' } },
      env: [
        { name: 'S3_ADDRESSING_STYLE', value: 'path' },
        { name: 'AWS_ACCESS_KEY_ID', ...secret('s3', 'id') },
        { name: 'AWS_ENDPOINT_URL', value: 'http://MinIO:9000' },
        { name: 'AWS_SECRET_ACCESS_KEY', ...secret('s3', 'secret') },
        { name: 'AWS_REGION', value: 'eu-west-1' },
        { name: 'AWS_SESSION_TOKEN', ...secret('s3', 'token') },
        { name: 'DOWNLOAD_THREADS', value: '8' },
      ],
    },
    {
      modelId: 'org/tokenizer',
      sourceUri: 'hf://org/tokenizer@main',
      env: [
        { name: 'HF_TOKEN', ...secret('hf', 'token') },
        { name: 'HUGGING_FACE_HUB_TOKEN', ...secret('hf', 'token') },
        { name: 'HF_ENDPOINT', value: 'https://hf.example.com' },
      ],
    },
  ],
  hardware: { gpu: { requests: 1, models: ['MI300X'] }, cpu: { requests: '8' } },
  ...over,
});

const service = (c: AIMServiceModelCustom = custom(), name = 'chat', uid = 'uid-chat'): CustomModelService => ({
  metadata: { name, namespace: 'team', uid },
  spec: { model: { custom: c }, caching: { mode: 'Dedicated' }, replicas: 1 } as AIMServiceSpec,
});

describe('the auto-created model', () => {
  it('is named {modelId}-{hash} in the service namespace', () => {
    const m = buildCustomModel(service());
    expect(m.metadata.name).toBe(customModelName(custom()));
    expect(m.metadata.name).toMatch(/^qwen-qwen2-0-5b-[0-9a-f]{8}$/);
    expect(m.metadata.namespace).toBe('team');
    expect(m).toMatchObject({ apiVersion: 'aim.silogen.ai/v1alpha1', kind: 'AIMModel' });
  });

  it('carries the auto-generated, custom-model, identity, naming and managed-by labels', () => {
    expect(buildCustomModel(service()).metadata.labels).toEqual({
      'aim.silogen.ai/origin': 'auto-generated',
      'aim.silogen.ai/custom-model': 'true',
      'aim.silogen.ai/custom-identity': customModelIdentity(custom()),
      'aim.silogen.ai/naming': 'v1',
      'app.kubernetes.io/managed-by': 'aim-orchestrator',
    });
  });

  it('has exactly image, modelSources and hardware in its spec', () => {
    const m = buildCustomModel(service());
    expect(Object.keys(m.spec).sort()).toEqual(['hardware', 'image', 'modelSources']);
    expect(m.spec.image).toBe('ghcr.io/silogen/aim-base:0.8');
    expect(m.spec.hardware).toEqual({ gpu: { requests: 1, models: ['MI300X'] }, cpu: { requests: '8' } });
  });

  it('keeps only modelId, sourceUri, size and the endpoint variables of each source', () => {
    expect(buildCustomModel(service()).spec.modelSources).toEqual([
      {
        modelId: 'Qwen/Qwen2-0.5B',
        sourceUri: 's3://models/qwen2-0.5b/',
        size: '1Gi',
        env: [
          { name: 'AWS_ENDPOINT_URL', value: 'http://MinIO:9000' },
          { name: 'AWS_REGION', value: 'eu-west-1' },
          { name: 'S3_ADDRESSING_STYLE', value: 'path' },
        ],
      },
      {
        modelId: 'org/tokenizer',
        sourceUri: 'hf://org/tokenizer@main',
        env: [{ name: 'HF_ENDPOINT', value: 'https://hf.example.com' }],
      },
    ]);
  });

  it('never copies credentials into the auto-created model', () => {
    const text = JSON.stringify(buildCustomModel(service()));
    for (const name of CREDENTIAL_ENV_NAMES) expect(text).not.toContain(name);
    expect(text).not.toContain('secretKeyRef');
    expect(text).not.toContain('minio-ca');
  });

  it('has no owner references (each service adds its own entry)', () => {
    expect(buildCustomModel(service()).metadata).not.toHaveProperty('ownerReferences');
  });

  it('is the same manifest for two services asking for the same model', () => {
    const reordered = custom({
      modelSources: custom().modelSources.map((s) => ({ ...s, env: [...(s.env ?? [])].reverse() })),
    });
    expect(buildCustomModel(service(reordered, 'other', 'uid-other'))).toEqual(buildCustomModel(service()));
  });

  it('omits env when a source has no endpoint variables', () => {
    const c = custom({
      modelSources: [
        { modelId: 'a/b', sourceUri: 's3://bucket/b', env: [{ name: 'AWS_ACCESS_KEY_ID', ...secret('s', 'k') }] },
      ],
    });
    expect(buildCustomModel(service(c)).spec.modelSources).toEqual([{ modelId: 'a/b', sourceUri: 's3://bucket/b' }]);
  });

  it('passes the AIMModel schema', () => {
    const result = validateObject('AIMModel', buildCustomModel(service()));
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it('refuses a service that does not ask for a custom model', () => {
    const byName = { ...service(), spec: { ...service().spec, model: { name: 'qwen' } } };
    expect(() => buildCustomModel(byName)).toThrow(/does not ask for a custom model/);
  });
});

describe('owner entries on the auto-created model', () => {
  it('add only this service, never as controller and never blocking deletion', () => {
    expect(customModelOwnerPatch('qwen-qwen2-0-5b-12345678', 'team', service())).toEqual({
      apiVersion: 'aim.silogen.ai/v1alpha1',
      kind: 'AIMModel',
      metadata: {
        name: 'qwen-qwen2-0-5b-12345678',
        namespace: 'team',
        ownerReferences: [
          {
            apiVersion: 'aim.silogen.ai/v1alpha1',
            kind: 'AIMService',
            name: 'chat',
            uid: 'uid-chat',
            controller: false,
            blockOwnerDeletion: false,
          },
        ],
      },
    });
  });

  it('differ per service, so entries applied under per-service field managers accumulate', () => {
    const a = customModelOwnerPatch('m', 'team', service(custom(), 'a', 'uid-a'));
    const b = customModelOwnerPatch('m', 'team', service(custom(), 'b', 'uid-b'));
    expect(a.metadata.ownerReferences[0]!.uid).not.toBe(b.metadata.ownerReferences[0]!.uid);
    expect(FIELD_MANAGERS.owner('uid-a')).not.toBe(FIELD_MANAGERS.owner('uid-b'));
  });
});

describe('an existing model under the custom model name', () => {
  const identity = customModelIdentityOf(service());
  const labelled = (labels: Record<string, string>) => ({ metadata: { labels } });
  it.each([
    [
      'an auto-generated model with the same identity',
      { 'aim.silogen.ai/origin': 'auto-generated', 'aim.silogen.ai/custom-identity': identity },
      true,
    ],
    [
      'an auto-generated model with another identity',
      { 'aim.silogen.ai/origin': 'auto-generated', 'aim.silogen.ai/custom-identity': 'deadbeef' },
      false,
    ],
    ['a user-created model', { 'aim.silogen.ai/custom-identity': identity }, false],
    ['a model without labels', {}, false],
  ])('matches only when it is ours: %s', (_what, labels, expected) => {
    expect(customModelMatches(labelled(labels), identity)).toBe(expected);
  });

  it('is reused when it is the manifest this request builds', () => {
    expect(customModelMatches(buildCustomModel(service()), identity)).toBe(true);
  });

  it('is not reused for a request with another endpoint', () => {
    const other = custom({
      modelSources: custom().modelSources.map((s, i) =>
        i === 0 ? { ...s, env: [{ name: 'AWS_ENDPOINT_URL', value: 'http://other:9000' }] } : s,
      ),
    });
    expect(customModelMatches(buildCustomModel(service()), customModelIdentityOf(service(other)))).toBe(false);
  });
});
