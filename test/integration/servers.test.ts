// Fidelity of the S3 and Hugging Face test servers and the fault-injecting proxy, checked with the REAL clients the
// downloader uses (s5cmd, the `hf` CLI of huggingface_hub 1.x, curl), never with our own code.
// Every client runs with an explicit, minimal environment: a temp HOME/HF_HOME, telemetry and update checks off, and
// HTTP(S)_PROXY pointing at a closed port (NO_PROXY for loopback) so any stray call to the internet fails at once.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binPath, cacheDir } from '../harness/bins.js';
import {
  contentBuffer,
  defaultHubRepos,
  GATED_REPO,
  GeneratedContent,
  modelFiles,
  PRIVATE_REPO,
  PUBLIC_REPO,
  REVISIONED_REPO,
  SECOND_BRANCH,
  sha256Hex,
  type FixtureContent,
  type HubRepoFixture,
} from '../harness/fixtures.js';
import { startHfHub, type HfHub } from '../harness/hfHub.js';
import { startHttpProxy, type HttpProxy } from '../harness/httpProxy.js';
import { runCli, startS3Server, type CliResult, type S3Server } from '../harness/s3Server.js';

const ACCESS_KEY = 'AKIAAIMTESTFIXTURE01';
const SECRET_KEY = 'aim-test-secret-key-0123456789abcdefghij';
const BUCKET = 'models';
const PREFIX = 'llama-tiny';
/** An LFS file larger than huggingface_hub's 10 MiB read chunk, so a stall mid-file leaves a resumable offset. */
const RESUME_REPO = 'fixtures/resume';
const RESUME_FILE_BYTES = 24 * 1024 * 1024;

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'aim-servers-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let dirCounter = 0;
async function freshDir(label: string): Promise<string> {
  return mkdtemp(join(root, `${label}-${++dirCounter}-`));
}

/** Every regular file under `dir` (relative path → bytes), skipping huggingface_hub's `.cache` bookkeeping. */
async function readTree(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath, e.name);
    const rel = relative(dir, full);
    if (rel.startsWith('.cache/')) continue;
    out.set(rel, await readFile(full));
  }
  return out;
}

function expectSameFiles(actual: Map<string, Buffer>, expected: Record<string, FixtureContent>): void {
  expect([...actual.keys()].sort()).toEqual(Object.keys(expected).sort());
  for (const [path, content] of Object.entries(expected)) {
    // Compare digests: a failure message with two 3 MiB buffers helps nobody.
    expect(sha256Hex(actual.get(path) ?? Buffer.alloc(0)), path).toBe(sha256Hex(contentBuffer(content)));
  }
}

/** What unites the failure output of a CLI run: exit code plus both streams. */
function output(r: CliResult): string {
  return `${r.stdout}\n${r.stderr}`;
}

// ---------------------------------------------------------------------------------------------------------------
// S3: SeaweedFS + s5cmd
// ---------------------------------------------------------------------------------------------------------------

