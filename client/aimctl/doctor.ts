/**
 * `aimctl doctor`: the worker's and the bridge's start-up checks (worker/preflight.ts: Temporal reachable with these
 * settings, namespace, search attributes, AIM CRDs, KServe) plus what only a running installation shows: does a
 * worker poll the task queue, and does the bridge answer ready. Prints one table; exit 1 when any check fails.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { Connection } from '@temporalio/client';
import { TASK_QUEUE } from '../../workflows/signals.js';
import { preflightFailed, preflightTable, runPreflight, type CheckResult } from '../../worker/preflight.js';
import { temporalSettingsFromEnv, TemporalSettingsError } from '../temporalConnection.js';
import type { Session } from './session.js';
import type { Verb } from './verb.js';

const DOCTOR_HELP = `Usage: aimctl doctor [--bridge-health URL]

Checks that the orchestrator can work here.

Checks, one row each (a failed one with the command that fixes it):
  Temporal             reachable with the connection settings (TEMPORAL_ADDRESS, TEMPORAL_TLS*, TEMPORAL_API_KEY, profile)
  Temporal namespace   exists
  search attributes    AimKind, AimNamespace, AimName, AimModelId, AimStatus registered as Keyword
  task queue pollers   a worker polls the task queue (workflow and activity tasks)
  AIM CRDs, KServe CRD served by the API server
  bridge               /readyz of the bridge's health port answers 200 (with --bridge-health or $AIM_BRIDGE_HEALTH_URL)

Flags:
      --bridge-health URL   the bridge's health endpoint, e.g. http://127.0.0.1:8081 (kubectl port-forward)

Examples:
  aimctl doctor
  aimctl doctor --temporal-address temporal.example:7233 --bridge-health http://127.0.0.1:8081`;

/** Pollers seen within this window count as live (a long poll re-registers at least every minute). */
const LIVE_POLLER_MS = 2 * 60_000;

/** WORKFLOW = 1, ACTIVITY = 2 (temporal.api.enums.v1.TaskQueueType); NORMAL kind = 1. */
const TASK_QUEUE_TYPES = [
  ['workflow', 1],
  ['activity', 2],
] as const;

/** Pure: the pollers row from what DescribeTaskQueue reported for each task type. */
export function pollerCheck(
  taskQueue: string,
  pollers: Record<'workflow' | 'activity', Array<{ identity?: string | null; lastAccessTime?: Date }>>,
  now: Date,
): CheckResult {
  const live = (list: (typeof pollers)['workflow']) =>
    list.filter((p) => !p.lastAccessTime || now.getTime() - p.lastAccessTime.getTime() <= LIVE_POLLER_MS);
  const wf = live(pollers.workflow);
  const act = live(pollers.activity);
  if (wf.length > 0 && act.length > 0) {
    const identities = [...new Set([...wf, ...act].map((p) => p.identity ?? '?'))];
    return {
      check: 'task queue pollers',
      status: 'ok',
      detail: `${taskQueue}: ${identities.length} worker(s) (${identities.slice(0, 3).join(', ')}${identities.length > 3 ? ', …' : ''})`,
    };
  }
  const missing = [...(wf.length ? [] : ['workflow']), ...(act.length ? [] : ['activity'])];
  return {
    check: 'task queue pollers',
    status: 'fail',
    detail: `no worker polls ${missing.join(' and ')} tasks on ${taskQueue} (nothing will progress)`,
    fix: 'kubectl -n aim-system rollout status deploy/aim-orchestrator-worker; kubectl -n aim-system logs deploy/aim-orchestrator-worker (and check AIM_TASK_QUEUE matches)',
  };
}

async function pollers(connection: Connection, namespace: string, taskQueue: string): Promise<CheckResult> {
  const found = { workflow: [], activity: [] } as Parameters<typeof pollerCheck>[1];
  for (const [name, taskQueueType] of TASK_QUEUE_TYPES) {
    const r = await connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue, kind: 1 },
      taskQueueType,
    });
    found[name] = (r.pollers ?? []).map((p) => ({
      identity: p.identity ?? null,
      ...(p.lastAccessTime?.seconds != null
        ? { lastAccessTime: new Date(Number(p.lastAccessTime.seconds) * 1000) }
        : {}),
    }));
  }
  return pollerCheck(taskQueue, found, new Date());
}

