// A real Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager) started the way
// controller-runtime's envtest does it: everything on 127.0.0.1, free ports, throw-away PKI, one admin token.
// There is no kubelet and no scheduler: Pods stay Pending unless a test binds and "runs" them itself.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { binPath } from './bins.js';
import { kubeRequest, loadKubeConfig, writeKubeconfig } from './kube.js';
import { createPki } from './pki.js';
import { ManagedProcess, stablePort, waitFor } from './processes.js';

export interface ControlPlaneOptions {
  /** Holds etcd data, PKI, the token file, the kubeconfig and (by default) the logs. Created if missing. */
  workDir: string;
  /** Where the component logs go; default `<workDir>/logs`. */
  logDir?: string;
  /**
   * kube-controller-manager `--controllers`. The default disables only the node-lifecycle controller: with no real
   * kubelet renewing node Leases it would mark any Node a test registers NotReady/unreachable after ~50 s and taint
   * it NoExecute, and the taint-eviction controller would then delete the test's Pods. Tests own node state instead.
   */
  controllers?: readonly string[];
  /** How long to wait for each component to become ready (default 90 s: two slow cores, cold page cache). */
  readyTimeoutMs?: number;
  /** Serve the API server's `/debug/pprof` (benches' profiles); off by default, as in a hardened cluster. */
  apiServerProfiling?: boolean;
}

export interface ControlPlane {
  /** Admin kubeconfig (CA data, server URL, bearer token); loads with `KubeConfig.loadFromFile`. */
  kubeconfigPath: string;
  /** `https://127.0.0.1:<port>` */
  server: string;
  /** Bearer token of `admin` in group `system:masters`. */
  token: string;
  /** CA that signed the serving certificate (also the client CA and the controller-manager's root CA). */
  caPath: string;
  /** RSA key that signs service-account tokens (its public half is `<pki>/sa.pub`). */
  saKeyPath: string;
  workDir: string;
  logDir: string;
  etcdUrl: string;
  /** Stops controller-manager, API server and etcd (in that order). Idempotent. */
  stop(): Promise<void>;
  /** Stops the API server (SIGTERM, or SIGKILL with `{ kill: true }`), leaving etcd and the controller-manager up. */
  stopApiServer(opts?: { kill?: boolean }): Promise<void>;
  /** Starts the API server again on the same port with the same data, and waits for /readyz. */
  startApiServer(): Promise<void>;
  /** `stopApiServer` then `startApiServer`. */
  restartApiServer(opts?: { kill?: boolean }): Promise<void>;
  /** Stops etcd (SIGTERM, or SIGKILL with `{ kill: true }`) and starts it again on the same ports and data dir. */
  restartEtcd(opts?: { kill?: boolean; downMs?: number }): Promise<void>;
  /** Stops the controller-manager (SIGTERM or SIGKILL) and starts it again; `downMs` keeps it away that long. */
  restartControllerManager(opts?: { kill?: boolean; downMs?: number }): Promise<void>;
  /** The last lines of each component's log, with headers, for printing on failure. */
  logs(lines?: number): string;
  /** Component name -> log file. */
  logFiles(): Record<string, string>;
}

