import { Context, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { CoreV1Event, V1Job, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { LABELS, MANAGED_BY } from '../schemas/constants.js';
import { withCredentialSources } from '../domain/credentialSources.js';
import { DOWNLOADER_SERVICE_ACCOUNT } from '../domain/jobs.js';
import { newestEvent } from '../domain/newestEvent.js';
import type { ActivityContext } from './context.js';
import type { CachedKind, CachedObject } from './kube/readCache.js';
import { readsOf } from './kube/reads.js';
import { toKubeError } from './kube/errors.js';
import { toApplicationFailure } from './failures.js';

/** What a watched Job came to. The watch never throws for a Job failure: it returns it (spec 5.4 step 4). */
export interface JobOutcome {
  /** `Started`: only with `returnWhenStarted`, the pod runs (so its volumes are bound) and the Job goes on. */
  phase: 'Succeeded' | 'Failed' | 'NotStarted' | 'StillRunning' | 'Started';
  containers: Array<{ name: string; exitCode?: number; reason?: string; result?: Record<string, unknown> }>;
  /** Why a pod never ran: ImagePullFailed, CreateContainerConfigError, PodNotStarted, OOMKilled, Evicted. */
  problem?: { reason: string; message: string };
}

/** Image pulls the kubelet retries with its own back-off: a failure only once the error has persisted. */
const IMAGE_RETRIED = new Set(['ErrImagePull', 'ImagePullBackOff']);
/** Image problems no pull retry can fix. */
const IMAGE_FINAL = new Set(['InvalidImageName', 'ErrImageNeverPull']);
/**
 * How long a pull may keep failing (the kubelet retries at 10 s, 20 s, 40 s …: about three pulls); the worker's
 * `imagePullFailedSeconds` (domain/timing.ts, scaled with AIM_TIME_SCALE) replaces it.
 */
export const IMAGE_PULL_FAILED_AFTER_SECONDS = 120;

function parseTermination(message: string | undefined): Record<string, unknown> | undefined {
  if (!message) return undefined;
  try {
    const v = JSON.parse(message.trim().split('\n').pop() ?? '') as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A refused credential's message completed with the Secrets and keys it came from (the Job's own env references):
 * the downloader only sees values, the user fixes a Secret.
 */
function withSecretNames(
  result: Record<string, unknown> | undefined,
  job: V1Job,
  container: string,
): Record<string, unknown> | undefined {
  if (typeof result?.reason !== 'string' || typeof result.message !== 'string') return result;
  const env = job.spec?.template?.spec?.containers?.find((c) => c.name === container)?.env;
  return { ...result, message: withCredentialSources(result.reason, result.message, env) };
}

/** Reads the Job's pods into an outcome, or undefined while it is still going. */
export function jobOutcome(
  job: V1Job,
  pods: V1Pod[],
  pendingSeconds: number,
  notStartedAfterSeconds: number,
  imagePullFailedAfterSeconds = IMAGE_PULL_FAILED_AFTER_SECONDS,
): JobOutcome | undefined {
  const pod = pods.sort((a, b) =>
    String(b.metadata?.creationTimestamp).localeCompare(String(a.metadata?.creationTimestamp)),
  )[0];
  const containers = (pod?.status?.containerStatuses ?? []).map((c) => ({
    name: c.name,
    ...(c.state?.terminated
      ? {
          exitCode: c.state.terminated.exitCode,
          reason: c.state.terminated.reason,
          result: withSecretNames(parseTermination(c.state.terminated.message), job, c.name),
        }
      : {}),
  }));
  const done = job.status?.conditions?.find(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
  if (done?.type === 'Complete') return { phase: 'Succeeded', containers };
  if (done?.type === 'Failed' || pod?.status?.phase === 'Failed') {
    const oom = containers.find((c) => c.reason === 'OOMKilled');
    const evicted = pod?.status?.reason === 'Evicted';
    const podName = pod?.metadata?.name ?? `of job ${job.metadata?.name ?? '(unnamed)'}`;
    const limit = (name: string) =>
      pod?.spec?.containers?.find((c) => c.name === name)?.resources?.limits?.memory ?? 'unset';
    return {
      phase: 'Failed',
      containers,
      ...(oom
        ? {
            problem: {
              reason: 'OOMKilled',
              message: `container ${oom.name} of pod ${podName} was OOMKilled (exit code ${String(oom.exitCode ?? 137)}) above its memory limit ${limit(oom.name)}`,
            },
          }
        : {}),
      ...(evicted
        ? {
            problem: {
              reason: 'Evicted',
              message: `pod ${podName} was evicted${pod?.spec?.nodeName ? ` from node ${pod.spec.nodeName}` : ''}: ${pod?.status?.message ?? 'no message'}`,
            },
          }
        : {}),
    };
  }
  for (const c of pod?.status?.containerStatuses ?? []) {
    const w = c.state?.waiting;
    const imageFailed =
      w?.reason &&
      (IMAGE_FINAL.has(w.reason) || (IMAGE_RETRIED.has(w.reason) && pendingSeconds >= imagePullFailedAfterSeconds));
    if (imageFailed) {
      const image = pod?.spec?.containers?.find((s) => s.name === c.name)?.image ?? c.image;
      const where = `container ${c.name}${pod?.metadata?.name ? ` of pod ${pod.metadata.name}` : ''}`;
      return {
        phase: 'NotStarted',
        containers,
        problem: {
          reason: 'ImagePullFailed',
          message: `${where} cannot pull image${image ? ` ${image}` : ''}: ${`${w!.reason}: ${w!.message ?? ''}`.trim()}`,
        },
      };
    }
    if (w?.reason === 'CreateContainerConfigError')
      return {
        phase: 'NotStarted',
        containers,
        problem: { reason: 'CreateContainerConfigError', message: w.message ?? '' },
      };
  }
  const started = pod?.status?.phase === 'Running' || pod?.status?.phase === 'Succeeded';
  if (!started && pendingSeconds > notStartedAfterSeconds) {
    const why = pod?.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    return {
      phase: 'NotStarted',
      containers,
      problem: {
        reason: 'PodNotStarted',
        message: `the pod has not started after ${notStartedAfterSeconds}s${why?.message ? `: ${why.message}` : pod ? '' : ' (no pod was created)'}`,
      },
    };
  }
  return undefined;
}

/** `; last event on pod p: FailedScheduling: …` from the newest Warning Event of an object ('' when there is none). */
export function lastWarningNote(about: { kind: string; name: string }, events: CoreV1Event[]): string {
  const last = newestEvent(events);
  return last ? `; last event on ${about.kind} ${about.name}: ${last.reason ?? ''}: ${last.message ?? ''}` : '';
}

/** With the read cache, a Job wait re-checks at least this often even when no change of its Job or pods arrives. */
export const JOB_RECHECK_MS = 15_000;

/** A change of this Job, or of one of its pods (the Job controller labels them `job-name`). */
function isJobOrPod(kind: CachedKind, obj: CachedObject, namespace: string, name: string): boolean {
  if (obj.metadata?.namespace !== namespace) return false;
  return kind === 'Job' ? obj.metadata.name === name : kind === 'Pod' && obj.metadata.labels?.['job-name'] === name;
}

/** Create-or-get: AlreadyExists with our owner UID counts as success, so a retried activity never duplicates. */
export async function createJobIfAbsent(ctx: ActivityContext, job: V1Job): Promise<{ name: string; created: boolean }> {
  const namespace = job.metadata!.namespace!;
  const name = job.metadata!.name!;
  try {
    const created = await ctx.batch.createNamespacedJob({ namespace, body: job });
    ctx.reads?.noteWrite('Job', name, namespace, created.metadata?.resourceVersion);
    return { name, created: true };
  } catch (err) {
    const e = toKubeError(err);
    if (e.kind !== 'AlreadyExists') throw toApplicationFailure(e, `create job ${namespace}/${name}`);
    const existing =
      (await readsOf(ctx).get<V1Job>('Job', name, namespace)) ??
      (await ctx.batch.readNamespacedJob({ name, namespace }));
    const want = job.metadata?.ownerReferences?.[0];
    const owners = existing.metadata?.ownerReferences ?? [];
    if (owners.some((o) => o.uid === want?.uid)) return { name, created: false };
    // A Job of an earlier object with the same name (a recreated cache): its owner is gone and the garbage
    // collector will remove it; help it along and try again shortly, never mistaking it for ours.
    if (want && owners.some((o) => o.kind === want.kind && o.name === want.name)) {
      await ctx.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' }).catch(() => undefined);
      ctx.reads?.noteDelete('Job', name, namespace);
      throw ApplicationFailure.create({
        message: `job ${namespace}/${name} of an earlier ${want.kind} ${want.name} is still being removed`,
        type: 'JobNameBusy',
      });
    }
    throw ApplicationFailure.nonRetryable(`job ${namespace}/${name} exists and is not ours`, 'ApplyRejected');
  }
}

/** The pod's claims that are not Bound (by name), from the pod spec and the claims' phases. */
export function unboundClaims(pod: V1Pod | undefined, phases: Record<string, string | undefined>): string[] {
  return (pod?.spec?.volumes ?? [])
    .map((v) => v.persistentVolumeClaim?.claimName)
    .filter((c): c is string => Boolean(c) && phases[c!] !== 'Bound');
}

export function jobActivities(ctx: ActivityContext) {
  /**
   * A pod that waits on a volume that never binds: `VolumeNotBound` naming the class, access mode and the claim's
   * last Event, so the user can pick another class or access mode (spec 5.4 step 2).
   */
  async function volumeProblem(namespace: string, pod: V1Pod | undefined): Promise<JobOutcome['problem']> {
    const names = (pod?.spec?.volumes ?? [])
      .map((v) => v.persistentVolumeClaim?.claimName)
      .filter((c): c is string => Boolean(c));
    const phases: Record<string, string | undefined> = {};
    const pvcs = new Map<string, { className?: string; modes?: string[] }>();
    for (const name of names) {
      const pvc = await readsOf(ctx)
        .get<V1PersistentVolumeClaim>('PersistentVolumeClaim', name, namespace)
        .catch(() => undefined);
      phases[name] = pvc?.status?.phase;
      pvcs.set(name, { className: pvc?.spec?.storageClassName, modes: pvc?.spec?.accessModes });
    }
    const unbound = unboundClaims(pod, phases);
    if (!unbound.length) return undefined;
    const name = unbound[0]!;
    const events = await ctx.core
      .listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })
      .catch(() => ({ items: [] }));
    const last = newestEvent(events.items, { orAnyType: true });
    const info = pvcs.get(name);
    return {
      reason: 'VolumeNotBound',
      message: `PVC ${name} (class ${info?.className ?? 'cluster default'}, ${info?.modes?.join(',') ?? 'no access mode'}) is not bound${
        last?.message ? `; last event: ${last.reason}: ${last.message}` : ''
      }; try another storageClassName or accessMode`,
    };
  }

  return {
    /**
     * Waits for a Job with a bounded duration, heartbeating every 10 s (a dead worker is noticed by the heartbeat
     * timeout; the start time rides in the heartbeat details so a retry keeps counting from it).
     */
    async waitForJob(args: {
      namespace: string;
      name: string;
      maxSeconds: number;
      notStartedAfterSeconds: number;
      /** When set: a pod still Pending after this long on an unbound claim is VolumeNotBound. */
      volumeNotBoundAfterSeconds?: number;
      /** Return `Started` as soon as the pod runs (a waiting volume is bound then), instead of at the Job's end. */
      returnWhenStarted?: boolean;
    }): Promise<JobOutcome> {
      const info = Context.current().info;
      const startedAt = (info.heartbeatDetails as { startedAt?: number } | undefined)?.startedAt ?? Date.now();
      const deadline = Date.now() + args.maxSeconds * 1000;
      let lastBeat = 0;
      for (;;) {
        if (Date.now() - lastBeat >= 10_000) {
          heartbeat({ startedAt });
          lastBeat = Date.now();
        }
        let job: V1Job | undefined;
        let pods: V1Pod[];
        try {
          job = await readsOf(ctx).get<V1Job>('Job', args.name, args.namespace);
          pods = job ? await readsOf(ctx).list<V1Pod>('Pod', args.namespace, `job-name=${args.name}`) : [];
        } catch (err) {
          throw toApplicationFailure(toKubeError(err), `get job ${args.namespace}/${args.name}`);
        }
        if (!job)
          return {
            phase: 'Failed',
            containers: [],
            problem: { reason: 'JobDeleted', message: `job ${args.namespace}/${args.name} was deleted` },
          };
        // Measured from the Job's creation, not this watch: watches are bounded and a later one must keep counting.
        const created = job.metadata?.creationTimestamp
          ? new Date(job.metadata.creationTimestamp).getTime()
          : startedAt;
        const pendingSeconds = (Date.now() - Math.min(created, startedAt)) / 1000;
        const outcome = jobOutcome(
          job,
          pods,
          pendingSeconds,
          args.notStartedAfterSeconds,
          ctx.settings.timing?.imagePullFailedSeconds,
        );
        if (outcome?.problem?.reason === 'PodNotStarted') {
          // Why it has not started is in an Event: the pod's (FailedScheduling, FailedMount, …), or the Job's when
          // no pod could be created (FailedCreate: a LimitRange, quota or admission refusal).
          const pod = pods[0];
          const about = pod?.metadata?.name
            ? { kind: 'pod', name: pod.metadata.name }
            : { kind: 'job', name: args.name };
          const events = await ctx.core
            .listNamespacedEvent({ namespace: args.namespace, fieldSelector: `involvedObject.name=${about.name}` })
            .catch(() => ({ items: [] as CoreV1Event[] }));
          outcome.problem.message += lastWarningNote(about, events.items);
        }
        if (outcome) return outcome;
        const pod = pods[0];
        if (args.returnWhenStarted && pod?.status?.phase === 'Running') return { phase: 'Started', containers: [] };
        const notRunning = !pod || pod.status?.phase === 'Pending';
        if (
          args.volumeNotBoundAfterSeconds !== undefined &&
          notRunning &&
          pendingSeconds > args.volumeNotBoundAfterSeconds
        ) {
          const problem = await volumeProblem(args.namespace, pod);
          if (problem) return { phase: 'NotStarted', containers: [], problem };
        }
        if (Date.now() > deadline) return { phase: 'StillRunning', containers: [] };
        // Without the cache, or while its Job or pod watch is down, no change would wake this: poll each second.
        if (!ctx.reads?.serves('Job') || !ctx.reads.serves('Pod')) {
          await Context.current().sleep(1000);
          continue;
        }
        // Watch-driven: woken by a change of this Job or its pods in the read cache, else when the next time-based
        // verdict (not started, image pull, volume, deadline) or heartbeat is due, at the latest after the safety
        // re-check interval.
        const thresholds = [
          args.notStartedAfterSeconds,
          ctx.settings.timing?.imagePullFailedSeconds ?? IMAGE_PULL_FAILED_AFTER_SECONDS,
          args.volumeNotBoundAfterSeconds,
        ].flatMap((t) => (t !== undefined && t > pendingSeconds ? [(t - pendingSeconds) * 1000 + 50] : []));
        const wakeInMs = Math.max(
          50,
          Math.min(JOB_RECHECK_MS, deadline + 50 - Date.now(), lastBeat + 10_000 - Date.now(), ...thresholds),
        );
        await Promise.race([
          ctx.reads.nextChange((kind, obj) => isJobOrPod(kind, obj, args.namespace, args.name), wakeInMs),
          Context.current().cancelled,
        ]);
      }
    },

    /** The namespace's `aim-downloader` ServiceAccount, created when missing (shared, so not owned). */
    async ensureDownloaderServiceAccount(namespace: string): Promise<void> {
      try {
        await ctx.core.readNamespacedServiceAccount({ name: DOWNLOADER_SERVICE_ACCOUNT, namespace });
      } catch (err) {
        const e = toKubeError(err);
        if (e.kind !== 'NotFound')
          throw toApplicationFailure(e, `get serviceaccount ${namespace}/${DOWNLOADER_SERVICE_ACCOUNT}`);
        try {
          await ctx.core.createNamespacedServiceAccount({
            namespace,
            body: {
              metadata: { name: DOWNLOADER_SERVICE_ACCOUNT, namespace, labels: { [LABELS.managedBy]: MANAGED_BY } },
            },
          });
        } catch (err2) {
          const e2 = toKubeError(err2);
          if (e2.kind !== 'AlreadyExists')
            throw toApplicationFailure(e2, `create serviceaccount ${namespace}/${DOWNLOADER_SERVICE_ACCOUNT}`);
        }
      }
    },
  };
}
