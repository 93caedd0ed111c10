// The process kubelet (test/harness/kubelet.ts) against the real control plane: Jobs run as local processes and the
// real Job controller, PV binder and garbage collector finish the work. Each test uses its own namespace.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BatchV1Api,
  CoreV1Api,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type CoreV1Event,
  type KubeConfig,
  type V1Container,
  type V1Job,
  type V1Pod,
  type V1PodSpec,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { buildDownloaderJob } from '../../domain/jobs.js';
import { cacheDir } from '../harness/bins.js';
import { stackControl } from '../harness/control.js';
import { loadKubeConfig } from '../harness/kube.js';
import { createTestNamespace } from '../harness/namespaces.js';
import {
  downloaderImageMapping,
  expandVars,
  failedSchedulingMessage,
  insufficientResources,
  liveGroupMembers,
  nodeAffinityMatches,
  shellImageMapping,
  startProcessKubelet,
  TEST_DOWNLOADER_IMAGE,
  TEST_SHELL_IMAGE,
  untoleratedTaint,
  type ProcessKubelet,
} from '../harness/kubelet.js';
import { REPO_ROOT } from '../harness/stack.js';

const prefix = `kubelet-${randomBytes(3).toString('hex')}`;
const WAIT = { timeout: 60_000, interval: 200 };
let kc: KubeConfig;
let core: CoreV1Api;
let batch: BatchV1Api;
let rbac: RbacAuthorizationV1Api;
let kubelet: ProcessKubelet;
let workDir: string;
const namespaces: string[] = [];

beforeAll(async () => {
  kc = loadKubeConfig(inject('kubeconfigPath'));
  core = kc.makeApiClient(CoreV1Api);
  batch = kc.makeApiClient(BatchV1Api);
  rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  workDir = join(inject('stackWorkDir'), prefix);
  await mkdir(workDir, { recursive: true });
  kubelet = await startProcessKubelet({
    kubeconfigPath: inject('kubeconfigPath'),
    workDir,
    images: { ...downloaderImageMapping(REPO_ROOT), ...shellImageMapping() },
    extraPath: [join(cacheDir(), 'bin')],
    // Only this file's namespaces: pods other files left behind are none of its business.
    namespaces: (ns) => ns.startsWith(`${prefix}-`),
    // The kubelet's 10 s → 300 s back-off, compressed tenfold.
    backoffBaseMs: 1000,
  });
});

afterAll(async () => {
  await Promise.all(namespaces.map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
  await kubelet?.stop();
  // workDir lies in the stack's work dir: removed with it after a green run, kept (with the kubelet log) otherwise.
});

async function newNamespace(suffix: string): Promise<string> {
  const ns = `${prefix}-${suffix}`;
  // No Pod Security level: these are the kubelet's own fixture pods (shells as root among them), not the product's.
  await createTestNamespace(core, ns, { podSecurity: false });
  namespaces.push(ns);
  return ns;
}

interface ShellOptions {
  env?: V1Container['env'];
  volumeMounts?: V1Container['volumeMounts'];
  resources?: V1Container['resources'];
  terminationMessagePolicy?: 'File' | 'FallbackToLogsOnError';
  image?: string;
}

/** A container of the shell image: `script` runs under /bin/sh -c, TERMINATION_MESSAGE_PATH set as the downloader's. */
function shell(name: string, script: string, o: ShellOptions = {}): V1Container {
  return {
    name,
    image: o.image ?? TEST_SHELL_IMAGE,
    args: [script],
    env: [{ name: 'TERMINATION_MESSAGE_PATH', value: '/dev/termination-log' }, ...(o.env ?? [])],
    ...(o.volumeMounts ? { volumeMounts: o.volumeMounts } : {}),
    ...(o.resources ? { resources: o.resources } : {}),
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: o.terminationMessagePolicy ?? 'File',
  };
}

function podSpec(containers: V1Container[], extra: Partial<V1PodSpec> = {}): V1PodSpec {
  return { restartPolicy: 'Never', automountServiceAccountToken: false, containers, ...extra };
}

function job(name: string, spec: V1PodSpec): V1Job {
  return { metadata: { name }, spec: { backoffLimit: 0, template: { spec } } };
}

async function createPod(ns: string, name: string, spec: V1PodSpec): Promise<V1Pod> {
  return core.createNamespacedPod({ namespace: ns, body: { metadata: { name }, spec } });
}

/** A 1Gi ReadWriteOnce claim of the kubelet's StorageClass. */
async function createClaim(ns: string, name: string): Promise<void> {
  await core.createNamespacedPersistentVolumeClaim({
    namespace: ns,
    body: {
      metadata: { name },
      spec: {
        storageClassName: kubelet.storageClassName,
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '1Gi' } },
      },
    },
  });
}

/** Waits for the Job's Complete or Failed condition. */
async function jobOutcome(ns: string, name: string): Promise<{ type: 'Complete' | 'Failed'; reason?: string }> {
  return vi.waitFor(async () => {
    const j = await batch.readNamespacedJob({ name, namespace: ns });
    const c = j.status?.conditions?.find((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
    if (!c) throw new Error(`job ${ns}/${name} not finished: ${JSON.stringify(j.status)}`);
    return { type: c.type as 'Complete' | 'Failed', ...(c.reason ? { reason: c.reason } : {}) };
  }, WAIT);
}

async function podsOfJob(ns: string, name: string): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace: ns, labelSelector: `job-name=${name}` })).items;
}

async function podOfJob(ns: string, name: string): Promise<V1Pod> {
  const pods = await podsOfJob(ns, name);
  expect(pods).toHaveLength(1);
  return pods[0]!;
}

