import { parseArgs } from 'node:util';
import { KubeApiError } from '../activities/kube/errors.js';
import { GLOBAL_FLAGS } from './aimctl/flags.js';
import { usage } from './aimctl/help.js';
import { EXIT, Session, UsageError, type CliIO, type ParsedArgs } from './aimctl/session.js';
import type { FlagDef, Verb } from './aimctl/verb.js';
import { VERB_TABLE } from './aimctl/verbs.js';
import { ManifestInvalidError, type FieldError } from './manifests.js';

export { EXIT, type CliIO, type ParsedArgs } from './aimctl/session.js';
export type { Verb } from './aimctl/verb.js';

const BY_NAME = new Map<string, Verb>(VERB_TABLE.map((v) => [v.name, v]));
export const VERBS = VERB_TABLE.map((v) => v.name);

/** Every flag of every verb, to find the verb before the verb's own flags are known (`-n team get ...`). */
const ALL_FLAGS: Record<string, FlagDef> = Object.assign({}, ...VERB_TABLE.map((v) => v.flags), GLOBAL_FLAGS);

/** Parses argv (without `node` and the script); throws UsageError for unknown verbs, flags or misplaced flags. */
export function parseArgv(argv: string[]): ParsedArgs {
  let first;
  try {
    first = parseArgs({ args: argv, options: ALL_FLAGS, allowPositionals: true, strict: false });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const [verb, ...positionals] = first.positionals;
  if (verb === undefined && first.values.help !== true) throw new UsageError('no verb given');
  if (verb === undefined || verb === 'help') {
    const topic = verb === 'help' ? positionals[0] : undefined;
    return { ...(topic ? { verb: topic } : {}), positionals: [], flags: { help: true } };
  }
  const def = BY_NAME.get(verb);
  if (!def) throw new UsageError(`unknown verb "${verb}"; one of ${VERBS.join(', ')}`);
  try {
    const parsed = parseArgs({
      args: argv,
      options: { ...GLOBAL_FLAGS, ...def.flags },
      allowPositionals: true,
      strict: true,
    });
    return { verb, positionals: parsed.positionals.slice(1), flags: parsed.values };
  } catch (err) {
    const flag = /option '(?:-\w, )?--([\w-]+)/.exec((err as Error).message)?.[1];
    if (flag && flag in ALL_FLAGS)
      throw new UsageError(`flag --${flag} does not apply to "${verb}" (see aimctl ${verb} --help)`);
    throw new UsageError((err as Error).message);
  }
}

/** Runs aimctl with `argv` (without `node aimctl`) and returns the exit code; never calls process.exit. */
export async function run(argv: string[], io: CliIO): Promise<number> {
  const named = (text: string) =>
    io.program && io.program !== 'aimctl' ? text.replace(/\baimctl\b/g, io.program) : text;
  let args: ParsedArgs;
  try {
    args = parseArgv(argv);
  } catch (err) {
    const hint = argv.length === 0 ? usage(VERB_TABLE) : 'Run "aimctl --help" for usage.';
    io.stderr.write(named(`error: ${(err as Error).message}\n${hint}\n`));
    return EXIT.usage;
  }
  const verb = args.verb ? BY_NAME.get(args.verb) : undefined;
  if (args.flags.help || !verb) {
    io.stdout.write(named(`${verb ? verb.help : usage(VERB_TABLE)}\n`));
    return EXIT.ok;
  }
  const s = new Session(args, io);
  try {
    return await verb.run(s);
  } catch (err) {
    if (err instanceof UsageError) {
      s.err(`error: ${err.message}`);
      return EXIT.usage;
    }
    if (err instanceof ManifestInvalidError) {
      s.err(err.message);
      return EXIT.invalid;
    }
    if (err instanceof KubeApiError) {
      s.err(`Error from server (${err.reason ?? err.kind}): ${err.message}`);
      // The server's message usually lists every cause already (`spec.x: Invalid value: …`); print only the rest.
      for (const c of err.causes) {
        const text = c.message ?? c.reason ?? '';
        if (!err.message.includes(text)) s.err(`  ${c.field ?? ''}: ${text}`);
      }
      return err.kind === 'Invalid' ? EXIT.invalid : EXIT.failure;
    }
    s.err(`error: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failure;
  } finally {
    await s.close();
  }
}

export type { FieldError };
