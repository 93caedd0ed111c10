import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CoreV1Api, KubeConfig, type CoreV1Event } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { KubeApiError, toKubeError } from '../activities/kube/errors.js';
import { LABELS } from '../schemas/constants.js';
import { KINDS, type KindName } from '../schemas/kinds.js';
import { TASK_QUEUE, workflowIdFor } from '../workflows/signals.js';
import { age, cell, parseDuration, progressBar, table } from './aimctl/format.js';
import { USAGE, VERB_HELP } from './aimctl/help.js';
import { dataConverterFromEnv } from './dataConverter.js';
import { resolveKind } from './kinds.js';
import { checkManifest, ManifestInvalidError, parseManifestText, type FieldError, type Manifest } from './manifests.js';
import { formatPlan, planManifest } from './plan.js';
import { AimClient, type AimObject, type ConditionView } from './sdk.js';

/** Exit codes (sysexits for usage and data errors). */
export const EXIT = { ok: 0, failure: 1, timeout: 2, usage: 64, invalid: 65 } as const;

export interface CliIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
  /** Aborts long-running verbs (wait, logs --follow) as Ctrl-C does. */
  signal?: AbortSignal;
  /** Relative `-f` paths are read from here (default: the process's working directory). */
  cwd?: string;
  /** For tests and embedding: a ready client instead of one built from the kubeconfig and Temporal flags. */
  client?: AimClient;
}

class UsageError extends Error {}

const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  kubeconfig: { type: 'string' },
  'temporal-address': { type: 'string' },
  'temporal-namespace': { type: 'string' },
  'task-queue': { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
  filename: { type: 'string', short: 'f', multiple: true },
  'all-namespaces': { type: 'boolean', short: 'A' },
  unused: { type: 'boolean' },
  for: { type: 'string' },
  timeout: { type: 'string' },
  interval: { type: 'string' },
  force: { type: 'boolean' },
  follow: { type: 'boolean', short: 'w' },
} as const;

type OptionName = keyof typeof OPTIONS;
const GLOBAL: OptionName[] = [
  'namespace',
  'kubeconfig',
  'temporal-address',
  'temporal-namespace',
  'task-queue',
  'help',
];
const VERB_OPTIONS: Record<string, OptionName[]> = {
  apply: ['filename'],
  get: ['output', 'all-namespaces', 'unused'],
  describe: [],
  plan: ['filename', 'output'],
  wait: ['for', 'timeout', 'interval'],
  retry: [],
  delete: ['force'],
  logs: ['follow', 'interval'],
};
export const VERBS = Object.keys(VERB_OPTIONS);

export interface ParsedArgs {
  verb?: string;
  positionals: string[];
  flags: {
    namespace?: string;
    kubeconfig?: string;
    'temporal-address'?: string;
    'temporal-namespace'?: string;
    'task-queue'?: string;
    output?: string;
    help?: boolean;
    filename?: string[];
    'all-namespaces'?: boolean;
    unused?: boolean;
    for?: string;
    timeout?: string;
    interval?: string;
    force?: boolean;
    follow?: boolean;
  };
}

/** Parses argv (without `node` and the script); throws UsageError for unknown verbs, flags or misplaced flags. */
export function parseArgv(argv: string[]): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const [verb, ...positionals] = parsed.positionals;
  const flags = parsed.values as ParsedArgs['flags'];
  if (verb === undefined && !flags.help) throw new UsageError('no verb given');
  if (verb === undefined || verb === 'help') {
    const topic = verb === 'help' ? positionals[0] : undefined;
    return { ...(topic ? { verb: topic } : {}), positionals: [], flags: { ...flags, help: true } };
  }
  if (!VERBS.includes(verb)) throw new UsageError(`unknown verb "${verb}"; one of ${VERBS.join(', ')}`);
  const allowed = new Set<string>([...GLOBAL, ...(VERB_OPTIONS[verb] ?? [])]);
  for (const t of parsed.tokens ?? []) {
    if (t.kind === 'option' && !allowed.has(t.name)) {
      throw new UsageError(`flag --${t.name} does not apply to "${verb}" (see aimctl ${verb} --help)`);
    }
  }
  if (flags.output !== undefined && !['json', 'yaml', 'table', 'wide'].includes(flags.output)) {
    throw new UsageError(`--output must be json or yaml, not "${flags.output}"`);
  }
  return { verb, positionals, flags };
}