async function waitForPod(ns: string, name: string, check: (p: V1Pod) => boolean, what: string): Promise<V1Pod> {
  return vi.waitFor(async () => {
    const p = await core.readNamespacedPod({ name, namespace: ns });
    if (!check(p)) throw new Error(`pod ${ns}/${name}: not ${what} yet: ${JSON.stringify(p.status)}`);
    return p;
  }, WAIT);
}

async function eventsOf(ns: string, object: string): Promise<CoreV1Event[]> {
  const list = await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${object}` });
  return list.items;
}

async function waitForEvent(
  ns: string,
  object: string,
  reason: string,
  message?: string | RegExp,
): Promise<CoreV1Event> {
  return vi.waitFor(async () => {
    const events = await eventsOf(ns, object);
    const e = events.find(
      (x) =>
        x.reason === reason &&
        (message === undefined ||
          (typeof message === 'string' ? x.message === message : message.test(x.message ?? ''))),
    );
    if (!e)
      throw new Error(`no ${reason} event for ${object}: ${events.map((x) => `${x.reason}: ${x.message}`).join('; ')}`);
    return e;
  }, WAIT);
}

const terminated = (p: V1Pod, i = 0) => p.status?.containerStatuses?.[i]?.state?.terminated;
const waitingOf = (p: V1Pod, i = 0) => p.status?.containerStatuses?.[i]?.state?.waiting;

describe('process kubelet: running Jobs', () => {
  it('runs a Job to completion: the pod Succeeds with the termination message', async () => {
    const ns = await newNamespace('ok');
    const script = `echo "hello from $HOSTNAME"; printf '{"ok":true}' > "$TERMINATION_MESSAGE_PATH"`;
    await batch.createNamespacedJob({ namespace: ns, body: job('hello', podSpec([shell('main', script)])) });

    expect(await jobOutcome(ns, 'hello')).toMatchObject({ type: 'Complete' });
    const pod = await podOfJob(ns, 'hello');
    const podName = pod.metadata?.name ?? '';
    expect(pod.spec?.nodeName).toBe(kubelet.nodeName);
    expect(pod.status?.phase).toBe('Succeeded');
    // Its own loopback address (podIPs.ts); the node's is 127.0.0.1.
    expect(pod.status?.podIP).toMatch(/^127\.\d+\.\d+\.\d+$/);
    expect(pod.status?.podIP).not.toBe('127.0.0.1');
    expect(pod.status?.hostIP).toBe('127.0.0.1');
    expect(terminated(pod)).toMatchObject({ exitCode: 0, reason: 'Completed', message: '{"ok":true}' });
    expect(pod.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'PodCompleted',
    });
    expect(kubelet.logs(ns, podName)).toContain(`hello from ${podName}`);
    await waitForEvent(ns, podName, 'Scheduled', `Successfully assigned ${ns}/${podName} to ${kubelet.nodeName}`);
    await waitForEvent(ns, podName, 'Pulled', `Container image "${TEST_SHELL_IMAGE}" already present on machine`);
    await waitForEvent(ns, podName, 'Started', 'Started container main');
  });

  it('fails a Job with the exit code and the termination message', async () => {
    const ns = await newNamespace('fail');
    const script = `echo '{"reason":"Boom"}' > "$TERMINATION_MESSAGE_PATH"; exit 3`;
    await batch.createNamespacedJob({ namespace: ns, body: job('boom', podSpec([shell('main', script)])) });

    expect(await jobOutcome(ns, 'boom')).toEqual({ type: 'Failed', reason: 'BackoffLimitExceeded' });
    const pod = await podOfJob(ns, 'boom');
    expect(pod.status?.phase).toBe('Failed');
    expect(terminated(pod)).toMatchObject({ exitCode: 3, reason: 'Error', message: '{"reason":"Boom"}\n' });
  });

  it('falls back to the last 80 lines / 2 KiB of the log when the termination file is empty (FallbackToLogsOnError)', async () => {
    const ns = await newNamespace('fallback');
    const x40 = 'x'.repeat(40);
    const spec = podSpec([
      // 120 short lines: the message is the last 80 of them.
      shell('lines', 'i=1; while [ $i -le 120 ]; do echo "line $i"; i=$((i+1)); done; exit 7', {
        terminationMessagePolicy: 'FallbackToLogsOnError',
      }),
      // 120 lines of 50 bytes: the last 80 lines are 4000 bytes, so the message is cut to the last 2048 bytes.
      shell('bytes', `i=1; while [ $i -le 120 ]; do printf 'line %03d %s\\n' $i ${x40}; i=$((i+1)); done; exit 8`, {
        terminationMessagePolicy: 'FallbackToLogsOnError',
      }),
      // The policy applies only to failures: a successful container with an empty file has no message.
      shell('quiet', 'echo only-in-the-log', { terminationMessagePolicy: 'FallbackToLogsOnError' }),
    ]);
    await batch.createNamespacedJob({ namespace: ns, body: job('tail', spec) });

    expect(await jobOutcome(ns, 'tail')).toMatchObject({ type: 'Failed' });
    const pod = await podOfJob(ns, 'tail');
    const byName = new Map(pod.status?.containerStatuses?.map((s) => [s.name, s.state?.terminated]));
    const lines = byName.get('lines');
    expect(lines).toMatchObject({ exitCode: 7, reason: 'Error' });
    const got = (lines?.message ?? '').trimEnd().split('\n');
    expect(got).toHaveLength(80);
    expect(got[0]).toBe('line 41');
    expect(got.at(-1)).toBe('line 120');

    const bytes = byName.get('bytes');
    expect(bytes).toMatchObject({ exitCode: 8, reason: 'Error' });
    expect(Buffer.byteLength(bytes?.message ?? '')).toBe(2048);
    expect(bytes?.message?.endsWith(`line 120 ${x40}\n`)).toBe(true);
    expect(bytes?.message).not.toContain('line 079');

    expect(byName.get('quiet')).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(byName.get('quiet')?.message).toBeUndefined();
    expect(kubelet.logs(ns, pod.metadata?.name ?? '', 'quiet')).toBe('only-in-the-log\n');
  });

  it('an unmapped image gives ErrImagePull, then ImagePullBackOff with a doubling back-off; a fixed image runs', async () => {
    const ns = await newNamespace('pull');
    const image = 'registry.invalid/aim/none:1';
    const imageRe = image.replace(/\./g, '\\.');
    await createPod(ns, 'nopull', podSpec([shell('main', 'true', { image })]));

    const pod = await waitForPod(ns, 'nopull', (p) => waitingOf(p)?.reason === 'ErrImagePull', 'ErrImagePull');
    const pullError = waitingOf(pod)?.message ?? '';
    expect(pullError).toContain(`failed to pull and unpack image "${image}"`);
    expect(pod.status?.phase).toBe('Pending');
    await waitForEvent(ns, 'nopull', 'Pulling', `Pulling image "${image}"`);
    await waitForEvent(
      ns,
      'nopull',
      'Failed',
      new RegExp(`^Failed to pull image "${imageRe}": rpc error: code = NotFound`),
    );
    await waitForEvent(ns, 'nopull', 'Failed', 'Error: ErrImagePull');
    const backingOff = await waitForPod(
      ns,
      'nopull',
      (p) => waitingOf(p)?.reason === 'ImagePullBackOff',
      'ImagePullBackOff',
    );
    expect(waitingOf(backingOff)?.message).toBe(`Back-off pulling image "${image}": ErrImagePull: ${pullError}`);
    await waitForEvent(ns, 'nopull', 'BackOff', `Back-off pulling image "${image}"`);
    await waitForEvent(ns, 'nopull', 'Failed', 'Error: ImagePullBackOff');
    expect(kubelet.processes().filter((p) => p.namespace === ns)).toEqual([]);

    // Retries back off (1 s, 2 s, 4 s here; the kubelet's 10 s, 20 s, 40 s): about 3 pulls in the first 5 s, not a
    // storm of one per sync (20 at 250 ms).
    const firstPull = await waitForEvent(ns, 'nopull', 'Pulling');
    await new Promise((r) => setTimeout(r, 5000 - (Date.now() - new Date(firstPull.firstTimestamp!).getTime())));
    const pulls = (await waitForEvent(ns, 'nopull', 'Pulling')).count ?? 0;
    expect(pulls).toBeGreaterThanOrEqual(2);
    expect(pulls).toBeLessThanOrEqual(4);
    expect((await core.readNamespacedPod({ name: 'nopull', namespace: ns })).status?.phase).toBe('Pending');

    // The fix is a pod with an image that exists: it runs.
    await createPod(ns, 'pulls', podSpec([shell('main', 'true')]));
    await waitForPod(ns, 'pulls', (p) => p.status?.phase === 'Succeeded', 'Succeeded');
  });
});

describe('process kubelet: memory limits', () => {
  // The shell holds 300 MB of output in a variable: far above a 64 MiB limit. Backquotes, not $(...), which the
  // kubelet would take for a variable reference.
  const hog = 'x=`head -c 300000000 /dev/zero | tr "\\0" a`; echo survived';
  const limit64Mi = { limits: { memory: '64Mi' } };

  it('a container above its memory limit is OOMKilled (137): its Job pod fails, a container under its limit is untouched', async () => {
    const ns = await newNamespace('oom');
    const spec = podSpec([
      shell('hog', hog, { resources: limit64Mi }),
      shell('small', 'x=`head -c 1000000 /dev/zero | tr "\\0" a`; echo fine', { resources: limit64Mi }),
    ]);
    await batch.createNamespacedJob({ namespace: ns, body: job('hog', spec) });

    expect(await jobOutcome(ns, 'hog')).toMatchObject({ type: 'Failed' });
    const pod = await podOfJob(ns, 'hog');
    expect(pod.status?.phase).toBe('Failed');
    const byName = new Map(pod.status?.containerStatuses?.map((s) => [s.name, s.state?.terminated]));
    expect(byName.get('hog')).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });
    expect(byName.get('small')).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(kubelet.logs(ns, pod.metadata?.name ?? '', 'hog')).not.toContain('survived');
    expect(kubelet.logs(ns, pod.metadata?.name ?? '', 'small')).toBe('fine\n');
    // Where the limit came from: a memory cgroup here (root, cgroupfs writable), sampling elsewhere.
    console.info(`process kubelet memory limits: ${kubelet.memoryEnforcement}`);
  });

  it('restartPolicy OnFailure restarts an OOM-killed container after a back-off: lastState OOMKilled, CrashLoopBackOff', async () => {
    const ns = await newNamespace('oomrestart');
    await createPod(ns, 'hog', podSpec([shell('main', hog, { resources: limit64Mi })], { restartPolicy: 'OnFailure' }));

    const pod = await waitForPod(
      ns,
      'hog',
      (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1,
      'restarted',
    );
    expect(pod.status?.containerStatuses?.[0]?.lastState?.terminated).toMatchObject({
      exitCode: 137,
      reason: 'OOMKilled',
    });
    // A crash-looping OnFailure pod is Running (kubelet getPhase counts the restarting container as stopped).
    expect(pod.status?.phase).toBe('Running');
    await waitForEvent(ns, 'hog', 'BackOff', new RegExp(`^Back-off restarting failed container main in pod hog_${ns}`));
    await core.deleteNamespacedPod({ name: 'hog', namespace: ns, gracePeriodSeconds: 0 });
  });
});

describe('process kubelet: configuration', () => {
  it('passes env from a Secret and a ConfigMap, $(VAR) references and secret volume files to the process', async () => {
    const ns = await newNamespace('env');
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'creds' }, stringData: { token: 's3cr3t' } },
    });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'settings' }, data: { region: 'eu-west-1' } },
    });
    const script = `printf '%s|%s|%s|%s' "$SECRET_TOKEN" "$REGION" "$GREETING" "$(cat "$CREDS_FILE")" > "$TERMINATION_MESSAGE_PATH"`;
    const container = shell('main', script, {
      env: [
        { name: 'SECRET_TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } },
        { name: 'REGION', valueFrom: { configMapKeyRef: { name: 'settings', key: 'region' } } },
        { name: 'GREETING', value: 'hi-$(REGION)' },
        { name: 'CREDS_FILE', value: '/etc/creds/token.txt' },
      ],
      volumeMounts: [{ name: 'creds', mountPath: '/etc/creds', readOnly: true }],
    });
    const spec = podSpec([container], {
      volumes: [{ name: 'creds', secret: { secretName: 'creds', items: [{ key: 'token', path: 'token.txt' }] } }],
    });
    await batch.createNamespacedJob({ namespace: ns, body: job('env', spec) });

    expect(await jobOutcome(ns, 'env')).toMatchObject({ type: 'Complete' });
    expect(terminated(await podOfJob(ns, 'env'))?.message).toBe('s3cr3t|eu-west-1|hi-eu-west-1|s3cr3t');
  });

  it('a missing Secret gives CreateContainerConfigError naming it, runs nothing, and starts once the Secret exists', async () => {
    const ns = await newNamespace('nosecret');
    const marker = join(workDir, `marker-${randomBytes(4).toString('hex')}`);
    const container = shell('main', `touch ${marker}`, {
      env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'absent', key: 'k' } } }],
    });
    await createPod(ns, 'needs-secret', podSpec([container]));

    const pod = await waitForPod(
      ns,
      'needs-secret',
      (p) => waitingOf(p)?.reason === 'CreateContainerConfigError',
      'CreateContainerConfigError',
    );
    expect(waitingOf(pod)?.message).toBe('secret "absent" not found');
    expect(pod.status?.phase).toBe('Pending');
    await waitForEvent(ns, 'needs-secret', 'Failed', 'Error: secret "absent" not found');
    await new Promise((r) => setTimeout(r, 1000));
    expect(existsSync(marker)).toBe(false);
    expect(kubelet.processes().filter((p) => p.namespace === ns)).toEqual([]);

    // A Secret without the key: the kubelet's other message.
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'absent' }, stringData: { other: 'v' } },
    });
    await waitForPod(
      ns,
      'needs-secret',
      (p) => waitingOf(p)?.message === `couldn't find key k in Secret ${ns}/absent`,
      'missing-key error',
    );
    // Like the real kubelet, it keeps retrying: once the key exists, the container starts.
    await core.patchNamespacedSecret(
      { name: 'absent', namespace: ns, body: { stringData: { k: 'v' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await waitForPod(ns, 'needs-secret', (p) => p.status?.phase === 'Succeeded', 'Succeeded');
    expect(existsSync(marker)).toBe(true);
  });

  it("the process's KUBECONFIG token is the pod's service account: its Role's calls succeed, others are 403", async () => {
    const ns = await newNamespace('rbac');
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'reader' } } });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'visible' }, data: { k: 'seen' } },
    });
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'read-configmaps' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-configmaps' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
      },
    });
    const script =
      `a=$(kubectl get configmap visible -o jsonpath='{.data.k}' 2>&1); b=$(kubectl get secrets 2>&1); ` +
      `printf '%s\\n%s' "$a" "$b" > "$TERMINATION_MESSAGE_PATH"`;
    const spec = podSpec([shell('main', script)], { serviceAccountName: 'reader', automountServiceAccountToken: true });
    await batch.createNamespacedJob({ namespace: ns, body: job('whoami', spec) });

    expect(await jobOutcome(ns, 'whoami')).toMatchObject({ type: 'Complete' });
    const [allowed, denied] = (terminated(await podOfJob(ns, 'whoami'))?.message ?? '').split('\n');
    expect(allowed).toBe('seen');
    expect(denied).toContain('(Forbidden)');
    expect(denied).toContain(`User "system:serviceaccount:${ns}:reader" cannot list resource "secrets"`);
  });

  it("a pod that names no service account runs as the namespace's default account", async () => {
    const ns = await newNamespace('defaultsa');
    const script = `kubectl auth whoami -o jsonpath='{.status.userInfo.username}' > "$TERMINATION_MESSAGE_PATH" 2>&1`;
    const spec: V1PodSpec = { restartPolicy: 'Never', containers: [shell('main', script)] }; // automount by default
    await batch.createNamespacedJob({ namespace: ns, body: job('whoami', spec) });
    expect(await jobOutcome(ns, 'whoami')).toMatchObject({ type: 'Complete' });
    expect(terminated(await podOfJob(ns, 'whoami'))?.message).toBe(`system:serviceaccount:${ns}:default`);
  });

  it('a pod naming a missing service account is refused by the ServiceAccount admission plugin', async () => {
    const ns = await newNamespace('nosa');
    const err = await createPod(
      ns,
      'ghostly',
      podSpec([shell('main', 'true')], { serviceAccountName: 'ghost', automountServiceAccountToken: true }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as { code?: number } | undefined)?.code).toBe(403);
    const { message } = JSON.parse(String((err as { body?: unknown }).body)) as { message: string };
    expect(message).toBe(
      `pods "ghostly" is forbidden: error looking up service account ${ns}/ghost: serviceaccount "ghost" not found`,
    );
  });

  it('admission gives a pod its kube-api-access volume (token, kube-root-ca.crt, namespace), which the kubelet mounts', async () => {
    const ns = await newNamespace('apiaccess');
    // The container path through env, which the kubelet rewrites to the volume's host directory.
    const env = [{ name: 'SA', value: '/var/run/secrets/kubernetes.io/serviceaccount' }];
    const script =
      'printf "%s|%s|%s" "`cat $SA/namespace`" "`head -n 1 $SA/ca.crt`" "`test -s $SA/token && echo token`"' +
      ' > "$TERMINATION_MESSAGE_PATH"';
    const spec = podSpec([shell('main', script, { env })], { automountServiceAccountToken: true });
    await batch.createNamespacedJob({ namespace: ns, body: job('access', spec) });
    expect(await jobOutcome(ns, 'access')).toMatchObject({ type: 'Complete' });
    const pod = await podOfJob(ns, 'access');
    expect(pod.spec?.serviceAccountName).toBe('default');
    expect(pod.spec?.volumes?.some((v) => v.name.startsWith('kube-api-access-') && v.projected)).toBe(true);
    expect(terminated(pod)?.message).toBe(`${ns}|-----BEGIN CERTIFICATE-----|token`);
  });
});

