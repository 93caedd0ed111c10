/* eslint-disable @typescript-eslint/no-explicit-any -- status shapes are asserted field by field */
// Secured Temporal connections, for real: the stack's dev server behind a TLS endpoint (test/harness/temporalTlsProxy.ts)
// in three modes — TLS, mTLS, API key. The real programs (`aim-orchestrator worker` and `bridge`, configured only by
// the TEMPORAL_* variables as in a Deployment) run a scenario through each mode, and every wrong setting ends the
// program at start with exit 78 and a message naming the variable. Preflight and `aimctl doctor` run against the same
// stack.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CustomObjects } from '../../activities/kube/customObjects.js';
import { RESOURCES } from '../../activities/kube/resources.js';
import { run, type CliIO } from '../../client/aimctl.js';
import { temporalSettingsFromEnv } from '../../client/temporalConnection.js';
import { EXIT_PREFLIGHT, servedResources } from '../../worker/preflight.js';
import { TEST_DOWNLOADER_IMAGE } from '../harness/kubelet.js';
import { loadKubeConfig } from '../harness/kube.js';
import { createTestCa, issueCertificate } from '../harness/pki.js';
import { freePort, ManagedProcess, waitFor } from '../harness/processes.js';
import { REPO_ROOT } from '../harness/stack.js';
import { startTemporalTlsProxy, type TemporalTlsProxy } from '../harness/temporalTlsProxy.js';
import { waitForObject } from '../harness/orchestrator.js';

const API_KEY = 'aim-test-api-key-7f3c9e';
const work = mkdtempSync(join(tmpdir(), 'aim-tls-it-'));
const kubeconfigPath = inject('kubeconfigPath');
const kc = loadKubeConfig(kubeconfigPath);
const objects = new CustomObjects(kc);
const core = kc.makeApiClient(CoreV1Api);
const run36 = Math.random().toString(36).slice(2, 6);
const timings: Record<string, number> = {};

let pki: {
  ca: string;
  otherCa: string;
  clientCert: string;
  clientKey: string;
};
const proxies: Record<'tls' | 'mtls' | 'apiKey', TemporalTlsProxy> = {} as never;
const processes: ManagedProcess[] = [];
const namespaces: string[] = [];
/** What the scenario started, one entry per mode (the doctor test reuses the API-key one). */
const scenario: Array<{ mode: Mode; namespace: string; healthPort: number }> = [];

type Mode = keyof typeof proxies;
/** The settings a Deployment would give for each mode (files mounted from Secrets, the key from a Secret). */
const envFor = (mode: Mode): Record<string, string> => ({
  TEMPORAL_ADDRESS: proxies[mode].address,
  TEMPORAL_NAMESPACE: inject('temporalNamespace'),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca,
  ...(mode === 'mtls'
    ? { TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey }
    : {}),
  ...(mode === 'apiKey' ? { TEMPORAL_API_KEY: API_KEY } : {}),
});

/** `aim-orchestrator worker|bridge` as its own process (one `node`, so that a stop reaches the program itself). */
function program(command: 'worker' | 'bridge', name: string, env: Record<string, string>): ManagedProcess {
  const p = ManagedProcess.start({
    name: `${command}-${name}`,
    command: process.execPath,
    args: ['--import', 'tsx', join(REPO_ROOT, 'worker', 'cli.ts'), command],
    cwd: REPO_ROOT,
    logFile: join(inject('stackLogDir'), `tls-${command}-${name}.log`),
    env: {
      KUBECONFIG: kubeconfigPath,
      AIM_DOWNLOADER_IMAGE: TEST_DOWNLOADER_IMAGE,
      AIM_METRICS_ADDRESS: 'off',
      AIM_SHARED_CACHE_TTL: '0',
      // Nothing of the test runner's own Temporal settings may leak in: each case sets its own.
      TEMPORAL_ADDRESS: undefined,
      TEMPORAL_API_KEY: undefined,
      TEMPORAL_CONFIG_FILE: undefined,
      TEMPORAL_PROFILE: undefined,
      XDG_CONFIG_HOME: undefined,
      HOME: work, // no ~/.config/temporalio/temporal.toml of the machine's user
      ...env,
    },
  });
  processes.push(p);
  return p;
}

