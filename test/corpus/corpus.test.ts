import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { CustomObjects } from '../../activities/kube/customObjects.js';
import { KubeApiError } from '../../activities/kube/errors.js';
import { RESOURCES } from '../../activities/kube/resources.js';
import { EXIT } from '../../client/aimctl.js';
import { KINDS, validateObject, type KindName } from '../../schemas/index.js';
import type { Manifest } from '../cases/examples.js';
import {
  baseManifest,
  INVALID_CASES,
  invalidManifest,
  literalCredentials,
  type Expectation,
  type InvalidCase,
} from '../cases/invalidManifests.js';
import { loadKubeConfig } from '../harness/kube.js';
import { runAimctl } from '../harness/scenarios.js';
import { createTestNamespace } from '../harness/namespaces.js';

/**
 * Spec section 10, scenario 9 over the whole corpus (test/corpus/*.yaml): each file is refused by exactly the layers
 * its header names — zod with the field path and message, the API server with its message — nothing is created, and
 * `aimctl apply -f FILE` exits non-zero naming the field (zod) or printing the server's message (API-only rules).
 */
const REPO_ROOT = join(import.meta.dirname, '..', '..');
const namespace = `corpus-${Date.now().toString(36)}`;
const work = mkdtempSync(join(tmpdir(), 'aim-corpus-'));
let kc: KubeConfig;
let objects: CustomObjects;
/** Cluster-scoped objects this file created; the namespace takes the rest with it. */
const clusterObjects: Array<{ kind: KindName; name: string }> = [];

beforeAll(async () => {
  kc = loadKubeConfig(inject('kubeconfigPath'));
  objects = new CustomObjects(kc);
  await createTestNamespace(kc.makeApiClient(CoreV1Api), namespace);
});

afterAll(async () => {
  await kc
    ?.makeApiClient(CoreV1Api)
    .deleteNamespace({ name: namespace })
    .catch(() => undefined);
  for (const o of clusterObjects) await objects.delete(RESOURCES[o.kind], o.name);
  rmSync(work, { recursive: true, force: true });
});

const table = INVALID_CASES.map((c) => [basename(c.file), c] as const);
const kindOf = (m: Manifest) => m.kind as KindName;
const isNamespaced = (m: Manifest) => KINDS[kindOf(m)].scope === 'Namespaced';

/** The object under another name (so the API-server and CLI checks never see each other's objects), in our namespace. */
function placed(m: Manifest, suffix: string): Manifest {
  const copy = structuredClone(m);
  copy.metadata.name = `${m.metadata.name}${suffix}`;
  if (isNamespaced(m)) copy.metadata.namespace = namespace;
  return copy;
}

async function create(m: Manifest): Promise<Manifest> {
  const created = await objects.create(RESOURCES[kindOf(m)], m as never);
  if (!isNamespaced(m)) clusterObjects.push({ kind: kindOf(m), name: m.metadata.name });
  return created;
}

async function stored(m: Manifest): Promise<Manifest | undefined> {
  return objects.get<Manifest>(RESOURCES[kindOf(m)], m.metadata.name, isNamespaced(m) ? namespace : undefined);
}

/** "Nothing created": the kind listed in the namespace (or the cluster) has no object of that name. */
async function expectNothingNamed(m: Manifest): Promise<void> {
  const names = (await objects.list(RESOURCES[kindOf(m)], isNamespaced(m) ? namespace : undefined)).map(
    (o) => o.metadata?.name,
  );
  expect(names).not.toContain(m.metadata.name);
}

async function refusal(fn: () => Promise<unknown>): Promise<KubeApiError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof KubeApiError) return err;
    throw err;
  }
  throw new Error('the API server accepted it');
}

/** The server's whole answer: message plus every cause, so a test can look for the field and the rule. */
const describeRefusal = (e: KubeApiError) =>
  [e.message, ...e.causes.map((c) => `${c.field ?? ''}: ${c.message ?? ''}`)].join('\n');

/** One line of `text` (a message or a `field: message` cause) names the field and carries the message. */
function expectLineWith(text: string, e: Expectation): void {
  const line = text.split('\n').find((l) => l.includes(e.path) && l.includes(e.message));
  expect(line, `expected a line with "${e.path}" and "${e.message}" in:\n${text}`).toBeDefined();
}

