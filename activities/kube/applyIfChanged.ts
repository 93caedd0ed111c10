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

/**
 * Whether `live` holds every field of `desired` with the same value: objects key by key (fields only the live object
 * has, such as the API server's defaults or other managers' fields, do not matter), arrays element by element and of
 * the same length, everything else equal. Undefined members of `desired` are not fields.
 */
export function containsDesired(live: unknown, desired: unknown): boolean {
  if (desired === undefined) return true;
  if (Array.isArray(desired)) {
    return (
      Array.isArray(live) && live.length === desired.length && desired.every((d, i) => containsDesired(live[i], d))
    );
  }
  if (desired && typeof desired === 'object') {
    if (!live || typeof live !== 'object' || Array.isArray(live)) return false;
    const l = live as Record<string, unknown>;
    return Object.entries(desired as Record<string, unknown>).every(([k, v]) => containsDesired(l[k], v));
  }
  return live === desired;
}

export function appliedHash(desired: KubernetesObject): string {
  return createHash('sha256').update(stableJson(desired)).digest('hex').slice(0, 16);
}

/**
 * Server-side apply, skipped when the live object already holds every field of the desired one (and the hash of it).
 * Every pass of a lifecycle re-derives its objects; most passes change nothing, and an apply that changes nothing
 * is still a write the API server (and etcd's watch fan-out) pays for. Comparing the live fields, not only the hash
 * annotation of what we last applied, heals drift: a `kubectl edit` of a field we manage is put back on the next
 * pass (the bridge nudges the owner when the object changes).
 */
export async function applyIfChanged<T extends KubernetesObject>(
  objects: CustomObjects,
  res: ResourceRef,
  desired: T,
  /** How the live object is read (default: a GET; the worker passes its read cache, which sees its own writes). */
  readLive: () => Promise<T | undefined> = () =>
    objects.get<T>(res, desired.metadata?.name ?? '', desired.metadata?.namespace),
): Promise<{ object: T; changed: boolean }> {
  const hash = appliedHash(desired);
  const live = await readLive();
  const body = {
    ...desired,
    metadata: {
      ...desired.metadata,
      annotations: { ...desired.metadata?.annotations, [ANNOTATIONS.appliedHash]: hash },
    },
  } as T;
  if (live && !live.metadata?.deletionTimestamp && containsDesired(live, body)) return { object: live, changed: false };
  return { object: await objects.apply(res, body), changed: true };
}
