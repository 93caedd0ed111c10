import { describe, expect, it } from 'vitest';
import { canonicalJson, shortHash } from '../../domain/canonical.js';
import {
  cacheName,
  customModelName,
  downloadJobName,
  fitName,
  inferenceServiceName,
  inferenceServiceNameIfAny,
  inferenceServiceNameProblem,
  labelPart,
  namedTemplateName,
  normaliseEndpoint,
  probeJobName,
  pvcName,
  unnamedTemplateName,
  type CustomModelRequest,
} from '../../domain/naming.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const request = (over: Partial<CustomModelRequest> = {}): CustomModelRequest => ({
  baseImage: 'ghcr.io/silogen/aim-base:0.8',
  modelSources: [
    {
      modelId: 'Qwen/Qwen2-0.5B',
      sourceUri: 's3://models/qwen2-0.5b',
      env: [{ name: 'AWS_ENDPOINT_URL', value: 'http://minio:9000' }],
    },
  ],
  hardware: { gpu: { requests: 1 } },
  ...over,
});

describe('canonical identity', () => {
  it('sorts keys and drops empty values', () => {
    expect(canonicalJson({ b: 1, a: { d: [], c: 'x', e: null, f: '' } })).toBe('{"a":{"c":"x"},"b":1}');
  });

  it('hashes to 8 hex characters', () => {
    expect(shortHash({ a: 1 })).toMatch(/^[0-9a-f]{8}$/);
    expect(shortHash({ a: 1 })).toBe(shortHash({ a: 1, b: undefined }));
  });
});

describe('labels', () => {
  it.each([
    ['Qwen/Qwen2-0.5B', 'qwen-qwen2-0-5b'],
    ['meta-llama/Llama-3.1-8B-Instruct', 'meta-llama-llama-3-1-8b-instruct'],
    ['a__b', 'a-b'],
    ['-x-', 'x'],
  ])('%s reads %s', (input, want) => expect(labelPart(input)).toBe(want));

  it('shortens the longest readable part first and keeps fixed parts', () => {
    expect(fitName([{ text: 'aaaaaaaaaa' }, { text: 'bbb' }, { text: '12345678', fixed: true }], 20)).toBe(
      'aaaaaaa-bbb-12345678',
    );
  });
});

