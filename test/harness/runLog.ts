// The per-run logs of the orchestrator side of the tests, kept in the stack's log dir next to the servers' logs:
// worker logs (the Temporal Runtime logger of each test process), bridge logs, the Kubernetes requests of the worker
// identity, and the statuses and Events each fixture's namespace held when it stopped. The secrets audit
// (test/integration/zz-secretsAudit.test.ts) scans all of it at the end of the run.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CoreV1Api, type CoreV1Event, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { IllegalStateError, type LogLevel, type LogMetadata } from '@temporalio/common';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { CustomObjects } from '../../activities/kube/customObjects.js';
import { RESOURCES, type ResourceKind } from '../../activities/kube/resources.js';
import { JsonLogger, LevelLogger } from '../../worker/logging.js';

export const RUN_LOGS = {
  workers: 'workers.jsonl',
  bridge: 'bridge.jsonl',
  requests: 'kube-requests.jsonl',
  /** One `<namespace>.json` per stopped fixture: statuses and Events (the namespace is deleted afterwards). */
  objects: 'objects',
} as const;

/** The log dir of the stack whose admin kubeconfig this is (stack.json sits beside it in the stack's work dir). */
export function stackLogDir(kubeconfigPath: string): string {
  const dir = dirname(kubeconfigPath);
  const info = join(dir, 'stack.json');
  if (existsSync(info)) {
    const logDir = (JSON.parse(readFileSync(info, 'utf8')) as { logDir?: string }).logDir;
    if (logDir) return logDir;
  }
  return join(dir, 'logs');
}

export function appendJsonLine(file: string, record: Record<string, unknown>): void {
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(record)}\n`);
}

/** A JSON-lines file writer for the product's logger (worker/logging.ts): the same lines production prints. */
const appendTo = (file: string) => (line: string) => {
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${line}\n`);
};

/** The product's JSON logger into `file` (every level), and warnings and errors on stderr as well. */
class RunLogger extends LevelLogger {
  private readonly file: JsonLogger;
  private readonly stderr = new DefaultLogger('WARN');
  private readonly context: LogMetadata;

  constructor(path: string, context: LogMetadata = {}) {
    super();
    this.file = new JsonLogger('DEBUG', appendTo(path));
    this.context = { pid: process.pid, ...context };
  }

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.file.log(level, message, { ...this.context, ...meta });
    if (level === 'WARN' || level === 'ERROR') this.stderr.log(level, message, meta);
  }
}

let installedFile: string | undefined;

/**
 * Installs, once per test process and before any worker connects, a Temporal Runtime whose logger is the worker
 * program's JSON logger (worker/logging.ts, scrubbing included) writing every SDK, workflow, activity and forwarded
 * Core line to `<logDir>/workers.jsonl`; warnings and errors also go to stderr. Returns the file, or undefined when
 * this process's Runtime was set up by someone else (e.g. `npm run demo` installs its own): then its worker logs are
 * not captured.
 */
export function installWorkerLogger(logDir: string): string | undefined {
  if (installedFile) return installedFile;
  const file = join(logDir, RUN_LOGS.workers);
  try {
    Runtime.install({
      logger: new RunLogger(file),
      telemetryOptions: { logging: { filter: { core: 'INFO', other: 'WARN' }, forward: {} } },
    });
  } catch (err) {
    if (err instanceof IllegalStateError) return undefined;
    throw err;
  }
  installedFile = file;
  return file;
}

/** A `log` sink for startBridge: the bridge program's JSON logger into `<logDir>/bridge.jsonl` (and stderr). */
export function bridgeLogger(
  logDir: string,
  context: Record<string, string>,
): (level: 'info' | 'warn' | 'error', msg: string) => void {
  const logger = new RunLogger(join(logDir, RUN_LOGS.bridge), context);
  return (level, msg) => logger[level](msg);
}

export interface ObjectStatus {
  kind: ResourceKind;
  namespace?: string;
  name: string;
  uid: string;
  status: unknown;
}

export interface StatusesAndEvents {
  objects: ObjectStatus[];
  events: CoreV1Event[];
}

/**
 * The status of every AIM object and InferenceService, and every Event, in `namespace` (with the cluster-scoped AIM
 * kinds and the Events of `default`, where Events of cluster-scoped objects go), or in all namespaces.
 */
export async function collectStatusesAndEvents(kc: KubeConfig, namespace?: string): Promise<StatusesAndEvents> {
  const objects = new CustomObjects(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const out: StatusesAndEvents = { objects: [], events: [] };
  for (const kind of Object.keys(RESOURCES) as ResourceKind[]) {
    const res = RESOURCES[kind];
    const items = await objects.list<KubernetesObject & { status?: unknown }>(
      res,
      res.namespaced ? namespace : undefined,
    );
    for (const o of items)
      out.objects.push({
        kind,
        ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}),
        name: o.metadata?.name ?? '',
        uid: o.metadata?.uid ?? '',
        status: o.status ?? null,
      });
  }
  const namespaces = namespace ? [...new Set([namespace, 'default'])] : [];
  out.events = namespace
    ? (await Promise.all(namespaces.map((n) => core.listNamespacedEvent({ namespace: n })))).flatMap((l) => l.items)
    : (await core.listEventForAllNamespaces()).items;
  return out;
}

/** Writes `<logDir>/objects/<namespace>.json` before a fixture deletes its namespace (for the secrets audit). */
export async function recordNamespaceState(kc: KubeConfig, namespace: string, logDir: string): Promise<void> {
  const state = await collectStatusesAndEvents(kc, namespace);
  const dir = join(logDir, RUN_LOGS.objects);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${namespace}.json`), `${JSON.stringify({ namespace, ...state })}\n`);
}
