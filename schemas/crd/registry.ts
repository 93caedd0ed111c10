import { z } from 'zod';

/** A CEL rule as the API server takes it in `x-kubernetes-validations`. */
export interface CelRule {
  rule: string;
  message: string;
  /** JSONPath relative to the schema the rule sits on, so the API server names the field (e.g. `.name`). */
  fieldPath?: string;
  /** Marks a transition rule that must also run on create (oldSelf optional). */
  optionalOldSelf?: boolean;
}

/** Kubernetes-specific facts about a zod schema that JSON Schema cannot say. The CRD generator reads them. */
export interface CrdMeta {
  /** CEL rules for `x-kubernetes-validations` on this schema. */
  cel?: CelRule[];
  /** `x-kubernetes-list-type: map` keyed by these properties. */
  listMapKeys?: string[];
  /** Render as an int-or-string quantity (the union of string and integer). */
  quantity?: true;
  /** `x-kubernetes-preserve-unknown-fields` (used only for objects we do not own). */
  preserveUnknownFields?: true;
}

export const crdRegistry = z.registry<CrdMeta>();

/** Adds CRD facts to a schema, merging with what it already has. Call it last: later clones would lose them. */
export function crd<S extends z.ZodType>(schema: S, meta: CrdMeta): S {
  const prev = crdRegistry.get(schema);
  if (prev) crdRegistry.remove(schema);
  crdRegistry.add(schema, {
    ...prev,
    ...meta,
    cel: [...(prev?.cel ?? []), ...(meta.cel ?? [])],
  });
  return schema;
}