describe('process kubelet: securityContext', () => {
  it('runs containers as runAsUser/runAsGroup with fsGroup: real non-root writes, the image tools still reachable', async () => {
    const ns = await newNamespace('nonroot');
    await createClaim(ns, 'cache');
    // Backquotes, not $(...), which the kubelet would take for variable references.
    const script = [
      // Paths through env, which the kubelet rewrites to the volumes' host directories.
      'touch "$SCRATCH/e" "$CACHE/p"',
      'if touch "$CREDS/x" 2>/dev/null; then echo secret-writable; fi',
      // kubectl lives in the tools venv under a 0700 home: reachable as in an image; the token is readable.
      'who=`kubectl auth whoami -o jsonpath={.status.userInfo.username}`',
      'printf "%s|%s|%s|%s|%s|%s" `id -u` `id -g` "`id -G`" "`stat -c %u:%g $SCRATCH/e`" "`stat -c %u:%g $CACHE/p`" "$who" > "$TERMINATION_MESSAGE_PATH"',
    ].join('; ');
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'creds' }, stringData: { k: 'v' } } });
    const spec = podSpec(
      [
        shell('main', script, {
          env: [
            { name: 'SCRATCH', value: '/scratch' },
            { name: 'CACHE', value: '/cache' },
            { name: 'CREDS', value: '/etc/creds' },
          ],
          volumeMounts: [
            { name: 'scratch', mountPath: '/scratch' },
            { name: 'cache', mountPath: '/cache' },
            { name: 'creds', mountPath: '/etc/creds', readOnly: true },
          ],
        }),
      ],
      {
        automountServiceAccountToken: true,
        securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000 },
        volumes: [
          { name: 'scratch', emptyDir: {} },
          { name: 'cache', persistentVolumeClaim: { claimName: 'cache' } },
          { name: 'creds', secret: { secretName: 'creds' } },
        ],
      },
    );
    await batch.createNamespacedJob({ namespace: ns, body: job('as-1000', spec) });

    expect(await jobOutcome(ns, 'as-1000')).toMatchObject({ type: 'Complete' });
    const pod = await podOfJob(ns, 'as-1000');
    // uid, gid, groups (runAsGroup + fsGroup), an emptyDir file (setgid fsGroup directory), a local-path PV file
    // (hostPath: no fsGroup), and the pod's service account.
    expect(terminated(pod)?.message).toBe(
      `1000|3000|3000 2000|1000:2000|1000:3000|system:serviceaccount:${ns}:default`,
    );
    expect(kubelet.logs(ns, pod.metadata?.name ?? '')).not.toContain('secret-writable');
    const onHost = statSync(join(await kubelet.volumePath(ns, 'cache'), 'p'));
    expect([onHost.uid, onHost.gid]).toEqual([1000, 3000]);
  });

  it('runAsNonRoot with an image that runs as root is CreateContainerConfigError, as the kubelet verifies it', async () => {
    const ns = await newNamespace('runasroot');
    const nonRoot = (name: string, runAsUser?: number) =>
      createPod(
        ns,
        name,
        podSpec([shell('main', 'true')], {
          securityContext: { runAsNonRoot: true, ...(runAsUser !== undefined ? { runAsUser } : {}) },
        }),
      );
    const imageRoot = await nonRoot('image-root');
    const explicitRoot = await nonRoot('uid-0', 0);

    const pod = await waitForPod(
      ns,
      'image-root',
      (p) => waitingOf(p)?.reason === 'CreateContainerConfigError',
      'CreateContainerConfigError',
    );
    const message = `container has runAsNonRoot and image will run as root (pod: "image-root_${ns}(${imageRoot.metadata?.uid})", container: main)`;
    expect(waitingOf(pod)?.message).toBe(message);
    expect(pod.status?.phase).toBe('Pending');
    await waitForEvent(ns, 'image-root', 'Failed', `Error: ${message}`);
    const uid0 = await waitForPod(
      ns,
      'uid-0',
      (p) => waitingOf(p)?.reason === 'CreateContainerConfigError',
      'CreateContainerConfigError',
    );
    expect(waitingOf(uid0)?.message).toBe(
      `container's runAsUser breaks non-root policy (pod: "uid-0_${ns}(${explicitRoot.metadata?.uid})", container: main)`,
    );
    expect(kubelet.processes().filter((p) => p.namespace === ns)).toEqual([]);
  });
});

