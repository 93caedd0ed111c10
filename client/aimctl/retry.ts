import { EXIT, resourceName, type Session } from './session.js';
import type { Verb } from './verb.js';

export const retry: Verb = {
  name: 'retry',
  synopsis: [['retry KIND NAME', 'set aim.silogen.ai/retry=<now> (and signal retry)']],
  flags: {},
  help: `Usage: aimctl retry KIND NAME

Sets the annotation aim.silogen.ai/retry=<now> (the bridge forwards it as a retry) and, with --temporal-address,
signals retry to the workflow directly.

Examples:
  aimctl retry aimmc qwen-chat-qwen-qwen2-0-5b-1a2b3c4d
  aimctl retry aimsvc qwen-chat`,
  run: (s) => runRetry(s),
};

async function runRetry(s: Session): Promise<number> {
  const { kind, name } = s.kindAndName(true);
  const client = await s.sdk();
  if (!(await client.get(kind, name))) return s.notFound(kind, name);
  const at = await client.retry(kind, name);
  s.out(`${resourceName(kind)}/${name} retry requested (aim.silogen.ai/retry=${at})`);
  return EXIT.ok;
}
