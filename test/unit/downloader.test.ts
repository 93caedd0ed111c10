import { describe, expect, it } from 'vitest';
import { parseSourceUri, readConfig } from '../../downloader/config.js';
import { DownloaderFailure, fitTerminationMessage, scrub } from '../../downloader/failures.js';
import { classifyHubResponse } from '../../downloader/hf/source.js';
import { progressSnapshot } from '../../downloader/progress.js';
import { classifyS3Error } from '../../downloader/s3/source.js';
import type { HfSource, S3Source } from '../../downloader/config.js';

const s3: S3Source = {
  kind: 's3',
  bucket: 'models',
  prefix: 'qwen',
  endpoint: 'http://127.0.0.1:9000',
  region: 'us-east-1',
  pathStyle: true,
};
const hf = (hasToken: boolean): HfSource => ({
  kind: 'hf',
  repo: 'org/gated',
  revision: 'main',
  endpoint: 'https://hub.example',
  hasToken,
});

describe('source URIs', () => {
  it('treat an S3 prefix as a directory', () => {
    expect(parseSourceUri('s3://models/qwen/', {})).toMatchObject({
      bucket: 'models',
      prefix: 'qwen',
      region: 'us-east-1',
      pathStyle: false,
    });
    expect(parseSourceUri('s3://models', { AWS_ENDPOINT_URL: 'http://x' })).toMatchObject({
      prefix: '',
      pathStyle: true,
    });
    expect(parseSourceUri('s3://m/p', { AWS_ENDPOINT_URL: 'http://x', S3_ADDRESSING_STYLE: 'virtual' })).toMatchObject({
      pathStyle: false,
    });
    expect(parseSourceUri('s3://m/p', { AWS_DEFAULT_REGION: 'eu-west-1' })).toMatchObject({ region: 'eu-west-1' });
  });

  it('default the Hugging Face revision and endpoint', () => {
    expect(parseSourceUri('hf://org/name', {})).toMatchObject({
      repo: 'org/name',
      revision: 'main',
      endpoint: 'https://huggingface.co',
      hasToken: false,
    });
    expect(parseSourceUri('hf://org/name@v1.0', { HF_ENDPOINT: 'http://hub/', HF_TOKEN: 't' })).toMatchObject({
      revision: 'v1.0',
      endpoint: 'http://hub',
      hasToken: true,
    });
  });

  it('refuses a config without MODE', () => {
    expect(() => readConfig({ SOURCE_URI: 's3://a/b', MODEL_ID: 'a/b' })).toThrow(/MODE/);
  });
});

describe('classification', () => {
  it.each([
    [{ name: 'InvalidAccessKeyId', $metadata: { httpStatusCode: 403 } }, 'AuthFailed'],
    [{ name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } }, 'AuthFailed'],
    [{ name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } }, 'SourceNotFound'],
    [{ name: 'SlowDown', $metadata: { httpStatusCode: 503 } }, 'RateLimited'],
    [Object.assign(new Error('connect'), { cause: { code: 'ECONNREFUSED' } }), 'EndpointUnreachable'],
  ])('S3 %j → %s', (err, reason) => {
    expect(classifyS3Error(err, s3).reason).toBe(reason);
  });

  it.each([
    ['on the error itself (how the SDK passes a refused connection on)', { code: 'ECONNREFUSED' }, 'ECONNREFUSED'],
    ['on its cause', { cause: { code: 'ETIMEDOUT' } }, 'ETIMEDOUT'],
    ['nowhere', {}, 'Error'],
  ])('S3 unreachable: the socket error code %s is named in the message', (_where, extra, shown) => {
    const f = classifyS3Error(Object.assign(new Error('connect'), extra), s3);
    expect(f.reason).toBe('EndpointUnreachable');
    expect(f.message).toMatch(new RegExp(`^cannot reach S3 at .* \\(${shown}\\)$`));
  });

  it.each([
    [401, 'GatedRepo', false, 'GatedModel'],
    [403, 'GatedRepo', true, 'GatedModel'],
    [401, 'RepoNotFound', false, 'SourceNotFound'],
    [404, 'RevisionNotFound', true, 'SourceNotFound'],
    [404, 'EntryNotFound', true, 'SourceNotFound'],
    [401, null, true, 'AuthFailed'],
    [429, null, false, 'RateLimited'],
    [502, null, false, 'EndpointUnreachable'],
  ])('Hub %i %s (token %s) → %s', (status, code, token, reason) => {
    expect(classifyHubResponse(status, code, hf(token)).reason).toBe(reason);
  });

  it('names the page to accept a gated license, and asks for HF_TOKEN when none is set', () => {
    expect(classifyHubResponse(401, 'GatedRepo', hf(false)).message).toMatch(
      /https:\/\/hub\.example\/org\/gated.*set HF_TOKEN/,
    );
    expect(classifyHubResponse(403, 'GatedRepo', hf(true)).message).not.toMatch(/set HF_TOKEN/);
  });
});

describe('scrubbing', () => {
  it('removes URL userinfo, bearer tokens, key shapes and env credential values', () => {
    const env = { AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG' };
    const text = scrub(
      'GET http://user:pa55@minio:9000/x Authorization: Bearer abc.def hf_abcdefghijklmnop AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG',
      env,
    );
    for (const secret of ['pa55', 'abc.def', 'hf_abcdefghijklmnop', 'IOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG'])
      expect(text).not.toContain(secret);
    expect(text).toContain('http://***@minio:9000/x');
  });

  it('scrubs failure messages at construction', () => {
    expect(new DownloaderFailure('AuthFailed', 'token hf_abcdefghijklmnop refused').message).not.toContain(
      'abcdefghijklmnop',
    );
  });
});

describe('termination message', () => {
  it('fits in 4 KiB by truncating lists with counts, then the message', () => {
    const files = Array.from({ length: 500 }, (_, i) => `some/long/path/to/file-${i}.safetensors`);
    const line = fitTerminationMessage({ reason: 'IntegrityMismatch', message: 'x'.repeat(10_000), files, attempt: 2 });
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(4096);
    const parsed = JSON.parse(line) as { files: string[]; filesTruncated: number; reason: string };
    expect(parsed.files).toHaveLength(3);
    expect(parsed.filesTruncated).toBe(497);
    expect(parsed.reason).toBe('IntegrityMismatch');
  });
});

describe('progress', () => {
  it('reports percent, rate, ETA and a display line', () => {
    const p = progressSnapshot(512 * 1024 ** 2, 1024 ** 3, 64 * 1024 ** 2);
    expect(p).toMatchObject({ percent: 50, etaSeconds: 8, bytesPerSecond: 64 * 1024 ** 2 });
    expect(p.display).toBe('50% 512 MiB/1 GiB 64 MiB/s ETA 8s');
  });
});
