import { patched, upsertSearchAttributes } from '@temporalio/workflow';
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
