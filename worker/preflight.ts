/**
 * Start-up checks of the worker and the bridge (and `aimctl doctor`): is Temporal reachable with these settings, does
 * the namespace exist with the search attributes the workflows set, are the AIM CRDs and KServe's InferenceService
 * CRD served. Each failed check carries the exact command that fixes it. The evaluators and the table are pure
 * (unit-tested); `runPreflight` does the calls.
 *
 * The CRDs are looked up through API discovery, which every authenticated identity may read: no extra RBAC.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Connection } from '@temporalio/client';
import { API_GROUP, API_VERSION } from '../schemas/constants.js';
import { KIND_NAMES, KINDS } from '../schemas/kinds.js';
import { RESOURCES } from '../activities/kube/resources.js';
import { SEARCH_ATTRIBUTES } from '../workflows/signals.js';
import { connectTemporalClient, TemporalSettingsError, type TemporalSettings } from '../client/temporalConnection.js';

export type CheckStatus = 'ok' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
  /** The command (or setting) that fixes a failed check. */
  fix?: string;
}

/** What `aimctl doctor` and the programs print: one row per check, the fix under a failed one. */
export function preflightTable(results: CheckResult[]): string {
  const width = Math.max(5, ...results.map((r) => r.check.length));
  const lines = [`${'CHECK'.padEnd(width)}  STATUS  DETAIL`];
  for (const r of results) {
    lines.push(`${r.check.padEnd(width)}  ${r.status.toUpperCase().padEnd(6)}  ${r.detail}`);
    if (r.fix && r.status !== 'ok') lines.push(`${''.padEnd(width)}  ${'fix:'.padEnd(6)}  ${r.fix}`);
  }
  return lines.join('\n');
}

export const preflightFailed = (results: CheckResult[]): boolean => results.some((r) => r.status === 'fail');

/** The exit code of a program whose preflight failed (sysexits EX_CONFIG: the environment, not the program). */
export const EXIT_PREFLIGHT = 78;

export const CRD_FIX = 'kubectl apply --server-side -k deploy/crds';
export const KSERVE_FIX =
  'install KServe (RawDeployment), e.g. kubectl apply --server-side -f https://github.com/kserve/kserve/releases/download/v0.15.2/kserve.yaml';

/** The AIM kinds' plurals as served in aim.silogen.ai/v1alpha1. */
export const AIM_PLURALS = KIND_NAMES.map((k) => KINDS[k].plural);

/**
 * `served` holds the resources discovery lists for a group/version (undefined: the group/version is not served).
 */
export function crdChecks(served: { aim: Set<string> | undefined; kserve: Set<string> | undefined }): CheckResult[] {
  const missing = AIM_PLURALS.filter((p) => !served.aim?.has(p));
  const aim: CheckResult =
    missing.length === 0
      ? { check: 'AIM CRDs', status: 'ok', detail: `${AIM_PLURALS.length} kinds served in ${API_GROUP}/${API_VERSION}` }
      : {
          check: 'AIM CRDs',
          status: 'fail',
          detail: `not served: ${missing.map((p) => `${p}.${API_GROUP}`).join(', ')}`,
          fix: CRD_FIX,
        };
  const isvc = RESOURCES.InferenceService;
  const kserve: CheckResult = served.kserve?.has(isvc.plural)
    ? { check: 'KServe CRD', status: 'ok', detail: `${isvc.plural}.${isvc.group}/${isvc.version} served` }
    : {
        check: 'KServe CRD',
        status: 'fail',
        detail: `${isvc.plural}.${isvc.group}/${isvc.version} not served (KServe is not installed)`,
        fix: KSERVE_FIX,
      };
  return [aim, kserve];
}

/** `temporal.api.enums.v1.IndexedValueType` names (the operator API returns the numbers). */
const INDEXED_VALUE_TYPES: Record<number, string> = {
  1: 'Text',
  2: 'Keyword',
  3: 'Int',
  4: 'Double',
  5: 'Bool',
  6: 'Datetime',
  7: 'KeywordList',
};

