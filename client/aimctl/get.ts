import { stringify } from 'yaml';
import { LABELS } from '../../schemas/constants.js';
import { KINDS, type KindName } from '../../schemas/kinds.js';
import type { AimClient, AimObject } from '../sdk.js';
import { FLAG } from './flags.js';
import { age, table } from './format.js';
import { formatObjects, OUTPUT_HELP, parseOutput, type Output } from './output.js';
import { EXIT, UsageError, type Session } from './session.js';
import type { Verb } from './verb.js';

const OUTPUTS = ['wide', 'json', 'yaml', 'name', 'jsonpath'];

export const get: Verb = {
  name: 'get',
  synopsis: [
    ['get KIND [NAME]', "list or show objects (the kind's columns; -l, -o, -w as kubectl)"],
    ['get caches --unused', 'Shared caches that no AIMService lists in status.caches'],
  ],
  flags: {
    output: FLAG.output,
    'all-namespaces': FLAG.allNamespaces,
    selector: FLAG.selector,
    watch: { type: 'boolean', short: 'w' },
    unused: { type: 'boolean' },
  },
  help: `Usage: aimctl get KIND [NAME] [-l key=value] [-o ${OUTPUT_HELP}] [-A] [-w]
       aimctl get caches --unused

Flags:
  -o, --output FORMAT    ${OUTPUT_HELP} (default: a table with the kind's columns)
  -l, --selector SEL     label selector, e.g. aim.silogen.ai/model=qwen or app in (a,b)
  -A, --all-namespaces   list every namespace
  -w, --watch            after the list, print every change as the API server reports it (Ctrl-C to stop)
      --unused           with caches: Shared caches that no AIMService lists in status.caches

Examples:
  aimctl get aimsvc
  aimctl get aimsvc -w
  aimctl get aimmdl qwen-small -o yaml
  aimctl get aimsvc -o jsonpath='{range .items[*]}{.metadata.name}{"\\t"}{.status.status}{"\\n"}{end}'
  aimctl get caches -l aim.silogen.ai/cache-mode=shared -o name
  aimctl get caches --unused -n team-a`,
  async run(s: Session): Promise<number> {
    const { kind, name } = s.kindAndName(false);
    const output = parseOutput(s.str('output'), OUTPUTS);
    const selector = s.str('selector');
    if (s.bool('unused') && kind !== 'AIMModelCache') throw new UsageError('--unused applies to caches only');
    if (s.bool('unused') && s.bool('watch')) throw new UsageError('--unused cannot be watched');
    if (name && selector) throw new UsageError('a NAME and -l cannot be combined');
    const client = await s.sdk();
    const withNamespace = s.bool('all-namespaces') && KINDS[kind].scope === 'Namespaced';
    if (s.bool('unused')) return unusedCaches(s, client, output);
    if (s.bool('watch')) return watch(s, client, kind, name, output, withNamespace);
    if (name) {
      const obj = await client.get(kind, name);
      if (!obj) return s.notFound(kind, name);
      s.out(formatObjects(kind, [obj], output, { single: true, withNamespace }) ?? '');
      return EXIT.ok;
    }
    const items = await client.list(kind, undefined, {
      allNamespaces: s.bool('all-namespaces'),
      ...(selector ? { labelSelector: selector } : {}),
    });
    items.sort(byNamespaceAndName);
    const text = formatObjects(kind, items, output, { single: false, withNamespace });
    if (text === undefined) s.err(`No ${KINDS[kind].plural} found.`);
    else s.out(text);
    return EXIT.ok;
  },
};

const byNamespaceAndName = (a: AimObject, b: AimObject) =>
  `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`);

/** `get -w`: a Kubernetes watch; the list first (as `get` prints it), then one line (or document) per event. */
async function watch(
  s: Session,
  client: AimClient,
  kind: KindName,
  name: string | undefined,
  output: Output,
  withNamespace: boolean,
): Promise<number> {
  const selector = s.str('selector');
  const initial: AimObject[] = [];
  let synced = false;
  let headerShown = false;
  const show = (items: AimObject[], single: boolean) => {
    if (output.format === 'jsonpath') {
      for (const o of items) s.out(output.render(o));
      return;
    }
    if (output.format === 'json' || output.format === 'yaml') {
      for (const o of items) s.out(output.format === 'json' ? JSON.stringify(o, null, 2) : `---\n${stringify(o)}`);
      return;
    }
    const text = formatObjects(kind, items, output, { single, withNamespace, header: !headerShown });
    if (text === undefined) return;
    headerShown ||= output.format !== 'name';
    s.out(text);
  };
  const events = client.watchObjects(kind, {
    allNamespaces: s.bool('all-namespaces'),
    ...(selector ? { labelSelector: selector } : {}),
    ...(name ? { fieldSelector: `metadata.name=${name}` } : {}),
    ...(s.io.signal ? { signal: s.io.signal } : {}),
  });
  for await (const e of events) {
    if (e.type === 'SYNCED') {
      synced = true;
      initial.sort(byNamespaceAndName);
      show(initial, false);
      if (initial.length === 0 && name) return s.notFound(kind, name);
      continue;
    }
    if (!synced) initial.push(e.object);
    else show([e.object], false);
  }
  return EXIT.ok;
}

async function unusedCaches(s: Session, client: AimClient, output: Output): Promise<number> {
  const allNamespaces = s.bool('all-namespaces');
  const selector = s.str('selector');
  const [caches, services] = await Promise.all([
    client.list('AIMModelCache', undefined, { allNamespaces, ...(selector ? { labelSelector: selector } : {}) }),
    client.list('AIMService', undefined, { allNamespaces }),
  ]);
  const used = new Set<string>();
  for (const svc of services) {
    const listed = (svc.status?.caches as Array<{ name: string }> | undefined) ?? [];
    for (const c of listed) used.add(`${svc.metadata.namespace ?? ''}/${c.name}`);
  }
  const unused = caches.filter(
    (c) =>
      (c.metadata.labels?.[LABELS.cacheMode] === 'shared' || c.status?.mode === 'Shared') &&
      !used.has(`${c.metadata.namespace ?? ''}/${c.metadata.name}`),
  );
  if (output.format !== 'table' && output.format !== 'wide') {
    s.out(formatObjects('AIMModelCache', unused, output, { single: false, withNamespace: allNamespaces }) ?? '');
    return EXIT.ok;
  }
  if (unused.length === 0) {
    s.err('No unused Shared caches found.');
    return EXIT.ok;
  }
  const header = [...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'MODEL', 'SIZE', 'STATUS', 'LAST USED', 'AGE'];
  s.out(
    table(
      header,
      unused.map((c) => [
        ...(allNamespaces ? [c.metadata.namespace ?? ''] : []),
        c.metadata.name,
        String(c.spec?.modelId ?? ''),
        String(c.status?.displaySize ?? ''),
        c.status?.status ?? '',
        c.status?.lastUsed ? age(c.status.lastUsed) : 'never',
        age(c.metadata.creationTimestamp),
      ]),
    ),
  );
  return EXIT.ok;
}