function kindArg(word: string | undefined, verb: string): KindName {
  if (!word) throw new UsageError(`"${verb}" needs a KIND (see aimctl ${verb} --help)`);
  const kind = resolveKind(word);
  if (!kind) throw new UsageError(`unknown kind "${word}"; try aimsvc, aimmdl, aimtpl, aimmc, aimclmdl, aimcltpl`);
  return kind;
}

function nameArg(word: string | undefined, verb: string): string {
  if (!word) throw new UsageError(`"${verb}" needs a NAME (see aimctl ${verb} --help)`);
  return word;
}

function noMore(args: string[], verb: string): void {
  if (args.length > 0) throw new UsageError(`unexpected argument "${args[0]}" for "${verb}"`);
}

const resourceName = (kind: KindName) => `${KINDS[kind].singular}.${KINDS[kind].group}`;

/** What the verbs share: a lazily built SDK client (and Temporal connection) from the flags and env. */
class Session {
  private kc?: KubeConfig;
  private client?: AimClient;
  private connection?: Connection;
  temporalClient?: Client;

  constructor(
    readonly args: ParsedArgs,
    readonly io: CliIO,
  ) {}

  out(text: string): void {
    this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
  err(text: string): void {
    this.io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  get temporalNamespace(): string {
    return this.args.flags['temporal-namespace'] ?? this.io.env.TEMPORAL_NAMESPACE ?? 'default';
  }

  kubeConfig(): KubeConfig {
    if (!this.kc) {
      const kc = new KubeConfig();
      const path = this.args.flags.kubeconfig ?? this.io.env.KUBECONFIG;
      if (path) kc.loadFromFile(path.split(':')[0] ?? path);
      else kc.loadFromDefault();
      this.kc = kc;
    }
    return this.kc;
  }

  async sdk(): Promise<AimClient> {
    if (this.client) return this.client;
    if (this.io.client) return (this.client = this.io.client);
    const kubeConfig = this.kubeConfig();
    const address = this.args.flags['temporal-address'] ?? this.io.env.TEMPORAL_ADDRESS;
    let temporal: { client: Client; taskQueue: string } | undefined;
    if (address) {
      this.connection = await Connection.connect({ address, connectTimeout: '5 seconds' });
      this.temporalClient = new Client({
        connection: this.connection,
        namespace: this.temporalNamespace,
        dataConverter: dataConverterFromEnv(this.io.env), // AIM_PAYLOAD_KEY: read what the worker encrypted
      });
      temporal = {
        client: this.temporalClient,
        taskQueue: this.args.flags['task-queue'] ?? this.io.env.AIM_TASK_QUEUE ?? TASK_QUEUE,
      };
    }
    this.client = new AimClient({
      kubeConfig,
      ...(temporal ? { temporal } : {}),
      ...(this.args.flags.namespace ? { namespace: this.args.flags.namespace } : {}),
    });
    return this.client;
  }

  /** The namespace for a kind (undefined for cluster-scoped kinds). */
  async ns(kind: KindName): Promise<string | undefined> {
    return KINDS[kind].scope === 'Namespaced' ? (await this.sdk()).namespace : undefined;
  }

  async close(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
  }

  readManifests(): { docs: Array<{ file: string; index: number; value: unknown }>; errors: string[] } {
    const files = this.args.flags.filename ?? [];
    if (files.length === 0) throw new UsageError(`"${this.args.verb ?? ''}" needs -f FILE`);
    const docs: Array<{ file: string; index: number; value: unknown }> = [];
    const errors: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(this.io.cwd && !file.startsWith('/') ? `${this.io.cwd}/${file}` : file, 'utf8');
      } catch (err) {
        throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
      }
      const parsed = parseManifestText(text);
      for (const e of parsed.errors) errors.push(`${file}: ${e.path}: ${e.message}`);
      parsed.docs.forEach((value, index) => docs.push({ file, index, value }));
    }
    return { docs, errors };
  }