describe('auto-created model names', () => {
  it('are {modelId}-{hash} and deterministic', () => {
    const name = customModelName(request());
    expect(name).toMatch(/^qwen-qwen2-0-5b-[0-9a-f]{8}$/);
    expect(customModelName(request())).toBe(name);
  });

  it('hash equal quantities alike however they are written', () => {
    const a = customModelName(request({ hardware: { gpu: { requests: 1, minVram: '64Gi' } } }));
    const b = customModelName(request({ hardware: { gpu: { requests: 1, minVram: 68719476736 } } }));
    expect(a).toBe(b);
  });

  it('differ by endpoint, but not by the case of its host or by credentials', () => {
    const base = customModelName(request());
    const other = request();
    other.modelSources[0]!.env = [{ name: 'AWS_ENDPOINT_URL', value: 'http://other-minio:9000' }];
    expect(customModelName(other)).not.toBe(base);
    const upper = request();
    upper.modelSources[0]!.env = [
      { name: 'AWS_ENDPOINT_URL', value: 'HTTP://MINIO:9000' },
      { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
    ];
    expect(customModelName(upper)).toBe(base);
  });

  it('keep the case of S3 keys and ignore one trailing slash', () => {
    const base = customModelName(request());
    const slash = request();
    slash.modelSources[0]!.sourceUri = 's3://models/qwen2-0.5b/';
    expect(customModelName(slash)).toBe(base);
    const upper = request();
    upper.modelSources[0]!.sourceUri = 's3://models/Qwen2-0.5b';
    expect(customModelName(upper)).not.toBe(base);
  });

  it('default the Hugging Face endpoint, so an explicit default hashes alike', () => {
    const hf = request({ modelSources: [{ modelId: 'org/m', sourceUri: 'hf://org/m' }] });
    const explicit = request({
      modelSources: [
        { modelId: 'org/m', sourceUri: 'hf://org/m', env: [{ name: 'HF_ENDPOINT', value: 'https://huggingface.co' }] },
      ],
    });
    expect(customModelName(hf)).toBe(customModelName(explicit));
  });
});

describe('template names', () => {
  it('are {model}-{name} when they fit', () => {
    expect(namedTemplateName('qwen-small', 'fast')).toBe('qwen-small-fast');
  });

  it('shorten the model and add its hash when over 63', () => {
    const model = 'm'.repeat(60);
    const name = namedTemplateName(model, 'fast');
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(new RegExp(`-${shortHash(model)}-fast$`));
    expect(name).toMatch(DNS_LABEL);
  });

  it('without a name follow the plan form plus a hash', () => {
    const name = unnamedTemplateName('qwen-small', {
      precision: 'fp16',
      hardware: { gpu: { requests: 1, models: ['MI300X'] } },
    });
    expect(name).toMatch(/^qwen-small-custom-fp16-mi300x-[0-9a-f]{8}$/);
    expect(unnamedTemplateName('qwen-small', { hardware: { cpu: { requests: '4' } } })).toMatch(
      /^qwen-small-custom-[0-9a-f]{8}$/,
    );
  });
});

describe('cache, volume, job and InferenceService names', () => {
  const source = { modelId: 'Qwen/Qwen2-0.5B', sourceUri: 's3://models/qwen2-0.5b' };

  it('give Dedicated caches the service name and UID, Shared ones neither', () => {
    const dedicated = cacheName({ source, serviceName: 'chat', serviceUid: 'uid-1' });
    expect(dedicated).toMatch(/^chat-qwen-qwen2-0-5b-[0-9a-f]{8}$/);
    expect(cacheName({ source, serviceName: 'chat', serviceUid: 'uid-2' })).not.toBe(dedicated);
    const shared = cacheName({ source });
    expect(shared).toMatch(/^qwen-qwen2-0-5b-[0-9a-f]{8}$/);
    expect(cacheName({ source, storageClassName: 'fast' })).not.toBe(shared);
  });

  it('keep caches within 53 characters', () => {
    const name = cacheName({
      source: { ...source, modelId: `org/${'x'.repeat(80)}` },
      serviceName: 's'.repeat(40),
      serviceUid: 'u',
    });
    expect(name.length).toBeLessThanOrEqual(53);
    expect(name).toMatch(DNS_LABEL);
  });

  it('derive PVC and Job names', () => {
    expect(pvcName('c', '0a1b2c3d-4e5f-6789-abcd-ef0123456789')).toBe('c-0a1b2c3d');
    expect(downloadJobName('c', 3)).toBe('c-dl-3');
    expect(probeJobName('m'.repeat(60), 1)).toBe(`${'m'.repeat(53)}-probe-1`);
  });

  it('fit InferenceService names under the predictor suffix and refuse when nothing fits', () => {
    expect(inferenceServiceName('default', 'chat')).toBe('chat');
    const long = inferenceServiceName('team-a', 'x'.repeat(60));
    expect(long.length).toBe(63 - '-predictor-'.length - 'team-a'.length);
    expect(() => inferenceServiceName('n'.repeat(45), 'chat')).toThrow(/at least 10/);
  });

  it.each([
    [1, true],
    [42, true],
    [43, false],
    [46, false],
    [63, false],
  ])('a namespace of %i characters leaves room for an InferenceService name: %s', (length, fits) => {
    const ns = 'n'.repeat(length);
    expect(inferenceServiceNameProblem(ns) === undefined).toBe(fits);
    // Cleanup never throws on a name: where none fits, there is nothing to delete.
    expect(inferenceServiceNameIfAny(ns, 's'.repeat(63))).toBe(
      fits ? inferenceServiceName(ns, 's'.repeat(63)) : undefined,
    );
    if (fits) expect(inferenceServiceName(ns, 's'.repeat(63)).length).toBeLessThanOrEqual(63 - 11 - length);
  });

  it('says which namespace length would work', () => {
    expect(inferenceServiceNameProblem('n'.repeat(63))).toContain('use a namespace of at most 42 characters');
  });

  it('lower-case only scheme and host of endpoints', () => {
    expect(normaliseEndpoint('HTTPS://MinIO.Example:9000/Path')).toBe('https://minio.example:9000/Path');
  });
});
