// The stand-in model server (images/model-server): what it accepts as a model directory, what it answers, and the
// KServe configuration the harness derives from KServe's defaults.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { completionText, inspectModelDir, ModelLoadError } from '../../images/model-server/model.js';
import { handle, type ServedModel } from '../../images/model-server/server.js';
import { inferenceServiceConfigData } from '../harness/kserve.js';

function modelDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'aim-model-server-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

describe('model directory', () => {
  it('lists the files with sizes, sums them and digests their contents', async () => {
    const dir = modelDir({
      'config.json': '{"model_type":"llama"}',
      'model.safetensors': 'abcd',
      'tok/vocab.txt': 'x',
    });
    const inv = await inspectModelDir(dir);
    expect(inv.files).toEqual([
      { path: 'config.json', bytes: 22 },
      { path: 'model.safetensors', bytes: 4 },
      { path: 'tok/vocab.txt', bytes: 1 },
    ]);
    expect(inv.totalBytes).toBe(27);
    expect(inv.config).toEqual({ model_type: 'llama' });
    expect(inv.digest).toMatch(/^[0-9a-f]{64}$/);
    // One changed weight byte changes the digest.
    writeFileSync(join(dir, 'model.safetensors'), 'abce');
    expect((await inspectModelDir(dir)).digest).not.toBe(inv.digest);
  });

  it('names the directory as the container sees it when told to (the process kubelet reads a host directory)', async () => {
    const dir = modelDir({});
    await expect(inspectModelDir(dir, '/workspace/model-cache/org/tiny')).rejects.toThrow(
      'model directory /workspace/model-cache/org/tiny is empty: no weights to load',
    );
    const full = modelDir({ 'config.json': '{}' });
    expect((await inspectModelDir(full, '/workspace/model-cache/org/tiny')).dir).toBe(
      '/workspace/model-cache/org/tiny',
    );
  });

  it.each([
    ['a missing directory', () => join(tmpdir(), 'aim-no-such-model-dir'), /does not exist/],
    ['an empty directory', () => modelDir({}), /is empty: no weights to load/],
    ['no config.json', () => modelDir({ 'model.safetensors': 'w' }), /cannot read .*config\.json: ENOENT/],
    ['config.json that is not JSON', () => modelDir({ 'config.json': '{' }), /cannot read .*config\.json: .*JSON/],
    ['config.json that is not an object', () => modelDir({ 'config.json': '[1]' }), /is not a JSON object/],
  ])('refuses %s', async (_what, dir, message) => {
    const err = await inspectModelDir(dir()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelLoadError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('OpenAI-compatible answers', () => {
  const model: ServedModel = {
    modelId: 'org/tiny',
    createdAt: 1_700_000_000,
    inventory: {
      dir: '/workspace/model-cache/org/tiny',
      files: [{ path: 'config.json', bytes: 2 }],
      totalBytes: 2,
      digest: 'f'.repeat(64),
      config: {},
    },
  };

  it('GET /v1/models lists the model with its files and total bytes', () => {
    expect(handle(model, 'GET', '/v1/models', '')).toEqual({
      status: 200,
      body: {
        object: 'list',
        data: [
          expect.objectContaining({
            id: 'org/tiny',
            object: 'model',
            created: 1_700_000_000,
            files: [{ path: 'config.json', bytes: 2 }],
            total_bytes: 2,
          }),
        ],
      },
    });
  });

  it('POST /v1/completions answers deterministically and says it is not a language model', () => {
    const ask = (prompt: unknown) =>
      handle(model, 'POST', '/v1/completions', JSON.stringify({ model: 'org/tiny', prompt })) as {
        status: number;
        body: { model: string; choices: Array<{ text: string }> };
      };
    const first = ask('Hello there');
    expect(first.status).toBe(200);
    expect(first.body.model).toBe('org/tiny');
    expect(first.body.choices[0]?.text).toBe(completionText('org/tiny', model.inventory.digest, 'Hello there'));
    expect(first.body.choices[0]?.text).toContain('not a language model');
    expect(ask('Hello there').body.choices[0]?.text).toBe(first.body.choices[0]?.text);
    expect(ask('Goodbye').body.choices[0]?.text).not.toBe(first.body.choices[0]?.text);
    expect(ask(['a', 'b']).body.choices).toHaveLength(2);
  });

  it('refuses another model, a bad body and unknown routes', () => {
    const other = handle(model, 'POST', '/v1/completions', JSON.stringify({ model: 'x/y', prompt: 'p' }));
    expect(other.status).toBe(404);
    expect(handle(model, 'POST', '/v1/completions', '{').status).toBe(400);
    expect(handle(model, 'POST', '/v1/completions', JSON.stringify({ prompt: 3 })).status).toBe(400);
    expect(handle(model, 'GET', '/v1/completions', '').status).toBe(405);
    expect(handle(model, 'GET', '/nope', '').status).toBe(404);
    expect(handle(model, 'GET', '/health', '')).toEqual({ status: 200, body: {} });
  });
});

describe("the stack's inferenceservice-config", () => {
  it('keeps KServe defaults, deploys RawDeployment and creates no Ingress or VirtualService', () => {
    const data = inferenceServiceConfigData({
      _example: 'docs',
      ingress: '{ "ingressGateway": "knative-serving/knative-ingress-gateway", "ingressDomain": "example.com" }',
      deploy: '{ "defaultDeploymentMode": "Serverless" }',
      storageInitializer: '{"image":"kserve/storage-initializer:latest"}',
    });
    expect(Object.keys(data).sort()).toEqual(['deploy', 'ingress', 'storageInitializer']);
    expect(JSON.parse(data.deploy!)).toEqual({ defaultDeploymentMode: 'RawDeployment' });
    expect(JSON.parse(data.ingress!)).toEqual({
      ingressGateway: 'knative-serving/knative-ingress-gateway',
      ingressDomain: 'example.com',
      disableIngressCreation: true,
      disableIstioVirtualHost: true,
    });
    expect(data.storageInitializer).toBe('{"image":"kserve/storage-initializer:latest"}');
  });
});
