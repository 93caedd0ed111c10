import { createHash } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import { ANNOTATIONS } from '../../schemas/constants.js';
import type { CustomObjects } from './customObjects.js';
import type { ResourceRef } from './resources.js';

/** Stable JSON (keys sorted at every level), so the same desired object always hashes the same. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Deep equality that ignores key order and undefined members (a live object against one we would write). */
export function sameContent(a: unknown, b: unknown): boolean {
  return stableJson(a) === stableJson(b);
}

export function appliedHash(desired: KubernetesObject): string {
  return createHash('sha256').update(stableJson(desired)).digest('hex').slice(0, 16);
}

/**
 * Server-side apply, skipped when the live object already carries the hash of this exact desired object.
 * Every pass of a lifecycle re-derives its objects; most passes change nothing, and an apply that changes nothing
 * is still a write the API server (and etcd's watch fan-out) pays for. The hash annotation records what we last
 * applied, so any change of the desired object applies again. The trade-off: a field someone else edits is put back
 * on our next real change, not on every pass.
 */
export async function applyIfChanged<T extends KubernetesObject>(
  objects: CustomObjects,
  res: ResourceRef,
  desired: T,
): Promise<{ object: T; changed: boolean }> {
  const hash = appliedHash(desired);
  const live = await objects.get<T>(res, desired.metadata?.name ?? '', desired.metadata?.namespace);
  if (live && !live.metadata?.deletionTimestamp && live.metadata?.annotations?.[ANNOTATIONS.appliedHash] === hash) {
    return { object: live, changed: false };
  }
  const body = {
    ...desired,
    metadata: {
      ...desired.metadata,
      annotations: { ...desired.metadata?.annotations, [ANNOTATIONS.appliedHash]: hash },
    },
  } as T;
  return { object: await objects.apply(res, body), changed: true };
}
