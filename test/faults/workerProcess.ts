// The orchestrator's worker as a separate OS process — the real program, `aim-orchestrator worker`
// (worker/cli.ts), configured by env as in a Deployment — so fault tests can SIGKILL it and start it again.
// The process kubelet of the test fixture runs the Job pods; the worker only needs to name the image it maps.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_DOWNLOADER_IMAGE } from '../harness/kubelet.js';
import { ManagedProcess, waitFor } from '../harness/processes.js';
import { REPO_ROOT } from '../harness/stack.js';

export interface WorkerProcessOptions {
  /** Short name for messages and the log file. */
  name: string;
  kubeconfigPath: string;
  temporalAddress: string;
  temporalNamespace: string;
  taskQueue: string;
  logDir: string;
  /** How long a start may take until the worker polls (default 90 s: two busy cores). */
  readyTimeoutMs?: number;
}

export interface WorkerProcess {
  readonly name: string;
  readonly logFile: string;
  /** Number of processes started so far (1 after the first start). */
  readonly starts: number;
  /** The current process id (undefined before the first start). */
  readonly pid: number | undefined;
  /** Whether the current process is alive. */
  readonly running: boolean;
  /** Starts a process (the previous one must be gone) and waits until its worker is RUNNING. */
  start(): Promise<void>;
  /** SIGKILL of the worker's process group: no shutdown, in-flight tasks are simply lost. */
  kill9(): Promise<void>;
  /** Graceful stop (SIGTERM, the worker drains). */
  stop(): Promise<void>;
  tail(lines?: number): string;
}

/** What @temporalio/worker logs once its pollers run (plain or as a JSON line). */
const RUNNING = /Worker state changed.*RUNNING/;

export function workerProcess(opts: WorkerProcessOptions): WorkerProcess {
  const logFile = join(opts.logDir, `worker-${opts.name}.log`);
  let proc: ManagedProcess | undefined;
  let starts = 0;
  /** Where the current process's output begins in the (appended) log file. */
  let logOffset = 0;
  const currentLog = (): string => readFileSync(logFile).subarray(logOffset).toString('utf8');

  return {
    name: opts.name,
    logFile,
    get starts() {
      return starts;
    },
    get pid() {
      return proc?.pid;
    },
    get running() {
      return proc?.running ?? false;
    },
    async start() {
      if (proc?.running) throw new Error(`worker ${opts.name} is already running (pid ${proc.pid})`);
      starts += 1;
      logOffset = existsSync(logFile) ? statSync(logFile).size : 0;
      const p = ManagedProcess.start({
        name: `worker-${opts.name}`,
        // `node --import tsx` rather than npx/tsx wrappers: one process, so SIGKILL hits the worker itself.
        command: process.execPath,
        args: ['--import', 'tsx', join(REPO_ROOT, 'worker', 'cli.ts'), 'worker'],
        cwd: REPO_ROOT,
        logFile,
        env: {
          KUBECONFIG: opts.kubeconfigPath,
          TEMPORAL_ADDRESS: opts.temporalAddress,
          TEMPORAL_NAMESPACE: opts.temporalNamespace,
          AIM_TASK_QUEUE: opts.taskQueue,
          AIM_DOWNLOADER_IMAGE: TEST_DOWNLOADER_IMAGE,
          // Several workers run side by side: no fixed Prometheus port; no Shared-cache sweeper workflow per queue.
          AIM_METRICS_ADDRESS: 'off',
          AIM_SHARED_CACHE_TTL: '0',
        },
      });
      proc = p;
      await waitFor(`worker ${opts.name} RUNNING`, async () => (RUNNING.test(currentLog()) ? true : undefined), {
        timeoutMs: opts.readyTimeoutMs ?? 90_000,
        intervalMs: 100,
        watch: [p],
      });
    },
    async kill9() {
      await proc?.kill9();
    },
    async stop() {
      await proc?.stop(10_000);
    },
    tail: (lines = 40) => proc?.tail(lines) ?? '(never started)',
  };
}
