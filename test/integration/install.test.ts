import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ApiextensionsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { binPath, prometheusOperatorCrdPaths } from '../harness/bins.js';
import { installCrds } from '../harness/crds.js';
import {
  DEPLOY,
  renderHelm,
  renderKustomize,
  ResourcePaths,
  serverSideApply,
  type RenderedObject,
} from '../harness/install.js';
import { loadKubeConfig } from '../harness/kube.js';
import { AIM_SEARCH_ATTRIBUTES } from '../harness/temporal.js';

/**
 * Every install artifact of deploy/, rendered as a user renders it (`kubectl kustomize`, `helm template`), is accepted
 * by a real API server: the CRDs are applied for real (ours from deploy/crds, prometheus-operator's for the
 * monitoring objects), then every other object is server-side applied with dryRun=All and strict field validation,
 * so a misspelt field, a wrong type, a restricted-Pod-Security violation (a warning) or a kind the server does not
 * serve fails here instead of in a cluster. The chart must render what the kustomize base does, the secured variants
 * must carry their Temporal credentials from Secrets, and the search-attribute script runs against the real Temporal.
 */
const run = promisify(execFile);
const NAMESPACE = 'aim-system';
const FIELD_MANAGER = 'aim-install-test';

type Json = Record<string, unknown>;
const VARIANTS = {
  'kustomize deploy/crds': () => renderKustomize('crds'),
  'kustomize deploy/base': () => renderKustomize('base'),
  'kustomize deploy/overlays/example': () => renderKustomize('overlays/example'),
  'kustomize deploy/monitoring': () => renderKustomize('monitoring'),
  'helm template (default values)': () => renderHelm('aim', NAMESPACE),
  'helm template (values-example.yaml)': () => renderHelm('aim', NAMESPACE, ['values-example.yaml']),
} as const;
type Variant = keyof typeof VARIANTS;

let kc: KubeConfig;
let paths: ResourcePaths;
let workDir: string;
const rendered = new Map<Variant, RenderedObject[]>();
let monitoringCrds: string[] = [];

beforeAll(async () => {
  kc = loadKubeConfig(inject('kubeconfigPath'));
  paths = new ResourcePaths(kc);
  workDir = await mkdtemp(join(tmpdir(), 'aim-install-'));
  for (const [variant, render] of Object.entries(VARIANTS)) rendered.set(variant as Variant, await render());
  // The CRDs for real, as `kubectl apply --server-side -k deploy/crds` does, and prometheus-operator's two.
  const crdFile = join(workDir, 'crds.yaml');
  await writeFile(
    crdFile,
    rendered
      .get('kustomize deploy/crds')!
      .map((o) => stringify(o))
      .join('---\n'),
  );
  await installCrds(kc, [crdFile]);
  monitoringCrds = await installCrds(kc, prometheusOperatorCrdPaths());
  // The namespace for real: namespaced objects are validated inside it (and its Pod Security labels apply).
  for (const ns of rendered.get('kustomize deploy/base')!.filter((o) => o.kind === 'Namespace')) {
    const res = await serverSideApply(kc, paths, ns, {
      namespace: NAMESPACE,
      dryRun: false,
      fieldManager: FIELD_MANAGER,
    });
    expect(res.status, res.body).toBeLessThan(300);
  }
}, 120_000);