describe('process kubelet: volumes', () => {
  it('binds a WaitForFirstConsumer PVC on first use; files written by one Job are seen by the next and on the host', async () => {
    const ns = await newNamespace('pvc');
    await createClaim(ns, 'cache');
    // No consumer yet: a WaitForFirstConsumer claim stays Pending, as on a real cluster.
    await waitForEvent(ns, 'cache', 'WaitForFirstConsumer');
    expect((await core.readNamespacedPersistentVolumeClaim({ name: 'cache', namespace: ns })).status?.phase).toBe(
      'Pending',
    );

    const withCache = (script: string): V1PodSpec =>
      podSpec(
        [
          shell('main', script, {
            env: [{ name: 'MOUNT_PATH', value: '/cache' }],
            volumeMounts: [{ name: 'cache', mountPath: '/cache' }],
          }),
        ],
        { volumes: [{ name: 'cache', persistentVolumeClaim: { claimName: 'cache' } }] },
      );
    await batch.createNamespacedJob({
      namespace: ns,
      body: job('writer', withCache('mkdir -p "$MOUNT_PATH/model" && echo weights > "$MOUNT_PATH/model/w.bin"')),
    });
    expect(await jobOutcome(ns, 'writer')).toMatchObject({ type: 'Complete' });

    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: 'cache', namespace: ns });
    expect(pvc.status?.phase).toBe('Bound');
    expect(pvc.metadata?.annotations?.['volume.kubernetes.io/selected-node']).toBe(kubelet.nodeName);
    const pv = await core.readPersistentVolume({ name: pvc.spec?.volumeName ?? '' });
    expect(pv.spec?.capacity?.storage).toBe('1Gi');
    expect(pv.spec?.claimRef).toMatchObject({ namespace: ns, name: 'cache', uid: pvc.metadata?.uid });
    const hostDir = await kubelet.volumePath(ns, 'cache');
    expect(hostDir).toBe(join(workDir, 'volumes', pvc.metadata?.uid ?? ''));
    expect(readFileSync(join(hostDir, 'model', 'w.bin'), 'utf8')).toBe('weights\n');

    await batch.createNamespacedJob({
      namespace: ns,
      body: job('reader', withCache('cat "$MOUNT_PATH/model/w.bin" > "$TERMINATION_MESSAGE_PATH"')),
    });
    expect(await jobOutcome(ns, 'reader')).toMatchObject({ type: 'Complete' });
    expect(terminated(await podOfJob(ns, 'reader'))?.message).toBe('weights\n');

    // Reclaim policy Delete: deleting the claim deletes the PV and its directory. The claim is protected
    // (kubernetes.io/pvc-protection) while pods that use it exist, even finished ones, so the Jobs go first.
    await core.deleteNamespacedPersistentVolumeClaim({ name: 'cache', namespace: ns });
    const terminating = await core.readNamespacedPersistentVolumeClaim({ name: 'cache', namespace: ns });
    expect(terminating.metadata?.deletionTimestamp).toBeDefined();
    for (const name of ['writer', 'reader']) {
      await batch.deleteNamespacedJob({ name, namespace: ns, propagationPolicy: 'Background' });
    }
    await vi.waitFor(async () => {
      const pvs = await core.listPersistentVolume();
      if (pvs.items.some((x) => x.metadata?.name === pv.metadata?.name)) throw new Error('PV still there');
    }, WAIT);
    expect(existsSync(hostDir)).toBe(false);
  });
});

