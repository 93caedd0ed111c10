// A real Temporal dev server (`temporal server start-dev`, SQLite-backed) as a managed process. It is spawned
// directly rather than through @temporalio/testing so that fault-injection tests can stop, SIGKILL and restart it
// on the same port and database.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { binPath } from './bins.js';
import { freePort, ManagedProcess, stablePort, waitFor } from './processes.js';

/** The project's custom search attributes; all Keyword. */
export const AIM_SEARCH_ATTRIBUTES = ['AimKind', 'AimNamespace', 'AimName', 'AimModelId', 'AimStatus'] as const;

/** `temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD` (kept local: @temporalio/proto is not a direct dependency). */
const INDEXED_VALUE_TYPE_KEYWORD = 2;

const NAMESPACE = 'default';

export interface TemporalOptions {
  /** Holds the database (unless `dbFile` is given) and, by default, the log. Created if missing. */
  workDir: string;
  /** SQLite file; default `<workDir>/temporal.sqlite`. Persistence across restart() depends on it. */
  dbFile?: string;
  logDir?: string;
  /** Disable the Web UI (default: UI on, bound to 127.0.0.1 like everything else). */
  headless?: boolean;
  readyTimeoutMs?: number;
}

export interface TemporalServer {
  /** `127.0.0.1:<port>` (gRPC frontend) */
  address: string;
  /** `http://127.0.0.1:<port>`, or undefined when headless. */
  uiAddress: string | undefined;
  namespace: string;
  dbFile: string;
  logFile: string;
  /** SIGTERM (SIGKILL after a grace period), or SIGKILL at once with `{ kill: true }`. Idempotent. */
  stop(opts?: { kill?: boolean }): Promise<void>;
  /** Stops (gracefully, or SIGKILL with `{ kill: true }`) and starts again on the same ports and database. */
  restart(opts?: { kill?: boolean }): Promise<void>;
  /** Starts a stopped server again (same ports and database). */
  start(): Promise<void>;
  logs(lines?: number): string;
}

/** Dev-server flags shared by the spawned server and `createLocalTestEnvironment`. */
function devServerExtraArgs(): string[] {
  return [
    ...AIM_SEARCH_ATTRIBUTES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
    // Update-with-start (ExecuteMultiOperation) is off by default in the dev server.
    '--dynamic-config-value',
    'frontend.enableExecuteMultiOperation=true',
  ];
}

/** Resolves once a client can connect, `default` is described and every Aim search attribute is registered. */
async function waitUntilUsable(address: string, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  await waitFor(
    `Temporal at ${address} (namespace ${NAMESPACE} and search attributes)`,
    async () => {
      // A subchannel of its own: the shared pool's one to this address may sit in a reconnect back-off of up to 120 s
      // after an outage (other clients of this process kept trying), and every probe would wait on it ("Failed to
      // connect before the deadline" for a minute after a 2-minute outage, twice in full-suite runs).
      const connection = await Connection.connect({
        address,
        connectTimeout: 2000,
        channelArgs: { 'grpc.use_local_subchannel_pool': 1 },
      });
      try {
        await connection.workflowService.describeNamespace({ namespace: NAMESPACE });
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: NAMESPACE });
        const missing = AIM_SEARCH_ATTRIBUTES.filter((n) => !customAttributes || !(n in customAttributes));
        if (missing.length > 0) {
          // start-dev registers them at boot; this only matters for a database created by something else.
          await connection.operatorService.addSearchAttributes({
            namespace: NAMESPACE,
            searchAttributes: Object.fromEntries(missing.map((n) => [n, INDEXED_VALUE_TYPE_KEYWORD])),
          });
          return undefined;
        }
        return true;
      } finally {
        await connection.close();
      }
    },
    { timeoutMs, intervalMs: 250, watch: [proc] },
  );
}

export async function startTemporal(opts: TemporalOptions): Promise<TemporalServer> {
  const bin = binPath('temporal');
  const logDir = opts.logDir ?? join(opts.workDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const dbFile = opts.dbFile ?? join(opts.workDir, 'temporal.sqlite');
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const headless = opts.headless ?? false;
  // Fixed ports (chosen once) so a restart comes back where clients expect it. The dev server picks its HTTP and
  // metrics ports itself, on the same --ip.
  const [port, uiPort] = await Promise.all([stablePort(), headless ? Promise.resolve(0) : freePort()]);
  const address = `127.0.0.1:${port}`;
  const logFile = join(logDir, 'temporal.log');
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    ...(headless ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-ip', '127.0.0.1', '--ui-disable-news-fetch']),
    '--db-filename',
    dbFile,
    '--namespace',
    NAMESPACE,
    '--log-level',
    'warn',
    ...devServerExtraArgs(),
  ];

  let proc: ManagedProcess | undefined;
  const start = async (): Promise<void> => {
    if (proc?.running) throw new Error('Temporal is already running');
    const p = ManagedProcess.start({ name: 'temporal', command: bin, args, logFile });
    proc = p;
    try {
      await waitUntilUsable(address, p, readyTimeoutMs);
    } catch (err) {
      await p.stop(3000);
      throw err;
    }
  };
  const stop = async (o?: { kill?: boolean }): Promise<void> => {
    if (!proc) return;
    await (o?.kill ? proc.kill9() : proc.stop(5000));
  };

  await start();
  return {
    address,
    uiAddress: headless ? undefined : `http://127.0.0.1:${uiPort}`,
    namespace: NAMESPACE,
    dbFile,
    logFile,
    stop,
    restart: async (o) => {
      await stop(o);
      await start();
    },
    start,
    logs: (lines = 60) => `===== temporal (${logFile}) =====\n${proc?.tail(lines) ?? '(not started)'}`,
  };
}

/**
 * A TestWorkflowEnvironment (client + native connection for workers) on an already running server, e.g. the one
 * the global setup started. The caller tears it down; that closes the connections, never the server.
 */
export async function testEnvironmentFor(address: string): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createFromExistingServer({ address, namespace: NAMESPACE });
}

/**
 * Alternative for tests that want a private server they never restart: @temporalio/testing spawns the cached CLI
 * binary itself (without `existing-path` it would try to download one, which fails offline).
 */
export async function createLocalTestEnvironment(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: binPath('temporal') },
      ip: '127.0.0.1',
      namespace: NAMESPACE,
      extraArgs: ['--dynamic-config-value', 'frontend.enableExecuteMultiOperation=true'],
      searchAttributes: AIM_SEARCH_ATTRIBUTES.map((name) =>
        defineSearchAttributeKey(name, SearchAttributeType.KEYWORD),
      ),
    },
  });
}