const logOf = (p: ManagedProcess) => readFileSync(p.logFile, 'utf8');

/** Starts a program that must refuse to start; returns its exit code and output. */
async function refusedStart(command: 'worker' | 'bridge', name: string, env: Record<string, string>) {
  const p = program(command, name, env);
  const exit = await p.waitForExit(60_000);
  return { code: exit.code, log: logOf(p) };
}

beforeAll(async () => {
  const t0 = Date.now();
  const dir = join(work, 'pki');
  const [ca, otherCa, clientCa] = await Promise.all([
    createTestCa(dir, 'temporal-ca'),
    createTestCa(dir, 'other-ca'),
    createTestCa(dir, 'client-ca'),
  ]);
  const [server, client] = await Promise.all([
    issueCertificate(ca, 'frontend', 'server'),
    issueCertificate(clientCa, 'aim-worker', 'client'),
  ]);
  pki = { ca: ca.cert, otherCa: otherCa.cert, clientCert: client.cert, clientKey: client.key };
  const upstream = inject('temporalAddress');
  [proxies.tls, proxies.mtls, proxies.apiKey] = await Promise.all([
    startTemporalTlsProxy({ upstream, ...server, mode: { kind: 'tls' } }),
    startTemporalTlsProxy({ upstream, ...server, mode: { kind: 'mtls', clientCaCert: clientCa.cert } }),
    startTemporalTlsProxy({ upstream, ...server, mode: { kind: 'apiKey', apiKey: API_KEY } }),
  ]);
  timings.setup = Date.now() - t0;
});

afterAll(async () => {
  await Promise.allSettled(processes.map((p) => p.stop(10_000)));
  await Promise.allSettled(Object.values(proxies).map((p) => p.close()));
  await Promise.allSettled(namespaces.map((name) => core.deleteNamespace({ name })));
  rmSync(work, { recursive: true, force: true });
  console.info(`[temporalTls.test] timings (ms): ${JSON.stringify(timings)}`);
});

describe('the TLS endpoint refuses what it must (both SDK connections)', () => {
  const refused = async (env: Record<string, string>) => {
    const s = temporalSettingsFromEnv({ HOME: work, ...env });
    const client = await Connection.connect({ ...s.connection, connectTimeout: '2 seconds' }).then(
      async (c) => {
        // grpc-js connects lazily for some failures: a call must fail then.
        await c.workflowService.getSystemInfo({}).finally(() => c.close());
        return 'connected';
      },
      () => 'refused',
    );
    const native = await NativeConnection.connect(s.connection).then(
      async (c) => {
        await c.workflowService.getSystemInfo({}).finally(() => c.close());
        return 'connected';
      },
      () => 'refused',
    );
    return { client, native };
  };

  it('accepts the right settings in each mode', async () => {
    for (const mode of ['tls', 'mtls', 'apiKey'] as const)
      expect(await refused(envFor(mode)), mode).toEqual({ client: 'connected', native: 'connected' });
  });

  it('refuses plaintext, a wrong CA, mTLS without a client certificate and a missing or wrong API key', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['plaintext', { TEMPORAL_ADDRESS: proxies.tls.address }],
      ['wrong CA', { ...envFor('tls'), TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.otherCa }],
      ['no client certificate', { TEMPORAL_ADDRESS: proxies.mtls.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca }],
      ['no API key', { TEMPORAL_ADDRESS: proxies.apiKey.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca }],
      ['wrong API key', { ...envFor('apiKey'), TEMPORAL_API_KEY: 'not-the-key-000' }],
    ];
    const refusedBefore = proxies.apiKey.refusedStreams;
    const outcomes = await Promise.all(cases.map(([, env]) => refused(env)));
    cases.forEach(([what], i) => expect(outcomes[i], what).toEqual({ client: 'refused', native: 'refused' }));
    expect(proxies.apiKey.refusedStreams).toBeGreaterThan(refusedBefore);
    expect(proxies.tls.failedHandshakes + proxies.mtls.failedHandshakes).toBeGreaterThan(0);
  });
});

