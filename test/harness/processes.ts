// A small managed-process helper for the real servers the tests start (etcd, kube-apiserver, Temporal, ...).
// Output goes straight to a log file (no pipes through Node: a chatty server can never block on a full pipe, and the
// log survives a crash of the test process). Every child runs in its own process group so that Ctrl-C in a terminal
// does not kill the servers behind the harness's back (the harness stops them in order), and so that a stop reaches
// any grandchildren too.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, readSync, fstatSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartProcessOptions {
  /** Short name used in messages (`etcd`, `kube-apiserver`, ...). */
  name: string;
  command: string;
  args: readonly string[];
  /** Added to (and overriding) the parent's environment. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** stdout and stderr are appended here; restarts append to the same file. */
  logFile: string;
}

/** Every process started here and not yet exited: killed synchronously if the Node process exits first. */
const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // vitest calls process.exit() when teardown overruns `teardownTimeout`; an 'exit' listener is the last moment
  // at which we can still signal the children. Only synchronous work is possible here, hence SIGKILL.
  process.on('exit', () => {
    for (const p of live) p.killOnExitSync();
  });
}

/**
 * Starts a tiny detached shell that SIGKILLs the child's process group once this Node process is gone (even after a
 * SIGKILL of the test runner, when no 'exit' listener runs). It exits by itself as soon as the child exits.
 */
function startWatchdog(childPid: number): ChildProcess {
  const script =
    'p=$1; c=$2; while kill -0 "$p" 2>/dev/null; do kill -0 "$c" 2>/dev/null || exit 0; sleep 1; done; ' +
    'kill -KILL -- -"$c" 2>/dev/null; kill -KILL "$c" 2>/dev/null; exit 0';
  const dog = spawn('/bin/sh', ['-c', script, 'aim-harness-watchdog', String(process.pid), String(childPid)], {
    detached: true,
    stdio: 'ignore',
  });
  dog.unref();
  return dog;
}

export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  private readonly child: ChildProcess;
  private watchdog: ChildProcess | undefined;
  private exit: ExitInfo | undefined;
  private readonly exited: Promise<ExitInfo>;

  private constructor(opts: StartProcessOptions) {
    this.name = opts.name;
    this.logFile = opts.logFile;
    mkdirSync(dirname(opts.logFile), { recursive: true });
    appendFileSync(
      opts.logFile,
      `\n----- ${new Date().toISOString()} starting ${opts.name}: ${opts.command} ${opts.args.join(' ')}\n`,
    );
    const fd = openSync(opts.logFile, 'a');
    try {
      this.child = spawn(opts.command, [...opts.args], {
        cwd: opts.cwd,
        env: { ...process.env, ...opts.env },
        stdio: ['ignore', fd, fd],
        detached: true, // own process group: see the file comment
      });
    } finally {
      closeSync(fd); // the child holds its own copy
    }
    this.exited = new Promise<ExitInfo>((resolve) => {
      const done = (info: ExitInfo): void => {
        if (this.exit) return;
        this.exit = info;
        live.delete(this);
        this.stopWatchdog(); // its child is gone: nothing left to guard, and no process left behind for a second
        try {
          appendFileSync(
            opts.logFile,
            `----- ${new Date().toISOString()} ${opts.name} exited: ${describeExit(info)}\n`,
          );
        } catch {
          // the work dir may already be gone during teardown
        }
        resolve(info);
      };
      this.child.once('exit', (code, signal) => done({ code, signal }));
      // 'error' without 'exit' happens when the binary cannot be spawned at all (ENOENT, EACCES).
      this.child.once('error', (err) => {
        appendFileSync(opts.logFile, `spawn error: ${err.message}\n`);
        done({ code: -1, signal: null });
      });
    });
    if (this.child.pid !== undefined) {
      live.add(this);
      installExitHook();
      this.watchdog = startWatchdog(this.child.pid);
    }
  }

  static start(opts: StartProcessOptions): ManagedProcess {
    return new ManagedProcess(opts);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  get exitInfo(): ExitInfo | undefined {
    return this.exit;
  }

  /** Resolves when the process has exited; rejects after `timeoutMs` if given. */
  async waitForExit(timeoutMs?: number): Promise<ExitInfo> {
    if (timeoutMs === undefined) return this.exited;
    const ac = new AbortController();
    try {
      return await Promise.race([
        this.exited,
        sleep(timeoutMs, undefined, { signal: ac.signal }).then(() => {
          throw new Error(`${this.name} (pid ${this.pid}) did not exit within ${timeoutMs} ms`);
        }),
      ]);
    } finally {
      ac.abort();
    }
  }

  /** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
  async stop(graceMs = 5000): Promise<ExitInfo> {
    if (!this.running) return this.exited;
    this.killGroupSync('SIGTERM');
    try {
      return await this.waitForExit(graceMs);
    } catch {
      return this.kill9();
    }
  }

  /** Immediate SIGKILL (crash simulation). */
  async kill9(): Promise<ExitInfo> {
    if (this.running) this.killGroupSync('SIGKILL');
    return this.exited;
  }

  /** @internal Signals the whole process group; also used from the synchronous 'exit' hook. */
  killGroupSync(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined || !this.running) return;
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }

  /** @internal For the process 'exit' hook: SIGKILL the child's group and its (then useless) watchdog. */
  killOnExitSync(): void {
    this.killGroupSync('SIGKILL');
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

  /** The last `lines` lines of this process's log file. */
  tail(lines = 60): string {
    return tailFile(this.logFile, lines);
  }
}

