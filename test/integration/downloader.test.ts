import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseDownloaderEnv, runDownloader, startDownloader } from '../harness/downloaderProcess.js';
import {
  contentBuffer,
  deterministicBytes,
  GATED_REPO,
  modelFiles,
  PRIVATE_REPO,
  PUBLIC_REPO,
  REVISIONED_REPO,
  SECOND_BRANCH,
} from '../harness/fixtures.js';
import { startHfHub, type HfHub } from '../harness/hfHub.js';
import { startHttpProxy, type HttpProxy } from '../harness/httpProxy.js';
import { startS3Server, type S3Server } from '../harness/s3Server.js';
import { waitFor } from '../harness/processes.js';

/**
 * The downloader program against a real S3 server (SigV4 keys checked) and a Hub-protocol endpoint, run as the same
 * local process the Job image runs. Every failure reason is produced for real and read from the termination message.
 */
const work = mkdtempSync(join(tmpdir(), 'aim-dl-'));
const ACCESS = 'aimtestaccess';
const SECRET = 'aimtestsecret-s3cr3t-value';
let s3: S3Server;
let s3proxy: HttpProxy;
let hub: HfHub;
let run = 0;

const S3_FILES: Record<string, Buffer> = {
  'config.json': Buffer.from('{"model_type":"llama"}\n'),
  'model.safetensors': deterministicBytes('s3/model', 3 * 1024 * 1024),
  'sub/tokenizer.json': Buffer.from('{"tokens":[]}\n'),
};
const S3_TOTAL = Object.values(S3_FILES).reduce((n, b) => n + b.length, 0);