describe('wrong settings end the worker and the bridge at start, naming the setting', () => {
  it('exits 78 with the variable to fix, never the key', async () => {
    const t0 = Date.now();
    const cases: Array<['worker' | 'bridge', string, Record<string, string>, RegExp]> = [
      ['worker', 'plaintext', { TEMPORAL_ADDRESS: proxies.tls.address }, /TEMPORAL_TLS=true/],
      [
        'bridge',
        'wrong-ca',
        { ...envFor('tls'), TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.otherCa },
        /not trusted: check TEMPORAL_TLS_SERVER_CA_CERT_PATH/,
      ],
      [
        'worker',
        'no-client-cert',
        { TEMPORAL_ADDRESS: proxies.mtls.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca },
        /wants a client certificate: set TEMPORAL_TLS_CLIENT_CERT_PATH/,
      ],
      [
        'bridge',
        'no-api-key',
        { TEMPORAL_ADDRESS: proxies.apiKey.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca },
        /wants credentials: set TEMPORAL_API_KEY/,
      ],
      [
        'worker',
        'wrong-api-key',
        { ...envFor('apiKey'), TEMPORAL_API_KEY: 'wrong-key-5a1b2c3d' },
        /refused the API key of TEMPORAL_API_KEY/,
      ],
      [
        'worker',
        'unreadable-cert',
        { ...envFor('mtls'), TEMPORAL_TLS_CLIENT_CERT_PATH: join(work, 'missing.crt') },
        /TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read .*missing\.crt \(ENOENT\)/,
      ],
    ];
    const results = await Promise.all(cases.map(([cmd, name, env]) => refusedStart(cmd, name, env)));
    cases.forEach(([cmd, name, env, message], i) => {
      const r = results[i]!;
      expect(r.code, `${cmd} ${name}:\n${r.log}`).toBe(EXIT_PREFLIGHT);
      expect(r.log, `${cmd} ${name}`).toMatch(message);
      expect(r.log).not.toContain(API_KEY);
      if (env.TEMPORAL_API_KEY) expect(r.log).not.toContain(env.TEMPORAL_API_KEY);
      expect(r.log).not.toContain('PRIVATE KEY');
    });
    timings.refusedStarts = Date.now() - t0;
  });
});