const DEFAULT_CONTROLLERS = ['*', '-node-lifecycle-controller'] as const;

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const workDir = opts.workDir;
  const logDir = opts.logDir ?? join(workDir, 'logs');
  const readyTimeoutMs = opts.readyTimeoutMs ?? 90_000;
  await mkdir(logDir, { recursive: true });

  // Resolve binaries first so a missing `npm run setup` fails before anything is started.
  const bins = { etcd: binPath('etcd'), apiserver: binPath('kube-apiserver'), kcm: binPath('kube-controller-manager') };
  // Below the ephemeral range (stablePort): the outage tests stop etcd and the API server and start them again on the
  // same ports, and a client retrying 127.0.0.1:P meanwhile can be given P itself as its local port and hold it (seen:
  // the restarted kube-apiserver "bind: address already in use", its clients' TLS talking to themselves).
  const [pki, etcdClientPort, etcdPeerPort, apiPort] = await Promise.all([
    createPki(join(workDir, 'pki')),
    stablePort(),
    stablePort(),
    stablePort(),
  ]);

  const token = randomBytes(24).toString('hex');
  const tokenFile = join(workDir, 'token.csv');
  // Static token file format: token,user,uid,"group1,group2". system:masters bypasses RBAC authorization.
  await writeFile(tokenFile, `${token},admin,aim-test-admin,"system:masters"\n`, { mode: 0o600 });

  const admissionConfig = join(workDir, 'admission.yaml');
  await writeFile(admissionConfig, podSecurityAdmissionConfig());

  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfigPath = join(workDir, 'kubeconfig');
  await writeKubeconfig(kubeconfigPath, { server, caPath: pki.caCert, token });
  const kc = loadKubeConfig(kubeconfigPath);

  const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
  const logFile = (name: string): string => join(logDir, `${name}.log`);
  const started: ManagedProcess[] = [];
  let etcd: ManagedProcess | undefined;
  let apiserver: ManagedProcess | undefined;
  let kcm: ManagedProcess | undefined;

  const etcdArgs = [
    '--name=aim-test',
    `--data-dir=${join(workDir, 'etcd-data')}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-cluster=aim-test=http://127.0.0.1:${etcdPeerPort}`,
    // Throw-away data: skipping fsync makes every API write much cheaper on a slow disk.
    '--unsafe-no-fsync=true',
    // No separate metrics listener (metrics stay on the client URL); nothing outside loopback.
    '--listen-metrics-urls=',
    '--log-level=warn',
  ];

  const apiserverArgs = [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    // Single API server, no real Service network: do not maintain the `kubernetes` Endpoints.
    '--endpoint-reconciler-type=none',
    `--tls-cert-file=${pki.servingCert}`,
    `--tls-private-key-file=${pki.servingKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--cert-dir=${pki.dir}`,
    `--token-auth-file=${tokenFile}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    // Room for a fleet's Services as a cluster's /16 or /12 has (KServe makes one per InferenceService): a /24 held
    // 254, and at 1,000 services KServe's creates failed 1,528 times and it requeued each failing InferenceService.
    '--service-cluster-ip-range=10.0.0.0/16',
    // The default admission plugins, ServiceAccount and PodSecurity among them, as a cluster runs them: Pods get their
    // ServiceAccount (`default` when unnamed) and its projected `kube-api-access-*` volume, and namespaces labelled
    // `pod-security.kubernetes.io/enforce` reject Pods below that level. The controller-manager's serviceaccount,
    // serviceaccount-token and root-ca-cert-publisher controllers (all in `*`) create each namespace's `default`
    // account and `kube-root-ca.crt`; createTestNamespace (namespaces.ts) waits for both.
    `--admission-control-config-file=${admissionConfig}`,
    '--allow-privileged=true',
    `--profiling=${opts.apiServerProfiling ? 'true' : 'false'}`,
    // Without it a SIGTERM waits the full 60 s request timeout for open watch streams (the controller-manager's)
    // before the HTTP server gives up; with it the server ends the watches and exits in about a second, so a
    // graceful restartApiServer() is fast and really graceful (no SIGKILL fallback).
    '--shutdown-watch-termination-grace-period=2s',
  ];

  const kcmArgs = [
    `--kubeconfig=${kubeconfigPath}`,
    // 0 disables the controller-manager's own HTTPS endpoint: no listener at all, so nothing to bind.
    '--secure-port=0',
    '--leader-elect=false',
    `--service-account-private-key-file=${pki.saKey}`,
    `--root-ca-file=${pki.caCert}`,
    // Each controller as its own ServiceAccount (`system:serviceaccount:kube-system:job-controller`, ...), as kubeadm
    // runs it: the API server sees who creates a Pod, and Pod Security exempts only the ReplicaSet controller.
    '--use-service-account-credentials=true',
    `--controllers=${(opts.controllers ?? DEFAULT_CONTROLLERS).join(',')}`,
    '--profiling=false',
  ];

  const startApiServerProcess = async (): Promise<void> => {
    apiserver = ManagedProcess.start({
      name: 'kube-apiserver',
      command: bins.apiserver,
      args: apiserverArgs,
      logFile: logFile('kube-apiserver'),
    });
    started.push(apiserver);
    const proc = apiserver;
    await waitFor(
      'kube-apiserver /readyz',
      async () => {
        const res = await kubeRequest(kc, { method: 'GET', path: '/readyz', timeoutMs: 5000 });
        return res.status === 200 ? true : undefined;
      },
      { timeoutMs: readyTimeoutMs, intervalMs: 200, watch: [proc] },
    );
  };

  const startEtcdProcess = async (): Promise<void> => {
    etcd = ManagedProcess.start({ name: 'etcd', command: bins.etcd, args: etcdArgs, logFile: logFile('etcd') });
    started.push(etcd);
    const etcdProc = etcd;
    await waitFor(
      'etcd /health',
      async () => {
        const res = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2000) });
        const body = (await res.json()) as { health?: string };
        return res.ok && body.health === 'true' ? true : undefined;
      },
      { timeoutMs: readyTimeoutMs, intervalMs: 100, watch: [etcdProc] },
    );
  };

  const startKcmProcess = (): ManagedProcess => {
    kcm = ManagedProcess.start({
      name: 'kube-controller-manager',
      command: bins.kcm,
      args: kcmArgs,
      logFile: logFile('kube-controller-manager'),
    });
    started.push(kcm);
    return kcm;
  };

  const stopApiServer = async (o?: { kill?: boolean }): Promise<void> => {
    if (!apiserver) return;
    await (o?.kill ? apiserver.kill9() : apiserver.stop(5000));
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // The controller-manager first (it would only log connection errors otherwise), the API server before etcd
      // (so it does not spend its grace period retrying a dead etcd). The first two in parallel to stay well inside
      // vitest's 10 s teardown timeout.
      await Promise.all([kcm?.stop(3000), apiserver?.stop(4000)]);
      await etcd?.stop(3000);
    })();
    return stopping;
  };

  const logs = (lines = 60): string =>
    started
      .filter((p, i, all) => all.findIndex((q) => q.name === p.name) === i)
      .map((p) => `===== ${p.name} (${p.logFile}) =====\n${p.tail(lines)}`)
      .join('\n');

  try {
    await startEtcdProcess();
    await startApiServerProcess();
    const kcmProc = startKcmProcess();
    // With --secure-port=0 the controller-manager has no health endpoint. The serviceaccount controller creating
    // `default/default` shows that it is connected and its controllers are running.
    await waitFor(
      'kube-controller-manager (ServiceAccount default/default)',
      async () => {
        const res = await kubeRequest(kc, {
          method: 'GET',
          path: '/api/v1/namespaces/default/serviceaccounts/default',
          timeoutMs: 5000,
        });
        return res.status === 200 ? true : undefined;
      },
      { timeoutMs: readyTimeoutMs, intervalMs: 250, watch: [kcmProc] },
    );
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const tails = logs(40);
    await stop();
    throw new Error(`control plane failed to start: ${message}\n${tails}`, { cause: err });
  }

  const result: ControlPlane = {
    kubeconfigPath,
    server,
    token,
    caPath: pki.caCert,
    saKeyPath: pki.saKey,
    workDir,
    logDir,
    etcdUrl,
    stop,
    stopApiServer,
    startApiServer: async () => {
      if (apiserver?.running) throw new Error('kube-apiserver is already running');
      await startApiServerProcess();
    },
    restartApiServer: async (o) => {
      await stopApiServer(o);
      await startApiServerProcess();
    },
    restartEtcd: async (o) => {
      await (o?.kill ? etcd?.kill9() : etcd?.stop(5000));
      if (o?.downMs) await sleep(o.downMs);
      await startEtcdProcess();
    },
    restartControllerManager: async (o) => {
      await (o?.kill ? kcm?.kill9() : kcm?.stop(5000));
      if (o?.downMs) await sleep(o.downMs);
      startKcmProcess();
    },
    logs,
    logFiles: () => Object.fromEntries(started.map((p) => [p.name, p.logFile])),
  };
  return result;
}

/**
 * The PodSecurity admission plugin's configuration: no cluster default (a namespace's labels decide), and one
 * exemption, the ReplicaSet controller. It creates KServe's predictor pods, which spec 5.5 defines without a
 * securityContext (their image is the model's `spec.image`, which may run as root, so they cannot be made
 * `runAsNonRoot`); everything else in a labelled namespace — the orchestrator's download and probe Job pods first of
 * all (the Job controller's identity is not exempt) — is admitted at the namespace's level.
 */
export function podSecurityAdmissionConfig(): string {
  return [
    'apiVersion: apiserver.config.k8s.io/v1',
    'kind: AdmissionConfiguration',
    'plugins:',
    '  - name: PodSecurity',
    '    configuration:',
    '      apiVersion: pod-security.admission.config.k8s.io/v1',
    '      kind: PodSecurityConfiguration',
    '      defaults: { enforce: privileged, audit: privileged, warn: privileged }',
    '      exemptions:',
    `        usernames: [${PREDICTOR_POD_CREATOR}]`,
    '',
  ].join('\n');
}

/** Who creates a Deployment's pods (the ReplicaSet controller, running as its own ServiceAccount). */
export const PREDICTOR_POD_CREATOR = 'system:serviceaccount:kube-system:replicaset-controller';
