/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are changed field by field */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { CustomObjects } from '../../activities/kube/customObjects.js';
import { RESOURCES } from '../../activities/kube/resources.js';
import { EXIT } from '../../client/aimctl.js';
import { RULE_CATALOG } from '../../schemas/index.js';
import { example, type Manifest } from '../cases/examples.js';
import { historyFacts } from '../faults/history.js';
import { heldWork, waitForHeldWork, type HeldWork } from '../faults/inFlight.js';
import { armWatch } from '../faults/k8sEvents.js';
import {
  customS3Service,
  deployService,
  lifecycleStarter,
  serviceWorkflowId,
  sourceInventory,
  stackConnection,
  startFaultBed,
  waitForRunning,
  type FaultBed,
} from '../faults/lifecycle.js';
import { workerProcess, type WorkerProcess } from '../faults/workerProcess.js';
import { loadKubeConfig } from '../harness/kube.js';
import { kubectlApply, kubectlApplyRaw, runAimctl } from '../harness/scenarios.js';

/**
 * Acceptance, spec section 10, scenario 9 (a few invalid variants of the examples, the mistakes a user makes; the
 * full bad-input corpus is test/corpus) and scenario 10 (kill -9 of the worker at one step; every step:
 * test/faults/workerKill.test.ts).
 * Each variant is refused twice: by the API server on `kubectl apply --server-side` with our CEL message, and by
 * `aimctl apply` (zod, before any API call) with the field path. Nothing is created either way.
 */
let kc: KubeConfig;
let objects: CustomObjects;
const namespace = `e2e-invalid-${Date.now().toString(36)}`;
const work = mkdtempSync(join(tmpdir(), 'aim-e2e-invalid-'));
/** A credential pasted where a reference belongs: refused everywhere, and echoed nowhere. */
const PASTED_SECRET = 'wrong-secret-value-pasted';

beforeAll(async () => {
  kc = loadKubeConfig(inject('kubeconfigPath'));
  objects = new CustomObjects(kc);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
});