describe('the worker and the bridge run a scenario through each mode', () => {
  it('an AIMModel applied in each mode becomes Ready (worker and bridge processes over TLS, mTLS, API key)', async () => {
    const t0 = Date.now();
    const modes = ['tls', 'mtls', 'apiKey'] as const;
    const started = await Promise.all(
      modes.map(async (mode) => {
        const namespace = `tls-${mode.toLowerCase()}-${run36}`;
        await core.createNamespace({ body: { metadata: { name: namespace } } });
        namespaces.push(namespace);
        const env = { ...envFor(mode), AIM_TASK_QUEUE: `aim-${namespace}` };
        const healthPort = await freePort();
        const worker = program('worker', mode, { ...env, AIM_SUBMIT_NAMESPACES: namespace });
        const bridge = program('bridge', mode, {
          ...env,
          AIM_BRIDGE_NAMESPACES: namespace,
          AIM_BRIDGE_HEALTH_PORT: String(healthPort),
        });
        await waitFor(
          `${mode}: worker RUNNING and bridge ready`,
          async () =>
            /Worker state changed.*RUNNING/.test(logOf(worker)) && /"msg":"ready in/.test(logOf(bridge))
              ? true
              : undefined,
          { timeoutMs: 150_000, intervalMs: 200, watch: [worker, bridge] },
        );
        scenario.push({ mode, namespace, healthPort });
        return { mode, namespace, worker, bridge };
      }),
    );
    timings.programsUp = Date.now() - t0;
    const t1 = Date.now();
    await Promise.all(
      started.map(async ({ namespace }) => {
        await objects.create(RESOURCES.AIMModel, {
          apiVersion: 'aim.silogen.ai/v1alpha1',
          kind: 'AIMModel',
          metadata: { name: 'img', namespace },
          spec: { image: 'ghcr.io/example/model:1' },
        } as never);
        await waitForObject<any>(objects, RESOURCES.AIMModel, 'img', namespace, (o) => o.status?.status === 'Ready');
      }),
    );
    timings.modelsReady = Date.now() - t1;
    // The API-key endpoint saw the key on every call it let through; nothing was refused from the programs.
    for (const { worker, bridge } of started) {
      expect(logOf(worker)).not.toContain(API_KEY);
      expect(logOf(bridge)).not.toContain(API_KEY);
    }
  });

  it('aimctl doctor over the API-key endpoint: every check passes with the worker polling and the bridge ready', async () => {
    const apiKey = scenario.find((s) => s.mode === 'apiKey');
    expect(apiKey, 'the scenario test started the API-key programs').toBeDefined();
    const port = apiKey!.healthPort;
    const out: string[] = [];
    const io: CliIO = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => out.push(t) },
      env: { HOME: work, KUBECONFIG: kubeconfigPath, ...envFor('apiKey'), AIM_TASK_QUEUE: `aim-${apiKey!.namespace}` },
    };
    const code = await run(['doctor', '--bridge-health', `http://127.0.0.1:${port}`], io);
    const table = out.join('');
    expect(code, table).toBe(0);
    for (const row of [
      'Temporal',
      'Temporal namespace',
      'search attributes',
      'task queue pollers',
      'AIM CRDs',
      'KServe CRD',
      'bridge',
    ])
      expect(table).toMatch(new RegExp(`^${row} +OK `, 'm'));
    expect(table).not.toContain(API_KEY);

    // A task queue nobody polls, and no bridge: the two rows fail with what to do.
    const idle: string[] = [];
    const idleCode = await run(['doctor', '--task-queue', 'aim-nobody', '--bridge-health', 'http://127.0.0.1:1'], {
      ...io,
      stdout: { write: (t: string) => idle.push(t) },
    });
    expect(idleCode).toBe(1);
    expect(idle.join('')).toMatch(
      /^task queue pollers +FAIL +no worker polls workflow and activity tasks on aim-nobody/m,
    );
    expect(idle.join('')).toMatch(/^bridge +FAIL /m);
  });
});

describe('preflight against the real servers', () => {
  it('a Temporal namespace without the search attributes stops the worker with the command that registers them', async () => {
    const namespace = `aim-preflight-${run36}`;
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs('1 day'),
      });
      await waitFor(
        `namespace ${namespace} visible`,
        async () => connection.workflowService.describeNamespace({ namespace }).then(() => true),
        { timeoutMs: 30_000 },
      );
    } finally {
      await connection.close();
    }
    const r = await refusedStart('worker', 'no-attributes', { ...envFor('tls'), TEMPORAL_NAMESPACE: namespace });
    expect(r.code, r.log).toBe(EXIT_PREFLIGHT);
    expect(r.log).toContain(
      `temporal operator search-attribute create --namespace ${namespace} --name AimKind --name AimNamespace --name AimName --name AimModelId --name AimStatus --type Keyword`,
    );
  });

  it('discovery tells a served group from one that is not (the CRD check)', async () => {
    expect(await servedResources(kc, 'aim.silogen.ai', 'v1alpha1')).toContain('aimservices');
    expect(await servedResources(kc, 'serving.kserve.io', 'v1beta1')).toContain('inferenceservices');
    expect(await servedResources(kc, 'nothing.example.com', 'v1')).toBeUndefined();
  });
});