describe('process kubelet: scheduling', () => {
  it('leaves a pod whose node affinity does not match Pending and unbound, and binds it once the node matches', async () => {
    const ns = await newNamespace('affinity');
    const gpuSpec = (count: number): V1PodSpec =>
      podSpec([shell('main', 'true', { resources: { limits: { 'amd.com/gpu': String(count) } } })], {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'amd.com/gpu.product-name', operator: 'In', values: ['MI300X'] }] },
              ],
            },
          },
        },
      });
    await createPod(ns, 'wants-mi300x', gpuSpec(1));

    const pending = await waitForPod(
      ns,
      'wants-mi300x',
      (p) => p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable') ?? false,
      'Unschedulable',
    );
    expect(pending.spec?.nodeName).toBeUndefined();
    expect(pending.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message).toBe(
      failedSchedulingMessage(["1 node(s) didn't match Pod's node affinity/selector"]),
    );
    await waitForEvent(ns, 'wants-mi300x', 'FailedScheduling', /didn't match Pod's node affinity\/selector/);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await core.readNamespacedPod({ name: 'wants-mi300x', namespace: ns })).spec?.nodeName).toBeUndefined();

    try {
      await kubelet.setGpu({ vendor: 'amd', product: 'MI300X', vramMiB: 192 * 1024, count: 8 });
      const node = await core.readNode({ name: kubelet.nodeName });
      expect(node.metadata?.labels).toMatchObject({ 'amd.com/gpu.product-name': 'MI300X', 'amd.com/gpu.vram': '192G' });
      expect(node.status?.allocatable?.['amd.com/gpu']).toBe('8');

      const ran = await waitForPod(ns, 'wants-mi300x', (p) => p.status?.phase === 'Succeeded', 'Succeeded');
      expect(ran.spec?.nodeName).toBe(kubelet.nodeName);

      // More GPUs than the node has: Pending with the scheduler's resource message.
      await createPod(ns, 'wants-16', gpuSpec(16));
      await waitForEvent(ns, 'wants-16', 'FailedScheduling', failedSchedulingMessage(['1 Insufficient amd.com/gpu']));
    } finally {
      await kubelet.setGpu(undefined);
    }
    const node = await core.readNode({ name: kubelet.nodeName });
    expect(node.metadata?.labels?.['amd.com/gpu.product-name']).toBeUndefined();
    expect(node.status?.allocatable?.['amd.com/gpu']).toBeUndefined();
  });

  it('does not bind while paused', async () => {
    const ns = await newNamespace('paused');
    kubelet.pause();
    try {
      await createPod(ns, 'waits', podSpec([shell('main', 'true')]));
      await new Promise((r) => setTimeout(r, 1500));
      expect((await core.readNamespacedPod({ name: 'waits', namespace: ns })).spec?.nodeName).toBeUndefined();
    } finally {
      kubelet.resume();
    }
    await waitForPod(ns, 'waits', (p) => p.status?.phase === 'Succeeded', 'Succeeded');
  });
});

