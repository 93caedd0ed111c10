import { EXIT, resourceName, type Session } from './session.js';
import type { Verb } from './verb.js';

export const del: Verb = {
  name: 'delete',
  synopsis: [['delete KIND NAME [--force]', 'delete; --force also cleans up and removes the finalizer']],
  flags: { force: { type: 'boolean' } },
  help: `Usage: aimctl delete KIND NAME [--force]

Deletes the object. The service workflow cleans up and removes its finalizer; without a worker (uninstalls) use
--force: it deletes the service's InferenceService and removes the aim.silogen.ai/cleanup finalizer itself.

Flags:
      --force   clean up and remove the finalizer

Examples:
  aimctl delete aimsvc qwen-chat
  aimctl delete aimsvc qwen-chat --force`,
  run: (s) => runDelete(s),
};

async function runDelete(s: Session): Promise<number> {
  const { kind, name } = s.kindAndName(true);
  const client = await s.sdk();
  if (!(await client.get(kind, name))) return s.notFound(kind, name);
  const force = s.bool('force');
  let gone = await client.delete(kind, name, undefined, { force });
  for (let i = 0; force && !gone && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 200));
    gone = (await client.get(kind, name)) === undefined;
  }
  if (gone) s.out(`${resourceName(kind)}/${name} deleted`);
  else if (force) {
    s.err(`${resourceName(kind)}/${name} is still terminating: other finalizers remain`);
    return EXIT.failure;
  } else {
    s.out(`${resourceName(kind)}/${name} deletion requested (its workflow cleans up; use --force without a worker)`);
  }
  return EXIT.ok;
}
