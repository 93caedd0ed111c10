// KServe's real controller manager (github.com/kserve/kserve/cmd/manager, built by install-bins.sh) as a local process
// against the test API server, configured for RawDeployment with no ingress: it turns an InferenceService into a
// Deployment and a Service, and reports the InferenceService's status from the Deployment and the predictor pods.
//
// What it needs before it starts (cmd/manager/main.go exits otherwise):
//   - KServe's CRDs (it watches InferenceGraphs, TrainedModels, ServingRuntimes, ... besides InferenceServices);
//   - the ConfigMap `inferenceservice-config` in `$POD_NAMESPACE` (`kserve`), parsed at start (deploy, ingress, ...);
//   - a serving certificate for its webhook server, read from controller-runtime's default CertDir
//     `$TMPDIR/k8s-webhook-server/serving-certs` (the manager has no flag for it), even though no webhook
//     configuration points the API server at it: admission defaulting and validation of InferenceServices do not
//     run here, so manifests must be complete as written (the product's are).
import { mkdir } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { kserveConfigMapPath, kserveCrdPaths, kserveManagerPath } from './bins.js';
import { installCrds } from './crds.js';
import { loadKubeConfig } from './kube.js';
import { createSelfSignedServingCert } from './pki.js';
import { freePort, ManagedProcess, waitFor } from './processes.js';

/** KServe's namespace (constants.KServeNamespace reads POD_NAMESPACE). */
export const KSERVE_NAMESPACE = 'kserve';
export const KSERVE_CONFIGMAP = 'inferenceservice-config';
const FIELD_MANAGER = 'aim-test-harness';

export interface KServeOptions {
  kubeconfigPath: string;
  /** Holds the controller's TMPDIR (with the webhook certificate). */
  workDir: string;
  /** Where `kserve-controller-manager.log` goes. */
  logDir: string;
  /** Skip installing KServe's CRDs (the stack installs them with the project's, in one go). */
  crdsInstalled?: boolean;
  readyTimeoutMs?: number;
}

export interface KServeController {
  name: 'kserve-controller-manager';
  logFile: string;
  /** `http://127.0.0.1:<port>/metrics` (controller-runtime's workqueue and reconcile metrics). */
  metricsUrl: string;
  /** `http://127.0.0.1:<port>` serving /healthz and /readyz. */
  healthUrl: string;
  /** SIGTERM, SIGKILL after a grace period. Idempotent. */
  stop(): Promise<void>;
  logs(lines?: number): string;
}

/**
 * KServe's default `inferenceservice-config` data (config/configmap/inferenceservice.yaml of the module) adjusted for
 * the test stack: RawDeployment by default, and no Ingress or Istio VirtualService (nothing would route them; the
 * ingress key must still name an ingressGateway or NewIngressConfig refuses it). `_example` is documentation only.
 */
export function inferenceServiceConfigData(defaults: Record<string, string>): Record<string, string> {
  const data = Object.fromEntries(Object.entries(defaults).filter(([key]) => key !== '_example'));
  const ingress = JSON.parse(data.ingress ?? '{}') as Record<string, unknown>;
  data.ingress = JSON.stringify(
    {
      ...ingress,
      ingressGateway: ingress.ingressGateway || 'knative-serving/knative-ingress-gateway',
      disableIngressCreation: true,
      disableIstioVirtualHost: true,
    },
    null,
    2,
  );
  const deploy = JSON.parse(data.deploy ?? '{}') as Record<string, unknown>;
  data.deploy = JSON.stringify({ ...deploy, defaultDeploymentMode: 'RawDeployment' }, null, 2);
  return data;
}

async function readDefaultConfigData(): Promise<Record<string, string>> {
  const doc = parse(await readFile(kserveConfigMapPath(), 'utf8')) as { data?: Record<string, string> };
  if (!doc.data) throw new Error(`${kserveConfigMapPath()} has no data`);
  return doc.data;
}

/** Namespace `kserve` and its `inferenceservice-config` (server-side apply: repeatable). */
export async function applyKServeConfig(kubeconfigPath: string): Promise<void> {
  const core = loadKubeConfig(kubeconfigPath).makeApiClient(CoreV1Api);
  const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  await core.patchNamespace(
    {
      name: KSERVE_NAMESPACE,
      fieldManager: FIELD_MANAGER,
      force: true,
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: KSERVE_NAMESPACE } },
    },
    apply,
  );
  await core.patchNamespacedConfigMap(
    {
      name: KSERVE_CONFIGMAP,
      namespace: KSERVE_NAMESPACE,
      fieldManager: FIELD_MANAGER,
      force: true,
      body: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: KSERVE_CONFIGMAP, namespace: KSERVE_NAMESPACE },
        data: inferenceServiceConfigData(await readDefaultConfigData()),
      },
    },
    apply,
  );
}

/** Starts the controller manager and waits for its /readyz (its webhook server is up, its controllers started). */
export async function startKServe(opts: KServeOptions): Promise<KServeController> {
  const command = kserveManagerPath(); // fails fast when `npm run setup` has not built it
  const tmpDir = join(opts.workDir, 'kserve-tmp');
  const [, , metricsPort, healthPort, webhookPort] = await Promise.all([
    opts.crdsInstalled ? undefined : installCrds(opts.kubeconfigPath, kserveCrdPaths()),
    createSelfSignedServingCert(join(tmpDir, 'k8s-webhook-server', 'serving-certs'), 'kserve-webhook-server'),
    freePort(),
    freePort(),
    freePort(),
  ]);
  await mkdir(opts.logDir, { recursive: true });
  await applyKServeConfig(opts.kubeconfigPath);

  const proc = ManagedProcess.start({
    name: 'kserve-controller-manager',
    command,
    args: [
      `--metrics-addr=127.0.0.1:${metricsPort}`,
      `--health-probe-addr=127.0.0.1:${healthPort}`,
      `--webhook-port=${webhookPort}`,
      '--leader-elect=false',
    ],
    env: { KUBECONFIG: opts.kubeconfigPath, POD_NAMESPACE: KSERVE_NAMESPACE, TMPDIR: tmpDir },
    logFile: join(opts.logDir, 'kserve-controller-manager.log'),
  });
  const healthUrl = `http://127.0.0.1:${healthPort}`;
  try {
    await waitFor(
      'kserve-controller-manager /readyz',
      async () => {
        const res = await fetch(`${healthUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
        return res.ok ? true : undefined;
      },
      { timeoutMs: opts.readyTimeoutMs ?? 60_000, intervalMs: 200, watch: [proc] },
    );
  } catch (err) {
    await proc.stop(3000);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    name: 'kserve-controller-manager',
    logFile: proc.logFile,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    healthUrl,
    stop: () => {
      stopping ??= proc.stop(3000).then(() => undefined);
      return stopping;
    },
    logs: (lines = 60) => `===== ${proc.name} (${proc.logFile}) =====\n${proc.tail(lines)}`,
  };
}