beforeAll(async () => {
  [s3, hub] = await Promise.all([
    startS3Server({ workDir: join(work, 's3'), accessKey: ACCESS, secretKey: SECRET }),
    startHfHub(),
  ]);
  await s3.createBucket('models');
  await s3.createBucket('empty');
  for (const [k, v] of Object.entries(S3_FILES)) await s3.putObject('models', `qwen/${k}`, v);
  s3proxy = await startHttpProxy({ target: s3.endpoint });
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([s3proxy?.stop(), s3?.stop(), hub?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

/** A fresh volume, termination file and HOME per run unless a volume is passed (resume tests reuse it). */
function env(over: Record<string, string>, volume?: string): Record<string, string> {
  run += 1;
  const dir = join(work, `run-${run}`);
  return {
    ...baseDownloaderEnv(join(dir, 'home')),
    MOUNT_PATH: volume ?? mkdtempSync(join(work, 'vol-')),
    TERMINATION_MESSAGE_PATH: join(work, `termination-${run}`),
    TMPDIR: tmpdir(),
    HF_HOME: join(dir, 'hf-home'),
    STALL_TIMEOUT: '30',
    ATTEMPT: '1',
    ...over,
  };
}

const s3env = (over: Record<string, string> = {}, volume?: string) =>
  env(
    {
      SOURCE_URI: 's3://models/qwen',
      MODEL_ID: 'Qwen/Qwen2-0.5B',
      AWS_ENDPOINT_URL: s3.endpoint,
      AWS_ACCESS_KEY_ID: ACCESS,
      AWS_SECRET_ACCESS_KEY: SECRET,
      AWS_REGION: 'us-east-1',
      ...over,
    },
    volume,
  );

const hfenv = (repo: string, over: Record<string, string> = {}, volume?: string) =>
  env({ SOURCE_URI: `hf://${repo}`, MODEL_ID: repo, HF_ENDPOINT: hub.endpoint, ...over }, volume);

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** How many files the run hashed while the tool was running and after it (the `done` log line). */
function hashedCounts(stdout: string): { duringTransfer: number; afterTransfer: number } {
  const done = stdout.split('\n').find((l) => l.includes('"event":"done"'));
  return (JSON.parse(done ?? '{}') as { hashed: { duringTransfer: number; afterTransfer: number } }).hashed;
}

describe('probe', () => {
  it('measures an S3 prefix: total bytes and file count', async () => {
    const r = await runDownloader(s3env({ MODE: 'probe' }));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.result).toEqual({ totalBytes: S3_TOTAL, files: 3 });
  });

  it('reports wrong S3 keys as AuthFailed without echoing them', async () => {
    const r = await runDownloader(
      s3env({ MODE: 'probe', AWS_ACCESS_KEY_ID: 'wrongaccess', AWS_SECRET_ACCESS_KEY: 'wrong-secret-value' }),
    );
    expect(r.code).toBe(1);
    expect(r.result).toMatchObject({ reason: 'AuthFailed', attempt: 1 });
    expect(JSON.stringify(r) + r.stdout).not.toContain('wrong-secret-value');
  });

  it('reports a missing bucket and an empty prefix as SourceNotFound', async () => {
    const bucket = await runDownloader(s3env({ MODE: 'probe', SOURCE_URI: 's3://no-such-bucket/x' }));
    expect(bucket.result).toMatchObject({ reason: 'SourceNotFound' });
    expect(bucket.result.message).toContain('no-such-bucket');
    const prefix = await runDownloader(s3env({ MODE: 'probe', SOURCE_URI: 's3://empty/nothing-here' }));
    expect(prefix.result).toMatchObject({ reason: 'SourceNotFound' });
    expect(prefix.result.message).toContain('no objects under s3://empty/nothing-here/');
  });

  it('reports an endpoint where nothing listens as EndpointUnreachable', async () => {
    const r = await runDownloader(s3env({ MODE: 'probe', AWS_ENDPOINT_URL: 'http://127.0.0.1:1' }));
    expect(r.result).toMatchObject({ reason: 'EndpointUnreachable' });
  });

  it('measures a Hugging Face repo and resolves its commit', async () => {
    const r = await runDownloader(hfenv(PUBLIC_REPO, { MODE: 'probe' }));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const files = modelFiles(PUBLIC_REPO);
    expect(r.result).toEqual({
      totalBytes: Object.values(files).reduce((n, c) => n + contentBuffer(c).length, 0),
      files: Object.keys(files).length,
      revision: hub.commitOf(PUBLIC_REPO, 'main'),
    });
  });

  it('reports a gated repo as GatedModel naming the page to accept, with or without a token', async () => {
    const anon = await runDownloader(hfenv(GATED_REPO, { MODE: 'probe' }));
    expect(anon.result).toMatchObject({ reason: 'GatedModel' });
    expect(anon.result.message).toContain(`${hub.endpoint}/${GATED_REPO}`);
    expect(anon.result.message).toContain('set HF_TOKEN');
    const noAccess = await runDownloader(hfenv(GATED_REPO, { MODE: 'probe', HF_TOKEN: hub.noAccessToken }));
    expect(noAccess.result).toMatchObject({ reason: 'GatedModel' });
    expect(JSON.stringify(noAccess.result)).not.toContain(hub.noAccessToken);
  });

  it('reports a missing repo or revision as SourceNotFound and a bad token as AuthFailed', async () => {
    expect((await runDownloader(hfenv('fixtures/missing', { MODE: 'probe' }))).result).toMatchObject({
      reason: 'SourceNotFound',
    });
    expect((await runDownloader(hfenv(PRIVATE_REPO, { MODE: 'probe' }))).result).toMatchObject({
      reason: 'SourceNotFound',
    });
    const rev = await runDownloader(hfenv(PUBLIC_REPO, { MODE: 'probe', SOURCE_URI: `hf://${PUBLIC_REPO}@nope` }));
    expect(rev.result).toMatchObject({ reason: 'SourceNotFound' });
    const bad = await runDownloader(hfenv(PRIVATE_REPO, { MODE: 'probe', HF_TOKEN: 'hf_invalidtokenvalue123' }));
    expect(bad.result).toMatchObject({ reason: 'AuthFailed' });
    expect(JSON.stringify(bad.result)).not.toContain('hf_invalidtokenvalue123');
  });
});

describe('download from S3 (s5cmd)', () => {
  it('copies every object under the prefix into {MOUNT_PATH}/{MODEL_ID}, verified', async () => {
    const e = s3env({ MODE: 'download' });
    const r = await runDownloader(e);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.result).toMatchObject({ verified: true, totalBytes: S3_TOTAL, files: 3 });
    for (const [k, v] of Object.entries(S3_FILES))
      expect(readFileSync(join(e.MOUNT_PATH!, 'Qwen/Qwen2-0.5B', k)).equals(v)).toBe(true);
    // Every object here is single-part, so each has an MD5 and each was read once: during the transfer or after it.
    const hashed = hashedCounts(r.stdout);
    expect(hashed.duringTransfer + hashed.afterTransfer).toBe(3);
  });

  it('hashes the objects s5cmd has finished while the rest still transfers', async () => {
    s3proxy.slowDown('model.safetensors', 1024 * 1024);
    const r = await runDownloader(s3env({ MODE: 'download', AWS_ENDPOINT_URL: s3proxy.url }));
    s3proxy.clearFaults();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // config.json and tokenizer.json finish ~3 s before the weights: judged then, not read again at the end (the
    // weights too, when their line comes before s5cmd exits).
    const hashed = hashedCounts(r.stdout);
    expect(hashed.duringTransfer).toBeGreaterThanOrEqual(2);
    expect(hashed.duringTransfer + hashed.afterTransfer).toBe(3);
  });

  it('catches an object corrupted in transit and judged during the transfer, deleting only it', async () => {
    s3proxy.corrupt('config.json');
    s3proxy.slowDown('model.safetensors', 1024 * 1024);
    const e = s3env({ MODE: 'download', AWS_ENDPOINT_URL: s3proxy.url });
    const r = await runDownloader(e);
    s3proxy.clearFaults();
    expect(r.result).toMatchObject({ reason: 'IntegrityMismatch' });
    expect(r.result.message).toContain('1 file(s) failed verification');
    expect(r.result.message).toContain('config.json (MD5 (ETag) mismatch)');
    expect(existsSync(join(e.MOUNT_PATH!, 'Qwen/Qwen2-0.5B/config.json'))).toBe(false);
    expect(existsSync(join(e.MOUNT_PATH!, 'Qwen/Qwen2-0.5B/model.safetensors'))).toBe(true);
  });

  it('refuses to start when the volume is too small (InsufficientStorage names both sizes)', async () => {
    const r = await runDownloader(s3env({ MODE: 'download', VOLUME_CAPACITY_BYTES: '100000' }));
    expect(r.result).toMatchObject({ reason: 'InsufficientStorage' });
    expect(r.result.message).toMatch(/97\.7 KiB free but 3 MiB are still needed/);
  });

  it('fails a stalled transfer with Stalled within the stall timeout, then resumes without refetching complete files', async () => {
    s3proxy.stallAfter('model.safetensors', 512 * 1024);
    const first = s3env({ MODE: 'download', AWS_ENDPOINT_URL: s3proxy.url, STALL_TIMEOUT: '5' });
    const stalled = await runDownloader(first);
    expect(stalled.result).toMatchObject({ reason: 'Stalled', attempt: 1 });
    // Bounded, not timed: the point is that a stall ends the attempt instead of hanging.
    expect(stalled.elapsedMs).toBeLessThan(60_000);
    expect(existsSync(join(first.MOUNT_PATH!, 'Qwen/Qwen2-0.5B/config.json'))).toBe(true);

    s3proxy.clearFaults();
    s3proxy.resetCounters();
    const second = await runDownloader(
      s3env({ MODE: 'download', AWS_ENDPOINT_URL: s3proxy.url, ATTEMPT: '2' }, first.MOUNT_PATH),
    );
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.result).toMatchObject({ verified: true });
    expect(s3proxy.bytesServed('config.json')).toBe(0);
    expect(s3proxy.bytesServed('tokenizer.json')).toBe(0);
    expect(s3proxy.bytesServed('model.safetensors')).toBe(S3_FILES['model.safetensors']!.length);
  });

  it('survives kill -9 mid-download: the next run fetches only what is missing', async () => {
    s3proxy.stallAfter('model.safetensors', 256 * 1024);
    const first = s3env({ MODE: 'download', AWS_ENDPOINT_URL: s3proxy.url, STALL_TIMEOUT: '300' });
    const dl = startDownloader(first);
    await waitFor(
      'partial download',
      async () => existsSync(join(first.MOUNT_PATH!, 'Qwen/Qwen2-0.5B/config.json')) || undefined,
      { timeoutMs: 60_000 },
    );
    dl.kill9();
    await dl.done;
    s3proxy.clearFaults();
    s3proxy.resetCounters();
    const again = await runDownloader(s3env({ MODE: 'download', AWS_ENDPOINT_URL: s3proxy.url }, first.MOUNT_PATH));
    expect(again.result).toMatchObject({ verified: true });
    expect(s3proxy.bytesServed('config.json')).toBe(0);
  });

  it('deletes a corrupted object and reports IntegrityMismatch naming it', async () => {
    s3proxy.corrupt('model.safetensors');
    const e = s3env({ MODE: 'download', AWS_ENDPOINT_URL: s3proxy.url });
    const r = await runDownloader(e);
    s3proxy.clearFaults();
    expect(r.result).toMatchObject({ reason: 'IntegrityMismatch' });
    expect(r.result.message).toContain('model.safetensors (MD5 (ETag) mismatch)');
    expect(existsSync(join(e.MOUNT_PATH!, 'Qwen/Qwen2-0.5B/model.safetensors'))).toBe(false);
    expect(existsSync(join(e.MOUNT_PATH!, 'Qwen/Qwen2-0.5B/config.json'))).toBe(true);
  });
});

describe('download from Hugging Face (hf CLI)', () => {
  it('downloads a token-only repo with HF_TOKEN and verifies LFS sha256', async () => {
    const e = hfenv(PRIVATE_REPO, { MODE: 'download', HF_TOKEN: hub.token });
    const r = await runDownloader(e);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.result).toMatchObject({ verified: true, revision: hub.commitOf(PRIVATE_REPO, 'main') });
    const weights = contentBuffer(modelFiles(PRIVATE_REPO)['model.safetensors']!);
    expect(sha256(readFileSync(join(e.MOUNT_PATH!, PRIVATE_REPO, 'model.safetensors')))).toBe(sha256(weights));
    expect(r.stdout + r.stderr).not.toContain(hub.token);
    // Every file of a Hub repo has a digest (LFS sha256 or git blob id): each was read once.
    const hashed = hashedCounts(r.stdout);
    expect(hashed.duringTransfer + hashed.afterTransfer).toBe(Object.keys(modelFiles(PRIVATE_REPO)).length);
  });

  it('downloads the requested revision', async () => {
    const e = hfenv(REVISIONED_REPO, { MODE: 'download', SOURCE_URI: `hf://${REVISIONED_REPO}@${SECOND_BRANCH}` });
    const r = await runDownloader(e);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.result).toMatchObject({ revision: hub.commitOf(REVISIONED_REPO, SECOND_BRANCH) });
    expect(readFileSync(join(e.MOUNT_PATH!, REVISIONED_REPO, 'v2-only.txt'), 'utf8')).toBe('only on v2\n');
  });

  it('stalls, then resumes on the same volume without refetching complete files', async () => {
    hub.stallAfter(`${PUBLIC_REPO}/model.safetensors`, 256 * 1024);
    const first = hfenv(PUBLIC_REPO, { MODE: 'download', STALL_TIMEOUT: '5' });
    const stalled = await runDownloader(first);
    expect(stalled.result).toMatchObject({ reason: 'Stalled' });
    hub.clearFaults();
    hub.resetCounters();
    const again = await runDownloader(
      hfenv(PUBLIC_REPO, { MODE: 'download', HF_HUB_DISABLE_XET: '1' }, first.MOUNT_PATH),
    );
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(hub.bytesServed(`${PUBLIC_REPO}/config.json`)).toBe(0);
  });

  it('hashes each file while hf writes it: nothing is read again after the transfer', async () => {
    // The weights take ~3 s, so hf is still writing them at the downloader's first looks; before following hf's
    // temporary files, the last file to finish was always read again after hf exited.
    hub.slowDown(`${PUBLIC_REPO}/model.safetensors`, 1024 * 1024);
    const e = hfenv(PUBLIC_REPO, { MODE: 'download' });
    const r = await runDownloader(e);
    hub.clearFaults();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const weights = contentBuffer(modelFiles(PUBLIC_REPO)['model.safetensors']!);
    expect(sha256(readFileSync(join(e.MOUNT_PATH!, PUBLIC_REPO, 'model.safetensors')))).toBe(sha256(weights));
    expect(hashedCounts(r.stdout)).toEqual({
      duringTransfer: Object.keys(modelFiles(PUBLIC_REPO)).length,
      afterTransfer: 0,
    });
  });

  it('deletes a corrupted LFS file and reports IntegrityMismatch', async () => {
    hub.corrupt(`${PUBLIC_REPO}/model.safetensors`);
    const e = hfenv(PUBLIC_REPO, { MODE: 'download' });
    const r = await runDownloader(e);
    hub.clearFaults();
    expect(r.result).toMatchObject({ reason: 'IntegrityMismatch' });
    expect(r.result.message).toContain('model.safetensors (sha256 mismatch)');
    expect(existsSync(join(e.MOUNT_PATH!, PUBLIC_REPO, 'model.safetensors'))).toBe(false);
  });
});
