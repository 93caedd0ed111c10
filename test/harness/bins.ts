// Where the real server binaries live. test/harness/install-bins.sh (`npm run setup`) builds or installs them into a
// version-keyed cache outside the repo; the harness only ever reads from there.
import { accessSync, constants } from 'node:fs';
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
