import { apply } from './apply.js';
import { del } from './delete.js';
import { describe } from './describe.js';
import { doctor } from './doctor.js';
import { get } from './get.js';
import { logs } from './logs.js';
import { plan } from './plan.js';
import { retry } from './retry.js';
import type { Verb } from './verb.js';
import { wait } from './wait.js';

/**
 * Every aimctl verb, in the order of the overview. The one place a verb is registered: its flags, help and
 * overview lines come from its module (see ./verb.ts).
 */
export const VERB_TABLE: readonly Verb[] = [apply, get, describe, plan, wait, retry, del, logs, doctor];