  /** Validates every document; prints each `path: message` and returns undefined when any is invalid. */
  validManifests(): Manifest[] | undefined {
    const { docs, errors } = this.readManifests();
    const out: Manifest[] = [];
    const problems: string[] = [...errors];
    for (const d of docs) {
      const r = checkManifest(d.value);
      if (r.ok) {
        out.push(r.manifest);
        continue;
      }
      const v = d.value as { kind?: unknown; metadata?: { name?: unknown } } | null;
      const what = [
        typeof v?.kind === 'string' ? v.kind : undefined,
        typeof v?.metadata?.name === 'string' ? v.metadata.name : undefined,
      ]
        .filter(Boolean)
        .join(' ');
      problems.push(`${d.file}: document ${d.index + 1}${what ? ` (${what})` : ''} is invalid:`);
      for (const e of r.errors) problems.push(`  ${e.path}: ${e.message}`);
    }
    if (problems.length > 0) {
      this.err(problems.join('\n'));
      this.err('nothing was applied');
      return undefined;
    }
    if (out.length === 0) {
      this.err('no objects in the given files');
      return undefined;
    }
    return out;
  }
}

/** Runs aimctl with `argv` (without `node aimctl`) and returns the exit code; never calls process.exit. */
export async function run(argv: string[], io: CliIO): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgv(argv);
  } catch (err) {
    io.stderr.write(
      `error: ${(err as Error).message}\n${argv.length === 0 ? USAGE : 'Run "aimctl --help" for usage.'}\n`,
    );
    return EXIT.usage;
  }
  if (args.flags.help) {
    io.stdout.write(`${args.verb && VERB_HELP[args.verb] ? VERB_HELP[args.verb] : USAGE}\n`);
    return EXIT.ok;
  }
  const s = new Session(args, io);
  try {
    switch (args.verb) {
      case 'apply':
        return await apply(s);
      case 'get':
        return await get(s);
      case 'describe':
        return await describe(s);
      case 'plan':
        return plan(s);
      case 'wait':
        return await wait(s);
      case 'retry':
        return await retry(s);
      case 'delete':
        return await del(s);
      case 'logs':
        return await logs(s);
      default:
        throw new UsageError(`unknown verb "${args.verb ?? ''}"`);
    }
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

// ---------------------------------------------------------------- apply / plan

async function apply(s: Session): Promise<number> {
  noMore(s.args.positionals, 'apply');
  const manifests = s.validManifests();
  if (!manifests) return EXIT.invalid;
  const client = await s.sdk();
  for (const m of manifests) {
    try {
      const r = await client.apply(m);
      s.out(`${resourceName(r.kind)}/${r.name} applied${r.workflowId ? ` (workflow ${r.workflowId} nudged)` : ''}`);
    } catch (err) {
      const e = err instanceof ManifestInvalidError ? err : toKubeError(err);
      if (e instanceof KubeApiError) e.message = `${m.kind} ${m.metadata.name}: ${e.message}`;
      throw e;
    }
  }
  return EXIT.ok;
}

function plan(s: Session): number {
  noMore(s.args.positionals, 'plan');
  const manifests = s.validManifests();
  if (!manifests) return EXIT.invalid;
  const namespace = s.args.flags.namespace ?? s.io.env.AIM_NAMESPACE ?? 'default';
  const plans = manifests.map((m) => planManifest(m, { namespace }));
  if (s.args.flags.output === 'json') s.out(JSON.stringify(plans.length === 1 ? plans[0] : plans, null, 2));
  else if (s.args.flags.output === 'yaml') s.out(stringify(plans.length === 1 ? plans[0] : plans));
  else s.out(plans.map(formatPlan).join('\n\n'));
  return EXIT.ok;
}

// ---------------------------------------------------------------- get

function printObjects(s: Session, kind: KindName, items: AimObject[], single: boolean): void {
  const output = s.args.flags.output;
  if (output === 'json' || output === 'yaml') {
    const value = single ? items[0] : { apiVersion: 'v1', kind: 'List', items };
    s.out(output === 'json' ? JSON.stringify(value, null, 2) : stringify(value));
    return;
  }
  if (items.length === 0) {
    s.err(`No ${KINDS[kind].plural} found.`);
    return;
  }
  // As kubectl: columns of priority > 0 only with `-o wide`.
  const cols = KINDS[kind].printColumns.filter((c) => !c.priority || output === 'wide');
  const all = Boolean(s.args.flags['all-namespaces']) && KINDS[kind].scope === 'Namespaced';
  const header = [...(all ? ['NAMESPACE'] : []), 'NAME', ...cols.map((c) => c.name.toUpperCase())];
  const rows = items.map((o) => [
    ...(all ? [o.metadata.namespace ?? ''] : []),
    o.metadata.name,
    ...cols.map((c) => cell(o, c)),
  ]);
  s.out(table(header, rows));
}

async function get(s: Session): Promise<number> {
  const [kindWord, name, ...rest] = s.args.positionals;
  noMore(rest, 'get');
  const kind = kindArg(kindWord, 'get');
  if (s.args.flags.unused && kind !== 'AIMModelCache') throw new UsageError('--unused applies to caches only');
  const client = await s.sdk();
  if (s.args.flags.unused) return unusedCaches(s, client);
  if (name) {
    const obj = await client.get(kind, name);
    if (!obj) return notFound(s, kind, name);
    printObjects(s, kind, [obj], true);
    return EXIT.ok;
  }
  const items = await client.list(kind, undefined, { allNamespaces: Boolean(s.args.flags['all-namespaces']) });
  items.sort((a, b) =>
    `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(
      `${b.metadata.namespace ?? ''}/${b.metadata.name}`,
    ),
  );
  printObjects(s, kind, items, false);
  return EXIT.ok;
}

function notFound(s: Session, kind: KindName, name: string): number {
  s.err(`Error from server (NotFound): ${KINDS[kind].plural}.${KINDS[kind].group} "${name}" not found`);
  return EXIT.failure;
}

async function unusedCaches(s: Session, client: AimClient): Promise<number> {
  const allNamespaces = Boolean(s.args.flags['all-namespaces']);
  const [caches, services] = await Promise.all([
    client.list('AIMModelCache', undefined, { allNamespaces }),
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
  if (s.args.flags.output === 'json' || s.args.flags.output === 'yaml') {
    printObjects(s, 'AIMModelCache', unused, false);
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

// ---------------------------------------------------------------- describe

function conditionsOf(obj: AimObject): ConditionView[] {
  return obj.status?.conditions ?? [];
}

async function eventsOf(s: Session, obj: AimObject): Promise<CoreV1Event[]> {
  const core = s.kubeConfig().makeApiClient(CoreV1Api);
  const namespace = obj.metadata.namespace ?? 'default';
  const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${obj.metadata.name}` });
  const when = (e: CoreV1Event) =>
    new Date(
      (e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp ?? 0) as Date,
    ).getTime();
  return list.items
    .filter(
      (e) =>
        e.involvedObject.kind === obj.kind &&
        (!obj.metadata.uid || !e.involvedObject.uid || e.involvedObject.uid === obj.metadata.uid),
    )
    .sort((a, b) => when(a) - when(b))
    .slice(-15);
}

