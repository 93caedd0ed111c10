import { KIND_NAMES, KINDS, type KindName } from '../schemas/kinds.js';

/**
 * Kind names as people type them: the kind itself (any case), its plural, its singular and its short name
 * (`aimsvc`, `aimmdl`, ...), plus a few convenience words (`caches`, `services`, `models`, `templates`).
 */
const ALIASES: Record<string, KindName> = (() => {
  const out: Record<string, KindName> = {};
  for (const k of KIND_NAMES) {
    const def = KINDS[k];
    for (const a of [k, def.plural, def.singular, def.shortName, `${def.shortName}s`]) out[a.toLowerCase()] = k;
    out[`${def.plural}.${def.group}`] = k;
  }
  Object.assign(out, {
    caches: 'AIMModelCache',
    cache: 'AIMModelCache',
    services: 'AIMService',
    service: 'AIMService',
    svc: 'AIMService',
    models: 'AIMModel',
    model: 'AIMModel',
    templates: 'AIMServiceTemplate',
    template: 'AIMServiceTemplate',
  } satisfies Record<string, KindName>);
  return out;
})();

/** `aimsvc` → `AIMService`; undefined for an unknown word. */
export function resolveKind(word: string): KindName | undefined {
  return ALIASES[word.toLowerCase()];
}

/** Every accepted spelling of a kind (for help texts). */
export function aliasesOf(kind: KindName): string[] {
  return Object.entries(ALIASES)
    .filter(([, k]) => k === kind)
    .map(([a]) => a)
    .filter((a) => !a.includes('.'));
}

export function isNamespaced(kind: KindName): boolean {
  return KINDS[kind].scope === 'Namespaced';
}

export { KIND_NAMES, type KindName };