describe('S3 server (SeaweedFS) with the real s5cmd', () => {
  let s3: S3Server;
  const files = modelFiles('s3-fixture');
  const s5 = (
    endpoint: string,
    args: string[],
    creds?: { accessKey?: string; secretKey?: string },
  ): Promise<CliResult> =>
    runCli(binPath('s5cmd'), ['--endpoint-url', endpoint, '-r', '0', ...args], s3.clientEnv(creds), {
      timeoutMs: 60_000,
    });

  beforeAll(async () => {
    s3 = await startS3Server({ workDir: await freshDir('s3'), accessKey: ACCESS_KEY, secretKey: SECRET_KEY });
    console.log(`[servers.test] SeaweedFS S3 ready in ${s3.startupMs} ms at ${s3.endpoint}`);
    await s3.createBucket(BUCKET);
    for (const [path, content] of Object.entries(files)) await s3.putObject(BUCKET, `${PREFIX}/${path}`, content);
  });

  afterAll(async () => {
    await s3?.stop();
  });

  it('lists and copies objects with the right keys', async () => {
    const ls = await s5(s3.endpoint, ['ls', `s3://${BUCKET}/${PREFIX}/*`]);
    expect(ls.code, ls.stderr).toBe(0);
    for (const path of Object.keys(files)) expect(ls.stdout).toContain(path);

    const dest = await freshDir('s3-cp');
    const cp = await s5(s3.endpoint, ['cp', `s3://${BUCKET}/${PREFIX}/*`, `${dest}/`]);
    expect(cp.code, cp.stderr).toBe(0);
    expectSameFiles(await readTree(dest), files);
  });

  it('reports single-part object ETags as the MD5 of the content', async () => {
    const ls = await s5(s3.endpoint, ['ls', '--etag', `s3://${BUCKET}/${PREFIX}/config.json`]);
    expect(ls.code, ls.stderr).toBe(0);
    const md5 = createHash('md5')
      .update(contentBuffer(files['config.json'] as FixtureContent))
      .digest('hex');
    expect(ls.stdout).toContain(md5);
  });

  it('rejects a wrong secret key with SignatureDoesNotMatch (403)', async () => {
    const r = await s5(s3.endpoint, ['ls', `s3://${BUCKET}/*`], { secretKey: 'not-the-secret' });
    expect(r.code).not.toBe(0);
    expect(output(r)).toContain('SignatureDoesNotMatch');
    expect(output(r)).toContain('status code: 403');
  });

  it('rejects an unknown access key with InvalidAccessKeyId (403)', async () => {
    const r = await s5(s3.endpoint, ['ls', `s3://${BUCKET}/*`], { accessKey: 'AKIAUNKNOWN000000000', secretKey: 'x' });
    expect(r.code).not.toBe(0);
    expect(output(r)).toContain('InvalidAccessKeyId');
    expect(output(r)).toContain('status code: 403');
  });

  it('answers NoSuchBucket (404) for a missing bucket, on list and on copy', async () => {
    const ls = await s5(s3.endpoint, ['ls', 's3://no-such-bucket/*']);
    expect(ls.code).not.toBe(0);
    expect(output(ls)).toContain('NoSuchBucket');
    const cp = await s5(s3.endpoint, ['cp', 's3://no-such-bucket/x', join(await freshDir('s3-missing'), 'x')]);
    expect(cp.code).not.toBe(0);
    expect(output(cp)).toContain('NoSuchBucket');
  });

  it('finds nothing under an empty prefix (the downloader maps this to SourceNotFound)', async () => {
    const r = await s5(s3.endpoint, ['ls', `s3://${BUCKET}/no-such-prefix/*`]);
    expect(r.code).not.toBe(0);
    expect(output(r)).toContain('no object found');
  });

  describe('behind the proxy', () => {
    let proxy: HttpProxy;

    beforeAll(async () => {
      proxy = await startHttpProxy({ target: s3.endpoint });
    });

    afterAll(async () => {
      await proxy?.stop();
    });

    it('forwards signed requests unchanged and counts the body bytes per path', async () => {
      proxy.resetCounters();
      const dest = await freshDir('s3-proxy');
      const cp = await s5(proxy.url, ['cp', `s3://${BUCKET}/${PREFIX}/*`, `${dest}/`]);
      expect(cp.code, cp.stderr).toBe(0);
      expectSameFiles(await readTree(dest), files);
      expect(proxy.bytesServed('model.safetensors')).toBe(
        contentBuffer(files['model.safetensors'] as FixtureContent).length,
      );
      expect(proxy.requests().some((r) => r.path.includes('config.json'))).toBe(true);
    });

    it('still lets the server reject a wrong key (the proxy adds no credentials)', async () => {
      const r = await s5(proxy.url, ['ls', `s3://${BUCKET}/*`], { secretKey: 'wrong' });
      expect(output(r)).toContain('SignatureDoesNotMatch');
    });

    it('stalls a transfer: s5cmd gets the first bytes, then nothing until it is killed', async () => {
      proxy.resetCounters();
      proxy.stallAfter('model.safetensors', 100_000);
      try {
        const dest = await freshDir('s3-stall');
        const started = Date.now();
        const r = await runCli(
          binPath('s5cmd'),
          ['--endpoint-url', proxy.url, '-r', '0', 'cp', `s3://${BUCKET}/${PREFIX}/model.safetensors`, `${dest}/`],
          s3.clientEnv(),
          { timeoutMs: 3_000 },
        );
        expect(r.code).not.toBe(0); // killed by the timeout: no error, no completion, just silence
        expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
        expect(proxy.bytesServed('model.safetensors')).toBe(100_000);
        const get = proxy.requests().find((x) => x.method === 'GET' && x.path.includes('model.safetensors'));
        expect(get?.outcome).toBe('stalled');
      } finally {
        proxy.clearFaults();
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Hugging Face: the local Hub + the real `hf` CLI
// ---------------------------------------------------------------------------------------------------------------

describe('Hugging Face Hub fixture with the real hf CLI', () => {
  let hub: HfHub;
  const repos: HubRepoFixture[] = [
    ...defaultHubRepos(),
    {
      id: RESUME_REPO,
      access: 'public',
      revisions: { main: { files: { 'model.safetensors': new GeneratedContent(RESUME_REPO, RESUME_FILE_BYTES) } } },
    },
  ];
  const filesOf = (id: string, branch = 'main'): Record<string, FixtureContent> => {
    const files = repos.find((r) => r.id === id)?.revisions[branch]?.files;
    if (!files) throw new Error(`no fixture ${id}@${branch}`);
    return files;
  };

  interface HfRun {
    endpoint?: string;
    token?: string;
    localDir?: string;
    env?: Record<string, string>;
    timeoutMs?: number;
  }

  /** `hf download <args> --local-dir <dir>` with an explicit, isolated environment. */
  async function hfDownload(args: string[], run: HfRun = {}): Promise<CliResult & { dir: string }> {
    const home = await freshDir('hf-home');
    const dir = run.localDir ?? join(home, 'out');
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      HF_HOME: join(home, 'hf'),
      HF_ENDPOINT: run.endpoint ?? hub.endpoint,
      HF_HUB_DISABLE_TELEMETRY: '1',
      HF_HUB_DISABLE_UPDATE_CHECK: '1', // the CLI otherwise asks pypi.org for a newer version
      HF_HUB_DISABLE_PROGRESS_BARS: '1',
      HF_DEBUG: '1', // full tracebacks: the error class names are what we assert on
      HTTP_PROXY: 'http://127.0.0.1:9',
      HTTPS_PROXY: 'http://127.0.0.1:9',
      NO_PROXY: '127.0.0.1,localhost',
      ...(run.token ? { HF_TOKEN: run.token } : {}),
      ...run.env,
    };
    const r = await runCli(binPath('hf'), ['download', ...args, '--local-dir', dir], env, {
      timeoutMs: run.timeoutMs ?? 60_000,
    });
    return { ...r, dir };
  }

  beforeAll(async () => {
    hub = await startHfHub({ repos });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('downloads the public repo with identical files, nested paths included', async () => {
    const r = await hfDownload([PUBLIC_REPO]);
    expect(r.code, output(r)).toBe(0);
    expectSameFiles(await readTree(r.dir), filesOf(PUBLIC_REPO));
  });

  it('asks for repo info, the tree and per-file HEADs, and never anything Xet', async () => {
    hub.resetCounters();
    const r = await hfDownload([PUBLIC_REPO], { env: { HF_HUB_DISABLE_XET: '1' } });
    expect(r.code, output(r)).toBe(0);
    const paths = hub.requests().map((x) => `${x.method} ${x.path.split('?')[0]}`);
    const commit = hub.commitOf(PUBLIC_REPO);
    expect(paths).toContain(`GET /api/models/${PUBLIC_REPO}/revision/main`);
    expect(paths).toContain(`GET /api/models/${PUBLIC_REPO}/tree/${commit}`);
    expect(paths).toContain(`HEAD /${PUBLIC_REPO}/resolve/${commit}/sub/tokenizer.json`);
    expect(paths.some((p) => /xet/i.test(p))).toBe(false);
  });

  it('does not fetch completed files again on a second run into the same directory', async () => {
    const dir = join(await freshDir('hf-twice'), 'out');
    const first = await hfDownload([PUBLIC_REPO], { localDir: dir });
    expect(first.code, output(first)).toBe(0);
    hub.resetCounters();
    const second = await hfDownload([PUBLIC_REPO], { localDir: dir });
    expect(second.code, output(second)).toBe(0);
    expect(hub.bytesServed(PUBLIC_REPO)).toBe(0);
    expectSameFiles(await readTree(dir), filesOf(PUBLIC_REPO));
  });

  it('reports LFS sha256 and sizes in model_info(files_metadata=True) and list_repo_files', async () => {
    const script = [
      'import json, sys',
      'from huggingface_hub import HfApi',
      'api = HfApi()',
      `info = api.model_info("${PUBLIC_REPO}", files_metadata=True)`,
      'print(json.dumps({"sha": info.sha, "files": sorted(api.list_repo_files("' + PUBLIC_REPO + '")),',
      '  "siblings": {s.rfilename: {"size": s.size, "sha256": s.lfs.sha256 if s.lfs else None} for s in info.siblings}}))',
    ].join('\n');
    const python = join(cacheDir(), 'venv', 'bin', 'python');
    const home = await freshDir('hf-api');
    const r = await runCli(python, ['-c', script], {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      HF_HOME: join(home, 'hf'),
      HF_ENDPOINT: hub.endpoint,
      HF_HUB_DISABLE_TELEMETRY: '1',
      NO_PROXY: '127.0.0.1',
      HTTPS_PROXY: 'http://127.0.0.1:9',
    });
    expect(r.code, output(r)).toBe(0);
    const got = JSON.parse(r.stdout) as {
      sha: string;
      files: string[];
      siblings: Record<string, { size: number; sha256: string | null }>;
    };
    const files = filesOf(PUBLIC_REPO);
    expect(got.sha).toBe(hub.commitOf(PUBLIC_REPO));
    expect(got.files).toEqual(Object.keys(files).sort());
    const weights = contentBuffer(files['model.safetensors'] as FixtureContent);
    expect(got.siblings['model.safetensors']).toEqual({ size: weights.length, sha256: sha256Hex(weights) });
    expect(got.siblings['config.json']?.sha256).toBeNull(); // small text files are plain git blobs
  });

  it('fails on the gated repo without a token: GatedRepoError from a 401', async () => {
    const r = await hfDownload([GATED_REPO]);
    expect(r.code).not.toBe(0);
    expect(output(r)).toContain('GatedRepoError');
    expect(output(r)).toContain('401 Client Error');
    expect(output(r)).toContain('Cannot access gated repo');
  });

  it('fails on the gated repo with a token that lacks access: GatedRepoError from a 403', async () => {
    const r = await hfDownload([GATED_REPO], { token: hub.noAccessToken });
    expect(r.code).not.toBe(0);
    expect(output(r)).toContain('GatedRepoError');
    expect(output(r)).toContain('403 Client Error');
    expect(output(r)).toContain('not in the authorized list');
  });

  it('downloads the gated repo with an authorised token', async () => {
    const r = await hfDownload([GATED_REPO], { token: hub.token });
    expect(r.code, output(r)).toBe(0);
    expectSameFiles(await readTree(r.dir), filesOf(GATED_REPO));
  });

  it('downloads the token-only repo with HF_TOKEN set', async () => {
    const r = await hfDownload([PRIVATE_REPO], { token: hub.token });
    expect(r.code, output(r)).toBe(0);
    expectSameFiles(await readTree(r.dir), filesOf(PRIVATE_REPO));
  });

  it('fails on the token-only repo without a token: RepositoryNotFoundError from a 401', async () => {
    const r = await hfDownload([PRIVATE_REPO]);
    expect(r.code).not.toBe(0);
    expect(output(r)).toContain('RepositoryNotFoundError');
    expect(output(r)).toContain('401 Client Error');
  });

  it('rejects an invalid token like the Hub: 401 "Invalid credentials in Authorization header"', async () => {
    const r = await hfDownload([PRIVATE_REPO], { token: 'hf_thisIsNotAValidToken' });
    expect(r.code).not.toBe(0);
    expect(output(r)).toContain('HfHubHTTPError');
    expect(output(r)).toContain('401');
    expect(output(r)).toContain('Invalid credentials in Authorization header');
    expect(output(r)).not.toContain('RepositoryNotFoundError');
  });

  it('fails on a missing repo: RepositoryNotFoundError, 401 without a token and 404 with one', async () => {
    const anon = await hfDownload(['fixtures/does-not-exist']);
    expect(anon.code).not.toBe(0);
    expect(output(anon)).toContain('RepositoryNotFoundError');
    expect(output(anon)).toContain('401 Client Error');
    const withToken = await hfDownload(['fixtures/does-not-exist'], { token: hub.noAccessToken });
    expect(withToken.code).not.toBe(0);
    expect(output(withToken)).toContain('RepositoryNotFoundError');
    expect(output(withToken)).toContain('404 Client Error');
  });

  it("downloads a named branch's content, and the same by its commit sha", async () => {
    const byBranch = await hfDownload([REVISIONED_REPO, '--revision', SECOND_BRANCH]);
    expect(byBranch.code, output(byBranch)).toBe(0);
    expectSameFiles(await readTree(byBranch.dir), filesOf(REVISIONED_REPO, SECOND_BRANCH));

    const bySha = await hfDownload([REVISIONED_REPO, '--revision', hub.commitOf(REVISIONED_REPO, SECOND_BRANCH)]);
    expect(bySha.code, output(bySha)).toBe(0);
    expectSameFiles(await readTree(bySha.dir), filesOf(REVISIONED_REPO, SECOND_BRANCH));

    const main = await hfDownload([REVISIONED_REPO]);
    expect(main.code, output(main)).toBe(0);
    expectSameFiles(await readTree(main.dir), filesOf(REVISIONED_REPO, 'main'));
  });

  it('fails on an unknown revision with RevisionNotFoundError and on an unknown file with EntryNotFound', async () => {
    const rev = await hfDownload([REVISIONED_REPO, '--revision', 'no-such-branch']);
    expect(rev.code).not.toBe(0);
    expect(output(rev)).toContain('RevisionNotFoundError');
    const entry = await hfDownload([PUBLIC_REPO, 'no-such-file.json']);
    expect(entry.code).not.toBe(0);
    expect(output(entry)).toContain('RemoteEntryNotFoundError');
    expect(hub.requests().some((x) => x.errorCode === 'EntryNotFound')).toBe(true);
  });

  it("answers a rate limit as the Hub: the real client retries resolvers after RateLimit's reset, and names the 'api' limit", async () => {
    const limited = hub.newToken();
    try {
      // Resolvers: huggingface_hub's http_backoff reads `RateLimit: "resolvers";r=0;t=…`, waits t + 1 s and retries.
      hub.rateLimit({ token: limited, seconds: 5, buckets: ['resolvers'] });
      const waited = await hfDownload([PUBLIC_REPO], { token: limited });
      expect(waited.code, output(waited)).toBe(0);
      expect(output(waited)).toMatch(/Rate limited\. Waiting [2-6]\.0s before retry/);
      expectSameFiles(await readTree(waited.dir), filesOf(PUBLIC_REPO));

      // The API (repo info is not retried by `hf download`): the error it raises is built from our headers.
      hub.rateLimit({ token: limited, seconds: 60, buckets: ['api'] });
      const refused = await hfDownload([PUBLIC_REPO], { token: limited });
      expect(refused.code).not.toBe(0);
      expect(output(refused)).toContain("429 Too Many Requests: you have reached your 'api' rate limit.");
      expect(output(refused)).toMatch(/Retry after \d+ seconds \(0\/1000 requests remaining in current 300s window\)/);
      // Another user's token is not limited.
      const other = await hfDownload([PUBLIC_REPO], { token: hub.token });
      expect(other.code, output(other)).toBe(0);
    } finally {
      hub.liftRateLimit();
    }
  });

  it('serves byte ranges with 206 and Content-Range (curl)', async () => {
    const commit = hub.commitOf(PUBLIC_REPO);
    const url = `${hub.endpoint}/${PUBLIC_REPO}/resolve/${commit}/model.safetensors`;
    const r = await runCli('curl', ['-sS', '-L', '-r', '1000-1999', '-D', '-', '-o', '/dev/null', url], {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/HTTP\/1\.1 302/);
    expect(r.stdout).toMatch(/x-linked-etag: "[0-9a-f]{64}"/i);
    expect(r.stdout).toMatch(/HTTP\/1\.1 206/);
    expect(r.stdout).toMatch(/content-range: bytes 1000-1999\/3145728/i);
  });

  describe('behind the proxy', () => {
    let proxy: HttpProxy;

    beforeAll(async () => {
      proxy = await startHttpProxy({ target: hub.endpoint });
    });

    afterAll(async () => {
      await proxy?.stop();
    });

    it('keeps LFS redirects on the proxy and counts every file byte', async () => {
      proxy.resetCounters();
      const r = await hfDownload([PUBLIC_REPO], { endpoint: proxy.url });
      expect(r.code, output(r)).toBe(0);
      expectSameFiles(await readTree(r.dir), filesOf(PUBLIC_REPO));
      const weights = contentBuffer(filesOf(PUBLIC_REPO)['model.safetensors'] as FixtureContent);
      expect(proxy.bytesServed('model.safetensors')).toBe(weights.length);
      expect(proxy.bytesServed('config.json')).toBeGreaterThan(0);
    });

    it('stalls a transfer until the client gives up (curl, 2 s timeout)', async () => {
      proxy.resetCounters();
      proxy.stallAfter('model.safetensors', 65_536);
      try {
        const url = `${proxy.url}/${PUBLIC_REPO}/resolve/main/model.safetensors`;
        const out = join(await freshDir('curl-stall'), 'model.safetensors');
        const r = await runCli('curl', ['-sS', '-L', '--max-time', '2', '-o', out, url], {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
        });
        expect(r.code).toBe(28); // curl: operation timed out
        expect((await stat(out)).size).toBe(65_536);
        expect(proxy.bytesServed('/cdn-lfs/')).toBe(65_536); // the 302 before it has a small body of its own
      } finally {
        proxy.clearFaults();
      }
    });

    it('lets hf resume after a one-shot stall with a Range request (206) and get identical bytes', async () => {
      proxy.resetCounters();
      const stallAt = 12 * 1024 * 1024; // past hf's 10 MiB read chunk, so the first chunk reaches the disk
      proxy.stallAfter('model.safetensors', stallAt, { times: 1 });
      try {
        const r = await hfDownload([RESUME_REPO], {
          endpoint: proxy.url,
          env: { HF_HUB_DOWNLOAD_TIMEOUT: '2' },
        });
        expect(r.code, output(r)).toBe(0);
        expectSameFiles(await readTree(r.dir), filesOf(RESUME_REPO));
        const gets = proxy.requests().filter((x) => x.method === 'GET' && x.path.includes('model.safetensors'));
        expect(gets[0]?.outcome).toBe('stalled');
        const resumed = gets.find((x) => x.range !== undefined);
        expect(resumed?.status).toBe(206);
        expect(resumed?.range).toMatch(/^bytes=\d+-$/);
        // Everything before the resume offset was sent once, the rest once more after it: no full re-download.
        expect(proxy.bytesServed('model.safetensors')).toBeLessThan(RESUME_FILE_BYTES + stallAt);
      } finally {
        proxy.clearFaults();
      }
    });

    it('corrupts bodies without changing their length (hf does not notice; a sha256 check must)', async () => {
      proxy.corrupt('model.safetensors');
      try {
        const r = await hfDownload([PUBLIC_REPO], { endpoint: proxy.url });
        expect(r.code, output(r)).toBe(0);
        const got = (await readTree(r.dir)).get('model.safetensors') ?? Buffer.alloc(0);
        const want = contentBuffer(filesOf(PUBLIC_REPO)['model.safetensors'] as FixtureContent);
        expect(got.length).toBe(want.length);
        expect(sha256Hex(got)).not.toBe(sha256Hex(want));
      } finally {
        proxy.clearFaults();
      }
    });
  });

  it('applies the same fault rules on the Hub itself', async () => {
    hub.resetCounters();
    hub.stallAfter(`${PUBLIC_REPO}/config.json`, 10);
    try {
      const url = `${hub.endpoint}/${PUBLIC_REPO}/resolve/main/config.json`;
      const r = await runCli('curl', ['-sS', '--max-time', '1', '-o', '/dev/null', url], {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
      });
      expect(r.code).toBe(28);
      expect(hub.bytesServed(`${PUBLIC_REPO}/config.json`)).toBe(10);
    } finally {
      hub.clearFaults();
    }
  });
});