describe('process kubelet: deletion', () => {
  it('deleting a Job (Background) kills its running process group and the pod disappears', async () => {
    const ns = await newNamespace('delete');
    // `sleep` is a child of the shell: only a process-group kill stops both.
    await batch.createNamespacedJob({
      namespace: ns,
      body: job('sleeper', podSpec([shell('main', 'sleep 300; echo never')])),
    });
    const proc = await vi.waitFor(() => {
      const p = kubelet.processes().find((x) => x.namespace === ns);
      if (!p) throw new Error('not running yet');
      return p;
    }, WAIT);
    const pod = await waitForPod(ns, proc.pod, (p) => p.status?.phase === 'Running', 'Running');
    expect(pod.status?.containerStatuses?.[0]?.state?.running).toBeDefined();
    expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(liveGroupMembers(proc.pid)).toHaveLength(2); // the shell and its sleep

    await batch.deleteNamespacedJob({ name: 'sleeper', namespace: ns, propagationPolicy: 'Background' });
    await vi.waitFor(async () => {
      const pods = await core.listNamespacedPod({ namespace: ns });
      if (pods.items.length > 0) throw new Error(`pods left: ${pods.items.map((p) => p.metadata?.name).join(', ')}`);
    }, WAIT);
    expect(liveGroupMembers(proc.pid)).toEqual([]);
    expect(kubelet.processes().filter((p) => p.namespace === ns)).toEqual([]);
    await waitForEvent(ns, proc.pod, 'Killing', 'Stopping container main');
  });
});

