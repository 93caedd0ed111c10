import { KubeConfig } from '@kubernetes/client-node';
import type { Client, Connection } from '@temporalio/client';
import { KINDS, type KindName } from '../../schemas/kinds.js';
import { resolveKind } from '../kinds.js';
import { AimClient } from '../sdk.js';
import { temporalClientFromEnv, type TemporalOverrides } from '../temporalConnection.js';

/** Exit codes (sysexits for usage and data errors). */
export const EXIT = { ok: 0, failure: 1, timeout: 2, usage: 64, invalid: 65 } as const;

export interface CliIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** What `-f -` reads (default: nothing, an empty input). */
  stdin?: AsyncIterable<string | Uint8Array>;
  env: Record<string, string | undefined>;
  /** Aborts long-running verbs (wait, logs --follow, get -w) as Ctrl-C does. */
  signal?: AbortSignal;
  /** Relative `-f` paths are read from here (default: the process's working directory). */
  cwd?: string;
  /** For tests and embedding: a ready client instead of one built from the kubeconfig and Temporal flags. */
  client?: AimClient;
  /** How help texts name the program (`aimctl`, or `kubectl aim` for the plugin). */
  program?: string;
}

export type FlagValue = string | boolean | string[] | undefined;

export interface ParsedArgs {
  verb?: string;
  positionals: string[];
  flags: Record<string, FlagValue>;
}

/** A mistake in the command line: exit 64 with the message. */
export class UsageError extends Error {}

export const resourceName = (kind: KindName) => `${KINDS[kind].singular}.${KINDS[kind].group}`;

/** What the verbs share: the parsed flags, output, and a lazily built SDK client (and Temporal connection). */
export class Session {
  private kc?: KubeConfig;
  private client?: AimClient;
  private connection?: Connection;
  temporalClient?: Client;

  constructor(
    readonly args: ParsedArgs,
    readonly io: CliIO,
  ) {}

  get verb(): string {
    return this.args.verb ?? '';
  }

  str(name: string): string | undefined {
    const v = this.args.flags[name];
    return typeof v === 'string' ? v : undefined;
  }
  bool(name: string): boolean {
    return this.args.flags[name] === true;
  }
  list(name: string): string[] {
    const v = this.args.flags[name];
    return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
  }

  out(text: string): void {
    this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
  err(text: string): void {
    this.io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Positionals `KIND [NAME]` (and nothing more); `needName` makes NAME required. */
  kindAndName(needName: true): { kind: KindName; name: string };
  kindAndName(needName: false): { kind: KindName; name: string | undefined };
  kindAndName(needName: boolean): { kind: KindName; name: string | undefined } {
    const [kindWord, name, ...rest] = this.args.positionals;
    this.noMore(rest);
    const kind = this.kindArg(kindWord);
    if (needName && !name) throw new UsageError(`"${this.verb}" needs a NAME (see aimctl ${this.verb} --help)`);
    return { kind, name };
  }

  kindArg(word: string | undefined): KindName {
    if (!word) throw new UsageError(`"${this.verb}" needs a KIND (see aimctl ${this.verb} --help)`);
    const kind = resolveKind(word);
    if (!kind) throw new UsageError(`unknown kind "${word}"; try aimsvc, aimmdl, aimtpl, aimmc, aimclmdl, aimcltpl`);
    return kind;
  }

  noMore(args: string[]): void {
    if (args.length > 0) throw new UsageError(`unexpected argument "${args[0]}" for "${this.verb}"`);
  }

  notFound(kind: KindName, name: string): number {
    this.err(`Error from server (NotFound): ${KINDS[kind].plural}.${KINDS[kind].group} "${name}" not found`);
    return EXIT.failure;
  }

  private connectedNamespace?: string;

  /** The Temporal namespace (UI links): the connection's (flag, TEMPORAL_NAMESPACE or profile), else as flags say. */
  get temporalNamespace(): string {
    return this.connectedNamespace ?? this.str('temporal-namespace') ?? this.io.env.TEMPORAL_NAMESPACE ?? 'default';
  }

  kubeConfig(): KubeConfig {
    if (!this.kc) {
      const kc = new KubeConfig();
      const path = this.str('kubeconfig') ?? this.io.env.KUBECONFIG;
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
    // Temporal the Temporal way (client/temporalConnection.ts): flags over TEMPORAL_* over a profile; none, no Temporal.
    const temporal = await temporalClientFromEnv(this.io.env, this.temporalOverrides());
    this.connection = temporal?.connection;
    this.temporalClient = temporal?.client;
    this.connectedNamespace = temporal?.settings.namespace;
    const namespace = this.str('namespace');
    this.client = new AimClient({
      kubeConfig,
      ...(temporal ? { temporal: { client: temporal.client, taskQueue: temporal.taskQueue } } : {}),
      ...(namespace ? { namespace } : {}),
    });
    return this.client;
  }

  /** `--temporal-address`, `--temporal-namespace`, `--task-queue`: what overrides the TEMPORAL_* settings. */
  temporalOverrides(): TemporalOverrides & { taskQueue?: string } {
    const [address, namespace, taskQueue] = [
      this.str('temporal-address'),
      this.str('temporal-namespace'),
      this.str('task-queue'),
    ];
    return {
      ...(address ? { address } : {}),
      ...(namespace ? { namespace } : {}),
      ...(taskQueue ? { taskQueue } : {}),
    };
  }

  /** The namespace for a kind (undefined for cluster-scoped kinds). */
  async ns(kind: KindName): Promise<string | undefined> {
    return KINDS[kind].scope === 'Namespaced' ? (await this.sdk()).namespace : undefined;
  }

  async close(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
  }
}