/** The bridge's `/readyz` (200 once its watches are listed and Temporal answered). */
export async function bridgeCheck(url: string | undefined): Promise<CheckResult> {
  if (!url)
    return {
      check: 'bridge',
      status: 'skip',
      detail:
        'not checked: pass --bridge-health http://HOST:PORT (e.g. after kubectl port-forward deploy/aim-orchestrator-bridge 8081)',
    };
  const readyz = `${url.replace(/\/$/, '')}/readyz`;
  try {
    const res = await fetch(readyz, { signal: AbortSignal.timeout(5000) });
    const body = (await res.text()).trim().slice(0, 200);
    return res.status === 200
      ? { check: 'bridge', status: 'ok', detail: `${readyz}: ready` }
      : {
          check: 'bridge',
          status: 'fail',
          detail: `${readyz}: ${res.status} ${body}`,
          fix: 'kubectl -n aim-system logs deploy/aim-orchestrator-bridge (it exits with the fix when a CRD or Temporal is missing)',
        };
  } catch (err) {
    return {
      check: 'bridge',
      status: 'fail',
      detail: `${readyz}: ${(err as Error).message}`,
      fix: 'kubectl -n aim-system get pods -l app.kubernetes.io/component=bridge',
    };
  }
}

export interface DoctorOptions {
  env: Record<string, string | undefined>;
  kubeconfig?: string;
  temporalAddress?: string;
  temporalNamespace?: string;
  taskQueue?: string;
  bridgeHealth?: string;
  out(text: string): void;
  kubeConfig?: KubeConfig;
}

/** Runs every check and prints the table; returns the exit code (0 all passed, 1 otherwise). */
export async function runDoctor(opts: DoctorOptions): Promise<number> {
  let temporal;
  try {
    temporal = temporalSettingsFromEnv(opts.env, {
      ...(opts.temporalAddress ? { address: opts.temporalAddress } : {}),
      ...(opts.temporalNamespace ? { namespace: opts.temporalNamespace } : {}),
    });
  } catch (err) {
    if (!(err instanceof TemporalSettingsError)) throw err;
    opts.out(
      preflightTable([{ check: 'Temporal settings', status: 'fail', detail: err.message, fix: `fix ${err.setting}` }]),
    );
    return 1;
  }
  let kubeConfig = opts.kubeConfig;
  if (!kubeConfig) {
    kubeConfig = new KubeConfig();
    const path = opts.kubeconfig ?? opts.env.KUBECONFIG;
    if (path) kubeConfig.loadFromFile(path.split(':')[0] ?? path);
    else kubeConfig.loadFromDefault();
  }
  const taskQueue = opts.taskQueue ?? opts.env.AIM_TASK_QUEUE ?? TASK_QUEUE;
  const [results, bridge] = await Promise.all([
    runPreflight({
      kubeConfig,
      temporal,
      more: async (connection) => [await pollers(connection, temporal.namespace, taskQueue)],
    }),
    bridgeCheck(opts.bridgeHealth ?? opts.env.AIM_BRIDGE_HEALTH_URL),
  ]);
  const all = [...results, bridge];
  opts.out(preflightTable(all));
  return preflightFailed(all) ? 1 : 0;
}

export const doctor: Verb = {
  name: 'doctor',
  synopsis: [['doctor', 'check Temporal, search attributes, CRDs, KServe, workers and the bridge']],
  flags: { 'bridge-health': { type: 'string' } },
  help: DOCTOR_HELP,
  run: (s) => runDoctorVerb(s),
};

function runDoctorVerb(s: Session): Promise<number> {
  s.noMore(s.args.positionals);
  const [kubeconfig, temporalAddress, temporalNamespace, taskQueue, bridgeHealth] = [
    s.str('kubeconfig'),
    s.str('temporal-address'),
    s.str('temporal-namespace'),
    s.str('task-queue'),
    s.str('bridge-health'),
  ];
  return runDoctor({
    env: s.io.env,
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(temporalAddress ? { temporalAddress } : {}),
    ...(temporalNamespace ? { temporalNamespace } : {}),
    ...(taskQueue ? { taskQueue } : {}),
    ...(bridgeHealth ? { bridgeHealth } : {}),
    out: (text) => s.out(text),
  });
}