async function describe(s: Session): Promise<number> {
  const [kindWord, nameWord, ...rest] = s.args.positionals;
  noMore(rest, 'describe');
  const kind = kindArg(kindWord, 'describe');
  const name = nameArg(nameWord, 'describe');
  const client = await s.sdk();
  const obj = await client.get(kind, name);
  if (!obj) return notFound(s, kind, name);
  const ns = obj.metadata.namespace;
  const st = obj.status ?? {};
  const lines: string[] = [
    `Name:          ${name}`,
    ...(ns ? [`Namespace:     ${ns}`] : []),
    `Kind:          ${kind}`,
    `Status:        ${st.status ?? '<none>'}`,
    `Generation:    ${obj.metadata.generation ?? '-'} (observed ${String(st.observedGeneration ?? '-')})`,
    `Created:       ${String(obj.metadata.creationTimestamp ?? '-')}`,
  ];
  if (obj.metadata.deletionTimestamp) lines.push(`Deleting:      since ${String(obj.metadata.deletionTimestamp)}`);
  if (kind === 'AIMService') {
    const rm = st.resolvedModel as { name?: string } | undefined;
    const rt = st.resolvedTemplate as { name?: string } | undefined;
    lines.push(`Model:         ${rm?.name ?? '-'}`, `Template:      ${rt?.name ?? '-'}`);
    if (st.progressDisplay) lines.push(`Progress:      ${String(st.progressDisplay)}`);
    const endpoint = st.endpoint as { inferenceService?: string; url?: string; internalUrl?: string } | undefined;
    if (endpoint) {
      lines.push(`Endpoint:      ${endpoint.url ?? '-'} (InferenceService ${endpoint.inferenceService ?? '-'})`);
      if (endpoint.internalUrl) lines.push(`Internal URL:  ${endpoint.internalUrl}`);
    }
    const caches =
      (st.caches as Array<{ name: string; modelId: string; status: string; percent?: number }> | undefined) ?? [];
    if (caches.length) {
      lines.push('Caches:');
      for (const c of caches)
        lines.push(
          `  ${c.name}  ${c.modelId}  ${c.status}${c.percent !== undefined ? `  ${progressBar(c.percent)}` : ''}`,
        );
    }
  }
  if (kind === 'AIMModelCache') {
    const p = st.progress as { display?: string; percent?: number } | undefined;
    if (p)
      lines.push(`Progress:      ${p.percent !== undefined ? `${progressBar(p.percent)} ` : ''}${p.display ?? ''}`);
    if (st.persistentVolumeClaim)
      lines.push(
        `Volume:        ${String(st.persistentVolumeClaim)} (${String(st.displaySize ?? st.allocatedSize ?? '-')})`,
      );
  }
  const wf = st.workflow as { id?: string; runId?: string } | undefined;
  const workflowId = wf?.id || workflowIdFor(kind, name, ns);
  lines.push(`Workflow:      ${workflowId}${wf?.runId ? ` (run ${wf.runId})` : ''}`);
  const memo = await s.temporalClient?.workflow
    .getHandle(workflowId)
    .describe()
    .then((d) => d.memo)
    .catch(() => undefined);
  if (memo?.uid !== undefined)
    lines.push(`Workflow UID:  ${String(memo.uid)}${memo.uid === obj.metadata.uid ? '' : ' (a different object)'}`);
  const ui = s.io.env.TEMPORAL_UI;
  if (ui) {
    lines.push(
      `Temporal UI:   ${ui.replace(/\/$/, '')}/namespaces/${encodeURIComponent(s.temporalNamespace)}/workflows/${encodeURIComponent(workflowId)}`,
    );
  }
  if (client.hasTemporal) {
    const p = await client.progress(kind, name, ns);
    lines.push(
      p
        ? `Current step:  ${p.phase} / ${p.step}${p.attempt ? ` (attempt ${p.attempt})` : ''}${p.lastFailure ? `; last failure ${p.lastFailure.type}: ${p.lastFailure.message}` : ''}`
        : 'Current step:  <workflow not answering>',
    );
  }
  const conds = conditionsOf(obj);
  lines.push('Conditions:');
  lines.push(
    conds.length
      ? indent(
          table(
            ['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'],
            conds.map((c) => [c.type, c.status, c.reason ?? '', age(c.lastTransitionTime), c.message ?? '']),
          ),
        )
      : '  <none>',
  );
  let events: CoreV1Event[] = [];
  let eventError: string | undefined;
  try {
    events = await eventsOf(s, obj);
  } catch (err) {
    eventError = toKubeError(err).message;
  }
  lines.push('Events:');
  lines.push(
    eventError
      ? `  <cannot list: ${eventError}>`
      : events.length
        ? indent(
            table(
              ['TYPE', 'REASON', 'AGE', 'MESSAGE'],
              events.map((e) => [
                e.type ?? '',
                e.reason ?? '',
                age(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp),
                e.message ?? '',
              ]),
            ),
          )
        : '  <none>',
  );
  s.out(lines.join('\n'));
  return EXIT.ok;
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

// ---------------------------------------------------------------- wait / logs

interface CacheView {
  name: string;
  status?: string;
  attempt?: number;
  percent?: number;
  display?: string;
  failure?: string;
}

async function cacheViews(client: AimClient, names: string[], ns: string | undefined): Promise<CacheView[]> {
  return Promise.all(
    names.map(async (name) => {
      const c = await client.get('AIMModelCache', name, ns).catch(() => undefined);
      const st = c?.status ?? {};
      const p = st.progress as { percent?: number; display?: string } | undefined;
      const failing = conditionsOf(c ?? ({ metadata: { name } } as AimObject)).find(
        (x) => x.status === 'False' && x.type !== 'Ready' && x.message,
      );
      return {
        name,
        ...(st.status ? { status: st.status } : {}),
        ...(typeof st.attempt === 'number' ? { attempt: st.attempt } : {}),
        ...(p?.percent !== undefined ? { percent: p.percent } : {}),
        ...(p?.display ? { display: p.display } : {}),
        ...(failing ? { failure: `${failing.reason ?? failing.type}: ${failing.message ?? ''}` } : {}),
      };
    }),
  );
}

function cacheLine(c: CacheView): string {
  const bar = c.percent !== undefined ? `${progressBar(c.percent)} ` : '';
  const attempt = c.attempt ? ` attempt ${c.attempt}` : '';
  const failure = c.failure && c.status !== 'Ready' ? ` (${c.failure})` : '';
  return `  cache ${c.name}: ${c.status ?? 'Pending'}${attempt} ${bar}${c.display ?? ''}${failure}`.trimEnd();
}

function failureOf(obj: AimObject | undefined): string {
  const conds = obj ? conditionsOf(obj) : [];
  const c = conds.find((x) => x.status === 'False' && x.type !== 'Ready') ?? conds.find((x) => x.type === 'Ready');
  return c ? `${c.reason ?? c.type}: ${c.message ?? ''}` : 'no reason given';
}

async function wait(s: Session): Promise<number> {
  const [kindWord, nameWord, ...rest] = s.args.positionals;
  noMore(rest, 'wait');
  const kind = kindArg(kindWord, 'wait');
  const name = nameArg(nameWord, 'wait');
  const target = s.args.flags.for?.replace(/^(condition|jsonpath)=/, '');
  if (!target) throw new UsageError('"wait" needs --for=Running|Ready');
  const timeoutMs = parseDuration(s.args.flags.timeout ?? '10m');
  if (timeoutMs === undefined) throw new UsageError(`--timeout: cannot read "${s.args.flags.timeout ?? ''}"`);
  const intervalMs = parseDuration(s.args.flags.interval ?? '2s');
  if (intervalMs === undefined) throw new UsageError(`--interval: cannot read "${s.args.flags.interval ?? ''}"`);
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
        `timed out after ${s.args.flags.timeout ?? '10m'} waiting for ${resourceName(kind)}/${name} to be ${target} (status ${status})`,
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

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

async function logs(s: Session): Promise<number> {
  const [nameWord, ...rest] = s.args.positionals;
  noMore(rest, 'logs');
  const name = nameArg(nameWord, 'logs');
  const client = await s.sdk();
  const ns = await s.ns('AIMService');
  const intervalMs = parseDuration(s.args.flags.interval ?? '2s') ?? 2000;
  const printed = new Set<string>();
  for (;;) {
    const svc = await client.get('AIMService', name, ns);
    if (!svc) return notFound(s, 'AIMService', name);
    const names = ((svc.status?.caches as Array<{ name: string }> | undefined) ?? []).map((c) => c.name);
    const views = await cacheViews(client, names, ns);
    const lines = views.length
      ? views.map(cacheLine)
      : [
          `  no caches yet (service ${svc.status?.status ?? 'Pending'}${svc.status?.progressDisplay ? `: ${String(svc.status.progressDisplay)}` : ''})`,
        ];
    for (const l of lines) {
      if (!s.args.flags.follow || !printed.has(l)) s.out(l);
      printed.add(l);
    }
    const done = views.length > 0 && views.every((v) => v.status === 'Ready' || v.status === 'Failed');
    if (!s.args.flags.follow || done || s.io.signal?.aborted)
      return views.some((v) => v.status === 'Failed') ? EXIT.failure : EXIT.ok;
    await sleep(intervalMs, s.io.signal);
  }
}

// ---------------------------------------------------------------- retry / delete

async function retry(s: Session): Promise<number> {
  const [kindWord, nameWord, ...rest] = s.args.positionals;
  noMore(rest, 'retry');
  const kind = kindArg(kindWord, 'retry');
  const name = nameArg(nameWord, 'retry');
  const client = await s.sdk();
  if (!(await client.get(kind, name))) return notFound(s, kind, name);
  const at = await client.retry(kind, name);
  s.out(`${resourceName(kind)}/${name} retry requested (aim.silogen.ai/retry=${at})`);
  return EXIT.ok;
}

async function del(s: Session): Promise<number> {
  const [kindWord, nameWord, ...rest] = s.args.positionals;
  noMore(rest, 'delete');
  const kind = kindArg(kindWord, 'delete');
  const name = nameArg(nameWord, 'delete');
  const client = await s.sdk();
  if (!(await client.get(kind, name))) return notFound(s, kind, name);
  const force = Boolean(s.args.flags.force);
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

export type { FieldError };
