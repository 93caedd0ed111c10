// The "container runtime": one local process per container, in its own process group (a container is a set of
// processes that dies together), output appended to a log file like /var/log/pods/<ns>_<pod>_<uid>/<c>/<n>.log, and a
// watchdog that kills the group if the test process dies first (no orphans even after a SIGKILL of vitest).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { dirname } from 'node:path';
import { constants as osConstants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** Kubelet limits (pkg/kubelet/container): termination file 4 KiB; log fallback 80 lines / 2 KiB. */
export const MAX_TERMINATION_MESSAGE_BYTES = 4096;
export const FALLBACK_LOG_LINES = 80;
export const FALLBACK_LOG_BYTES = 2048;

export interface ProcessExit {
  /** As a container runtime reports it: the exit status, or 128 + signal number. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  /** Set when the command could not be started at all (ENOENT, EACCES): the runtime's StartError. */
  startError?: string;
  finishedAt: Date;
}

const live = new Set<ContainerProcess>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // group already gone
  }
}

export class ContainerProcess {
  readonly pid: number | undefined;
  readonly startedAt = new Date();
  readonly exited: Promise<ProcessExit>;
  private readonly child: ChildProcess;
  private watchdog: ChildProcess | undefined;
  private exitInfo: ProcessExit | undefined;

  constructor(opts: { command: string; args: string[]; cwd: string; env: Record<string, string>; logFile: string }) {
    mkdirSync(dirname(opts.logFile), { recursive: true });
    const fd = openSync(opts.logFile, 'a');
    try {
      this.child = spawn(opts.command, opts.args, {
        cwd: opts.cwd,
        env: opts.env,
        stdio: ['ignore', fd, fd],
        detached: true, // its own process group
      });
    } finally {
      closeSync(fd);
    }
    this.pid = this.child.pid;
    this.exited = new Promise<ProcessExit>((resolve) => {
      const done = (info: ProcessExit): void => {
        if (this.exitInfo) return;
        this.exitInfo = info;
        live.delete(this);
        // The container is gone as a whole: whatever the main process left running in its group goes with it.
        if (this.pid !== undefined) killGroup(this.pid, 'SIGKILL');
        this.stopWatchdog();
        resolve(info);
      };
      this.child.once('exit', (code, signal) => {
        const signum = signal ? (osConstants.signals[signal] ?? 9) : 0;
        done({ exitCode: code ?? 128 + signum, signal, finishedAt: new Date() });
      });
      this.child.once('error', (err) => {
        done({ exitCode: 128, signal: null, startError: err.message, finishedAt: new Date() });
      });
    });
    if (this.pid !== undefined) {
      live.add(this);
      installExitHook();
      this.watchdog = startWatchdog(this.pid);
    }
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the main process has exited. */
  async kill(graceMs: number): Promise<ProcessExit> {
    if (!this.running || this.pid === undefined) return this.exited;
    killGroup(this.pid, 'SIGTERM');
    const ac = new AbortController();
    const timer = sleep(graceMs, undefined, { signal: ac.signal }).then(
      () => this.pid !== undefined && killGroup(this.pid, 'SIGKILL'),
      () => undefined,
    );
    const info = await this.exited;
    ac.abort();
    await timer;
    return info;
  }

  /** @internal synchronous SIGKILL for the process 'exit' hook. */
  killSync(): void {
    if (this.pid !== undefined) killGroup(this.pid, 'SIGKILL');
    this.stopWatchdog();
  }

  private stopWatchdog(): void {
    const dog = this.watchdog;
    this.watchdog = undefined;
    if (dog?.pid !== undefined && dog.exitCode === null && dog.signalCode === null) {
      try {
        process.kill(dog.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) p.killSync();
  });
}

/** A detached shell that SIGKILLs the container's group once this Node process is gone (same as processes.ts). */
function startWatchdog(pid: number): ChildProcess {
  const script =
    'p=$1; c=$2; while kill -0 "$p" 2>/dev/null; do kill -0 "$c" 2>/dev/null || exit 0; sleep 1; done; ' +
    'kill -KILL -- -"$c" 2>/dev/null; exit 0';
  const dog = spawn('/bin/sh', ['-c', script, 'aim-kubelet-watchdog', String(process.pid), String(pid)], {
    detached: true,
    stdio: 'ignore',
  });
  dog.unref();
  return dog;
}

/** The last `max` bytes of a file ("" when missing), as the kubelet reads the termination message file. */
export function readLastBytes(path: string, max: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, max);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** FallbackToLogsOnError: the last 80 lines of the log, of which at most the last 2048 bytes. */
export function fallbackLogTail(logFile: string): string {
  const text = readLastBytes(logFile, 256 * 1024);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const tail = Buffer.from(lines.slice(-FALLBACK_LOG_LINES).join('\n') + (lines.length ? '\n' : ''));
  return tail.subarray(Math.max(0, tail.length - FALLBACK_LOG_BYTES)).toString('utf8');
}

/**
 * Live processes of a process group (Linux /proc), zombies excluded: a killed container's children are reparented to
 * PID 1, which in some sandboxes reaps them late, so `kill(-pgid, 0)` alone would still see their zombies.
 */
export function liveGroupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses, so split after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') out.push(Number(entry));
  }
  return out;
}