describe('process kubelet: the downloader image', () => {
  it('runs the real downloader entry point: a probe of an unreachable S3 endpoint fails with EndpointUnreachable', async () => {
    // The product's Job pod, in a namespace enforcing restricted as the orchestrator's are; the ServiceAccount it names
    // must exist (the admission plugin refuses the pod otherwise), as the worker's ensureCacheRbac makes sure.
    const ns = `${prefix}-downloader`;
    await createTestNamespace(core, ns);
    namespaces.push(ns);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'aim-downloader' } } });
    // The Job's owner must exist, or the garbage collector deletes the Job.
    const owner = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owner' } } });
    const body = buildDownloaderJob({
      mode: 'probe',
      name: 'probe-unreachable',
      namespace: ns,
      owner: { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid ?? '' },
      image: TEST_DOWNLOADER_IMAGE,
      serviceAccountName: 'aim-downloader',
      sources: [
        {
          modelId: 'org/model',
          sourceUri: 's3://no-such-bucket/x',
          env: [{ name: 'AWS_ENDPOINT_URL', value: 'http://127.0.0.1:1' }],
        },
      ],
    });
    await batch.createNamespacedJob({ namespace: ns, body });

    expect(await jobOutcome(ns, 'probe-unreachable')).toMatchObject({ type: 'Failed' });
    const pod = await podOfJob(ns, 'probe-unreachable');
    const t = terminated(pod);
    expect(t).toMatchObject({ exitCode: 1, reason: 'Error' });
    const message = JSON.parse(t?.message ?? '{}') as { reason?: string; attempt?: number; downloadedBytes?: number };
    expect(message).toMatchObject({ reason: 'EndpointUnreachable', attempt: 1, downloadedBytes: 0 });
    expect(kubelet.logs(ns, pod.metadata?.name ?? '')).toContain('"event":"failed"');
    // As the Job's restricted securityContext says (uid/gid 1000, fsGroup 1000) and within its 512Mi limit.
    expect(readFileSync(kubelet.logFile, 'utf8')).toMatch(
      new RegExp(
        `${ns}/${pod.metadata?.name}/probe: started pid \\d+ as 1000:1000 \\(groups 1000\\), memory limit 536870912 `,
      ),
    );
  });
});

describe('process kubelet: node-pressure eviction', () => {
  it('under memory pressure the kubelet evicts the pod above its requests first: Failed/Evicted with its message, DisruptionTarget, Event', async () => {
    // A node of its own, so that no other test's pod is a candidate.
    const ns = `evict-${randomBytes(3).toString('hex')}`;
    await createTestNamespace(core, ns, { podSecurity: false });
    namespaces.push(ns);
    const node = await startProcessKubelet({
      kubeconfigPath: inject('kubeconfigPath'),
      workDir: join(workDir, 'evict'),
      nodeName: `${prefix}-evict`,
      images: shellImageMapping(),
      namespaces: [ns],
      // The kubelet's 10 s, compressed: the first eviction comes at once, the next one 3 s later.
      evictionMonitoringPeriodMs: 3000,
    });
    try {
      const sleeper = (resources?: V1Container['resources']): V1PodSpec =>
        podSpec([shell('main', 'sleep 300', resources ? { resources } : {})], {
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: 1,
        });
      await createPod(ns, 'guaranteed', sleeper({ requests: { memory: '64Mi' }, limits: { memory: '64Mi' } }));
      await createPod(ns, 'besteffort', sleeper());
      for (const name of ['guaranteed', 'besteffort'])
        await waitForPod(ns, name, (p) => p.status?.phase === 'Running', 'Running');

      await node.setNodePressure('memory', { available: '51200Ki' });
      const pressured = await core.readNode({ name: node.nodeName });
      expect(pressured.status?.conditions?.find((c) => c.type === 'MemoryPressure')).toMatchObject({
        status: 'True',
        reason: 'KubeletHasInsufficientMemory',
        message: 'kubelet has insufficient memory available',
      });
      const evicted = await waitForPod(ns, 'besteffort', (p) => p.status?.reason === 'Evicted', 'Evicted');
      await node.setNodePressure('memory', undefined);

      const message = evicted.status?.message ?? '';
      expect(message).toMatch(
        /^The node was low on resource: memory\. Threshold quantity: 100Mi, available: 51200Ki\. Container main was using \d+Ki, request is 0, has larger consumption of memory\. $/,
      );
      const final = await waitForPod(ns, 'besteffort', (p) => terminated(p) !== undefined, 'terminated');
      expect(final.status?.phase).toBe('Failed');
      expect(terminated(final)).toMatchObject({ exitCode: 137 });
      expect(final.status?.conditions?.find((c) => c.type === 'DisruptionTarget')).toMatchObject({
        status: 'True',
        reason: 'TerminationByKubelet',
        message,
      });
      await waitForEvent(ns, 'besteffort', 'Evicted', message);
      // The pod within its requests was ranked after it and survived the pressure; the condition is back to False.
      expect((await core.readNamespacedPod({ name: 'guaranteed', namespace: ns })).status?.phase).toBe('Running');
      const relieved = await core.readNode({ name: node.nodeName });
      expect(relieved.status?.conditions?.find((c) => c.type === 'MemoryPressure')?.status).toBe('False');
    } finally {
      await node.stop();
    }
  });
});

