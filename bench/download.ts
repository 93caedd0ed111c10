/**
 * `npm run bench:download`: download throughput of the downloader against the tools it wraps and the reference's.
 * Not a test: these machines are shared and noisy, so this prints numbers and ratios instead of asserting them.
 *
 * S3: N objects of BENCH_OBJECT_MB from a local SeaweedFS (SigV4) through the downloader, raw s5cmd, s3cmd (the
 * reference's tool) and `aws s3 cp`. HF: a BENCH_HF_MB fixture repo through the downloader and raw `hf download`.
 * `dd` to the same disk is the ceiling. Targets: ≥ 0.9× raw s5cmd, ≥ 3× s3cmd, ≥ 0.9× raw hf.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binPath } from '../test/harness/bins.js';
import { baseDownloaderEnv, runDownloader } from '../test/harness/downloaderProcess.js';
import { defaultHubRepos, GeneratedContent, LARGE_REPO } from '../test/harness/fixtures.js';
import { startHfHub } from '../test/harness/hfHub.js';
import { startS3Server } from '../test/harness/s3Server.js';
import { compileForBench } from './compile.js';
import { printHeader, printTable, type Row } from './table.js';

const OBJECT_MB = Number(process.env.BENCH_OBJECT_MB ?? 256);
const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 4);
const HF_MB = Number(process.env.BENCH_HF_MB ?? 1024);
const ACCESS = 'benchaccess';
const SECRET = 'benchsecret-value';

const work = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'aim-bench-'));
const fresh = (name: string) => {
  const d = join(work, 'out', name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  return d;
};

/** Async on purpose: the Hub fixture server lives in this process, so a blocking spawn would deadlock it. */
async function time(fn: () => Promise<void>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr}`)),
    );
  });
}

/** The downloader's `done` log line carries per-phase seconds. */
function phases(stdout: string): string {
  const done = stdout.split('\n').find((l) => l.includes('"event":"done"'));
  return done ? JSON.stringify((JSON.parse(done) as { seconds?: unknown }).seconds) : '?';
}

async function main(): Promise<void> {
  printHeader('download throughput (npm run bench:download)', [
    `BENCH_OBJECT_MB=${OBJECT_MB} BENCH_OBJECTS=${OBJECTS} BENCH_HF_MB=${HF_MB} npm run bench:download`,
  ]);
  console.log(`work dir ${work}`);
  // Run the downloader compiled, as the image does, so that tsx's start-up transpiling is not measured.
  const entry = compileForBench().downloader;
  const ddFile = join(work, 'dd.bin');
  const ddBytes = OBJECT_MB * OBJECTS * 1024 * 1024;
  const ddSeconds = await time(() =>
    run(
      'dd',
      ['if=/dev/zero', `of=${ddFile}`, 'bs=4M', `count=${(OBJECT_MB * OBJECTS) / 4}`, 'conv=fsync'],
      process.env,
    ),
  );
  rmSync(ddFile);

  // --- S3 ----------------------------------------------------------------------------------------------------------
  const s3 = await startS3Server({ workDir: join(work, 's3'), accessKey: ACCESS, secretKey: SECRET });
  const hub = await startHfHub({ repos: defaultHubRepos({ largeRepoBytes: HF_MB * 1024 * 1024 }) });
  try {
    // Hash the fixtures up front: the first contender must not pay for the server's own bookkeeping.
    await hub.precompute();
    await s3.createBucket('bench');
    for (let i = 0; i < OBJECTS; i++) {
      await s3.putObject('bench', `data/part-${i}.bin`, new GeneratedContent(`bench-${i}`, OBJECT_MB * 1024 * 1024));
    }
    const bytes = OBJECT_MB * OBJECTS * 1024 * 1024;
    const cliEnv = { ...process.env, ...s3.clientEnv(), PATH: `${join(binPath('s5cmd'), '..')}:${process.env.PATH}` };
    const s3cfg = join(work, 's3cfg');
    writeFileSync(
      s3cfg,
      `[default]\naccess_key = ${ACCESS}\nsecret_key = ${SECRET}\nhost_base = ${s3.endpoint.replace('http://', '')}\nhost_bucket = ${s3.endpoint.replace('http://', '')}\nuse_https = False\nsignature_v2 = False\n`,
    );

    const rows: Row[] = [
      { name: 'dd (disk ceiling)', command: 'dd if=/dev/zero bs=4M conv=fsync', seconds: ddSeconds, bytes: ddBytes },
    ];
    const vol = fresh('downloader');
    const dlEnv = {
      ...baseDownloaderEnv(join(work, 'home')),
      MODE: 'download',
      SOURCE_URI: 's3://bench/data',
      MODEL_ID: 'bench/model',
      MOUNT_PATH: vol,
      TERMINATION_MESSAGE_PATH: join(work, 'termination'),
      TMPDIR: tmpdir(),
      STALL_TIMEOUT: '120',
      AWS_ENDPOINT_URL: s3.endpoint,
      AWS_ACCESS_KEY_ID: ACCESS,
      AWS_SECRET_ACCESS_KEY: SECRET,
      AWS_REGION: 'us-east-1',
    };
    let dlResult: Record<string, unknown> = {};
    let dlPhases = '';
    rows.push({
      name: 'aim downloader (s5cmd + verify)',
      command: 'MODE=download SOURCE_URI=s3://bench/data node downloader/main.ts',
      seconds: await time(async () => {
        const r = await runDownloader(dlEnv, entry);
        dlResult = r.result;
        dlPhases = phases(r.stdout);
        if (r.code !== 0) throw new Error(`downloader failed: ${JSON.stringify(r.result)} ${r.stderr}`);
      }),
      bytes,
    });
    const s5 = fresh('s5cmd');
    rows.push({
      name: 'raw s5cmd',
      command: `s5cmd --endpoint-url ${s3.endpoint} sync 's3://bench/data/*' DIR/`,
      seconds: await time(() =>
        run(binPath('s5cmd'), ['--endpoint-url', s3.endpoint, 'sync', 's3://bench/data/*', `${s5}/`], cliEnv),
      ),
      bytes,
    });
    const s3c = fresh('s3cmd');
    rows.push({
      name: 's3cmd (reference)',
      command: 's3cmd -c CFG get --recursive s3://bench/data/ DIR/',
      seconds: await time(() =>
        run(binPath('s3cmd'), ['-c', s3cfg, 'get', '--recursive', 's3://bench/data/', `${s3c}/`], cliEnv),
      ),
      bytes,
    });
    const awsDir = fresh('aws');
    rows.push({
      name: 'aws s3 cp',
      command: `aws --endpoint-url ${s3.endpoint} s3 cp --recursive s3://bench/data/ DIR/`,
      seconds: await time(() =>
        run(
          binPath('aws'),
          [
            '--endpoint-url',
            s3.endpoint,
            's3',
            'cp',
            '--recursive',
            '--only-show-errors',
            's3://bench/data/',
            `${awsDir}/`,
          ],
          cliEnv,
        ),
      ),
      bytes,
    });
    printTable(`S3: ${OBJECTS} x ${OBJECT_MB} MiB from a local SeaweedFS`, rows, 'raw s5cmd', [
      ['aim downloader (s5cmd + verify)', 'raw s5cmd', 0.9],
      ['aim downloader (s5cmd + verify)', 's3cmd (reference)', 3],
    ]);
    console.log(`downloader termination message: ${JSON.stringify(dlResult)}`);
    console.log(`downloader phases (s): ${dlPhases}`);

    // --- Hugging Face ----------------------------------------------------------------------------------------------
    const hfBytes = HF_MB * 1024 * 1024;
    const hfRows: Row[] = [];
    let hfPhases = '';
    const hfVol = fresh('hf-downloader');
    hfRows.push({
      name: 'aim downloader (hf + verify)',
      command: `MODE=download SOURCE_URI=hf://${LARGE_REPO} node downloader/main.ts`,
      seconds: await time(async () => {
        const r = await runDownloader(
          {
            ...baseDownloaderEnv(join(work, 'home')),
            MODE: 'download',
            SOURCE_URI: `hf://${LARGE_REPO}`,
            MODEL_ID: LARGE_REPO,
            MOUNT_PATH: hfVol,
            TERMINATION_MESSAGE_PATH: join(work, 'termination-hf'),
            TMPDIR: tmpdir(),
            HF_HOME: join(work, 'hf-home-dl'),
            HF_ENDPOINT: hub.endpoint,
            STALL_TIMEOUT: '120',
          },
          entry,
        );
        if (r.code !== 0) throw new Error(`downloader failed: ${JSON.stringify(r.result)} ${r.stderr}`);
        hfPhases = phases(r.stdout);
      }),
      bytes: hfBytes,
    });
    const hfRaw = fresh('hf-raw');
    hfRows.push({
      name: 'raw hf download',
      command: `hf download ${LARGE_REPO} --local-dir DIR`,
      seconds: await time(() =>
        run(binPath('hf'), ['download', LARGE_REPO, '--local-dir', hfRaw], {
          ...process.env,
          HF_ENDPOINT: hub.endpoint,
          HF_HOME: join(work, 'hf-home-raw'),
          HF_HUB_DISABLE_TELEMETRY: '1',
          HF_HUB_DISABLE_PROGRESS_BARS: '1',
        }),
      ),
      bytes: hfBytes,
    });
    printTable(`Hugging Face: ${HF_MB} MiB fixture repo from a local Hub endpoint`, hfRows, 'raw hf download', [
      ['aim downloader (hf + verify)', 'raw hf download', 0.9],
    ]);
    console.log(`downloader phases (s): ${hfPhases}`);
  } finally {
    await Promise.allSettled([s3.stop(), hub.stop()]);
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
