import type { AimObject } from '../sdk.js';
import { FLAG } from './flags.js';
import { parseDuration } from './format.js';
import { cacheLine, cacheViews, conditionsOf, failureOf, sleep } from './progress.js';
import { EXIT, resourceName, UsageError, type Session } from './session.js';
import type { Verb } from './verb.js';

export const wait: Verb = {
  name: 'wait',
  synopsis: [['wait KIND NAME --for=STATUS', 'block until Running/Ready, printing progress']],
  flags: { for: { type: 'string' }, timeout: FLAG.timeout, interval: FLAG.interval },
  help: `Usage: aimctl wait KIND NAME --for=Running|Ready [--timeout 10m]

Polls the object and prints progress lines as they change (status.progressDisplay, cache progress with a bar).
Exit 0 when the status is reached, 1 when it is Failed (or the object is deleted), 2 on timeout.

Flags:
      --for STATUS      Running (services) or Ready (models, templates, caches); any status name is accepted
      --timeout DUR     e.g. 30s, 10m, 1h (default 10m)
      --interval DUR    poll interval (default 2s)

Examples:
  aimctl wait aimsvc qwen-chat --for=Running --timeout 30m
  aimctl wait aimmdl qwen-small --for=Ready`,
  run: (s) => runWait(s),
};

async function runWait(s: Session): Promise<number> {
  const { kind, name } = s.kindAndName(true);
  const target = s.str('for')?.replace(/^(condition|jsonpath)=/, '');
  if (!target) throw new UsageError('"wait" needs --for=Running|Ready');
  const timeoutMs = parseDuration(s.str('timeout') ?? '10m');
  if (timeoutMs === undefined) throw new UsageError(`--timeout: cannot read "${s.str('timeout') ?? ''}"`);
  const intervalMs = parseDuration(s.str('interval') ?? '2s');
  if (intervalMs === undefined) throw new UsageError(`--interval: cannot read "${s.str('interval') ?? ''}"`);
  const client = await s.sdk();
  const ns = await s.ns(kind);

  const deadline = Date.now() + timeoutMs;
  // One line per slot (the object, each cache), printed when it changes.
  const shown = new Map<string, string>();
  const say = (slot: string, line: string) => {
    if (shown.get(slot) === line) return;
    shown.set(slot, line);
    s.out(line);
  };
  let last: AimObject | undefined;
  for (;;) {
    const obj = await client.get(kind, name, ns);
    if (!obj) {
      s.err(`${resourceName(kind)}/${name} not found${last ? ' (deleted)' : ''}`);
      return EXIT.failure;
    }
    last = obj;
    const st = obj.status ?? {};
    const status = st.status ?? 'Pending';
    const detail =
      typeof st.progressDisplay === 'string'
        ? st.progressDisplay
        : (conditionsOf(obj).find((c) => c.type === 'Ready')?.message ?? '');
    say('', `${resourceName(kind)}/${name}: ${status}${detail ? ` - ${detail}` : ''}`);
    // Caches report bytes every few seconds; a service mirrors them only every 15 s, so read the caches themselves.
    const cacheNames =
      kind === 'AIMService'
        ? ((st.caches as Array<{ name: string }> | undefined) ?? []).map((c) => c.name)
        : kind === 'AIMModelCache'
          ? [name]
          : [];
    for (const c of await cacheViews(client, cacheNames, ns)) say(`cache/${c.name}`, cacheLine(c));
    if (status.toLowerCase() === target.toLowerCase()) {
      s.out(`${resourceName(kind)}/${name} is ${status}`);
      return EXIT.ok;
    }
    if (status === 'Failed') {
      s.err(`${resourceName(kind)}/${name} Failed: ${failureOf(obj)}`);
      return EXIT.failure;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      s.err(
        `timed out after ${s.str('timeout') ?? '10m'} waiting for ${resourceName(kind)}/${name} to be ${target} (status ${status})`,
      );
      return EXIT.timeout;
    }
    if (s.io.signal?.aborted) {
      s.err('interrupted');
      return EXIT.failure;
    }
    await sleep(Math.min(intervalMs, remaining), s.io.signal);
  }
}