afterAll(async () => {
  const api = kc?.makeApiClient(ApiextensionsV1Api);
  for (const name of monitoringCrds) await api?.deleteCustomResourceDefinition({ name }).catch(() => undefined);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const objectsOf = (variant: Variant) => rendered.get(variant)!;
const find = (objects: RenderedObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const podSpec = (o: RenderedObject | undefined) =>
  ((o?.spec as Json | undefined)?.template as Json | undefined)?.spec as Json | undefined;
const containersOf = (o: RenderedObject) => (podSpec(o)?.containers ?? []) as Json[];

describe('every rendered object passes a server-side dry-run against the real API server', () => {
  it.each(Object.keys(VARIANTS) as Variant[])('%s', async (variant) => {
    const objects = objectsOf(variant);
    expect(objects.length).toBeGreaterThan(0);
    const refused: string[] = [];
    for (const obj of objects) {
      const res = await serverSideApply(kc, paths, obj, {
        namespace: NAMESPACE,
        dryRun: true,
        fieldManager: FIELD_MANAGER,
      });
      const what = `${obj.kind} ${obj.metadata.name}`;
      if (res.status >= 300) refused.push(`${what}: HTTP ${res.status}: ${res.body.slice(0, 400)}`);
      else if (res.headers.warning) refused.push(`${what}: warning ${String(res.headers.warning)}`);
    }
    expect(refused).toEqual([]);
  });
});

describe('what each variant holds', () => {
  it('keeps the CRDs out of everything but deploy/crds and the chart crds/ directory', () => {
    const crdsOnly = objectsOf('kustomize deploy/crds');
    expect(crdsOnly.map((o) => o.kind)).toEqual(crdsOnly.map(() => 'CustomResourceDefinition'));
    expect(crdsOnly).toHaveLength(6);
    for (const variant of ['kustomize deploy/base', 'kustomize deploy/overlays/example', 'kustomize deploy/monitoring'])
      expect(objectsOf(variant as Variant).filter((o) => o.kind === 'CustomResourceDefinition')).toEqual([]);
    // helm --include-crds adds exactly deploy/crds: the same six, field for field.
    const chartCrds = objectsOf('helm template (default values)').filter((o) => o.kind === 'CustomResourceDefinition');
    expect(chartCrds).toEqual(crdsOnly);
  });

  it('renders with the chart what the kustomize base holds', () => {
    const base = objectsOf('kustomize deploy/base');
    const chart = objectsOf('helm template (default values)').filter((o) => o.kind !== 'CustomResourceDefinition');
    // Generated names differ on purpose: kustomize hashes the script's ConfigMap, Helm numbers the Job by revision;
    // the chart leaves the namespace to --create-namespace (namespace.create).
    const generated = (name: string) => name.replace(/^(aim-orchestrator-search-attributes)-.+$/, '$1');
    const identity = (o: RenderedObject) => `${o.kind}/${generated(o.metadata.name)}/${o.metadata.namespace ?? ''}`;
    expect(chart.map(identity).sort()).toEqual(
      base
        .filter((o) => o.kind !== 'Namespace')
        .map(identity)
        .sort(),
    );
    for (const role of base.filter((o) => o.kind === 'ClusterRole'))
      expect(find(chart, 'ClusterRole', role.metadata.name)?.rules, role.metadata.name).toEqual(role.rules);
    for (const binding of base.filter((o) => o.kind === 'ClusterRoleBinding')) {
      const mine = find(chart, 'ClusterRoleBinding', binding.metadata.name);
      expect([mine?.roleRef, mine?.subjects]).toEqual([binding.roleRef, binding.subjects]);
    }
    expect(find(chart, 'ConfigMap', 'aim-orchestrator-config')?.data).toEqual(
      find(base, 'ConfigMap', 'aim-orchestrator-config')?.data,
    );
    for (const kind of ['Deployment', 'Job']) {
      for (const workload of base.filter((o) => o.kind === kind)) {
        const name = workload.metadata.name;
        const mine = chart.find((o) => o.kind === kind && identity(o) === identity(workload))!;
        const essentials = (o: RenderedObject) => {
          const pod = podSpec(o)!;
          return {
            replicas: (o.spec as Json).replicas,
            selector: (o.spec as Json).selector,
            serviceAccountName: pod.serviceAccountName,
            securityContext: { ...(pod.securityContext as Json), fsGroup: undefined },
            volumes: (pod.volumes as Json[]).map((v) => ({ ...v, configMap: v.configMap ? {} : undefined })),
            containers: containersOf(o).map((c) => ({ ...c, imagePullPolicy: undefined })),
          };
        };
        const scriptMap = (pod: Json) => (pod.volumes as Json[]).find((v) => v.configMap)?.configMap as Json;
        expect(essentials(mine), name).toEqual(essentials(workload));
        if (kind === 'Job')
          expect(String(scriptMap(podSpec(mine)!).name)).toBe(generated(String(scriptMap(podSpec(workload)!).name)));
      }
    }
  });

  it.each(['kustomize deploy/overlays/example', 'helm template (values-example.yaml)'] as Variant[])(
    '%s: every container that talks to Temporal gets the API key and the client certificate from Secrets',
    (variant) => {
      const objects = objectsOf(variant);
      const workloads = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job');
      expect(workloads.map((o) => o.metadata.name).sort()).toEqual([
        'aim-orchestrator-bridge',
        expect.stringMatching(/^aim-orchestrator-search-attributes/),
        'aim-orchestrator-worker',
      ]);
      for (const workload of workloads) {
        const pod = podSpec(workload)!;
        const [c] = containersOf(workload);
        const env = new Map((c!.env as Json[]).map((e) => [String(e.name), e]));
        expect(env.get('TEMPORAL_API_KEY')?.valueFrom, workload.metadata.name).toMatchObject({
          secretKeyRef: { name: 'temporal-api-key', key: 'api-key' },
        });
        expect(env.get('TEMPORAL_TLS')?.value).toBe('true');
        const files = [...env.keys()].filter((k) => /^TEMPORAL_TLS_.*_PATH$/.test(k));
        expect(files).toEqual(
          expect.arrayContaining(['TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH']),
        );
        for (const key of files) {
          // The path is a file of a Secret volume mounted read-only into this container.
          const path = String(env.get(key)!.value);
          const mount = (c!.volumeMounts as Json[]).find((m) => m.mountPath === dirname(path));
          expect(mount?.readOnly, `${workload.metadata.name} ${key}`).toBe(true);
          const volume = (pod.volumes as Json[]).find((v) => v.name === mount!.name);
          expect((volume?.secret as Json | undefined)?.secretName).toBe('temporal-client-tls');
        }
        // No credential value is ever inlined.
        for (const e of env.values()) if (/API_KEY|_KEY$/.test(String(e.name))) expect(e.value).toBeUndefined();
      }
    },
  );
});

describe('the search-attribute script (Job and compose service)', () => {
  it('registers the AIM search attributes in a fresh Temporal namespace once, then leaves them alone', async () => {
    const address = inject('temporalAddress');
    const namespace = `aim-install-${Date.now().toString(36)}`;
    const temporal = binPath('temporal');
    await run(temporal, ['operator', 'namespace', 'create', '--namespace', namespace, '--address', address]);
    const env = {
      ...process.env,
      PATH: `${dirname(temporal)}:${process.env.PATH ?? ''}`,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
    };
    const script = join(DEPLOY, 'base', 'register-search-attributes.sh');
    const first = await run('/bin/sh', [script], { env, timeout: 120_000 });
    for (const name of AIM_SEARCH_ATTRIBUTES) expect(first.stdout).toContain(`search attribute ${name}: registered`);
    const again = await run('/bin/sh', [script], { env, timeout: 60_000 });
    for (const name of AIM_SEARCH_ATTRIBUTES)
      expect(again.stdout).toContain(`search attribute ${name}: already registered`);

    // The TLS settings reach the CLI (as flags): TLS against this plaintext server fails, and with an API key in the
    // environment the key appears in nothing the script prints.
    const apiKey = `aim-install-test-key-${Date.now().toString(36)}`;
    const refused = await run('/bin/sh', [script], {
      env: { ...env, TEMPORAL_API_KEY: apiKey, AIM_REGISTER_ATTEMPTS: '1' },
      timeout: 60_000,
    }).then(
      () => undefined,
      (err: { code?: number; stdout?: string; stderr?: string }) => err,
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toContain(`Temporal namespace ${namespace} did not answer after 1 attempts`);
    expect(`${refused?.stdout}${refused?.stderr}`).not.toContain(apiKey);
    const badCert = await run('/bin/sh', [script], {
      env: {
        ...env,
        TEMPORAL_TLS_CLIENT_CERT_PATH: '/nonexistent/tls.crt',
        TEMPORAL_TLS_CLIENT_KEY_PATH: '/nonexistent/tls.key',
        AIM_REGISTER_ATTEMPTS: '1',
      },
      timeout: 60_000,
    }).then(
      () => undefined,
      (err: { stderr?: string }) => err.stderr ?? '',
    );
    // The CLI names the client certificate it could not read (a plaintext run would have succeeded).
    expect(badCert).toMatch(/nonexistent\/tls\.(crt|key)/);

    const connection = await Connection.connect({ address });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      const KEYWORD = 2; // temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
      for (const name of AIM_SEARCH_ATTRIBUTES) expect(customAttributes?.[name], name).toBe(KEYWORD);
    } finally {
      await connection.close();
    }
  });
});