export function startProcess(opts: StartProcessOptions): ManagedProcess {
  return ManagedProcess.start(opts);
}

export function describeExit(info: ExitInfo): string {
  return info.signal ? `signal ${info.signal}` : `exit code ${info.code}`;
}

/** The last `lines` lines of a (possibly large) text file, reading at most the final 256 KiB. */
export function tailFile(path: string, lines = 60): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return `(no log at ${path})`;
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 256 * 1024);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    const all = buf.toString('utf8').split('\n');
    if (all.at(-1) === '') all.pop();
    return all.slice(-lines).join('\n');
  } finally {
    closeSync(fd);
  }
}

/** Ports handed out by this process, so two quick calls never return the same port before either is bound. */
const handedOut = new Set<number>();

/** Listens on 127.0.0.1:`port` (0: the kernel picks) and closes again: the port that was free, or 0 when taken. */
function probeListen(port: number): Promise<number> {
  return new Promise<number>((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(0));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const addr = srv.address();
      const p = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(p));
    });
  });
}

/** A currently free TCP port on 127.0.0.1 (the kernel picks it; the listener is closed again at once). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await probeListen(0);
    if (port === 0) throw new Error('cannot listen on 127.0.0.1: no free port');
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** The lowest port the kernel hands out as a client's local port (ip_local_port_range), 32768 when unknown. */
function ephemeralFloor(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2048 ? low : 32768;
  } catch {
    return 32768;
  }
}

/**
 * A free TCP port on 127.0.0.1 below the ephemeral range, for a server that is stopped and started again on the same
 * port. A port from the ephemeral range (what `freePort` gets from the kernel) can be taken while the server is down:
 * clients retrying a connection to 127.0.0.1:P are given local ports from that range, and one given P itself
 * connects to itself (TCP simultaneous open) and holds it; the restarted server then cannot listen there (seen once:
 * Temporal restarted after a 2-minute outage was never reachable).
 */
export async function stablePort(): Promise<number> {
  const floor = Math.min(ephemeralFloor(), 32768);
  const low = Math.max(1024, floor - 12_000);
  for (;;) {
    const candidate = low + Math.floor(Math.random() * (floor - low));
    if (handedOut.has(candidate)) continue;
    if ((await probeListen(candidate)) === candidate) {
      handedOut.add(candidate);
      return candidate;
    }
  }
}

export interface WaitForOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Fail at once (with the log tail) if one of these exits while we wait. */
  watch?: readonly ManagedProcess[];
}

/**
 * Polls `probe` until it returns a value other than `undefined`. Errors thrown by the probe count as "not yet";
 * the last one is reported on timeout.
 */
export async function waitFor<T>(
  description: string,
  probe: () => Promise<T | undefined>,
  opts: WaitForOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 250;
  let lastError = '';
  for (;;) {
    for (const p of opts.watch ?? []) {
      const info = p.exitInfo;
      if (info) {
        throw new Error(
          `${p.name} exited (${describeExit(info)}) while waiting for ${description}; log ${p.logFile}:\n${p.tail(40)}`,
        );
      }
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
      lastError = '';
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `timed out after ${opts.timeoutMs} ms waiting for ${description}${lastError ? ` (last error: ${lastError})` : ''}`,
      );
    }
    await sleep(interval);
  }
}
