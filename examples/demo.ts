/**
 * `npm run demo`: the main job on the embedded default. Starts a local Temporal dev server, a real control plane
 * (etcd + kube-apiserver + kube-controller-manager), KServe's controller, the process kubelet with one MI300X node,
 * a local S3 server holding a tiny generated model, the worker and the bridge; applies an AIMService with
 * `spec.model.custom` as `kubectl apply --server-side` would, prints each step as the status moves, and ends with an
 * answer from the served model: KServe deploys the predictor, the process kubelet runs the AIM serving image as a
 * stand-in for vLLM that reads the downloaded files, and the demo asks it for a completion.
 *
 * Flags: `--exit` stops everything at the end instead of staying up. While it stays up, the bridge picks up anything
 * applied with the kubectl command it prints, as in a cluster.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { stringify } from 'yaml';
import { RESOURCES } from '../activities/kube/resources.js';
import { KSERVE_ISVC_LABEL } from '../domain/inferenceService.js';
import { binPath } from '../test/harness/bins.js';
import { loadExamples } from '../test/cases/examples.js';
import { deterministicBytes } from '../test/harness/fixtures.js';
import { startOrchestrator, waitForObject } from '../test/harness/orchestrator.js';
import { kubectlApply, useS3 } from '../test/harness/scenarios.js';
import { startS3Server } from '../test/harness/s3Server.js';
import { startStack } from '../test/harness/stack.js';

const log = (msg: string) => console.log(`[demo ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const BUCKET = 'models';

interface ServiceView {
  metadata?: { name?: string };
  status?: {
    status?: string;
    progressDisplay?: string;
    conditions?: Array<{ type: string; status: string; reason: string }>;
    resolvedModel?: { name: string };
    resolvedTemplate?: { name: string };
    caches?: Array<{ name: string }>;
    workflow?: { id: string };
    endpoint?: { inferenceService: string; url?: string; internalUrl?: string };
  };
}

/** An example AIMService pointed at the demo's S3 (the examples name an in-cluster MinIO). */
function serviceManifest(example: string, name: string, namespace: string, endpoint: string) {
  const svc = structuredClone(loadExamples().get(example)!);
  svc.metadata = { name, namespace };
  const custom = (svc.spec.model as { custom: { modelSources: unknown[] } }).custom;
  useS3(custom.modelSources[0], endpoint);
  return svc;
}

