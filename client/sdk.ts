import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Client, Connection } from '@temporalio/client';
import { CustomObjects } from '../activities/kube/customObjects.js';
import { toKubeError } from '../activities/kube/errors.js';
import { RESOURCES } from '../activities/kube/resources.js';
import { ANNOTATIONS, API_GROUP_VERSION, FIELD_MANAGERS, FINALIZER_CLEANUP } from '../schemas/constants.js';
import { KINDS, type KindName } from '../schemas/kinds.js';
import { inferenceServiceNameIfAny } from '../domain/naming.js';
import { progressQuery, workflowIdFor, type Nudge, type Progress } from '../workflows/signals.js';
import { assertManifest, type Manifest } from './manifests.js';
import { nudgeWorkflow } from './nudge.js';
import { planManifest, type Plan } from './plan.js';
import { kubeWatcher, type ObjectWatcher, type WatchEvent, type WatchQuery } from './watch.js';
import { temporalClientFromEnv, type Env, type TemporalOverrides } from './temporalConnection.js';

export { ManifestInvalidError, type Manifest } from './manifests.js';
export type { Plan, PlannedCache, PlannedTemplate } from './plan.js';
export type { ObjectWatcher, WatchEvent, WatchQuery } from './watch.js';

/** Field manager of what a person applies through the SDK or aimctl. */
export const CLIENT_FIELD_MANAGER = 'aimctl';
/** A separate manager for the retry annotation: applying it must not drop the fields `aimctl` applied. */
export const RETRY_FIELD_MANAGER = 'aimctl/retry';

/** An object of one of our kinds as read from the API server. */
export interface AimObject extends KubernetesObject {
  metadata: NonNullable<KubernetesObject['metadata']> & { name: string };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & { status?: string; conditions?: ConditionView[] };
}

export interface ConditionView {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface StatusSnapshot {
  /** False once the object is gone (the iterator ends after it). */
  exists: boolean;
  kind: KindName;
  name: string;
  namespace?: string;
  generation?: number;
  resourceVersion?: string;
  deleting: boolean;
  status?: AimObject['status'];
  object?: AimObject;
}

/** The part of CustomObjects the client uses (tests may pass a fake). */
export type ObjectStore = Pick<CustomObjects, 'get' | 'apply' | 'delete' | 'list' | 'replace'>;

export interface AimClientOptions {
  kubeConfig: KubeConfig;
  /** When set, applies and retries also nudge the object's workflow (signal-with-start). */
  temporal?: { client: Client; taskQueue: string };
  /** Namespace for manifests and calls without one; default: the kubeconfig context's, else `default`. */
  namespace?: string;
  /** For tests: replaces the Kubernetes client built from `kubeConfig`. */
  objects?: ObjectStore;
  /** For tests: replaces the Kubernetes watch built from `kubeConfig`. */
  watcher?: ObjectWatcher;
}

export interface ApplyResult {
  kind: KindName;
  name: string;
  namespace?: string;
  object: AimObject;
  /** The workflow nudged, when Temporal is configured. */
  workflowId?: string;
}

/**
 * The portal's client: typed apply / get / watch / retry / delete / plan over the caller's kubeconfig (their RBAC
 * decides) and, when configured, Temporal nudges. Signals are nudges only: everything the workflows do comes from
 * what the Kubernetes object says.
 */
export class AimClient {
  readonly objects: ObjectStore;
  readonly namespace: string;
  private readonly temporal: AimClientOptions['temporal'];
  private readonly kubeConfig: KubeConfig;
  private watcher: ObjectWatcher | undefined;

  constructor(opts: AimClientOptions) {
    this.objects = opts.objects ?? new CustomObjects(opts.kubeConfig);
    this.kubeConfig = opts.kubeConfig;
    this.watcher = opts.watcher;
    this.temporal = opts.temporal;
    const ctx = opts.kubeConfig.getContextObject(opts.kubeConfig.getCurrentContext());
    this.namespace = opts.namespace ?? ctx?.namespace ?? 'default';
  }

