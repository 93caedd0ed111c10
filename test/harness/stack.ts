// The whole test stack: a Kubernetes control plane and a Temporal dev server (started in parallel), plus the
// project's CRDs and KServe's InferenceService CRD, and optionally KServe's real controller manager (kserve.ts).
// Used once per run by the vitest global setup and by up.ts.
import { mkdtemp, mkdir, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kserveCrdPath, kserveCrdPaths } from './bins.js';
import { startControlPlane, type ControlPlane } from './controlPlane.js';
import { CrdApplyError, installCrds } from './crds.js';
import { startKServe, type KServeController } from './kserve.js';
import { startTemporal, type TemporalServer } from './temporal.js';

export { CrdApplyError, installCrds, waitForCrdEstablished, FIELD_MANAGER } from './crds.js';

/** Repository root (this file is test/harness/stack.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface StackOptions {
  /** Default: a fresh `aim-stack-*` directory under the OS temp dir. */
  workDir?: string;
  /** CRD files to install; default: every `deploy/crds/*.yaml` of the repo plus KServe's InferenceService CRD. */
  crdFiles?: readonly string[];
  /** Disable Temporal's Web UI. */
  temporalHeadless?: boolean;
  /**
   * Run KServe's controller manager (all of KServe's CRDs, RawDeployment): what reports every InferenceService's
   * status. Default on; `AIM_STACK_KSERVE=0` leaves it out (only KServe's CRDs), e.g. to debug the control plane.
   */
  kserve?: boolean;
  /** The API server serves `/debug/pprof` (bench/apiserverProfile.ts). */
  apiServerProfiling?: boolean;
}

/** Whether the stack runs KServe unless told otherwise. */
export function kserveByDefault(): boolean {
  return process.env.AIM_STACK_KSERVE !== '0';
}

/** What `<workDir>/stack.json` holds; also what the global setup hands to tests. */
export interface StackInfo {
  workDir: string;
  logDir: string;
  kubeconfigPath: string;
  kubeServer: string;
  kubeToken: string;
  kubeCaPath: string;
  temporalAddress: string;
  temporalUiAddress: string | undefined;
  temporalNamespace: string;
  temporalDbFile: string;
  crds: string[];
  /** KServe's controller manager runs in this stack (its health endpoint, for tests that need it). */
  kserve: { healthUrl: string; metricsUrl: string; logFile: string } | undefined;
  startupMs: number;
  /** Where the startup time went (control plane and Temporal start in parallel; KServe after the CRDs). */
  timings: { controlPlaneMs: number; temporalMs: number; crdsMs: number; kserveMs: number };
}

export interface Stack extends StackInfo {
  /** The plain, serialisable part (what stack.json holds). */
  info: StackInfo;
  controlPlane: ControlPlane;
  temporal: TemporalServer;
  kserveController: KServeController | undefined;
  /** Stops KServe, then Temporal and the control plane (in parallel). Idempotent. */
  stop(): Promise<void>;
  /** The tail of every server's log, for printing on failure. */
  logs(lines?: number): string;
}

/**
 * `deploy/crds/*.yaml|yml` of the repository but its kustomization.yaml, sorted; empty when the directory does not
 * exist (yet).
 */
export async function projectCrdFiles(): Promise<string[]> {
  const dir = join(REPO_ROOT, 'deploy', 'crds');
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
    .sort()
    .map((f) => join(dir, f));
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const t0 = Date.now();
  const workDir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'aim-stack-')));
  const logDir = join(workDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const withKServe = opts.kserve ?? kserveByDefault();
  // Resolve the CRD list before starting anything, so a missing KServe CRD fails fast.
  const crdFiles = opts.crdFiles ?? [
    ...(await projectCrdFiles()),
    ...(withKServe ? kserveCrdPaths() : [kserveCrdPath()]),
  ];

  const timed = async <T>(p: Promise<T>): Promise<[T, number]> => {
    const t = Date.now();
    return [await p, Date.now() - t];
  };
  const [cpResult, tResult] = await Promise.allSettled([
    timed(startControlPlane({ workDir, logDir, apiServerProfiling: opts.apiServerProfiling })),
    timed(startTemporal({ workDir, logDir, headless: opts.temporalHeadless ?? false })),
  ]);
  if (cpResult.status === 'rejected' || tResult.status === 'rejected') {
    // Do not leave the half that did start running.
    await Promise.all([
      cpResult.status === 'fulfilled' ? cpResult.value[0].stop() : undefined,
      tResult.status === 'fulfilled' ? tResult.value[0].stop() : undefined,
    ]);
    const reasons = [cpResult, tResult]
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => (r.reason instanceof Error ? r.reason.message : String(r.reason)));
    throw new Error(`test stack failed to start (logs in ${logDir}):\n${reasons.join('\n')}`);
  }
  const [controlPlane, controlPlaneMs] = cpResult.value;
  const [temporal, temporalMs] = tResult.value;

  let kserveController: KServeController | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    // KServe first: it would only log connection errors once the API server is gone.
    stopping ??= (async () => {
      await kserveController?.stop();
      await Promise.all([controlPlane.stop(), temporal.stop()]);
    })();
    return stopping;
  };
  const logs = (lines = 60): string =>
    [controlPlane.logs(lines), temporal.logs(lines), ...(kserveController ? [kserveController.logs(lines)] : [])].join(
      '\n',
    );

  let crds: string[];
  const tCrds = Date.now();
  try {
    crds = await installCrds(controlPlane.kubeconfigPath, crdFiles);
  } catch (err) {
    // A rejected CRD (HTTP error answer) is the CRD's fault, and the server logs say nothing more; otherwise
    // (timeouts, connection errors) the API server's log is the place to look. Taken before stop() adds noise.
    const tails = err instanceof CrdApplyError ? '' : `\n${controlPlane.logs(40)}`;
    await stop();
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`installing CRDs failed (logs in ${logDir}): ${message}${tails}`, { cause: err });
  }
  const crdsMs = Date.now() - tCrds;

  const tKServe = Date.now();
  if (withKServe) {
    try {
      kserveController = await startKServe({
        kubeconfigPath: controlPlane.kubeconfigPath,
        workDir,
        logDir,
        crdsInstalled: true,
      });
    } catch (err) {
      await stop();
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`starting KServe failed (logs in ${logDir}): ${message}`, { cause: err });
    }
  }

  const info: StackInfo = {
    workDir,
    logDir,
    kubeconfigPath: controlPlane.kubeconfigPath,
    kubeServer: controlPlane.server,
    kubeToken: controlPlane.token,
    kubeCaPath: controlPlane.caPath,
    temporalAddress: temporal.address,
    temporalUiAddress: temporal.uiAddress,
    temporalNamespace: temporal.namespace,
    temporalDbFile: temporal.dbFile,
    crds,
    kserve: kserveController && {
      healthUrl: kserveController.healthUrl,
      metricsUrl: kserveController.metricsUrl,
      logFile: kserveController.logFile,
    },
    startupMs: Date.now() - t0,
    timings: { controlPlaneMs, temporalMs, crdsMs, kserveMs: withKServe ? Date.now() - tKServe : 0 },
  };
  await writeFile(join(workDir, 'stack.json'), `${JSON.stringify(info, null, 2)}\n`);
  return { ...info, info, controlPlane, temporal, kserveController, stop, logs };
}