afterAll(async () => {
  await kc
    ?.makeApiClient(CoreV1Api)
    .deleteNamespace({ name: namespace })
    .catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

const ruleMessage = (id: string): string => {
  const rule = RULE_CATALOG.find((r) => r.id === id);
  if (!rule) throw new Error(`no rule ${id}`);
  return rule.message;
};

const aimctl = (...argv: string[]) =>
  runAimctl([...argv, '-n', namespace], {
    KUBECONFIG: inject('kubeconfigPath'),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_NAMESPACE: inject('temporalNamespace'),
    // No worker polls this queue: a nudge that got through would be visible as a stuck workflow, never as work.
    AIM_TASK_QUEUE: `e2e-invalid-${namespace}`,
  });

function writeManifest(m: Manifest): string {
  const path = join(work, `${m.metadata.name}.yaml`);
  writeFileSync(path, stringify(m));
  return path;
}

const envIndex = (env: any[], name: string): number => {
  const i = env.findIndex((e) => e.name === name);
  if (i < 0) throw new Error(`no ${name} in the example's env`);
  return i;
};

interface Variant {
  what: string;
  file: string;
  rule: string;
  /** Changes the example; returns the field path zod names. */
  mutate: (m: any) => string;
  /** The field the API server names (CEL rules on an object name that object). */
  apiPath: (zodPath: string) => string;
}

const VARIANTS: Variant[] = [
  {
    what: 'a custom service that also names a model',
    file: 'aimservice-custom-s3.yaml',
    rule: 'service-model-exactly-one',
    mutate: (m) => {
      m.spec.model.name = 'qwen-small';
      return 'spec.model';
    },
    apiPath: (p) => p,
  },
  {
    what: 'a literal secret key pasted instead of the Secret reference',
    file: 'aimmodel-s3-custom-templates.yaml',
    rule: 'env-credentials-from-secret',
    mutate: (m) => {
      const env = m.spec.modelSources[0].env;
      const i = envIndex(env, 'AWS_SECRET_ACCESS_KEY');
      env[i] = { name: 'AWS_SECRET_ACCESS_KEY', value: PASTED_SECRET };
      return `spec.modelSources[0].env[${i}]`;
    },
    apiPath: (p) => p,
  },
  {
    what: 'a model with sources and its hardware block left out',
    file: 'aimmodel-s3-default-template.yaml',
    rule: 'sources-need-hardware',
    mutate: (m) => {
      delete m.spec.hardware;
      return 'spec.hardware';
    },
    apiPath: () => 'spec',
  },
  {
    what: 'an HF_ENDPOINT taken from a Secret',
    file: 'aimservice-custom-hf.yaml',
    rule: 'env-endpoint-literal',
    mutate: (m) => {
      const env = m.spec.model.custom.modelSources[0].env;
      env.push({ name: 'HF_ENDPOINT', valueFrom: { secretKeyRef: { name: 'hf-token', key: 'endpoint' } } });
      return `spec.model.custom.modelSources[0].env[${env.length - 1}]`;
    },
    apiPath: (p) => p,
  },
];

describe('9 invalid manifests are refused by the API server (CEL message) and by aimctl apply (field path)', () => {
  it.each(VARIANTS.map((v) => [v.what, v] as const))('%s', async (_what, v) => {
    const m = example(v.file);
    m.metadata.name = `bad-${VARIANTS.indexOf(v)}`;
    const zodPath = v.mutate(m);
    const message = ruleMessage(v.rule);

    const refused = await kubectlApplyRaw(kc, { ...m, metadata: { ...m.metadata, namespace } });
    expect(refused.status, refused.body).toBe(422);
    const status = JSON.parse(refused.body) as { message: string };
    expect(status.message).toContain(message);
    expect(status.message).toContain(`${v.apiPath(zodPath)}: Invalid value`);

    const cli = await aimctl('apply', '-f', writeManifest(m));
    expect(cli.code).toBe(EXIT.invalid);
    expect(cli.stderr).toContain(`is invalid:\n  ${zodPath}: ${message}`);
    expect(cli.stderr).toContain('nothing was applied');
    expect(refused.body + cli.stdout + cli.stderr).not.toContain(PASTED_SECRET);

    const res = RESOURCES[m.kind as keyof typeof RESOURCES];
    expect(await objects.get(res, m.metadata.name, res.namespaced ? namespace : undefined)).toBeUndefined();
  });

  it('a changed model selection is refused on update by the API server, also through aimctl apply', async () => {
    const m = example('aimservice-by-name.yaml');
    m.metadata = { name: 'by-name', namespace };
    await kubectlApply(kc, m);
    (m.spec.model as any).name = 'another-model';
    const message = ruleMessage('service-model-immutable');

    const refused = await kubectlApplyRaw(kc, m);
    expect(refused.status, refused.body).toBe(422);
    expect((JSON.parse(refused.body) as { message: string }).message).toContain(`spec.model: Invalid value`);
    expect(refused.body).toContain(message);

    // zod cannot see the old object: aimctl passes it on, and shows the server's refusal.
    const cli = await aimctl('apply', '-f', writeManifest(m));
    expect(cli.code).toBe(EXIT.invalid);
    expect(cli.stderr).toContain(message);
    const stored = await objects.get<any>(RESOURCES.AIMService, 'by-name', namespace);
    expect(stored.spec.model).toEqual({ name: 'qwen-small' });
  });
});

describe('10 killing the worker at any step (spec section 10)', () => {
  // One SIGKILL of the real worker process (test/faults/workerProcess.ts, running as the deploy ServiceAccount) at one
  // step: while the service's pass that writes its InferenceService is in flight. Its steps are local activities, so
  // the kill costs that workflow task (10 s to time out), which the restarted worker runs again. All 29 kill points
  // are test/faults/workerKill.test.ts.
  const SERVICE = 'kill-10';
  let bed: FaultBed;
  let worker: WorkerProcess;
  let taskQueue: string;
  const ac = new AbortController();

  beforeAll(async () => {
    bed = await startFaultBed();
    taskQueue = `aim-${bed.orch.namespace}-scenario-10`;
    worker = workerProcess({
      name: 'scenario-10',
      ...stackConnection(),
      kubeconfigPath: bed.worker.kubeconfigPath,
      taskQueue,
      logDir: join(bed.workDir, 'logs'),
    });
  }, 120_000);

  afterAll(async () => {
    ac.abort();
    await worker?.kill9();
    await bed?.stop();
  });

  it('SIGKILL while the service writes its InferenceService: Running, one workflow run, no duplicated object', async () => {
    const { orch } = bed;
    const ns = orch.namespace;
    const src = await bed.addSource('scenario-10');
    const wfId = serviceWorkflowId(ns, SERVICE);
    const written = await armWatch(orch.kc, 'InferenceService', ns, (o) => o.metadata?.name === SERVICE, 0, ac.signal);
    const holder = { pid: 0, startedAtMs: Date.now() };
    await worker.start();
    holder.pid = worker.pid!;
    const nudger = lifecycleStarter(orch.client, taskQueue);
    const { kserve } = await deployService(orch, nudger, customS3Service(SERVICE, ns, src), ac.signal);
    const { runId } = await orch.client.workflow.getHandle(wfId).describe();
    await written.seen;
    // The pass that wrote it is still running in the worker: kill then, and read what the dead process held. Only a
    // workflow task counts (a pass), and nothing runs between seeing it and the kill: on a loaded machine the watch
    // event can arrive after that pass ended and the service waits in an activity, and CI once killed it there.
    const passOfMine = (w: HeldWork) => w.workflowId === wfId && w.kind === 'workflowTask';
    const holding = await waitForHeldWork(orch.client, async () => [wfId], holder, passOfMine, 15_000, ac.signal);
    expect(holding, 'the worker held a pass of the service').toBeDefined();
    await worker.kill9();
    const inFlight = await heldWork(orch.client, [wfId], holder);
    expect(inFlight.map((w) => w.kind)).toContain('workflowTask');

    await worker.start();
    const running = await waitForRunning(orch, SERVICE, 60_000);
    ac.abort();
    await kserve;

    // One run: the one in flight at the kill finished the job (no new run, no failed workflow task), and the kill
    // cost exactly the task it held.
    const now = await orch.client.workflow.getHandle(wfId).describe();
    expect(now.runId).toBe(runId);
    const facts = await historyFacts(orch.client, wfId);
    expect(facts.workflowTaskFailures).toBe(0);
    expect(facts.workflowTaskTimeouts.length).toBeGreaterThanOrEqual(1);
    expect(facts.closed).toBe(false);
    // No duplicated object.
    const inv = await sourceInventory(orch, src.uri);
    expect(inv.models).toHaveLength(1);
    expect(inv.templates).toHaveLength(1);
    expect(inv.caches).toHaveLength(1);
    expect(inv.pvcs).toHaveLength(1);
    const cache = inv.caches[0]!;
    expect(inv.jobs).toEqual([
      { name: `${cache}-dl-1`, succeeded: true, failed: false },
      { name: `${cache}-probe-1`, succeeded: true, failed: false },
    ]);
    const isvcs = await orch.objects.list<any>(RESOURCES.InferenceService, ns);
    expect(isvcs.map((i) => i.metadata.name)).toEqual([SERVICE]);
    expect(running.status.caches.map((c: any) => c.name)).toEqual([cache]);
    expect(worker.starts).toBe(2);
  }, 120_000);
});