  /**
   * A client whose Temporal side comes from the environment the Temporal way (TEMPORAL_ADDRESS, TEMPORAL_API_KEY,
   * TEMPORAL_TLS*, a TEMPORAL_PROFILE of TEMPORAL_CONFIG_FILE: client/temporalConnection.ts), `temporal` overriding
   * it; without any address, no Temporal (no nudges). `close()` closes the connection it opened.
   */
  static async connect(
    opts: Omit<AimClientOptions, 'temporal'> & { env?: Env; temporal?: TemporalOverrides & { taskQueue?: string } },
  ): Promise<AimClient> {
    const { env = process.env, temporal: overrides, ...rest } = opts;
    const t = await temporalClientFromEnv(env, overrides);
    const client = new AimClient({ ...rest, ...(t ? { temporal: { client: t.client, taskQueue: t.taskQueue } } : {}) });
    client.ownConnection = t?.connection;
    return client;
  }

  private ownConnection: Connection | undefined;

  /** Closes the Temporal connection `AimClient.connect` opened (nothing otherwise). */
  async close(): Promise<void> {
    await this.ownConnection?.close();
    this.ownConnection = undefined;
  }

  /** Whether applies and retries also signal workflows. */
  get hasTemporal(): boolean {
    return this.temporal !== undefined;
  }

  private ns(kind: KindName, namespace?: string): string | undefined {
    return KINDS[kind].scope === 'Namespaced' ? (namespace ?? this.namespace) : undefined;
  }

  /**
   * Validates (zod, every problem listed, nothing sent), then server-side applies, then nudges the workflow. With
   * `dryRun` the API server validates and admits the object without persisting it, and no workflow is nudged.
   */
  async apply(manifest: unknown, opts: { dryRun?: boolean } = {}): Promise<ApplyResult> {
    const m = assertManifest(manifest);
    return this.applyValid(m, opts.dryRun ?? false);
  }

  /** Validates every manifest first; applies none when any is invalid. */
  async applyAll(manifests: unknown[]): Promise<ApplyResult[]> {
    const valid = manifests.map((m) => assertManifest(m));
    const out: ApplyResult[] = [];
    for (const m of valid) out.push(await this.applyValid(m, false));
    return out;
  }

  private async applyValid(m: Manifest, dryRun: boolean): Promise<ApplyResult> {
    const kind = m.kind;
    const namespace = this.ns(kind, m.metadata.namespace);
    const { status: _status, ...rest } = m;
    const { namespace: _ns, ...meta } = m.metadata;
    const body = { ...rest, metadata: { ...meta, ...(namespace ? { namespace } : {}) } } as unknown as AimObject;
    const object = await this.objects.apply<AimObject>(RESOURCES[kind], body, {
      fieldManager: CLIENT_FIELD_MANAGER,
      ...(dryRun ? { dryRun } : {}),
    });
    const result: ApplyResult = { kind, name: m.metadata.name, ...(namespace ? { namespace } : {}), object };
    if (this.temporal && !dryRun) {
      result.workflowId = await this.nudge(kind, m.metadata.name, namespace, 'changed', object);
    }
    return result;
  }

  /** Signal-with-start of the object's own workflow (`changed` or `retry`). */
  async nudge(
    kind: KindName,
    name: string,
    namespace: string | undefined,
    signal: 'changed' | 'retry',
    object?: AimObject,
  ): Promise<string | undefined> {
    if (!this.temporal) return undefined;
    const nudge: Nudge = {
      uid: object?.metadata.uid ?? '',
      ...(object?.metadata.generation !== undefined ? { generation: object.metadata.generation } : {}),
      ...(object?.metadata.resourceVersion !== undefined ? { resourceVersion: object.metadata.resourceVersion } : {}),
    };
    const fresh = Boolean(object && !(object.status as { status?: string } | undefined)?.status);
    const workflowId = await nudgeWorkflow(
      this.temporal.client,
      this.temporal.taskQueue,
      { kind, name, ...(namespace ? { namespace } : {}) },
      signal,
      nudge,
      { fresh },
    );
    return workflowId;
  }

  async get(kind: KindName, name: string, namespace?: string): Promise<AimObject | undefined> {
    return this.objects.get<AimObject>(RESOURCES[kind], name, this.ns(kind, namespace));
  }