async function main(): Promise<void> {
  // The demo prints its own story; keep the SDK's lifecycle logs for warnings.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const work = mkdtempSync(join(tmpdir(), 'aim-demo-'));
  log('starting Temporal, etcd, kube-apiserver, kube-controller-manager and the KServe controller ...');
  const stack = await startStack({ workDir: join(work, 'stack'), kserve: true });
  log(`stack up in ${stack.startupMs} ms; kubeconfig ${stack.kubeconfigPath}`);
  const s3 = await startS3Server({ workDir: join(work, 's3'), accessKey: 'demo-access', secretKey: 'demo-secret-key' });
  await s3.createBucket(BUCKET);
  await s3.putObject(BUCKET, 'qwen2-0.5b/config.json', '{"model_type":"qwen2","hidden_size":64}\n');
  await s3.putObject(BUCKET, 'qwen2-0.5b/model.safetensors', deterministicBytes('demo/weights', 8 * 1024 * 1024));
  log(`local S3 at ${s3.endpoint} with a tiny model under s3://${BUCKET}/qwen2-0.5b/`);
  const orch = await startOrchestrator({
    kubeconfigPath: stack.kubeconfigPath,
    temporalAddress: stack.temporalAddress,
    temporalNamespace: stack.temporalNamespace,
    gpu: { vendor: 'amd', product: 'AMD_Instinct_MI300X_OAM', vramMiB: 192 * 1024, count: 8 },
    nodeName: 'demo-node-mi300x',
  });
  const bridge = orch.startBridge();
  await bridge.ready;
  log(
    `worker and bridge up (task queue ${orch.taskQueue}); namespace ${orch.namespace}; node demo-node-mi300x (8 x MI300X)`,
  );

  await orch.core.createNamespacedSecret({
    namespace: orch.namespace,
    body: {
      metadata: { name: 's3-credentials' },
      stringData: { 'access-key': 'demo-access', 'secret-key': 'demo-secret-key' },
    },
  });
  const appliedAt = Date.now();
  await kubectlApply(orch.kc, serviceManifest('aimservice-custom-s3.yaml', 'qwen-chat', orch.namespace, s3.endpoint));
  log('applied AIMService qwen-chat (examples/aimservice-custom-s3.yaml, endpoint pointed at the local S3)');

  let last = '';
  const show = (s: ServiceView) => {
    const conds = (s.status?.conditions ?? [])
      .filter((c) => c.type !== 'ConfigValid')
      .map((c) => `${c.type}=${c.status}${c.status !== 'True' ? `(${c.reason})` : ''}`);
    const line = `status ${s.status?.status ?? '-'} | ${conds.join(' ')}${s.status?.progressDisplay ? ` | ${s.status.progressDisplay}` : ''}`;
    if (line !== last) log(line);
    last = line;
    return s.status?.status === 'Running';
  };
  const running = await waitForObject<ServiceView>(
    orch.objects,
    RESOURCES.AIMService,
    'qwen-chat',
    orch.namespace,
    show,
    300_000,
  );
  const st = running.status!;
  log(
    `AIMService qwen-chat is Running (KServe reports its InferenceService Ready): model ${st.resolvedModel?.name}, ` +
      `template ${st.resolvedTemplate?.name}, cache ${st.caches?.[0]?.name}`,
  );
  log(`endpoint ${st.endpoint?.url ?? '-'} (in-cluster ${st.endpoint?.internalUrl ?? '-'})`);

  // The predictor pod as the process kubelet runs it: its own loopback IP, the container port 8000.
  const pods = await orch.core.listNamespacedPod({
    namespace: orch.namespace,
    labelSelector: `${KSERVE_ISVC_LABEL}=qwen-chat`,
  });
  const pod = pods.items.find((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  if (!pod?.status?.podIP) throw new Error('no Ready predictor pod of qwen-chat');
  const base = `http://${pod.status.podIP}:8000`;
  const models = (await (await fetch(`${base}/v1/models`)).json()) as {
    data: Array<{ id: string; files: unknown[]; total_bytes: number }>;
  };
  const served = models.data[0]!;
  log(
    `GET ${base}/v1/models (pod ${pod.metadata?.name}): model ${served.id}, ${served.files.length} file(s), ${served.total_bytes} bytes`,
  );
  const prompt = 'Say hello to the platform team.';
  const reply = (await (
    await fetch(`${base}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: served.id, prompt, max_tokens: 32 }),
    })
  ).json()) as { choices: Array<{ text: string }> };
  log(`POST ${base}/v1/completions "${prompt}"`);
  log(`reply: ${reply.choices[0]?.text ?? '(none)'}`);
  log(`first answer ${((Date.now() - appliedAt) / 1000).toFixed(1)} s after the apply`);
  log(
    `Temporal UI: ${stack.temporalUiAddress ?? '(headless)'}  (workflow ${st.workflow?.id}, namespace ${stack.temporalNamespace})`,
  );

  const stop = async () => {
    log('stopping ...');
    await bridge.stop();
    await orch.stop();
    await s3.stop();
    await stack.stop();
    log('stopped');
  };
  if (process.argv.includes('--exit')) return stop();

  // Staying up: anything applied now is picked up by the bridge, as in a cluster.
  const second = join(work, 'qwen-shared.yaml');
  writeFileSync(
    second,
    stringify(serviceManifest('aimservice-custom-s3-shared.yaml', 'qwen-shared', orch.namespace, s3.endpoint)),
  );
  const kubectl = `KUBECONFIG=${stack.kubeconfigPath} ${binPath('kubectl')}`;
  log(`kubectl:     ${kubectl} get aimsvc,aimmdl,aimtpl,aimmc,isvc,pods -n ${orch.namespace}`);
  log(`another one: ${kubectl} apply --server-side -f ${second}`);
  log(`             (examples/aimservice-custom-s3-shared.yaml with the local S3 endpoint; watch it with -w)`);
  log('Ctrl-C to stop.');
  await new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = () => {
      if (!signalled) resolve();
      signalled = true;
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await stop();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