/** The attribute names the workflows upsert (workflows/signals.ts), all Keyword. */
export const REQUIRED_SEARCH_ATTRIBUTES = Object.values(SEARCH_ATTRIBUTES).map((k) => k.name);

export function searchAttributeFixCommand(namespace: string, names: readonly string[]): string {
  return `temporal operator search-attribute create --namespace ${namespace} ${names.map((n) => `--name ${n}`).join(' ')} --type Keyword`;
}

/** `custom`: the namespace's custom search attributes, name → IndexedValueType. */
export function searchAttributeCheck(custom: Record<string, number | string>, namespace: string): CheckResult {
  // Numbers from the operator API; names (INDEXED_VALUE_TYPE_KEYWORD or Keyword) from JSON forms of it.
  const typeOf = (v: number | string) =>
    typeof v === 'number' ? (INDEXED_VALUE_TYPES[v] ?? String(v)) : v.replace(/^INDEXED_VALUE_TYPE_/i, '');
  const missing = REQUIRED_SEARCH_ATTRIBUTES.filter((n) => !(n in custom));
  const wrongType = REQUIRED_SEARCH_ATTRIBUTES.filter(
    (n) => n in custom && typeOf(custom[n] as number | string).toLowerCase() !== 'keyword',
  );
  if (missing.length === 0 && wrongType.length === 0)
    return {
      check: 'search attributes',
      status: 'ok',
      detail: `${REQUIRED_SEARCH_ATTRIBUTES.join(', ')} registered in ${namespace}`,
    };
  const problems = [
    ...(missing.length ? [`missing in ${namespace}: ${missing.join(', ')}`] : []),
    ...wrongType.map((n) => `${n} is ${typeOf(custom[n] as number | string)}, must be Keyword`),
  ];
  return {
    check: 'search attributes',
    status: 'fail',
    detail: problems.join('; '),
    fix:
      missing.length > 0
        ? searchAttributeFixCommand(namespace, missing)
        : `remove ${wrongType.join(', ')} (temporal operator search-attribute remove) and create it as Keyword`,
  };
}

/** gRPC status codes (the client's errors carry them). */
const NOT_FOUND = 5;
const PERMISSION_DENIED = 7;

/** Lists the resources the API server serves in group/version; undefined when it serves none (no such CRD). */
export async function servedResources(
  kc: KubeConfig,
  group: string,
  version: string,
): Promise<Set<string> | undefined> {
  const api = kc.makeApiClient(CustomObjectsApi);
  // A start must not fail on one 429 or 5xx (an API server under load, a restarting one): a few quick retries.
  for (let attempt = 1; ; attempt++) {
    try {
      const list = await api.getAPIResources({ group, version });
      return new Set(list.resources.map((r) => r.name));
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code === 404) return undefined;
      const transient = typeof code !== 'number' || code === 429 || code >= 500;
      if (!transient || attempt >= 6) throw err;
      await new Promise((r) => setTimeout(r, 200 * 2 ** (attempt - 1)));
    }
  }
}

async function kubernetesChecks(kc: KubeConfig): Promise<CheckResult[]> {
  const isvc = RESOURCES.InferenceService;
  try {
    const [aim, kserve] = await Promise.all([
      servedResources(kc, API_GROUP, API_VERSION),
      servedResources(kc, isvc.group, isvc.version),
    ]);
    return crdChecks({ aim, kserve });
  } catch (err) {
    return [
      {
        check: 'Kubernetes API',
        status: 'fail',
        detail: `cannot reach ${kc.getCurrentCluster()?.server ?? 'the API server'}: ${(err as Error).message}`,
        fix: 'check KUBECONFIG (or the in-cluster service account)',
      },
    ];
  }
}