  /** Objects of a kind in a namespace; `allNamespaces` lists every namespace. */
  async list(kind: KindName, namespace?: string, opts: { allNamespaces?: boolean; labelSelector?: string } = {}) {
    const ns = opts.allNamespaces ? undefined : this.ns(kind, namespace);
    return this.objects.list<AimObject>(
      RESOURCES[kind],
      ns,
      opts.labelSelector ? { labelSelector: opts.labelSelector } : {},
    );
  }

  /** A Kubernetes watch of a kind (list, then changes; relists on 410 Gone); `get -w` prints from it. */
  watchObjects(
    kind: KindName,
    query: Omit<WatchQuery, 'namespace'> & { namespace?: string; allNamespaces?: boolean } = {},
  ): AsyncIterable<WatchEvent<AimObject>> {
    const { allNamespaces, namespace, ...rest } = query;
    const ns = allNamespaces ? undefined : this.ns(kind, namespace);
    this.watcher ??= kubeWatcher(this.kubeConfig);
    return this.watcher<AimObject>(RESOURCES[kind], { ...rest, ...(ns ? { namespace: ns } : {}) });
  }

  /**
   * Watches the object (a Kubernetes watch on its name, no polling) and yields a snapshot whenever its status (or
   * existence, generation, deletion) changes; the first snapshot comes once the watch has listed it. Ends when
   * `signal` aborts or after the object is gone.
   */
  async *watch(
    kind: KindName,
    name: string,
    namespace?: string,
    opts: { signal?: AbortSignal } = {},
  ): AsyncGenerator<StatusSnapshot, void, undefined> {
    const ns = this.ns(kind, namespace);
    // Our own abort as well: leaving the loop early (break, return) must close the HTTP watch.
    const stop = new AbortController();
    const forward = () => stop.abort();
    opts.signal?.addEventListener('abort', forward, { once: true });
    if (opts.signal?.aborted) return;
    const gone: StatusSnapshot = { exists: false, kind, name, ...(ns ? { namespace: ns } : {}), deleting: false };
    let current: AimObject | undefined;
    let synced = false;
    let last: string | undefined;
    try {
      const events = this.watchObjects(kind, {
        ...(ns ? { namespace: ns } : {}),
        fieldSelector: `metadata.name=${name}`,
        signal: stop.signal,
      });
      for await (const e of events) {
        if (e.type === 'SYNCED') synced = true;
        else current = e.type === 'DELETED' ? undefined : e.object;
        if (!synced) continue;
        if (!current) {
          yield gone;
          return;
        }
        const snap = snapshotOf(kind, name, ns, current);
        const key = JSON.stringify([snap.generation, snap.deleting, snap.status]);
        if (key === last) continue;
        last = key;
        yield snap;
        if (stop.signal.aborted) return;
      }
    } finally {
      opts.signal?.removeEventListener('abort', forward);
      stop.abort();
    }
  }

  /**
   * Sets `aim.silogen.ai/retry=<now>` (the bridge forwards a change as `retry`) and, with Temporal, signals
   * `retry` directly. Returns the annotation value.
   */
  async retry(kind: KindName, name: string, namespace?: string): Promise<string> {
    const ns = this.ns(kind, namespace);
    const existing = await this.get(kind, name, ns);
    if (!existing) throw toKubeError(notFound(kind, name, ns));
    const now = new Date().toISOString();
    const object = await this.objects.apply<AimObject>(
      RESOURCES[kind],
      {
        apiVersion: API_GROUP_VERSION,
        kind,
        metadata: { name, ...(ns ? { namespace: ns } : {}), annotations: { [ANNOTATIONS.retry]: now } },
      } as AimObject,
      { fieldManager: RETRY_FIELD_MANAGER },
    );
    await this.nudge(kind, name, ns, 'retry', object);
    return now;
  }

