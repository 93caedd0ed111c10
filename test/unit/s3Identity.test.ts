import { describe, expect, it } from 'vitest';
import type { S3Source } from '../../downloader/config.js';
import { DownloaderFailure, scrub } from '../../downloader/failures.js';
import {
  resolveS3Credentials,
  stsClientConfig,
  type CredentialProvider,
  type S3Access,
} from '../../downloader/s3/credentials.js';
import { serveCredentials } from '../../downloader/s3/credentialsEndpoint.js';
import { decideS3Identity, describeS3Identity, type S3IdentityDecision } from '../../downloader/s3/identity.js';
import { s5cmdArgs, s5cmdEnv } from '../../downloader/s3/s5cmd.js';
import { classifyS3Error } from '../../downloader/s3/source.js';

const noFiles = { sharedFilesExist: false };

describe('the S3 signing decision', () => {
  it.each<[string, NodeJS.ProcessEnv, boolean, Partial<S3IdentityDecision>]>([
    ['nothing configured', {}, false, { sign: false, source: 'none' }],
    [
      'only unrelated AWS settings',
      { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: 'http://minio:9000' },
      false,
      { sign: false },
    ],
    [
      'static keys',
      { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's' },
      false,
      { sign: true, source: 'static-keys' },
    ],
    [
      'static keys with a session token',
      { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' },
      false,
      { sign: true, source: 'static-keys' },
    ],
    [
      'a key id without its secret',
      { AWS_ACCESS_KEY_ID: 'a' },
      false,
      { sign: true, source: 'static-keys', incomplete: 'AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not' },
    ],
    [
      'a secret without its key id',
      { AWS_SECRET_ACCESS_KEY: 's' },
      false,
      { sign: true, incomplete: 'AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not' },
    ],
    [
      'a profile (wins over keys, as in the SDK)',
      { AWS_PROFILE: 'dev', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's' },
      false,
      { sign: true, source: 'profile' },
    ],
    [
      'IRSA: token file and role',
      {
        AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
        AWS_ROLE_ARN: 'arn:aws:iam::1:role/r',
      },
      false,
      { sign: true, source: 'web-identity' },
    ],
    [
      'IRSA without the role',
      { AWS_WEB_IDENTITY_TOKEN_FILE: '/t' },
      false,
      { sign: true, incomplete: 'AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not' },
    ],
    [
      'Pod Identity: full URI and token file',
      {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials',
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: '/t',
      },
      false,
      { sign: true, source: 'container', variables: ['AWS_CONTAINER_CREDENTIALS_FULL_URI'] },
    ],
    [
      'ECS: relative URI',
      { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/x' },
      false,
      { sign: true, source: 'container' },
    ],
    ['shared config or credentials files', {}, true, { sign: true, source: 'shared-files' }],
    [
      'keys win over shared files',
      { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's' },
      true,
      { source: 'static-keys' },
    ],
    ['empty values count as unset', { AWS_ACCESS_KEY_ID: '', AWS_WEB_IDENTITY_TOKEN_FILE: '' }, false, { sign: false }],
  ])('%s', (_name, env, sharedFilesExist, expected) => {
    const d = decideS3Identity(env, { sharedFilesExist });
    expect(d).toMatchObject(expected);
    if (!('incomplete' in expected)) expect(d.incomplete).toBeUndefined();
  });

  it('names the source and its variables, never their values', () => {
    const d = decideS3Identity({ AWS_WEB_IDENTITY_TOKEN_FILE: '/secret/path', AWS_ROLE_ARN: 'arn:x' }, noFiles);
    expect(describeS3Identity(d)).toBe('the web identity token (IRSA) (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)');
    expect(describeS3Identity(decideS3Identity({}, noFiles))).toBe('no credentials (unsigned requests)');
  });
});

describe('resolving credentials', () => {
  const access = (env: NodeJS.ProcessEnv, provider?: CredentialProvider): S3Access => ({
    decision: decideS3Identity(env, noFiles),
    ...(provider && { provider }),
  });

  it('is nothing to resolve when unsigned', async () => {
    expect(await resolveS3Credentials(access({}))).toBeUndefined();
  });

  it('fails a half-configured source as AuthFailed before asking anyone', async () => {
    let asked = false;
    const provider = (() => (
      (asked = true),
      Promise.resolve({ accessKeyId: 'a', secretAccessKey: 's' })
    )) as CredentialProvider;
    const err = await resolveS3Credentials(access({ AWS_WEB_IDENTITY_TOKEN_FILE: '/t' }, provider)).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DownloaderFailure);
    expect(err).toMatchObject({ reason: 'AuthFailed', message: expect.stringContaining('AWS_ROLE_ARN is not') });
    expect(asked).toBe(false);
  });

  it.each([
    [
      'a refused token',
      Object.assign(new Error('token refused: secret-token-text'), { name: 'InvalidIdentityToken' }),
      'AuthFailed',
    ],
    [
      'an unreachable STS',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      'EndpointUnreachable',
    ],
    [
      'a timeout deep in the cause chain',
      new Error('wrapped', { cause: Object.assign(new Error('x'), { name: 'TimeoutError' }) }),
      'EndpointUnreachable',
    ],
  ])('classifies %s without quoting the SDK message', async (_n, thrown, reason) => {
    const provider = (() => Promise.reject(thrown)) as CredentialProvider;
    const err = (await resolveS3Credentials(
      access({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's' }, provider),
    ).catch((e: unknown) => e)) as DownloaderFailure;
    expect(err.reason).toBe(reason);
    expect(err.message).toContain('static keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)');
    expect(err.message).not.toContain('secret-token-text');
  });
});

describe('where STS calls go', () => {
  it.each<[string, NodeJS.ProcessEnv, ReturnType<typeof stsClientConfig>]>([
    ['never to the S3 endpoint', { AWS_ENDPOINT_URL: 'https://minio:9000' }, { ignoreConfiguredEndpointUrls: true }],
    ['to STS by default', {}, { ignoreConfiguredEndpointUrls: true }],
    [
      'to AWS_ENDPOINT_URL_STS when set',
      { AWS_ENDPOINT_URL: 'https://minio:9000', AWS_ENDPOINT_URL_STS: 'https://sts.vpce.example' },
      { endpoint: 'https://sts.vpce.example' },
    ],
  ])('%s', (_n, env, expected) => expect(stsClientConfig(env)).toEqual(expected));
});

describe('S3 refusals name the identity that was refused', () => {
  const src: S3Source = { kind: 's3', bucket: 'b', prefix: 'p', region: 'us-east-1', pathStyle: true };
  const denied = Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });

  it('unsigned: the bucket is not public', () => {
    expect(classifyS3Error(denied, src, decideS3Identity({}, noFiles)).message).toBe(
      'S3 refused unsigned access to s3://b/p/ (AccessDenied): no AWS credentials are configured and the bucket is not public',
    );
  });

  it('signed: names the source', () => {
    const d = decideS3Identity({ AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:1/x' }, noFiles);
    expect(classifyS3Error(denied, src, d)).toMatchObject({
      reason: 'AuthFailed',
      message: expect.stringContaining('of the container credentials endpoint (Pod Identity)'),
    });
  });
});

describe('s5cmd invocation', () => {
  const src: S3Source = {
    kind: 's3',
    bucket: 'm',
    prefix: 'q',
    endpoint: 'http://s3',
    region: 'us-east-1',
    pathStyle: true,
  };

  it('passes --no-sign-request only when the decision is unsigned', () => {
    expect(s5cmdArgs(src, '/cache/x', false)).toContain('--no-sign-request');
    expect(s5cmdArgs(src, '/cache/x', true)).not.toContain('--no-sign-request');
  });

  it('strips every identity of its own and adds only the loopback endpoint', () => {
    const base = {
      PATH: '/bin',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'a',
      AWS_SECRET_ACCESS_KEY: 's',
      AWS_SESSION_TOKEN: 't',
      AWS_PROFILE: 'p',
      AWS_WEB_IDENTITY_TOKEN_FILE: '/t',
      AWS_ROLE_ARN: 'arn',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials',
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: '/pod',
    };
    const endpoint = {
      env: { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:5/c', AWS_CONTAINER_AUTHORIZATION_TOKEN: 'x' },
    };
    const signed = s5cmdEnv(base, '/tmp', { ...endpoint, served: () => 0, close: () => Promise.resolve() });
    expect(signed).toEqual({
      PATH: '/bin',
      AWS_REGION: 'us-east-1',
      AWS_SHARED_CREDENTIALS_FILE: '/tmp/aim-downloader-no-aws-files',
      AWS_CONFIG_FILE: '/tmp/aim-downloader-no-aws-files',
      AWS_EC2_METADATA_DISABLED: 'true',
      ...endpoint.env,
    });
    const unsigned = s5cmdEnv(base, '/tmp');
    expect(Object.keys(unsigned).filter((k) => k.startsWith('AWS_CONTAINER') || k.includes('KEY'))).toEqual([]);
  });
});

describe('the loopback credentials endpoint for s5cmd', () => {
  const inMinutes = (m: number) => new Date(Date.now() + m * 60_000);

  async function withEndpoint(
    issue: (opts?: { forceRefresh?: boolean }) => {
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken?: string;
      expiration?: Date;
    },
    check: (get: (token?: string) => Promise<Response>) => Promise<void>,
  ): Promise<void> {
    const provider = ((opts?: { forceRefresh?: boolean }) => Promise.resolve(issue(opts))) as CredentialProvider;
    const endpoint = await serveCredentials({ decision: decideS3Identity({ AWS_PROFILE: 'p' }, noFiles), provider });
    try {
      const url = endpoint.env.AWS_CONTAINER_CREDENTIALS_FULL_URI!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/credentials\/[0-9a-f]{16}$/);
      await check((token = endpoint.env.AWS_CONTAINER_AUTHORIZATION_TOKEN) =>
        fetch(url, { headers: token ? { authorization: token } : {} }),
      );
    } finally {
      await endpoint.close();
    }
  }

  it('serves the container credentials format, with the session token and expiration', async () => {
    const expiration = inMinutes(60);
    await withEndpoint(
      () => ({ accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'ST', expiration }),
      async (get) => {
        const res = await get();
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({
          AccessKeyId: 'AK',
          SecretAccessKey: 'SK',
          Token: 'ST',
          Expiration: expiration.toISOString(),
        });
      },
    );
  });

  it('refuses a request without the per-run token', async () => {
    await withEndpoint(
      () => ({ accessKeyId: 'AK', secretAccessKey: 'SK' }),
      async (get) => {
        expect((await get('')).status).toBe(403);
        expect((await get('0'.repeat(64))).status).toBe(403);
      },
    );
  });

  it('refreshes credentials that s5cmd would consider nearly expired', async () => {
    const calls: boolean[] = [];
    await withEndpoint(
      (opts) => {
        calls.push(Boolean(opts?.forceRefresh));
        return opts?.forceRefresh
          ? { accessKeyId: 'FRESH', secretAccessKey: 'S', expiration: inMinutes(60) }
          : { accessKeyId: 'OLD', secretAccessKey: 'S', expiration: inMinutes(7) };
      },
      async (get) => {
        expect(((await (await get()).json()) as { AccessKeyId: string }).AccessKeyId).toBe('FRESH');
        expect(calls).toEqual([false, true]);
      },
    );
  });
});

describe('scrubbing', () => {
  it('removes an inline Pod Identity token from any text', () => {
    expect(
      scrub('Authorization tok-value-123 refused', { AWS_CONTAINER_AUTHORIZATION_TOKEN: 'tok-value-123' }),
    ).not.toContain('tok-value-123');
  });
});
