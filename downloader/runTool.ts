import { spawn } from 'node:child_process';
import { bytesOnDisk, progressSnapshot, PROGRESS_INTERVAL_MS, type ProgressSink } from './progress.js';
import { lineSplitter } from './completions.js';
import { DownloaderFailure } from './failures.js';

export interface ToolRun {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Directory whose bytes measure progress. */
  watchDir: string;
  totalBytes?: number;
  stallTimeoutSeconds: number;
  progress?: ProgressSink;
  /** How often bytes are sampled (stall detection resolution). */
  sampleMs?: number;
  /** Each line the tool prints on stdout (ignored when not given). */
  onStdoutLine?: (line: string) => void;
  /** Called after each sample, while the tool runs (e.g. to look for completed files). */
  onSample?: () => Promise<void>;
}

export interface ToolResult {
  exitCode: number;
  /** The last lines of stderr, for classification by our code only: never copied into a message. */
  stderrTail: string;
  downloadedBytes: number;
}

/**
 * Runs a download tool while watching bytes on disk: progress is reported at most every 5 s, and no byte progress
 * for `stallTimeoutSeconds` kills the tool and fails with `Stalled` (only the downloader detects stalls).
 */
export async function runTool(run: ToolRun): Promise<ToolResult> {
  const child = spawn(run.command, run.args, {
    env: run.env,
    stdio: ['ignore', run.onStdoutLine ? 'pipe' : 'ignore', 'pipe'],
    detached: true,
  });
  const stdoutLines = run.onStdoutLine ? lineSplitter(run.onStdoutLine) : undefined;
  child.stdout?.on('data', (d: Buffer) => stdoutLines?.push(d.toString('utf8')));
  const stdoutClosed = new Promise<void>((resolve) => {
    if (!child.stdout) resolve();
    else child.stdout.once('close', () => resolve());
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-8192);
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });

  const startBytes = await bytesOnDisk(run.watchDir);
  let last = startBytes;
  let lastChange = Date.now();
  let lastReport = 0;
  const rate = { bytes: startBytes, at: Date.now(), value: 0 };
  let stalled = false;

  const sample = async () => {
    const now = Date.now();
    const bytes = await bytesOnDisk(run.watchDir);
    if (bytes > last) lastChange = now;
    last = bytes;
    if (now - rate.at >= 1000) {
      rate.value = (((bytes - rate.bytes) * 1000) / (now - rate.at)) * 0.5 + rate.value * 0.5;
      rate.bytes = bytes;
      rate.at = now;
    }
    if (run.progress && now - lastReport >= PROGRESS_INTERVAL_MS) {
      lastReport = now;
      await run.progress(progressSnapshot(bytes, run.totalBytes, rate.value));
    }
    if (now - lastChange > run.stallTimeoutSeconds * 1000 && !stalled) {
      stalled = true;
      kill(child.pid);
    }
    await run.onSample?.();
  };

  // Sampled at least as often as progress is reported.
  const sampleMs = Math.min(run.sampleMs ?? 1000, PROGRESS_INTERVAL_MS);
  let timer: NodeJS.Timeout | undefined;
  const loop = new Promise<void>((resolve) => {
    const tick = () => {
      sample()
        .catch(() => undefined)
        .finally(() => {
          if (child.exitCode === null && child.signalCode === null) timer = setTimeout(tick, sampleMs);
          else resolve();
        });
    };
    timer = setTimeout(tick, sampleMs);
  });

  const exitCode = await exited;
  // The last lines may arrive after the exit event; the pipe's close means all of them were read.
  await Promise.race([stdoutClosed, new Promise((r) => setTimeout(r, 1000))]);
  stdoutLines?.end();
  clearTimeout(timer);
  await Promise.race([loop, new Promise((r) => setTimeout(r, 50))]);
  const downloadedBytes = await bytesOnDisk(run.watchDir);
  if (stalled) {
    throw new DownloaderFailure(
      'Stalled',
      `no progress for ${run.stallTimeoutSeconds}s at ${downloadedBytes} bytes; the next attempt resumes from what is on the volume`,
    );
  }
  return { exitCode, stderrTail: stderr, downloadedBytes };
}

/** SIGTERM to the tool's process group, SIGKILL if it lingers (s5cmd and hf spawn workers). */
function kill(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  setTimeout(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 3000).unref();
}
