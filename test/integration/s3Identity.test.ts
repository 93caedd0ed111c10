import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startContainerCredentialsStandIn,
  startStsStandIn,
  type IdentityStandIn,
  type IssuedKeys,
} from '../harness/awsIdentity.js';
import { baseDownloaderEnv, runDownloader, type DownloaderRun } from '../harness/downloaderProcess.js';
import { deterministicBytes } from '../harness/fixtures.js';
import { startHttpProxy, type HttpProxy } from '../harness/httpProxy.js';
import { startS3Server, type S3Server } from '../harness/s3Server.js';

/**
 * The downloader's S3 identity from the environment, with the real clients: the AWS SDK chain for the probe's
 * listing and s5cmd for the download, against the local S3 server. The identities EKS gives pods are played by local
 * stand-ins: an STS answering AssumeRoleWithWebIdentity (IRSA) and a container credentials endpoint (Pod Identity).
 * The keys they issue exist nowhere else, and the bucket is private: a download that succeeds was signed with them.
 */
const work = mkdtempSync(join(tmpdir(), 'aim-s3id-'));
const ROLE_ARN = 'arn:aws:iam::000000000000:role/aim-downloader';
const WEB_IDENTITY_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.irsa-projected-token.sig';
const POD_IDENTITY_TOKEN = 'pod-identity-agent-token-value';
const tokenFile = join(work, 'irsa-token');
const podTokenFile = join(work, 'pod-identity-token');
const irsaKeys: IssuedKeys[] = [{ accessKey: 'ASIAIRSASTANDIN1', secretKey: 'irsa-secret-one' }];
const podKeys: IssuedKeys[] = [{ accessKey: 'ASIAPODSTANDIN01', secretKey: 'pod-identity-secret-one' }];
const rotatingKeys: IssuedKeys[] = [1, 2, 3].map((n) => ({
  accessKey: `ASIAROTATING0000${n}`,
  secretKey: `rotating-${n}`,
}));
let s3: S3Server;
let s3proxy: HttpProxy;
let sts: IdentityStandIn;
/** Issues credentials 301 s long: s5cmd's SDK treats them as expired 1 s later (it refreshes 5 minutes early). */
let shortSts: IdentityStandIn;
let pod: IdentityStandIn;
let run = 0;

const FILES: Record<string, Buffer> = {
  'config.json': Buffer.from('{"model_type":"llama"}\n'),
  'model.safetensors': deterministicBytes('s3id/model', 1024 * 1024),
};

/** More files than s5cmd has workers (32), each slowed to ~1.5 s: a second wave of requests starts after 1 s. */
const LONG_FILES: Record<string, Buffer> = Object.fromEntries(
  Array.from({ length: 40 }, (_, i) => [
    `shard-${String(i).padStart(2, '0')}.bin`,
    deterministicBytes(`long/${i}`, 48 * 1024),
  ]),
);