/** The namespace and its search attributes, on a connection that works. */
export async function temporalNamespaceChecks(connection: Connection, namespace: string): Promise<CheckResult[]> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code === NOT_FOUND)
      return [
        {
          check: 'Temporal namespace',
          status: 'fail',
          detail: `namespace ${namespace} does not exist`,
          fix: `temporal operator namespace create --namespace ${namespace} (or set TEMPORAL_NAMESPACE)`,
        },
      ];
    // Cloud API keys may not describe namespaces; the workers' own calls will tell.
    if (code !== PERMISSION_DENIED) throw err;
  }
  const rows: CheckResult[] = [{ check: 'Temporal namespace', status: 'ok', detail: namespace }];
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    rows.push(searchAttributeCheck((customAttributes ?? {}) as Record<string, number>, namespace));
  } catch (err) {
    if ((err as { code?: number }).code !== PERMISSION_DENIED) throw err;
    rows.push({
      check: 'search attributes',
      status: 'warn',
      detail: `not allowed to list them in ${namespace}; make sure ${REQUIRED_SEARCH_ATTRIBUTES.join(', ')} exist as Keyword`,
      fix: searchAttributeFixCommand(namespace, REQUIRED_SEARCH_ATTRIBUTES),
    });
  }
  return rows;
}

export interface PreflightOptions {
  kubeConfig: KubeConfig;
  temporal: TemporalSettings;
  /** Extra checks on the working connection (aimctl doctor: task-queue pollers). */
  more?: (connection: Connection) => Promise<CheckResult[]>;
}

/** Every check; never throws for what a check can report. */
export async function runPreflight(opts: PreflightOptions): Promise<CheckResult[]> {
  const temporal = async (): Promise<CheckResult[]> => {
    let connection: Connection;
    try {
      connection = await connectTemporalClient(opts.temporal, { connectTimeout: '10 seconds' });
    } catch (err) {
      return [
        {
          check: 'Temporal',
          status: 'fail',
          detail: (err as Error).message,
          fix: `check ${((err as { settings?: string[] }).settings ?? ['TEMPORAL_ADDRESS']).join(', ')} (docs/operating.md, "Connecting to Temporal")`,
        },
      ];
    }
    try {
      const rows: CheckResult[] = [{ check: 'Temporal', status: 'ok', detail: opts.temporal.summary }];
      rows.push(...(await temporalNamespaceChecks(connection, opts.temporal.namespace)));
      if (opts.more) rows.push(...(await opts.more(connection)));
      return rows;
    } catch (err) {
      return [{ check: 'Temporal', status: 'fail', detail: `${opts.temporal.summary}: ${(err as Error).message}` }];
    } finally {
      await connection.close();
    }
  };
  const [kube, tmprl] = await Promise.all([kubernetesChecks(opts.kubeConfig), temporal()]);
  return [...tmprl, ...kube];
}

interface StartLog {
  info(msg: string, meta?: Record<string, unknown>): void;
  error(msg: string, meta?: Record<string, unknown>): void;
}

/**
 * For the worker's and the bridge's start: runs every check and, when one fails, prints the table (with the fixes)
 * on stderr and returns false; the program then exits with EXIT_PREFLIGHT.
 */
export async function preflightAtStart(program: string, opts: PreflightOptions, log: StartLog): Promise<boolean> {
  const results = await runPreflight(opts);
  if (!preflightFailed(results)) {
    log.info('preflight passed', { temporal: opts.temporal.summary });
    return true;
  }
  const failed = results.filter((r) => r.status === 'fail');
  log.error('preflight failed', { checks: failed.map((r) => ({ check: r.check, detail: r.detail, fix: r.fix })) });
  process.stderr.write(`${program}: cannot start, the environment is not ready:\n${preflightTable(results)}\n`);
  return false;
}

/** A wrong Temporal setting at start: says which one (stderr and log) and exits with EXIT_PREFLIGHT; else returns. */
export function exitOnSettingsError(program: string, err: unknown, log: StartLog): void {
  if (!(err instanceof TemporalSettingsError)) return;
  log.error(`${program} cannot start: a Temporal setting is wrong`, { setting: err.setting, error: err.message });
  process.stderr.write(`${program}: ${err.message}\n`);
  process.exit(EXIT_PREFLIGHT);
}
