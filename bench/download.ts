/**
 * `npm run bench:download`: download throughput of the downloader against the tools it wraps and the reference's.
 * Not a test: these machines are shared and noisy, so this prints numbers and ratios instead of asserting them.
 *
 * S3: N objects of BENCH_OBJECT_MB from a local SeaweedFS (SigV4) through the downloader, raw s5cmd, s3cmd (the
 * reference's tool) and `aws s3 cp`. HF: a BENCH_HF_MB fixture repo through the downloader and raw `hf download`.
 * Every contender runs BENCH_RUNS times (at least 3), in a rotating order so that none always goes first or last,
 * each time into an empty directory (the last run's output deleted before the clock starts); the tables report
 * medians. There is no `dd` "ceiling": the tools do not fsync, so a synced write measured something else.
 * Targets: ≥ 0.9× raw s5cmd, ≥ 3× s3cmd, ≥ 0.9× raw hf.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { binPath } from '../test/harness/bins.js';
import { baseDownloaderEnv, runDownloader } from '../test/harness/downloaderProcess.js';
import { defaultHubRepos, GeneratedContent, LARGE_REPO } from '../test/harness/fixtures.js';
import { startHfHub } from '../test/harness/hfHub.js';
import { startS3Server } from '../test/harness/s3Server.js';
import { compileForBench } from './compile.js';
import { printHeader, printTable, type Row } from './table.js';

// 4 x 1 GiB by default, a small model: on a gigabyte (1.6 s over loopback) the downloader's fixed ~0.3 s of start-up
// and listing (Node, the S3 SDK's import, one ListObjects) would be most of what is measured instead of throughput.
const OBJECT_MB = Number(process.env.BENCH_OBJECT_MB ?? 1024);
const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 4);
const HF_MB = Number(process.env.BENCH_HF_MB ?? 1024);
const RUNS = Math.max(3, Number(process.env.BENCH_RUNS ?? 3));
const ACCESS = 'benchaccess';
const SECRET = 'benchsecret-value';

const work = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'aim-bench-'));
const outputs = join(work, 'out');
/** An empty output directory. The one a contender left is already gone: `rounds` clears them off the clock. */
const fresh = (name: string) => {
  const d = join(outputs, name);
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

interface Contender {
  name: string;
  command: string;
  run: () => Promise<void>;
}

/** Runs every contender RUNS times, round by round, each round starting one contender later. */
async function rounds(contenders: Contender[]): Promise<Map<string, number[]>> {
  const seconds = new Map(contenders.map((c) => [c.name, [] as number[]]));
  for (let r = 0; r < RUNS; r++) {
    const order = [...contenders.slice(r % contenders.length), ...contenders.slice(0, r % contenders.length)];
    console.log(`round ${r + 1}/${RUNS}: ${order.map((c) => c.name).join(' → ')}`);
    for (const c of order) {
      // Deleting the last run's gigabyte takes 0.3-0.4 s on this disk, and its unwritten pages would be written back
      // during the next run: neither is part of any download, so it happens here, before the clock starts.
      rmSync(outputs, { recursive: true, force: true });
      seconds.get(c.name)!.push(await time(c.run));
    }
  }
  return seconds;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const rowsOf = (contenders: Contender[], seconds: Map<string, number[]>, bytes: number): Row[] =>
  contenders.map((c) => ({
    name: c.name,
    command: c.command,
    seconds: median(seconds.get(c.name)!),
    runs: seconds.get(c.name)!,
    bytes,
  }));

type Phase = 'startup' | 'list' | 'transfer' | 'verify';

/**
 * The downloader's runs: phases and hashing counts from each `done` line, for the medians printed under a table.
 * Start-up is from the spawn to the program's first log line (Node and the modules it loads).
 */
class DownloaderRuns {
  private readonly phases: Array<Record<Phase, number>> = [];
  private hashed = '';
  result: Record<string, unknown> = {};

  constructor(
    private readonly entry: string,
    private readonly env: () => Record<string, string>,
  ) {}

  readonly run = async (): Promise<void> => {
    const spawned = Date.now();
    const r = await runDownloader(this.env(), this.entry);
    if (r.code !== 0) throw new Error(`downloader failed: ${JSON.stringify(r.result)} ${r.stderr}`);
    this.result = r.result;
    const line = (event: string) => r.stdout.split('\n').find((l) => l.includes(`"event":"${event}"`));
    const [start, done] = [line('start'), line('done')];
    const facts = done
      ? (JSON.parse(done) as { seconds: Record<Exclude<Phase, 'startup'>, number>; hashed: unknown })
      : undefined;
    if (facts && start) {
      const startup = (Date.parse((JSON.parse(start) as { ts: string }).ts) - spawned) / 1000;
      this.phases.push({ startup, ...facts.seconds });
      this.hashed = JSON.stringify(facts.hashed);
    }
  };

  summary(): string {
    const m = (k: Phase) => median(this.phases.map((p) => p[k])).toFixed(2);
    return `median phases (s): start-up ${m('startup')}, list ${m('list')}, transfer ${m('transfer')}, verify after transfer ${m('verify')}; files hashed (last run): ${this.hashed}`;
  }
}

async function main(): Promise<void> {
  printHeader('download throughput (npm run bench:download)', [
    `BENCH_OBJECT_MB=${OBJECT_MB} BENCH_OBJECTS=${OBJECTS} BENCH_HF_MB=${HF_MB} BENCH_RUNS=${RUNS} npm run bench:download`,
  ]);
  console.log(`work dir ${work}`);
  // Run the downloader compiled, as the image does, so that tsx's start-up transpiling is not measured.
  const entry = compileForBench().downloader;

  const s3 = await startS3Server({ workDir: join(work, 's3'), accessKey: ACCESS, secretKey: SECRET });
  const hub = await startHfHub({ repos: defaultHubRepos({ largeRepoBytes: HF_MB * 1024 * 1024 }) });
  try {
    // Hash the fixtures up front: the first contender must not pay for the server's own bookkeeping.
    await hub.precompute();
    await s3.createBucket('bench');
    for (let i = 0; i < OBJECTS; i++) {
      await s3.putObject('bench', `data/part-${i}.bin`, new GeneratedContent(`bench-${i}`, OBJECT_MB * 1024 * 1024));
    }

    // --- S3 --------------------------------------------------------------------------------------------------------
    const bytes = OBJECT_MB * OBJECTS * 1024 * 1024;
    const cliEnv = { ...process.env, ...s3.clientEnv(), PATH: `${join(binPath('s5cmd'), '..')}:${process.env.PATH}` };
    const s3cfg = join(work, 's3cfg');
    writeFileSync(
      s3cfg,
      `[default]\naccess_key = ${ACCESS}\nsecret_key = ${SECRET}\nhost_base = ${s3.endpoint.replace('http://', '')}\nhost_bucket = ${s3.endpoint.replace('http://', '')}\nuse_https = False\nsignature_v2 = False\n`,
    );
    const s3Downloader = new DownloaderRuns(entry, () => ({
      ...baseDownloaderEnv(join(work, 'home')),
      MODE: 'download',
      SOURCE_URI: 's3://bench/data',
      MODEL_ID: 'bench/model',
      MOUNT_PATH: fresh('downloader'),
      TERMINATION_MESSAGE_PATH: join(work, 'termination'),
      TMPDIR: tmpdir(),
      STALL_TIMEOUT: '120',
      AWS_ENDPOINT_URL: s3.endpoint,
      AWS_ACCESS_KEY_ID: ACCESS,
      AWS_SECRET_ACCESS_KEY: SECRET,
      AWS_REGION: 'us-east-1',
    }));
    const s3Contenders: Contender[] = [
      {
        name: 'raw s5cmd',
        command: `s5cmd --endpoint-url ${s3.endpoint} sync 's3://bench/data/*' DIR/`,
        run: () =>
          run(
            binPath('s5cmd'),
            ['--endpoint-url', s3.endpoint, 'sync', 's3://bench/data/*', `${fresh('s5cmd')}/`],
            cliEnv,
          ),
      },
      {
        name: 'aim downloader (s5cmd + verify)',
        command: 'MODE=download SOURCE_URI=s3://bench/data node downloader/main.ts',
        run: s3Downloader.run,
      },
      {
        name: 's3cmd (reference)',
        command: 's3cmd -c CFG get --recursive s3://bench/data/ DIR/',
        run: () =>
          run(binPath('s3cmd'), ['-c', s3cfg, 'get', '--recursive', 's3://bench/data/', `${fresh('s3cmd')}/`], cliEnv),
      },
      {
        name: 'aws s3 cp',
        command: `aws --endpoint-url ${s3.endpoint} s3 cp --recursive s3://bench/data/ DIR/`,
        run: () =>
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
              `${fresh('aws')}/`,
            ],
            cliEnv,
          ),
      },
    ];
    const s3Seconds = await rounds(s3Contenders);
    printTable(
      `S3: ${OBJECTS} x ${OBJECT_MB} MiB from a local SeaweedFS (medians of ${RUNS} runs)`,
      rowsOf(s3Contenders, s3Seconds, bytes),
      'raw s5cmd',
      [
        ['aim downloader (s5cmd + verify)', 'raw s5cmd', 0.9],
        ['aim downloader (s5cmd + verify)', 's3cmd (reference)', 3],
      ],
    );
    console.log(`downloader termination message: ${JSON.stringify(s3Downloader.result)}`);
    console.log(`downloader ${s3Downloader.summary()}`);

    // --- Hugging Face ----------------------------------------------------------------------------------------------
    const hfBytes = HF_MB * 1024 * 1024;
    const hfDownloader = new DownloaderRuns(entry, () => ({
      ...baseDownloaderEnv(join(work, 'home')),
      MODE: 'download',
      SOURCE_URI: `hf://${LARGE_REPO}`,
      MODEL_ID: LARGE_REPO,
      MOUNT_PATH: fresh('hf-downloader'),
      TERMINATION_MESSAGE_PATH: join(work, 'termination-hf'),
      TMPDIR: tmpdir(),
      HF_HOME: fresh('hf-home-dl'),
      HF_ENDPOINT: hub.endpoint,
      STALL_TIMEOUT: '120',
    }));
    const hfContenders: Contender[] = [
      {
        name: 'raw hf download',
        command: `hf download ${LARGE_REPO} --local-dir DIR`,
        run: () =>
          run(binPath('hf'), ['download', LARGE_REPO, '--local-dir', fresh('hf-raw')], {
            ...process.env,
            HF_ENDPOINT: hub.endpoint,
            HF_HOME: fresh('hf-home-raw'),
            HF_HUB_DISABLE_TELEMETRY: '1',
            HF_HUB_DISABLE_PROGRESS_BARS: '1',
          }),
      },
      {
        name: 'aim downloader (hf + verify)',
        command: `MODE=download SOURCE_URI=hf://${LARGE_REPO} node downloader/main.ts`,
        run: hfDownloader.run,
      },
    ];
    const hfSeconds = await rounds(hfContenders);
    printTable(
      `Hugging Face: ${HF_MB} MiB fixture repo from a local Hub endpoint (medians of ${RUNS} runs)`,
      rowsOf(hfContenders, hfSeconds, hfBytes),
      'raw hf download',
      [['aim downloader (hf + verify)', 'raw hf download', 0.9]],
    );
    console.log(`downloader ${hfDownloader.summary()}`);
    console.log(
      `load average at the end: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
  } finally {
    await Promise.allSettled([s3.stop(), hub.stop()]);
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
