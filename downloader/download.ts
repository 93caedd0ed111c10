import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBytes } from '../schemas/quantity.js';
import type { DownloaderConfig, HfSource } from './config.js';
import { DownloaderFailure } from './failures.js';
import { hfIncompleteDir } from './hf/incompleteFiles.js';
import { listHf } from './hf/source.js';
import type { Listing } from './listing.js';
import { progressSnapshot, type ProgressSink } from './progress.js';
import { runTool, type ToolResult } from './runTool.js';
import { s3Access, type S3Access } from './s3/credentials.js';
import { serveCredentials } from './s3/credentialsEndpoint.js';
import { s5cmdArgs, s5cmdEnv } from './s3/s5cmd.js';
import { s5cmdCompletedPath } from './completions.js';
import { HashPool } from './hashPool.js';
import { verifyAndPrune, type VerifyResult } from './verify.js';
import { notEnoughSpaceMessage, ranOutOfSpaceMessage, volumeSpace } from './volumeSpace.js';
import { VerifyWhileDownloading } from './verifyWhileDownloading.js';
import { stat } from 'node:fs/promises';

export interface DownloadOutcome {
  verified: true;
  totalBytes: number;
  files: number;
  revision?: string;
  downloadedBytes: number;
  /**
   * Seconds per phase: where an attempt spent its time (logged, and printed by the benchmark). `verify` is what
   * verification added after the transfer; most files are hashed while it runs.
   */
  seconds: { list: number; transfer: number; verify: number };
  /** Files whose content was read while the tool ran, and after it (logged, not part of the termination message). */
  hashed: { duringTransfer: number; afterTransfer: number };
}

const secs = (ms: number) => Math.round(ms / 10) / 100;

export interface Tools {
  s5cmd: string;
  hf: string;
}

export const DEFAULT_TOOLS: Tools = { s5cmd: process.env.S5CMD_BIN || 's5cmd', hf: process.env.HF_BIN || 'hf' };

/**
 * `access`: how this process reaches S3, decided once (s3Access) and shared by every listing and by s5cmd. The S3
 * listing is imported on first use: the AWS SDK's client takes ~0.2 s to load, start-up an hf source never needs.
 */
export async function listSource(cfg: DownloaderConfig, checksums: boolean, access: S3Access): Promise<Listing> {
  if (cfg.source.kind === 'hf') return listHf(cfg.source, process.env, cfg.expectedSizeBytes);
  const { listS3 } = await import('./s3/source.js');
  return listS3(cfg.source, access, { checksums });
}

/**
 * Bytes still to fetch: files missing or of the wrong size (complete files are kept from earlier attempts). Files of
 * unknown size (a source that reported none; the total is the spec's `size`): the total less what is on disk.
 */
async function bytesStillNeeded(root: string, listing: Listing): Promise<number> {
  let need = 0;
  let onDisk = 0;
  for (const f of listing.files) {
    const st = await stat(join(root, f.path)).catch(() => undefined);
    onDisk += st?.size ?? 0;
    if (!st || st.size !== f.size) need += f.size - (st && st.size < f.size ? st.size : 0);
  }
  return listing.files.some((f) => f.size < 0) ? Math.max(0, listing.totalBytes - onDisk) : need;
}

/** statfs before downloading, capped by VOLUME_CAPACITY_BYTES (a test hook; the product never sets it). */
async function checkFreeSpace(cfg: DownloaderConfig, root: string, listing: Listing): Promise<void> {
  const need = await bytesStillNeeded(root, listing);
  const space = await volumeSpace(cfg.mountPath, cfg.volumeCapacityBytes);
  if (need > space.freeBytes)
    throw new DownloaderFailure('InsufficientStorage', notEnoughSpaceMessage(space, need, listing.totalBytes));
}

function hfArgs(src: HfSource, dest: string): string[] {
  return ['download', src.repo, '--revision', src.revision, '--local-dir', dest];
}

function toolEnv(cfg: DownloaderConfig, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  // No update check: the hf CLI would otherwise contact pypi.org from inside the cluster.
  const out: NodeJS.ProcessEnv = {
    ...env,
    HF_HUB_DISABLE_PROGRESS_BARS: '1',
    HF_HUB_DISABLE_TELEMETRY: '1',
    HF_HUB_DISABLE_UPDATE_CHECK: '1',
  };
  if (cfg.source.kind === 'hf') {
    out.HF_ENDPOINT = cfg.source.endpoint;
    if (cfg.hfDisableXet) out.HF_HUB_DISABLE_XET = '1';
  } else {
    out.AWS_REGION = cfg.source.region;
  }
  return out;
}

