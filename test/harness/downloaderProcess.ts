import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './bins.js';
import { REPO_ROOT } from './stack.js';

/** The downloader's entry point as a local process: the same program the Job image runs. */
export const DOWNLOADER_ENTRY = join(REPO_ROOT, 'downloader', 'main.ts');

export interface DownloaderRun {
  code: number;
  /** The parsed termination message. */
  result: Record<string, unknown>;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

export interface StartedDownloader {
  pid: number;
  done: Promise<DownloaderRun>;
  kill9(): void;
}

/** Env every run needs: PATH with s5cmd and hf, an isolated HOME, no cloud metadata lookups. */
export function baseDownloaderEnv(home: string): Record<string, string> {
  return {
    PATH: `${join(cacheDir(), 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
    HF_HUB_DISABLE_TELEMETRY: '1',
  };
}

/**
 * Starts the downloader. By default through tsx (the sources as they are); `compiledEntry` runs a tsc build instead,
 * as the image does (benchmarks use it so that transpiling is not measured).
 */
export function startDownloader(env: Record<string, string>, compiledEntry?: string): StartedDownloader {
  const started = Date.now();
  const args = compiledEntry ? [compiledEntry] : ['--import', 'tsx', DOWNLOADER_ENTRY];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<DownloaderRun>((resolve) => {
    child.once('exit', (code, signal) => {
      let result: Record<string, unknown> = {};
      try {
        result = JSON.parse(readFileSync(env.TERMINATION_MESSAGE_PATH!, 'utf8')) as Record<string, unknown>;
      } catch {
        // killed before writing one
      }
      resolve({ code: code ?? (signal ? 137 : -1), result, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
  return {
    pid: child.pid!,
    done,
    kill9: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

export function runDownloader(env: Record<string, string>, compiledEntry?: string): Promise<DownloaderRun> {
  return startDownloader(env, compiledEntry).done;
}
