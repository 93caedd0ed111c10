import type { Session } from './session.js';

/** One flag as node:util parseArgs reads it. */
export interface FlagDef {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}

/**
 * One aimctl verb: its flags, its help and what it does. Every verb is a module exporting one of these, listed in
 * the table of ./verbs.ts (adding a verb: write its module, add it to the table).
 */
export interface Verb {
  name: string;
  /** Lines of the overview: [synopsis after "aimctl", what it does]. */
  synopsis: Array<[string, string]>;
  /** `aimctl VERB --help`: starts with "Usage: aimctl VERB", ends with examples. */
  help: string;
  /** Flags beyond the global ones (see ./flags.ts for the shared definitions). */
  flags: Record<string, FlagDef>;
  run(s: Session): Promise<number> | number;
}
