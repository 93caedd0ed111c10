export * from './constants.js';
export { KINDS, KIND_NAMES, type KindName, type KindDef, type PrintColumn } from './kinds.js';
export * from './validate.js';
export * from './quantity.js';
export type * from './types.js';
export { RULE_CATALOG, type EnforcedBy } from './rules.js';
