import { mkdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBytes } from '../schemas/quantity.js';
import type { DownloaderConfig, HfSource, S3Source } from './config.js';
import { DownloaderFailure } from './failures.js';
import { listHf } from './hf/source.js';
import type { Listing } from './listing.js';
import { bytesOnDisk, progressSnapshot, type ProgressSink } from './progress.js';
import { runTool, type ToolResult } from './runTool.js';
import { describeS3, listS3 } from './s3/source.js';
import { verifyAndPrune } from './verify.js';
import { stat } from 'node:fs/promises';

export interface DownloadOutcome {
  verified: true;
  totalBytes: number;
  files: number;
  revision?: string;
  downloadedBytes: number;
  /** Seconds per phase: where an attempt spent its time (logged, and printed by the benchmark). */
  seconds: { list: number; transfer: number; verify: number };
}

const secs = (ms: number) => Math.round(ms / 10) / 100;

export interface Tools {
  s5cmd: string;
  hf: string;
}

export const DEFAULT_TOOLS: Tools = { s5cmd: process.env.S5CMD_BIN || 's5cmd', hf: process.env.HF_BIN || 'hf' };

export async function listSource(cfg: DownloaderConfig, checksums: boolean): Promise<Listing> {
  return cfg.source.kind === 's3' ? listS3(cfg.source, { checksums }) : listHf(cfg.source);
}

/** Bytes still to fetch: files missing or of the wrong size (complete files are kept from earlier attempts). */
async function bytesStillNeeded(root: string, listing: Listing): Promise<number> {
  let need = 0;
  for (const f of listing.files) {
    const st = await stat(join(root, f.path)).catch(() => undefined);
    if (!st || st.size !== f.size) need += f.size - (st && st.size < f.size ? st.size : 0);
  }
  return need;
}

/** statfs before downloading, capped by VOLUME_CAPACITY_BYTES (hostPath volumes in tests enforce no capacity). */
async function checkFreeSpace(cfg: DownloaderConfig, root: string, listing: Listing): Promise<void> {
  const need = await bytesStillNeeded(root, listing);
  const fs = await statfs(cfg.mountPath);
  let free = Number(fs.bavail) * Number(fs.bsize);
  if (cfg.volumeCapacityBytes !== undefined)
    free = Math.min(free, cfg.volumeCapacityBytes - (await bytesOnDisk(cfg.mountPath)));
  if (need > free) {
    throw new DownloaderFailure(
      'InsufficientStorage',
      `the volume has ${formatBytes(Math.max(0, free))} free but ${formatBytes(need)} are still needed (source ${formatBytes(listing.totalBytes)}); raise size or headroomPercent`,
    );
  }
}

function s5cmdArgs(src: S3Source, dest: string, env: NodeJS.ProcessEnv): string[] {
  const sign = env.AWS_ACCESS_KEY_ID ? [] : ['--no-sign-request'];
  const endpoint = src.endpoint ? ['--endpoint-url', src.endpoint] : [];
  // sync copies only what is missing or differs in size: a retry resumes per file.
  return [
    ...endpoint,
    ...sign,
    '--log',
    'error',
    '--numworkers',
    '32',
    'sync',
    '--size-only',
    `${describeS3(src)}*`,
    `${dest}/`,
  ];
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
async function classifyToolFailure(cfg: DownloaderConfig, result: ToolResult): Promise<DownloaderFailure> {
  if (/no space left on device|ENOSPC/i.test(result.stderrTail)) {
    return new DownloaderFailure(
      'InsufficientStorage',
      `the volume ran out of space after ${formatBytes(result.downloadedBytes)}`,
    );
  }
  try {
    await listSource(cfg, false);
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
 * One download attempt: list, check space, fetch what is missing (s5cmd / hf), verify everything, delete what
 * fails verification. Resumable: a second attempt on the same volume fetches only missing or bad files.
 */
export async function download(
  cfg: DownloaderConfig,
  sink: ProgressSink | undefined,
  tools: Tools = DEFAULT_TOOLS,
  env = process.env,
): Promise<DownloadOutcome> {
  const dest = join(cfg.mountPath, cfg.modelId);
  await mkdir(dest, { recursive: true });
  const t0 = performance.now();
  const listing = await listSource(cfg, true);
  await checkFreeSpace(cfg, dest, listing);
  const t1 = performance.now();
  const result = await runTool({
    command: cfg.source.kind === 's3' ? tools.s5cmd : tools.hf,
    args: cfg.source.kind === 's3' ? s5cmdArgs(cfg.source, dest, env) : hfArgs(cfg.source, dest),
    env: toolEnv(cfg, env),
    watchDir: dest,
    totalBytes: listing.totalBytes,
    stallTimeoutSeconds: cfg.stallTimeoutSeconds,
    progress: sink,
  });
  if (result.exitCode !== 0) throw await classifyToolFailure(cfg, result);
  const t2 = performance.now();
  const v = await verifyAndPrune(dest, listing);
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
    seconds: { list: secs(t1 - t0), transfer: secs(t2 - t1), verify: secs(performance.now() - t2) },
  };
}
