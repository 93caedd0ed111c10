import { patched, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import { SEARCH_ATTRIBUTES } from './signals.js';

/**
 * Makes a run findable in the Temporal UI and CLI (`AimKind = "AIMService" AND AimStatus = "Failed"`). Behind a
 * patch: histories recorded before it replay without these commands. Only changed values are upserted, so a
 * long-lived workflow does not grow its history on every pass.
 */
export function visibility(identity: { kind: string; name: string; namespace?: string; modelId?: string }) {
  let last: string | undefined;
  return (status?: string, modelId = identity.modelId): void => {
    if (!patched('aim-search-attributes-v1')) return;
    const key = `${status ?? ''}|${modelId ?? ''}`;
    if (key === last) return;
    last = key;
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.kind, value: identity.kind },
      { key: SEARCH_ATTRIBUTES.name, value: identity.name },
      ...(identity.namespace ? [{ key: SEARCH_ATTRIBUTES.namespace, value: identity.namespace }] : []),
      ...(modelId ? [{ key: SEARCH_ATTRIBUTES.modelId, value: modelId }] : []),
      ...(status ? [{ key: SEARCH_ATTRIBUTES.status, value: status }] : []),
    ]);
  };
}

/**
 * Records the Kubernetes object's UID in the run's memo (`{ uid }`, shown by `aimctl describe` and the Temporal UI),
 * so a run can be matched to the exact object it drove even after a same-name object replaced it. Call it each time
 * the UID is read: it upserts once per run, when the UID first becomes known. Behind a patch, as above.
 */
export function memoUid(): (uid: string) => void {
  let recorded: string | undefined;
  return (uid: string): void => {
    if (!uid || uid === recorded) return;
    recorded = uid;
    if (patched('aim-memo-uid-v1')) upsertMemo({ uid });
  };
}
