// The "container runtime": one local process per container, in its own process group (a container is a set of
// processes that dies together), output appended to a log file like /var/log/pods/<ns>_<pod>_<uid>/<c>/<n>.log, and a
// watchdog that kills the group if the test process dies first (no orphans even after a SIGKILL of vitest).
import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants as fsConstants,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { constants as osConstants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerMemory } from './memory.js';

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
  /** The container's memory cgroup counted an OOM kill (containerd then reports reason OOMKilled). */
  oomKilled?: boolean;
  finishedAt: Date;
}

const live = new Set<ContainerProcess>();
let exitHookInstalled = false;

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // group already gone
  }
}

/** The identity a container's processes run as (securityContext runAsUser/runAsGroup, fsGroup + supplementalGroups). */
export interface ContainerUser {
  uid: number;
  gid: number;
  groups: number[];
}

/** Where `command` resolves on `PATH` (as runc resolves the entrypoint), or undefined when nothing executable is there. */
export function lookPath(command: string, path: string, cwd: string): string | undefined {
  const candidates = command.includes('/')
    ? [resolve(cwd, command)]
    : path
        .split(':')
        .filter(Boolean)
        .map((dir) => resolve(dir, command));
  for (const c of candidates) {
    try {
      if (!statSync(c).isFile()) continue;
      accessSync(c, fsConstants.X_OK);
      return c;
    } catch {
      // not there, or not executable
    }
  }
  return undefined;
}

/**
 * The "runtime shim": joins the container's cgroup (so that the limit covers everything it will fork) and drops to
 * the container's user with setpriv, then execs the entrypoint, which keeps the pid.
 */
const SHIM = 'if [ -n "$1" ]; then echo $$ > "$1" || exit 128; fi; shift; exec "$@"';

function shimArgs(
  command: string,
  args: string[],
  procsFile: string | undefined,
  user: ContainerUser | undefined,
  rootfsScript: string | undefined,
) {
  // A non-root user gets the image's view of the tools (rootfs.ts) in a private mount namespace, set up as root.
  const view =
    user && user.uid !== 0 && rootfsScript
      ? ['unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', rootfsScript, 'aim-image-view']
      : [];
  const setpriv = user
    ? [
        'setpriv',
        `--reuid=${user.uid}`,
        `--regid=${user.gid}`,
        user.groups.length ? `--groups=${user.groups.join(',')}` : '--clear-groups',
        '--',
      ]
    : [];
  return ['-c', SHIM, 'aim-container-shim', procsFile ?? '', ...view, ...setpriv, command, ...args];
}

export class ContainerProcess {
  readonly pid: number | undefined;
  readonly startedAt = new Date();
  readonly exited: Promise<ProcessExit>;
  private readonly memory: ContainerMemory | undefined;
  private watchdog: ChildProcess | undefined;
  private exitInfo: ProcessExit | undefined;

  constructor(opts: {
    command: string;
    args: string[];
    cwd: string;
    env: Record<string, string>;
    logFile: string;
    /** Memory limit accounting (cgroup or sampler); the process joins the cgroup before it execs. */
    memory?: ContainerMemory;
    /** Run as this user instead of the kubelet's (root). */
    user?: ContainerUser;
    /** rootfs.ts's mount script, applied when `user` is not root. */
    rootfsScript?: string;
  }) {
    mkdirSync(dirname(opts.logFile), { recursive: true });
    this.memory = opts.memory;
    let resolveExit!: (info: ProcessExit) => void;
    this.exited = new Promise<ProcessExit>((r) => (resolveExit = r));
    const done = (info: ProcessExit): void => {
      if (this.exitInfo) return;
      const oomKilled = this.memory?.oomKilled() ?? false;
      this.exitInfo = { ...info, ...(oomKilled ? { oomKilled } : {}) };
      live.delete(this);
      // The container is gone as a whole: whatever the main process left running in its group (or its cgroup, which
      // also holds children that started their own group) goes with it.
      if (this.pid !== undefined) killGroup(this.pid, 'SIGKILL');
      for (const pid of this.memory?.members() ?? []) killPid(pid);
      this.stopWatchdog();
      // The cgroup can be removed once the kernel has reaped its members.
      if (this.memory) setTimeout(() => this.memory?.release(), 1000).unref();
      resolveExit(this.exitInfo);
    };

    const shim = opts.memory?.procsFile !== undefined || opts.user !== undefined;
    // Through the shim a missing entrypoint would be the shell's exit 127; runc reports it as a StartError instead.
    if (shim && !lookPath(opts.command, opts.env.PATH ?? '', opts.cwd)) {
      this.pid = undefined;
      done({
        exitCode: 128,
        signal: null,
        startError: `${opts.command}: executable file not found in $PATH`,
        finishedAt: new Date(),
      });
      return;
    }
    const [command, args] = shim
      ? ['/bin/sh', shimArgs(opts.command, opts.args, opts.memory?.procsFile, opts.user, opts.rootfsScript)]
      : [opts.command, opts.args];
    const fd = openSync(opts.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        cwd: opts.cwd,
        env: opts.env,
        stdio: ['ignore', fd, fd],
        detached: true, // its own process group
      });
    } finally {
      closeSync(fd);
    }
    this.pid = child.pid;
    child.once('exit', (code, signal) => {
      const signum = signal ? (osConstants.signals[signal] ?? 9) : 0;
      done({ exitCode: code ?? 128 + signum, signal, finishedAt: new Date() });
    });
    child.once('error', (err) => {
      done({ exitCode: 128, signal: null, startError: err.message, finishedAt: new Date() });
    });
    if (this.pid !== undefined) {
      live.add(this);
      installExitHook();
      this.watchdog = startWatchdog(this.pid);
      const pid = this.pid;
      this.memory?.attach(pid, () => killGroup(pid, 'SIGKILL'));
    }
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the main process has exited. */
  async kill(graceMs: number): Promise<ProcessExit> {
    if (!this.running || this.pid === undefined) return this.exited;
    if (graceMs <= 0) {
      // No grace at all (a hard eviction): the runtime kills outright.
      killGroup(this.pid, 'SIGKILL');
      return this.exited;
    }
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
