import { KIND_NAMES, KINDS } from '../../schemas/kinds.js';
import { GLOBAL_HELP } from './flags.js';
import type { Verb } from './verb.js';

const KIND_LIST = KIND_NAMES.map(
  (k) => `  ${k.padEnd(27)} ${KINDS[k].plural}, ${KINDS[k].singular}, ${KINDS[k].shortName}`,
).join('\n');

/** `aimctl --help`: the verbs of the table with their overview lines. */
export function usage(verbs: readonly Verb[]): string {
  const lines = verbs.flatMap((v) => v.synopsis);
  const width = Math.max(...lines.map(([synopsis]) => synopsis.length)) + 2;
  return `aimctl: deploy and follow AIM models and services.

Usage: aimctl VERB [ARGS] [FLAGS]

Verbs:
${lines.map(([synopsis, what]) => `  ${synopsis.padEnd(width)}${what}`).join('\n')}

Kinds (plural, singular, short name):
${KIND_LIST}

Exit codes: 0 ok, 1 failure, 2 timeout, 64 usage error, 65 invalid manifest.

${GLOBAL_HELP}

Run "aimctl VERB --help" for a verb's flags and examples.`;
}
