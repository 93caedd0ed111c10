/**
 * `npm run demo`: the main job on the embedded default. Starts a local Temporal dev server, a real control plane
 * (etcd + kube-apiserver + kube-controller-manager) with the process kubelet and one MI300X node, a local S3 server
 * holding a tiny generated model, and the worker; applies an AIMService with `spec.model.custom`, prints each step
 * as the status moves, and ends with the service Running and the Temporal UI address.
 *
 * There is no KServe controller in the embedded control plane: the demo marks the InferenceService Ready the way
 * KServe would once its pods serve, and says so. Flags: `--exit` stops everything at the end instead of staying up.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { RESOURCES } from '../activities/kube/resources.js';
import { startStack } from '../test/harness/stack.js';
import { startOrchestrator, waitForObject } from '../test/harness/orchestrator.js';
import { startS3Server } from '../test/harness/s3Server.js';
import { deterministicBytes } from '../test/harness/fixtures.js';
import { loadExamples } from '../test/cases/examples.js';

const log = (msg: string) => console.log(`[demo ${new Date().toISOString().slice(11, 19)}] ${msg}`);

async function main(): Promise<void> {
  // The demo prints its own story; keep the SDK's lifecycle logs for warnings.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const work = mkdtempSync(join(tmpdir(), 'aim-demo-'));
  log('starting Temporal, etcd, kube-apiserver and kube-controller-manager ...');
  const stack = await startStack({ workDir: join(work, 'stack') });
  log(`stack up in ${stack.startupMs} ms; kubeconfig ${stack.kubeconfigPath}`);
  const s3 = await startS3Server({ workDir: join(work, 's3'), accessKey: 'demo-access', secretKey: 'demo-secret-key' });
  await s3.createBucket('models');
  await s3.putObject('models', 'qwen2-0.5b/config.json', '{"model_type":"qwen2","hidden_size":64}\n');
  await s3.putObject('models', 'qwen2-0.5b/model.safetensors', deterministicBytes('demo/weights', 8 * 1024 * 1024));
  log(`local S3 at ${s3.endpoint} with a tiny model under s3://models/qwen2-0.5b/`);
  const orch = await startOrchestrator({
    kubeconfigPath: stack.kubeconfigPath,
    temporalAddress: stack.temporalAddress,
    temporalNamespace: stack.temporalNamespace,
    gpu: { vendor: 'amd', product: 'AMD_Instinct_MI300X_OAM', vramMiB: 192 * 1024, count: 8 },
    nodeName: 'demo-node-mi300x',
  });
  log(`worker polling task queue ${orch.taskQueue}; namespace ${orch.namespace}; node demo-node-mi300x (8 x MI300X)`);

  await orch.core.createNamespacedSecret({
    namespace: orch.namespace,
    body: {
      metadata: { name: 's3-credentials' },
      stringData: { 'access-key': 'demo-access', 'secret-key': 'demo-secret-key' },
    },
  });
  const svc = structuredClone(loadExamples().get('aimservice-custom-s3.yaml')!);
  svc.metadata = { name: 'qwen-chat', namespace: orch.namespace };
  const source = (
    svc.spec.model as { custom: { modelSources: Array<{ env: Array<{ name: string; value?: string }> }> } }
  ).custom.modelSources[0]!;
  source.env = source.env.map((e) => (e.name === 'AWS_ENDPOINT_URL' ? { ...e, value: s3.endpoint } : e));
  await orch.objects.create(RESOURCES.AIMService, svc as never);
  await orch.startService('qwen-chat', orch.namespace);
  log('applied AIMService qwen-chat (examples/aimservice-custom-s3.yaml, endpoint pointed at the local S3)');

  let last = '';
  const show = (s: {
    status?: {
      status?: string;
      progressDisplay?: string;
      conditions?: Array<{ type: string; status: string; reason: string }>;
    };
  }) => {
    const conds = (s.status?.conditions ?? [])
      .filter((c) => c.type !== 'ConfigValid')
      .map((c) => `${c.type}=${c.status}${c.status !== 'True' ? `(${c.reason})` : ''}`);
    const line = `status ${s.status?.status ?? '-'} | ${conds.join(' ')}${s.status?.progressDisplay ? ` | ${s.status.progressDisplay}` : ''}`;
    if (line !== last) log(line);
    last = line;
  };
  // Follow the service step by step until its InferenceService exists.
  const deadline = Date.now() + 300_000;
  while (!(await orch.objects.get(RESOURCES.InferenceService, 'qwen-chat', orch.namespace))) {
    if (Date.now() > deadline) throw new Error('the InferenceService was not created within 5 minutes');
    const s = await orch.objects.get(RESOURCES.AIMService, 'qwen-chat', orch.namespace);
    if (s) show(s as never);
    await new Promise((r) => setTimeout(r, 250));
  }
  log('InferenceService qwen-chat created; no KServe controller runs here, so the demo marks it Ready as KServe would');
  await orch.markInferenceServiceReady('qwen-chat');
  await orch.startService('qwen-chat', orch.namespace);
  const running = await waitForObject(
    orch.objects,
    RESOURCES.AIMService,
    'qwen-chat',
    orch.namespace,
    (s) => (show(s as never), (s as { status?: { status?: string } }).status?.status === 'Running'),
    120_000,
  );
  const st = (
    running as unknown as {
      status: {
        resolvedModel: { name: string };
        resolvedTemplate: { name: string };
        caches: Array<{ name: string }>;
        workflow: { id: string };
      };
    }
  ).status;
  log(
    `AIMService qwen-chat is Running: model ${st.resolvedModel.name}, template ${st.resolvedTemplate.name}, cache ${st.caches[0]?.name}`,
  );
  log(
    `Temporal UI: ${stack.temporalUiAddress ?? '(headless)'}  (workflow ${st.workflow.id}, namespace ${stack.temporalNamespace})`,
  );
  log(`kubectl:     KUBECONFIG=${stack.kubeconfigPath} kubectl get aimsvc,aimmdl,aimtpl,aimmc -n ${orch.namespace}`);

  const stop = async () => {
    log('stopping ...');
    await orch.stop();
    await s3.stop();
    await stack.stop();
    log('stopped');
  };
  if (process.argv.includes('--exit')) return stop();
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