  /**
   * Deletes the object. With `force` (uninstalls, or no worker to run the cleanup): deletes an AIMService's
   * InferenceService, then removes the `aim.silogen.ai/cleanup` finalizer the way the service workflow does
   * (apply under `aim-orchestrator/finalizer` with no finalizers), falling back to an update when another manager
   * owns the entry. Returns whether the object is gone.
   */
  async delete(kind: KindName, name: string, namespace?: string, opts: { force?: boolean } = {}): Promise<boolean> {
    const ns = this.ns(kind, namespace);
    const res = RESOURCES[kind];
    await this.objects.delete(res, name, ns);
    if (this.temporal) {
      // A plain `deleted` nudge: wakes the workflow to clean up (never starts one).
      await this.temporal.client.workflow
        .getHandle(workflowIdFor(kind, name, ns))
        .signal('deleted', { uid: '' })
        .catch(() => undefined);
    }
    if (opts.force) {
      if (kind === 'AIMService' && ns) {
        const isvc = inferenceServiceNameIfAny(ns, name);
        if (isvc) await this.objects.delete(RESOURCES.InferenceService, isvc, ns);
      }
      await this.removeFinalizer(kind, name, ns);
    }
    return (await this.get(kind, name, ns)) === undefined;
  }

  private async removeFinalizer(kind: KindName, name: string, ns: string | undefined): Promise<void> {
    const res = RESOURCES[kind];
    const obj = await this.get(kind, name, ns);
    if (!obj?.metadata.finalizers?.includes(FINALIZER_CLEANUP)) return;
    await this.objects
      .apply(
        res,
        {
          apiVersion: API_GROUP_VERSION,
          kind,
          metadata: { name, ...(ns ? { namespace: ns } : {}), uid: obj.metadata.uid, finalizers: [] },
        } as AimObject,
        { fieldManager: FIELD_MANAGERS.finalizer },
      )
      .catch((err: unknown) => {
        if (toKubeError(err).kind !== 'NotFound') throw toKubeError(err);
      });
    // Another manager (kubectl, a test) may own the entry: then take it out with an update.
    for (let i = 0; i < 5; i++) {
      const again = await this.get(kind, name, ns);
      if (!again?.metadata.finalizers?.includes(FINALIZER_CLEANUP)) return;
      again.metadata.finalizers = again.metadata.finalizers.filter((f) => f !== FINALIZER_CLEANUP);
      try {
        await this.objects.replace(res, again);
        return;
      } catch (err) {
        const e = toKubeError(err);
        if (e.kind === 'NotFound') return;
        if (e.kind !== 'Conflict') throw e;
      }
    }
  }

  /**
   * What applying the manifest would create (pure builders, nothing created). When the object exists, its UID makes
   * the names of Dedicated caches exact.
   */
  async plan(manifest: unknown): Promise<Plan> {
    const m = assertManifest(manifest);
    const ns = this.ns(m.kind, m.metadata.namespace);
    const existing = await this.get(m.kind, m.metadata.name, ns).catch(() => undefined);
    return planManifest(m, {
      ...(ns ? { namespace: ns } : {}),
      ...(existing?.metadata.uid ? { uid: existing.metadata.uid } : {}),
    });
  }

  /** The workflow's `progress` query; undefined without Temporal or when the workflow does not answer. */
  async progress(kind: KindName, name: string, namespace?: string): Promise<Progress | undefined> {
    if (!this.temporal) return undefined;
    const id = workflowIdFor(kind, name, this.ns(kind, namespace));
    try {
      return await this.temporal.client.workflow.getHandle(id).query(progressQuery);
    } catch {
      return undefined;
    }
  }
}

function snapshotOf(kind: KindName, name: string, ns: string | undefined, obj: AimObject): StatusSnapshot {
  return {
    exists: true,
    kind,
    name,
    ...(ns ? { namespace: ns } : {}),
    ...(obj.metadata.generation !== undefined ? { generation: obj.metadata.generation } : {}),
    ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
    deleting: Boolean(obj.metadata.deletionTimestamp),
    ...(obj.status ? { status: obj.status } : {}),
    object: obj,
  };
}

function notFound(kind: KindName, name: string, ns: string | undefined): Error {
  return Object.assign(new Error(`${KINDS[kind].plural} "${name}" not found${ns ? ` in ${ns}` : ''}`), {
    code: 404,
  });
}
