// Where the real server binaries live. test/harness/install-bins.sh (`npm run setup`) builds or installs them into a
// version-keyed cache outside the repo; the harness only ever reads from there.
import { accessSync, constants, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Versions install-bins.sh installs by default; tests assert on them, so keep them in step with the script. */
export const K8S_VERSION = process.env.K8S_VERSION ?? 'v1.36.3';
export const KSERVE_VERSION = process.env.KSERVE_VERSION ?? 'v0.15.2';

/** Root of the binary cache: `$AIM_CACHE_DIR`, else `~/.cache/aim-orchestrator`. */
export function cacheDir(): string {
  const fromEnv = process.env.AIM_CACHE_DIR;
  return fromEnv && fromEnv.length > 0 ? fromEnv : join(homedir(), '.cache', 'aim-orchestrator');
}

function requireFile(path: string, what: string, mode: number): string {
  try {
    accessSync(path, mode);
  } catch {
    throw new Error(
      `${what} not found (or not usable) at ${path}: run "npm run setup" (test/harness/install-bins.sh) first`,
    );
  }
  return path;
}

/** Absolute path of an installed executable (`etcd`, `kube-apiserver`, `temporal`, ...); throws if it is missing. */
export function binPath(name: string): string {
  return requireFile(join(cacheDir(), 'bin', name), `binary "${name}"`, constants.X_OK);
}

/** KServe's real InferenceService CRD, extracted from the pinned Go module by install-bins.sh. */
export function kserveCrdPath(): string {
  return requireFile(
    join(cacheDir(), `kserve-${KSERVE_VERSION}`, 'serving.kserve.io_inferenceservices.yaml'),
    'KServe InferenceService CRD',
    constants.R_OK,
  );
}

/** Where install-bins.sh puts KServe's files taken from the pinned Go module. */
function kserveDir(): string {
  return join(cacheDir(), `kserve-${KSERVE_VERSION}`);
}

/** Every CRD of KServe's `config/crd/full` (InferenceService, ServingRuntime, InferenceGraph, ...), sorted. */
export function kserveCrdPaths(): string[] {
  const primary = kserveCrdPath();
  const all = readdirSync(kserveDir())
    .filter((f) => /^serving\.kserve\.io_.*\.yaml$/.test(f))
    .sort()
    .map((f) => join(kserveDir(), f));
  if (all.length < 2) {
    throw new Error(`only ${primary} found in ${kserveDir()}: run "npm run setup" to extract KServe's other CRDs`);
  }
  return all;
}

/** KServe's default `inferenceservice-config` ConfigMap (config/configmap/inferenceservice.yaml of the module). */
export function kserveConfigMapPath(): string {
  return requireFile(
    join(kserveDir(), 'inferenceservice-config.yaml'),
    'KServe default inferenceservice-config',
    constants.R_OK,
  );
}

/** The KServe controller manager (github.com/kserve/kserve/cmd/manager) built by install-bins.sh. */
export function kserveManagerPath(): string {
  return binPath('kserve-manager');
}

export const PROMETHEUS_OPERATOR_VERSION = process.env.PROMETHEUS_OPERATOR_VERSION ?? 'v0.85.0';

/** prometheus-operator's ServiceMonitor and PrometheusRule CRDs, extracted from its Go module by install-bins.sh. */
export function prometheusOperatorCrdPaths(): string[] {
  const dir = join(cacheDir(), `prometheus-operator-${PROMETHEUS_OPERATOR_VERSION}`);
  return ['servicemonitors', 'prometheusrules'].map((plural) =>
    requireFile(join(dir, `monitoring.coreos.com_${plural}.yaml`), `prometheus-operator ${plural} CRD`, constants.R_OK),
  );
}
