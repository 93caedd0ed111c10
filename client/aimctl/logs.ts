import { FLAG } from './flags.js';
import { parseDuration } from './format.js';
import { cacheLine, cacheViews, sleep } from './progress.js';
import { EXIT, UsageError, type Session } from './session.js';
import type { Verb } from './verb.js';

export const logs: Verb = {
  name: 'logs',
  synopsis: [['logs NAME', "download progress of a service's caches"]],
  flags: { follow: { type: 'boolean', short: 'w' }, interval: FLAG.interval },
  help: `Usage: aimctl logs NAME [--follow]

Download progress of an AIMService's caches (status, attempt, bytes, rate, ETA, last failure).

Flags:
  -w, --follow          keep printing until every cache is Ready or Failed (Ctrl-C to stop)
      --interval DUR    poll interval with --follow (default 2s)

Examples:
  aimctl logs qwen-chat
  aimctl logs qwen-chat --follow`,
  run: (s) => runLogs(s),
};

async function runLogs(s: Session): Promise<number> {
  const [name, ...rest] = s.args.positionals;
  s.noMore(rest);
  if (!name) throw new UsageError('"logs" needs a NAME (see aimctl logs --help)');
  const client = await s.sdk();
  const ns = await s.ns('AIMService');
  const intervalMs = parseDuration(s.str('interval') ?? '2s') ?? 2000;
  const printed = new Set<string>();
  for (;;) {
    const svc = await client.get('AIMService', name, ns);
    if (!svc) return s.notFound('AIMService', name);
    const names = ((svc.status?.caches as Array<{ name: string }> | undefined) ?? []).map((c) => c.name);
    const views = await cacheViews(client, names, ns);
    const lines = views.length
      ? views.map(cacheLine)
      : [
          `  no caches yet (service ${svc.status?.status ?? 'Pending'}${svc.status?.progressDisplay ? `: ${String(svc.status.progressDisplay)}` : ''})`,
        ];
    for (const l of lines) {
      if (!s.bool('follow') || !printed.has(l)) s.out(l);
      printed.add(l);
    }
    const done = views.length > 0 && views.every((v) => v.status === 'Ready' || v.status === 'Failed');
    if (!s.bool('follow') || done || s.io.signal?.aborted)
      return views.some((v) => v.status === 'Failed') ? EXIT.failure : EXIT.ok;
    await sleep(intervalMs, s.io.signal);
  }
}