describe('zod refuses a corpus file iff its header says so, naming the field', () => {
  it.each(table)('%s', (_file, c: InvalidCase) => {
    const m = invalidManifest(c);
    const v = validateObject(kindOf(m), m);
    if (!c.zod) {
      // Transition rules: zod cannot see the old object, so the file on its own is valid.
      expect(v.ok ? [] : v.errors).toEqual([]);
      return;
    }
    expect(v.ok).toBe(false);
    const errors = v.ok ? [] : v.errors;
    const hit = errors.find((e) => e.path === c.zod!.path && e.message.includes(c.zod!.message));
    expect(hit, `expected "${c.zod.path}: ${c.zod.message}" in ${JSON.stringify(errors)}`).toBeDefined();
  });
});

describe('the API server refuses a corpus file iff its header says so, and creates nothing', () => {
  it.each(table)('%s', async (_file, c: InvalidCase) => {
    const m = placed(invalidManifest(c), '-api');
    if (!c.api) {
      // zod-only rules: the CRD takes the object; the orchestrator's workflow reports InvalidSpec instead.
      const created = await create(m);
      expect(created.metadata.name).toBe(m.metadata.name);
      return;
    }
    let err: KubeApiError;
    if (c.update) {
      const before = await create(placed(baseManifest(c), '-api'));
      const changed = { ...m, metadata: { ...before.metadata } };
      err = await refusal(() => objects.replace(RESOURCES[kindOf(m)], changed as never));
      const after = await stored(m);
      expect(after?.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
      expect(after?.spec).toEqual(before.spec);
    } else {
      err = await refusal(() => create(m));
      await expectNothingNamed(m);
    }
    expect([400, 422]).toContain(err.status);
    expectLineWith(describeRefusal(err), c.api);
  });
});

/** In-process aimctl with the stack's kubeconfig and no Temporal address: apply only talks to the API server. */
const aimctl = (...argv: string[]) => runAimctl([...argv, '-n', namespace], { KUBECONFIG: inject('kubeconfigPath') });

function writeManifest(name: string, m: Manifest): string {
  const path = join(work, name);
  writeFileSync(path, stringify(m));
  return path;
}

describe('aimctl apply -f FILE exits non-zero for every corpus file, printing why', () => {
  it.each(table)('%s', async (file, c: InvalidCase) => {
    const m = invalidManifest(c);
    if (c.update) {
      const base = await aimctl('apply', '-f', writeManifest(`base-${file}`, baseManifest(c)));
      expect(base.code, base.stderr).toBe(EXIT.ok);
      if (!isNamespaced(m)) clusterObjects.push({ kind: kindOf(m), name: m.metadata.name });
    }
    const before = c.update ? await stored(m) : undefined;
    const r = await aimctl('apply', '-f', c.file);
    expect(r.code).not.toBe(EXIT.ok);
    if (c.zod) {
      // Refused before anything is sent: exit 65 with every `path: message`.
      expect(r.code).toBe(EXIT.invalid);
      expectLineWith(r.stderr, { path: `${c.zod.path}: `, message: c.zod.message });
      await expectNothingNamed(m);
    } else {
      // API-only (transition) rules: the server's own message, and the stored object unchanged.
      expect(r.code).toBe(EXIT.invalid);
      expectLineWith(r.stderr, c.api!);
      expect((await stored(m))?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
    }
    for (const secret of literalCredentials(m)) expect(r.stderr + r.stdout).not.toContain(secret);
  });

  const withoutTemporal = ({ TEMPORAL_ADDRESS: _address, ...env }: NodeJS.ProcessEnv) => env;

  it('the aimctl binary exits 65 for a zod-refused file and for a transition the API server refuses', async () => {
    const exec = promisify(execFile);
    const bin = (file: string) =>
      exec(process.execPath, ['--import', 'tsx', 'client/bin/aimctl.ts', 'apply', '-f', file, '-n', namespace], {
        cwd: REPO_ROOT,
        env: { ...withoutTemporal(process.env), KUBECONFIG: inject('kubeconfigPath') },
      }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );

    const zodCase = INVALID_CASES.find((c) => c.zod && c.categories.includes('literal-credential'))!;
    const refused = await bin(zodCase.file);
    expect(refused.code).toBe(EXIT.invalid);
    expect(refused.stderr).toContain(`${zodCase.zod!.path}: ${zodCase.zod!.message}`);

    const transition = INVALID_CASES.find((c) => c.update)!;
    const base = placed(baseManifest(transition), '-bin');
    const changed = placed(invalidManifest(transition), '-bin');
    expect((await aimctl('apply', '-f', writeManifest('bin-base.yaml', base))).code).toBe(EXIT.ok);
    if (!isNamespaced(base)) clusterObjects.push({ kind: kindOf(base), name: base.metadata.name });
    const immutable = await bin(writeManifest('bin-changed.yaml', changed));
    expect(immutable.code).toBe(EXIT.invalid);
    expect(immutable.stderr).toContain(transition.api!.message);
  });
});
