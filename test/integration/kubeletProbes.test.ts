// The process kubelet's pod IPs and probes against the real control plane: each pod listens on its own loopback
// address, and startup/readiness/liveness probes drive containerStatuses[].started/ready, the pod's Ready and
// ContainersReady conditions and restarts, as the kubelet's prober does. Each test uses its own namespace.
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, type CoreV1Event, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { loadKubeConfig } from '../harness/kube.js';
import { shellImageMapping, startProcessKubelet, TEST_SHELL_IMAGE, type ProcessKubelet } from '../harness/kubelet.js';

const prefix = `probes-${randomBytes(3).toString('hex')}`;
const WAIT = { timeout: 60_000, interval: 200 };
let core: CoreV1Api;
let kubelet: ProcessKubelet;
let workDir: string;
const namespaces: string[] = [];

beforeAll(async () => {
  core = loadKubeConfig(inject('kubeconfigPath')).makeApiClient(CoreV1Api);
  workDir = join(inject('stackWorkDir'), prefix);
  await mkdir(workDir, { recursive: true });
  kubelet = await startProcessKubelet({
    kubeconfigPath: inject('kubeconfigPath'),
    workDir,
    images: shellImageMapping(),
    namespaces: (ns) => ns.startsWith(`${prefix}-`),
    backoffBaseMs: 1000,
  });
});

afterAll(async () => {
  await Promise.all(namespaces.map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
  await kubelet?.stop();
});

async function newNamespace(suffix: string): Promise<string> {
  const ns = `${prefix}-${suffix}`;
  await core.createNamespace({ body: { metadata: { name: ns } } });
  namespaces.push(ns);
  return ns;
}

/** A long-running pod of the shell image (restartPolicy Always, as a Deployment's). */
async function runPod(ns: string, name: string, script: string, extra: Partial<V1Container> = {}): Promise<void> {
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name },
      spec: {
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: TEST_SHELL_IMAGE,
            args: [script],
            env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
            ...extra,
          },
        ],
      },
    },
  });
}

async function waitForPod(ns: string, name: string, check: (p: V1Pod) => boolean, what: string): Promise<V1Pod> {
  return vi.waitFor(async () => {
    const p = await core.readNamespacedPod({ name, namespace: ns });
    if (!check(p)) throw new Error(`pod ${ns}/${name}: not ${what} yet: ${JSON.stringify(p.status)}`);
    return p;
  }, WAIT);
}

const podCondition = (p: V1Pod, type: string) => p.status?.conditions?.find((c) => c.type === type);
const isReady = (p: V1Pod) => podCondition(p, 'Ready')?.status === 'True';
const main = (p: V1Pod) => p.status?.containerStatuses?.[0];

async function waitForEvent(ns: string, pod: string, reason: string, message: RegExp): Promise<CoreV1Event> {
  return vi.waitFor(async () => {
    const list = await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${pod}` });
    const e = list.items.find((x) => x.reason === reason && message.test(x.message ?? ''));
    if (!e) throw new Error(`no ${reason} event for ${pod}: ${list.items.map((x) => x.message).join('; ')}`);
    return e;
  }, WAIT);
}

/** Serves HTTP 200 on $POD_IP:8000 (the pod's own address, from the status.podIP field reference). */
const HTTP_SERVER = `exec node -e "require('http').createServer((q, s) => s.end(process.env.HOSTNAME)).listen(8000, process.env.POD_IP)"`;

describe('process kubelet: pod IPs', () => {
  it('gives each pod its own address: two servers on port 8000, each Ready through an httpGet probe of its own IP', async () => {
    const ns = await newNamespace('ips');
    const probe = { readinessProbe: { httpGet: { path: '/', port: 8000 }, periodSeconds: 1 } };
    await Promise.all([runPod(ns, 'one', HTTP_SERVER, probe), runPod(ns, 'two', HTTP_SERVER, probe)]);
    const [one, two] = await Promise.all(['one', 'two'].map((n) => waitForPod(ns, n, isReady, 'Ready')));
    const ips = [one!.status?.podIP, two!.status?.podIP];
    expect(ips[0]).not.toBe(ips[1]);
    for (const ip of ips) expect(ip).toMatch(/^127\.\d+\.\d+\.\d+$/);
    expect(one!.status?.podIPs).toEqual([{ ip: ips[0] }]);
    expect(await (await fetch(`http://${ips[0]}:8000/`)).text()).toBe('one');
    expect(await (await fetch(`http://${ips[1]}:8000/`)).text()).toBe('two');
    expect(main(one!)).toMatchObject({ ready: true, started: true, restartCount: 0 });
    expect(podCondition(one!, 'ContainersReady')?.status).toBe('True');
  });
});

