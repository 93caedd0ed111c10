// Container environment as the kubelet builds it (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables): envFrom
// first, then env in order, `$(VAR)` references expanded against what is defined so far, Secret/ConfigMap references
// resolved from the API server. A missing object or key is a CreateContainerConfigError whose message is the real
// kubelet's (its watch-based Secret/ConfigMap managers say `secret "x" not found`, singular, not the API's `secrets`).
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { parseQuantity } from '../../../schemas/quantity.js';
import { downwardApiField } from './downwardApi.js';

/** Thrown for what the real kubelet reports as `CreateContainerConfigError`. */
export class ContainerConfigError extends Error {
  override name = 'ContainerConfigError';
}

/** Reads Secrets and ConfigMaps of the pod's namespace; `undefined` when not found (other errors propagate). */
export interface ObjectSource {
  secret(name: string): Promise<Record<string, string> | undefined>;
  configMap(name: string): Promise<Record<string, string> | undefined>;
}

/**
 * `$(VAR)` expansion (k8s third_party/forked/golang/expansion): `$$` is an escaped `$`, an undefined `$(VAR)` stays
 * as written, an unterminated `$(` is kept literally.
 */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const rest = input.slice(cursor + 1);
    let advance = 1;
    if (rest[0] === '$') {
      out += '$';
    } else if (rest[0] === '(') {
      const close = rest.indexOf(')');
      if (close < 0) {
        out += '$(';
      } else {
        const name = rest.slice(1, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close + 1;
      }
    } else {
      out += `$${rest[0]}`;
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** The pod's and the node's address, for `status.podIP` / `status.hostIP` field references. */
export interface PodAddresses {
  podIP: string;
  hostIP: string;
}

function fieldRefValue(pod: V1Pod, path: string, addresses: PodAddresses): string {
  const metadata = downwardApiField(pod, path);
  if (metadata !== undefined) return metadata;
  switch (path) {
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP':
    case 'status.podIPs':
      return addresses.podIP;
    case 'status.hostIP':
    case 'status.hostIPs':
      return addresses.hostIP;
    default:
      throw new ContainerConfigError(`unsupported fieldRef ${path}`);
  }
}

function resourceFieldValue(container: V1Container, resource: string, divisor: string | undefined): string {
  const [kind, name] = resource.split('.') as ['limits' | 'requests', string];
  const raw = container.resources?.[kind]?.[name];
  if (raw === undefined) return '0';
  const v = parseQuantity(raw);
  const d = parseQuantity(divisor ?? '1');
  // ceil(v / d), as the kubelet rounds up.
  const num = v.num * d.den;
  const den = v.den * d.num;
  return ((num + den - 1n) / den).toString();
}

/** The container's env as `name → value` (later definitions override earlier ones, as in the kubelet). */
export async function resolveEnv(
  pod: V1Pod,
  container: V1Container,
  objects: ObjectSource,
  base: Record<string, string> = {},
  addresses: PodAddresses = { podIP: '127.0.0.1', hostIP: '127.0.0.1' },
): Promise<Record<string, string>> {
  const ns = pod.metadata?.namespace ?? '';
  const secrets = new Map<string, Record<string, string> | undefined>();
  const configMaps = new Map<string, Record<string, string> | undefined>();
  const getSecret = async (name: string): Promise<Record<string, string> | undefined> => {
    if (!secrets.has(name)) secrets.set(name, await objects.secret(name));
    return secrets.get(name);
  };
  const getConfigMap = async (name: string): Promise<Record<string, string> | undefined> => {
    if (!configMaps.has(name)) configMaps.set(name, await objects.configMap(name));
    return configMaps.get(name);
  };

  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    let data: Record<string, string> | undefined;
    if (from.configMapRef) {
      data = await getConfigMap(from.configMapRef.name ?? '');
      if (!data && !from.configMapRef.optional)
        throw new ContainerConfigError(`configmap "${from.configMapRef.name}" not found`);
    } else if (from.secretRef) {
      data = await getSecret(from.secretRef.name ?? '');
      if (!data && !from.secretRef.optional)
        throw new ContainerConfigError(`secret "${from.secretRef.name}" not found`);
    }
    // Invalid names are skipped (the kubelet records an InvalidEnvironmentVariableNames event).
    for (const [k, v] of Object.entries(data ?? {})) if (ENV_NAME.test(prefix + k)) env[prefix + k] = v;
  }

  const lookup = (name: string): string | undefined => env[name] ?? base[name];
  for (const e of container.env ?? []) {
    const vf = e.valueFrom;
    if (!vf) {
      env[e.name] = expandVars(e.value ?? '', lookup);
    } else if (vf.secretKeyRef) {
      const { name = '', key, optional } = vf.secretKeyRef;
      const data = await getSecret(name);
      if (!data) {
        if (optional) continue;
        throw new ContainerConfigError(`secret "${name}" not found`);
      }
      if (!(key in data)) {
        if (optional) continue;
        throw new ContainerConfigError(`couldn't find key ${key} in Secret ${ns}/${name}`);
      }
      env[e.name] = data[key]!;
    } else if (vf.configMapKeyRef) {
      const { name = '', key, optional } = vf.configMapKeyRef;
      const data = await getConfigMap(name);
      if (!data) {
        if (optional) continue;
        throw new ContainerConfigError(`configmap "${name}" not found`);
      }
      if (!(key in data)) {
        if (optional) continue;
        throw new ContainerConfigError(`couldn't find key ${key} in ConfigMap ${ns}/${name}`);
      }
      env[e.name] = data[key]!;
    } else if (vf.fieldRef) {
      env[e.name] = fieldRefValue(pod, vf.fieldRef.fieldPath, addresses);
    } else if (vf.resourceFieldRef) {
      env[e.name] = resourceFieldValue(container, vf.resourceFieldRef.resource, vf.resourceFieldRef.divisor);
    }
  }
  return env;
}

/** Container path → host path for each mount, plus the termination message file. */
export interface PathMap {
  mounts: Array<{ containerPath: string; hostPath: string }>;
  terminationMessagePath?: string;
  terminationMessageHostPath?: string;
}

/** Host path for a container path: the termination file, else the longest mount the path lies under, else as is. */
export function toHostPath(paths: PathMap, p: string): string {
  if (paths.terminationMessagePath && p === paths.terminationMessagePath) return paths.terminationMessageHostPath ?? p;
  let best: { containerPath: string; hostPath: string } | undefined;
  for (const m of paths.mounts) {
    const mp = m.containerPath.replace(/\/+$/, '');
    if (mp === '') continue; // a mount at "/" would swallow every path
    if ((p === mp || p.startsWith(`${mp}/`)) && (!best || mp.length > best.containerPath.length)) {
      best = { containerPath: mp, hostPath: m.hostPath };
    }
  }
  return best ? best.hostPath + p.slice(best.containerPath.length) : p;
}

/**
 * Processes cannot mount, so every env value that names a path under a mount (or the termination message path) is
 * rewritten to the host path: `MOUNT_PATH=/cache`, `TMPDIR=/tmp`, `HF_HOME=/tmp/hf-home`,
 * `NODE_EXTRA_CA_CERTS=/etc/aim/ca/ca.crt`, `TERMINATION_MESSAGE_PATH=/dev/termination-log`.
 */
export function rewriteEnvPaths(env: Record<string, string>, paths: PathMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) out[k] = v.startsWith('/') ? toHostPath(paths, v) : v;
  return out;
}
