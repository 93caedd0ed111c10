import { ApiextensionsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KINDS, type KindName } from '../../schemas/index.js';
import { renderAll } from '../../schemas/crd/generate.js';
import { CustomObjects } from '../../activities/kube/customObjects.js';
import { RESOURCES } from '../../activities/kube/resources.js';
import { loadKubeConfig, kubeRequest } from '../harness/kube.js';
import { loadExamples, type Manifest } from '../cases/examples.js';
import { parse } from 'yaml';

let kc: KubeConfig;
let objects: CustomObjects;
const namespace = `crds-${Date.now().toString(36)}`;
let serial = 0;

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
  for (const kind of ['AIMClusterModel', 'AIMClusterServiceTemplate'] as const) {
    for (const o of await objects.list(RESOURCES[kind])) await objects.delete(RESOURCES[kind], o.metadata!.name!);
  }
});

/** A copy placed in the test namespace under a unique name (cluster kinds share one name space across tests). */
function place(m: Manifest): Manifest {
  const copy = structuredClone(m);
  serial += 1;
  copy.metadata.name = `${m.metadata.name.slice(0, 50)}-${serial}`;
  if (KINDS[m.kind as KindName].scope === 'Namespaced') copy.metadata.namespace = namespace;
  return copy;
}

async function create(m: Manifest): Promise<Manifest> {
  return objects.create(RESOURCES[m.kind as KindName], m as never);
}

describe('CRDs in a real API server', () => {
  it.each(Object.values(KINDS).map((k) => [k.crdName] as const))('%s is Established', async (name) => {
    const crd = await kc.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name });
    const established = crd.status?.conditions?.find((c) => c.type === 'Established');
    expect(established?.status).toBe('True');
  });

  it("installs KServe's real InferenceService CRD, not an open schema", async () => {
    const crd = await kc
      .makeApiClient(ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: 'inferenceservices.serving.kserve.io' });
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
    const v1beta1 = crd.spec.versions.find((v) => v.name === 'v1beta1');
    expect(v1beta1?.schema?.openAPIV3Schema?.properties?.spec?.properties?.predictor).toBeDefined();
  });

  it.each([...renderAll()])('%s applies with no warning', async (_file, text) => {
    const crd = parse(text) as { metadata: { name: string } };
    const res = await kubeRequest(kc, {
      method: 'PATCH',
      path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}?fieldManager=aim-crd-check&force=true&dryRun=All&fieldValidation=Strict`,
      body: JSON.stringify(crd),
      contentType: 'application/apply-patch+yaml',
    });
    expect(res.status, res.body).toBe(200);
    expect(res.headers?.warning).toBeUndefined();
  });
});

describe('valid examples', () => {
  it.each([...loadExamples()])('%s is accepted', async (_file, m) => {
    const created = await create(place(m));
    expect(created.metadata.name).toBeTruthy();
  });

  it('gets the CRD defaults, so identities hash alike whatever the entry point', async () => {
    const svc = await create(place(loadExamples().get('aimservice-custom-s3.yaml')!));
    expect(svc.spec.caching).toEqual({ mode: 'Dedicated' });
    expect(svc.spec.replicas).toBe(1);
    const cache = await create(place(loadExamples().get('aimmodelcache.yaml')!));
    expect(cache.spec).toMatchObject({ headroomPercent: 10, stallTimeoutSeconds: 120, maxAttempts: 5 });
  });
});

// Invalid manifests live in test/corpus, one file each; test/corpus/corpus.test.ts sends every one to this server.

describe('print columns and status', () => {
  it('shows every print column in table output, with values from the status subresource', async () => {
    const model = await create(place(loadExamples().get('aimmodel-s3-default-template.yaml')!));
    await objects.applyStatus(RESOURCES.AIMModel, {
      apiVersion: model.apiVersion,
      kind: model.kind,
      metadata: { name: model.metadata.name, namespace },
      status: { status: 'Ready', sourceType: 'Custom' },
    } as never);
    const res = await kubeRequest(kc, {
      method: 'GET',
      path: `/apis/aim.silogen.ai/v1alpha1/namespaces/${namespace}/aimmodels/${model.metadata.name}`,
      accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
    });
    const table = JSON.parse(res.body) as {
      columnDefinitions: Array<{ name: string }>;
      rows: Array<{ cells: unknown[] }>;
    };
    expect(table.columnDefinitions.map((c) => c.name)).toEqual([
      'Name',
      ...KINDS.AIMModel.printColumns.map((c) => c.name),
    ]);
    expect(table.rows[0]!.cells.slice(0, 4)).toEqual([model.metadata.name, 'Ready', 'Custom', model.spec.image]);
  });

  it.each(Object.values(KINDS).map((k) => [k.kind, k] as const))('%s lists with its columns', async (_k, def) => {
    const path =
      def.scope === 'Namespaced'
        ? `/apis/aim.silogen.ai/v1alpha1/namespaces/${namespace}/${def.plural}`
        : `/apis/aim.silogen.ai/v1alpha1/${def.plural}`;
    const res = await kubeRequest(kc, { method: 'GET', path, accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
    const table = JSON.parse(res.body) as { columnDefinitions: Array<{ name: string }> };
    expect(table.columnDefinitions.map((c) => c.name)).toEqual(['Name', ...def.printColumns.map((c) => c.name)]);
  });
});