describe('process kubelet: probes', () => {
  it('readiness follows its probe: not ready until it passes, NotReady again after failureThreshold failures, no restart', async () => {
    const ns = await newNamespace('ready');
    const flag = join(workDir, `${ns}-ready`);
    await runPod(ns, 'app', 'exec sleep 600', {
      readinessProbe: { exec: { command: ['test', '-f', flag] }, periodSeconds: 1, failureThreshold: 2 },
    });
    const unready = await waitForPod(ns, 'app', (p) => main(p)?.state?.running !== undefined, 'running');
    expect(main(unready)).toMatchObject({ ready: false, started: true });
    expect(podCondition(unready, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [main]',
    });
    expect(podCondition(unready, 'ContainersReady')?.status).toBe('False');
    await waitForEvent(ns, 'app', 'Unhealthy', /^Readiness probe failed: /);

    writeFileSync(flag, '');
    const ready = await waitForPod(ns, 'app', isReady, 'Ready');
    expect(main(ready)).toMatchObject({ ready: true, restartCount: 0 });

    rmSync(flag);
    const again = await waitForPod(ns, 'app', (p) => podCondition(p, 'Ready')?.status === 'False', 'NotReady');
    expect(main(again)).toMatchObject({ ready: false, started: true, restartCount: 0 });
    expect(main(again)?.state?.running).toBeDefined();
  });

  it('a startup probe holds the container not started (and not ready) until it succeeds', async () => {
    const ns = await newNamespace('startup');
    const flag = join(workDir, `${ns}-started`);
    await runPod(ns, 'app', 'exec sleep 600', {
      startupProbe: { exec: { command: ['test', '-f', flag] }, periodSeconds: 1, failureThreshold: 120 },
    });
    const starting = await waitForPod(ns, 'app', (p) => main(p)?.state?.running !== undefined, 'running');
    expect(main(starting)).toMatchObject({ ready: false, started: false });
    await waitForEvent(ns, 'app', 'Unhealthy', /^Startup probe failed: /);

    writeFileSync(flag, '');
    // No readiness probe: ready as soon as it has started.
    const started = await waitForPod(ns, 'app', isReady, 'Ready');
    expect(main(started)).toMatchObject({ ready: true, started: true, restartCount: 0 });
  });

  it('a failing liveness probe kills the container, which restarts under the restart policy', async () => {
    const ns = await newNamespace('liveness');
    await runPod(ns, 'app', 'exec sleep 600', {
      livenessProbe: { exec: { command: ['false'] }, periodSeconds: 1, failureThreshold: 2 },
    });
    const restarted = await waitForPod(ns, 'app', (p) => (main(p)?.restartCount ?? 0) >= 1, 'restarted');
    // sleep dies of the SIGTERM: 128 + 15.
    expect(main(restarted)?.lastState?.terminated).toMatchObject({ exitCode: 143, reason: 'Error' });
    await waitForEvent(ns, 'app', 'Killing', /^Container main failed liveness probe, will be restarted$/);
    await waitForEvent(ns, 'app', 'Unhealthy', /^Liveness probe failed: /);
  });
});