// Last: these restart the shared API server and replace the kubelet instance.
describe('process kubelet: faults', () => {
  it('keeps running pods through an API-server restart and finishes their Job afterwards', async () => {
    const ns = await newNamespace('apirestart');
    const script = 'sleep 3; printf survived > "$TERMINATION_MESSAGE_PATH"';
    await batch.createNamespacedJob({ namespace: ns, body: job('survivor', podSpec([shell('main', script)])) });
    await vi.waitFor(() => {
      if (!kubelet.processes().some((p) => p.namespace === ns)) throw new Error('not running yet');
    }, WAIT);
    await stackControl(inject('stackControlUrl')).restartApiServer({ kill: true });

    expect(await jobOutcome(ns, 'survivor')).toMatchObject({ type: 'Complete' });
    expect(terminated(await podOfJob(ns, 'survivor'))?.message).toBe('survived');
  });

  it('a new kubelet instance on the same node reports the containers a crashed one lost (ContainerStatusUnknown)', async () => {
    const ns = await newNamespace('crash');
    await batch.createNamespacedJob({ namespace: ns, body: job('orphaned', podSpec([shell('main', 'sleep 300')])) });
    const proc = await vi.waitFor(() => {
      const p = kubelet.processes().find((x) => x.namespace === ns);
      if (!p) throw new Error('not running yet');
      return p;
    }, WAIT);
    await waitForPod(ns, proc.pod, (p) => p.status?.phase === 'Running', 'Running');

    await kubelet.stop({ deleteNode: false }); // the processes die with it, the pod still says Running
    // SIGKILL is delivered at once but a loaded machine may take a moment to tear the group down.
    await vi.waitFor(() => expect(liveGroupMembers(proc.pid)).toEqual([]), { timeout: 10_000, interval: 100 });
    kubelet = await startProcessKubelet({
      kubeconfigPath: inject('kubeconfigPath'),
      workDir,
      images: shellImageMapping(),
      namespaces: (n) => n.startsWith(`${prefix}-`),
    });

    expect(await jobOutcome(ns, 'orphaned')).toMatchObject({ type: 'Failed' });
    const pod = await podOfJob(ns, 'orphaned');
    expect(pod.status?.phase).toBe('Failed');
    expect(terminated(pod)).toMatchObject({ exitCode: 137, reason: 'ContainerStatusUnknown' });
  });
});

describe('process kubelet: pure predicates', () => {
  it('matches node affinity, taints and resources like the scheduler', () => {
    const node = {
      name: 'n',
      labels: { 'amd.com/gpu.product-name': 'MI300X' },
      taints: [],
      allocatable: { cpu: '2', pods: '10', 'amd.com/gpu': '1' },
    };
    const pod = (expr: { key: string; operator: string; values?: string[] }): V1Pod => ({
      spec: {
        containers: [],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [expr] }] },
          },
        },
      },
    });
    expect(
      nodeAffinityMatches(pod({ key: 'amd.com/gpu.product-name', operator: 'In', values: ['MI300X'] }), node),
    ).toBe(true);
    expect(
      nodeAffinityMatches(pod({ key: 'amd.com/gpu.product-name', operator: 'NotIn', values: ['MI300X'] }), node),
    ).toBe(false);
    expect(nodeAffinityMatches(pod({ key: 'nvidia.com/gpu.product', operator: 'Exists' }), node)).toBe(false);
    const taint = { key: 'gpu', value: 'true', effect: 'NoSchedule' };
    expect(untoleratedTaint({ spec: { containers: [] } }, [taint])).toEqual(taint);
    expect(
      untoleratedTaint({ spec: { containers: [], tolerations: [{ key: 'gpu', operator: 'Exists' }] } }, [taint]),
    ).toBeUndefined();
    const needs = (cpu: string, gpu: string): V1Pod => ({
      spec: { containers: [{ name: 'c', resources: { requests: { cpu, 'amd.com/gpu': gpu } } }] },
    });
    expect(insufficientResources(needs('1500m', '1'), node, [needs('500m', '0')])).toEqual([]);
    expect(insufficientResources(needs('1600m', '2'), node, [needs('500m', '0')])).toEqual(['cpu', 'amd.com/gpu']);
  });

  it('expands $(VAR) like the kubelet', () => {
    const env: Record<string, string> = { A: 'x' };
    const lookup = (n: string) => env[n];
    expect(expandVars('$(A)-$(B)-$$(A)-$A-$(', lookup)).toBe('x-$(B)-$(A)-$A-$(');
  });
});