/** When a tool fails, ask the source again: its answer (codes, headers) classifies the failure, not tool output. */
async function classifyToolFailure(
  cfg: DownloaderConfig,
  access: S3Access,
  result: ToolResult,
  listing: Listing,
): Promise<DownloaderFailure> {
  if (/no space left on device|ENOSPC/i.test(result.stderrTail)) {
    const space = await volumeSpace(cfg.mountPath, cfg.volumeCapacityBytes);
    return new DownloaderFailure(
      'InsufficientStorage',
      ranOutOfSpaceMessage(space, listing.totalBytes, result.downloadedBytes),
    );
  }
  try {
    await listSource(cfg, false, access);
  } catch (err) {
    if (err instanceof DownloaderFailure) return err;
  }
  const tool = cfg.source.kind === 's3' ? 's5cmd' : 'hf download';
  return new DownloaderFailure(
    'DownloadFailed',
    `${tool} exited with code ${result.exitCode} after ${formatBytes(result.downloadedBytes)}; the next attempt resumes`,
  );
}

/**
 * s5cmd or the hf CLI; s5cmd signs with this process's credentials through a loopback endpoint while it runs.
 * Completed files go to `verifier` as the tool reports them (s5cmd) and as they appear in place (both).
 */
async function runSourceTool(
  cfg: DownloaderConfig,
  access: S3Access,
  dest: string,
  listing: Listing,
  sink: ProgressSink | undefined,
  tools: Tools,
  env: NodeJS.ProcessEnv,
  verifier: VerifyWhileDownloading,
): Promise<ToolResult> {
  const watch = {
    watchDir: dest,
    totalBytes: listing.totalBytes,
    stallTimeoutSeconds: cfg.stallTimeoutSeconds,
    onSample: () => verifier.poll(),
  };
  if (cfg.source.kind === 'hf')
    return runTool({
      command: tools.hf,
      args: hfArgs(cfg.source, dest),
      env: toolEnv(cfg, env),
      ...watch,
      progress: sink,
    });
  const endpoint = access.decision.sign ? await serveCredentials(access) : undefined;
  try {
    return await runTool({
      command: tools.s5cmd,
      args: s5cmdArgs(cfg.source, dest, access.decision.sign),
      env: s5cmdEnv(toolEnv(cfg, env), cfg.tmpDir, endpoint),
      ...watch,
      onStdoutLine: (line) => {
        const done = s5cmdCompletedPath(line, dest);
        if (done) verifier.offer(done);
      },
      progress: sink,
    });
  } finally {
    await endpoint?.close();
  }
}

/**
 * One download attempt: list, check space, fetch what is missing (s5cmd / hf) while hashing each file as the tool
 * writes it (hf) or completes it (s5cmd), verify everything, delete what fails verification. Resumable: a second
 * attempt on the same volume fetches only missing or bad files.
 */
export async function download(
  cfg: DownloaderConfig,
  sink: ProgressSink | undefined,
  tools: Tools = DEFAULT_TOOLS,
  env = process.env,
  access: S3Access = s3Access(env),
): Promise<DownloadOutcome> {
  const dest = join(cfg.mountPath, cfg.modelId);
  await mkdir(dest, { recursive: true });
  const t0 = performance.now();
  const listing = await listSource(cfg, true, access);
  await checkFreeSpace(cfg, dest, listing);
  const t1 = performance.now();
  const pool = new HashPool();
  try {
    // hf writes each file front to back under a temporary name: hashed while written (hf/incompleteFiles.ts).
    const followDir = cfg.source.kind === 'hf' ? hfIncompleteDir(dest) : undefined;
    const verifier = new VerifyWhileDownloading(dest, listing, pool, followDir);
    const result = await runSourceTool(cfg, access, dest, listing, sink, tools, env, verifier);
    if (result.exitCode !== 0) throw await classifyToolFailure(cfg, access, result, listing);
    const t2 = performance.now();
    const early = await verifier.settle();
    const v = await verifyAndPrune(dest, listing, { pool, early });
    return await outcome(listing, result, v, sink, {
      list: secs(t1 - t0),
      transfer: secs(t2 - t1),
      verify: secs(performance.now() - t2),
    });
  } finally {
    await pool.close();
  }
}

async function outcome(
  listing: Listing,
  result: ToolResult,
  v: VerifyResult,
  sink: ProgressSink | undefined,
  seconds: DownloadOutcome['seconds'],
): Promise<DownloadOutcome> {
  if (v.missing.length || v.bad.length) {
    const names = [...v.bad.map((b) => `${b.path} (${b.why})`), ...v.missing.map((m) => `${m} (missing)`)];
    throw new DownloaderFailure(
      'IntegrityMismatch',
      `${names.length} file(s) failed verification and were removed for the next attempt: ${names.slice(0, 5).join(', ')}${names.length > 5 ? `, and ${names.length - 5} more` : ''}`,
    );
  }
  await sink?.(progressSnapshot(listing.totalBytes, listing.totalBytes, 0));
  return {
    verified: true,
    totalBytes: listing.totalBytes,
    files: listing.files.length,
    ...(listing.revision ? { revision: listing.revision } : {}),
    downloadedBytes: result.downloadedBytes,
    seconds,
    hashed: { duringTransfer: v.hashedDuringTransfer, afterTransfer: v.hashedAfterTransfer },
  };
}