beforeAll(async () => {
  writeFileSync(tokenFile, WEB_IDENTITY_TOKEN);
  writeFileSync(podTokenFile, POD_IDENTITY_TOKEN);
  s3 = await startS3Server({
    workDir: join(work, 's3'),
    accessKey: 'aimtestadmin',
    secretKey: 'aimtestadmin-secret',
    readOnlyIdentities: [...irsaKeys, ...podKeys, ...rotatingKeys],
    publicBuckets: ['public-models'],
  });
  for (const bucket of ['private-models', 'public-models']) {
    await s3.createBucket(bucket);
    for (const [k, v] of Object.entries(FILES)) await s3.putObject(bucket, `qwen/${k}`, v);
  }
  for (const [k, v] of Object.entries(LONG_FILES)) await s3.putObject('private-models', `long/${k}`, v);
  [sts, pod, shortSts, s3proxy] = await Promise.all([
    startStsStandIn({ keys: irsaKeys, roleArn: ROLE_ARN, tokenFile }),
    startContainerCredentialsStandIn({ keys: podKeys, token: POD_IDENTITY_TOKEN }),
    startStsStandIn({ keys: rotatingKeys, roleArn: ROLE_ARN, tokenFile, lifetimeSeconds: 301 }),
    startHttpProxy({ target: s3.endpoint }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([sts?.stop(), pod?.stop(), shortSts?.stop(), s3proxy?.stop(), s3?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

/** No AWS keys at all: only what `identity` adds. */
function env(mode: 'probe' | 'download', bucket: string, identity: Record<string, string>): Record<string, string> {
  run += 1;
  return {
    ...baseDownloaderEnv(join(work, `home-${run}`)),
    MODE: mode,
    SOURCE_URI: `s3://${bucket}/qwen`,
    MODEL_ID: 'Qwen/Qwen2-0.5B',
    MOUNT_PATH: mkdtempSync(join(work, 'vol-')),
    TERMINATION_MESSAGE_PATH: join(work, `termination-${run}`),
    TMPDIR: tmpdir(),
    STALL_TIMEOUT: '30',
    ATTEMPT: '1',
    AWS_ENDPOINT_URL: s3.endpoint,
    AWS_REGION: 'us-east-1',
    ...identity,
  };
}

const irsa = (token = tokenFile) => ({
  AWS_WEB_IDENTITY_TOKEN_FILE: token,
  AWS_ROLE_ARN: ROLE_ARN,
  AWS_ROLE_SESSION_NAME: 'aim-downloader',
  AWS_ENDPOINT_URL_STS: sts.url,
});
const podIdentity = (token = podTokenFile) => ({
  AWS_CONTAINER_CREDENTIALS_FULL_URI: pod.url,
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: token,
});

const everything = (r: DownloaderRun) => JSON.stringify(r.result) + r.stdout + r.stderr;

function expectDownloaded(r: DownloaderRun, e: Record<string, string>): void {
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.result).toMatchObject({ verified: true, files: 2 });
  for (const [k, v] of Object.entries(FILES))
    expect(readFileSync(join(e.MOUNT_PATH!, 'Qwen/Qwen2-0.5B', k)).equals(v)).toBe(true);
}

describe.each([
  {
    name: 'IRSA (web identity token through STS)',
    identity: irsa,
    standIn: () => sts,
    keys: irsaKeys,
    logged: 'the web identity token (IRSA) (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)',
  },
  {
    name: 'EKS Pod Identity (container credentials)',
    identity: podIdentity,
    standIn: () => pod,
    keys: podKeys,
    logged: 'the container credentials endpoint (Pod Identity) (AWS_CONTAINER_CREDENTIALS_FULL_URI)',
  },
])('$name', ({ identity, standIn, keys, logged }) => {
  it('probes and downloads a private bucket, both signed with the issued keys', async () => {
    const before = standIn().issued();
    const probe = await runDownloader(env('probe', 'private-models', identity()));
    expect(probe.code, probe.stdout + probe.stderr).toBe(0);
    expect(probe.result).toMatchObject({ files: 2 });
    expect(standIn().issued()).toBeGreaterThan(before);

    const e = env('download', 'private-models', identity());
    const dl = await runDownloader(e);
    expectDownloaded(dl, e);
    for (const secret of [WEB_IDENTITY_TOKEN, POD_IDENTITY_TOKEN, ...keys.map((k) => k.secretKey)])
      expect(everything(probe) + everything(dl)).not.toContain(secret);
    expect(probe.stdout).toContain(`"s3Identity":"${logged}"`);
  });

  it('reports a token the identity service refuses as AuthFailed naming the source, not the token', async () => {
    const wrong = join(work, `wrong-token-${run}`);
    writeFileSync(wrong, 'a-token-nobody-accepts');
    const before = standIn().refused();
    const r = await runDownloader(env('probe', 'private-models', identity(wrong)));
    expect(r.code).toBe(1);
    expect(r.result).toMatchObject({ reason: 'AuthFailed' });
    expect(String(r.result.message)).toMatch(/could not obtain AWS credentials from .*AWS_/);
    expect(standIn().refused()).toBeGreaterThan(before);
    expect(everything(r)).not.toContain('a-token-nobody-accepts');
  });
});

describe('credentials that expire during a download', () => {
  it('are refreshed: s5cmd comes back for new ones and the download completes', async () => {
    s3proxy.slowDown('/long/', 32 * 1024);
    const e = env('download', 'private-models', {
      ...irsa(),
      AWS_ENDPOINT_URL_STS: shortSts.url,
      AWS_ENDPOINT_URL: s3proxy.url,
      SOURCE_URI: 's3://private-models/long',
    });
    const before = shortSts.issued();
    const r = await runDownloader(e);
    s3proxy.clearFaults();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.result).toMatchObject({ verified: true, files: 40 });
    // One set for the listing, one when s5cmd starts, and at least one more when its first set ran out mid-way.
    expect(shortSts.issued() - before).toBeGreaterThanOrEqual(3);
  });
});

describe('no identity configured', () => {
  it('reads a public bucket unsigned (the download lists with the SDK, then runs s5cmd)', async () => {
    const e = env('download', 'public-models', {});
    expectDownloaded(await runDownloader(e), e);
  });

  it('reports a private bucket as AuthFailed: unsigned access refused', async () => {
    const r = await runDownloader(env('probe', 'private-models', {}));
    expect(r.result).toMatchObject({ reason: 'AuthFailed' });
    expect(r.result.message).toContain('refused unsigned access to s3://private-models/qwen/');
  });
});
