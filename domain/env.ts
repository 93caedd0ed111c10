import { CREDENTIAL_ENV_NAMES } from '../schemas/constants.js';
import type { EnvVar } from '../schemas/types.js';

/** Overlays env lists by name, lowest precedence first; order of first appearance is kept (stable manifests). */
export function overlayEnv(...lists: Array<EnvVar[] | undefined>): EnvVar[] {
  const byName = new Map<string, EnvVar>();
  for (const list of lists) for (const e of list ?? []) byName.set(e.name, e);
  return [...byName.values()];
}

export function isCredentialEnv(name: string): boolean {
  return (CREDENTIAL_ENV_NAMES as readonly string[]).includes(name);
}

/** The serving container never sees download credentials (spec section 5.5). */
export function withoutCredentials(env: EnvVar[]): EnvVar[] {
  return env.filter((e) => !isCredentialEnv(e.name));
}

/** Every Secret reference in an env list, as `{secret, key}` (spec section 5.3 step 4). */
export function secretRefs(env: EnvVar[] | undefined): Array<{ name: string; key: string; env: string }> {
  return (env ?? []).flatMap((e) =>
    e.valueFrom?.secretKeyRef
      ? [{ name: e.valueFrom.secretKeyRef.name, key: e.valueFrom.secretKeyRef.key, env: e.name }]
      : [],
  );
}
