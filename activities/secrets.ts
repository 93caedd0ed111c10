import type { ActivityContext } from './context.js';
import { toKubeError } from './kube/errors.js';
import { toApplicationFailure } from './failures.js';

export interface SecretRef {
  name: string;
  key: string;
  /** The env variable that references it (for the message). */
  env?: string;
}

export interface MissingSecret extends SecretRef {
  namespace: string;
  problem: 'secret not found' | 'key not found';
}

/**
 * Checks that every referenced Secret exists with its key (spec 5.3 step 4). Kubernetes has no read that returns
 * a Secret's keys without its data, so this reads the Secret and keeps only `Object.keys(data)`: no value is ever
 * returned, logged or recorded.
 */
export function secretActivities(ctx: ActivityContext) {
  return {
    /** Missing references with one message naming each namespace/secret/key (empty message when none). */
    async checkSecretRefs(
      namespace: string,
      refs: SecretRef[],
    ): Promise<{ missing: MissingSecret[]; message: string }> {
      const missing = await findMissing(namespace, refs);
      return { missing, message: describeMissingSecrets(missing) };
    },
  };

  async function findMissing(namespace: string, refs: SecretRef[]): Promise<MissingSecret[]> {
    const keysBySecret = new Map<string, Set<string> | null>();
    for (const name of new Set(refs.map((r) => r.name))) {
      try {
        const s = await ctx.core.readNamespacedSecret({ name, namespace });
        keysBySecret.set(name, new Set([...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})]));
      } catch (err) {
        const e = toKubeError(err);
        if (e.kind !== 'NotFound') throw toApplicationFailure(e, `get secret ${namespace}/${name}`);
        keysBySecret.set(name, null);
      }
    }
    return refs.flatMap((r): MissingSecret[] => {
      const keys = keysBySecret.get(r.name);
      if (keys === null) return [{ ...r, namespace, problem: 'secret not found' }];
      if (!keys?.has(r.key)) return [{ ...r, namespace, problem: 'key not found' }];
      return [];
    });
  }
}

/**
 * `secret team/s3-credentials not found (key access-key, for AWS_ACCESS_KEY_ID)`: namespace, Secret and key of every
 * problem (spec 5.3 step 4), so the fix can be written from the message alone.
 */
export function describeMissingSecrets(missing: MissingSecret[]): string {
  return missing
    .map((m) => {
      const env = m.env ? `, for ${m.env}` : '';
      return m.problem === 'secret not found'
        ? `secret ${m.namespace}/${m.name} not found (key ${m.key}${env})`
        : `secret ${m.namespace}/${m.name} has no key ${m.key}${m.env ? ` (for ${m.env})` : ''}`;
    })
    .join('; ');
}
