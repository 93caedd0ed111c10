import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { AuthorizationV1Api } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TEST_SECRET_VALUES } from '../harness/fixtures.js';
import { loadKubeConfig } from '../harness/kube.js';
import { rbacAttributes } from '../harness/apiRequests.js';
import { collectStatusesAndEvents, RUN_LOGS } from '../harness/runLog.js';
import { serviceAccountKubeconfigPath } from '../harness/serviceAccount.js';
import { REPO_ROOT } from '../harness/stack.js';

/**
 * The secrets audit (issues 6 and 7: secrets never enter workflow inputs, histories, logs, status or messages). It
 * runs last (see the sequencer in vitest.config.ts) and scans, for every secret value of the suite
 * (TEST_SECRET_VALUES, plus this run's admin and ServiceAccount tokens):
 * - every workflow history the suite produced, exported from the real Temporal server, payloads decoded (the JSON
 *   export holds them as base64, where a plain text search would never see a secret);
 * - every file of the stack's log dir: kube-apiserver, kube-controller-manager, etcd and Temporal server logs, the
 *   workers' Runtime logs and the bridges' logs of every test process, the worker identity's request log, and the
 *   statuses and Events each fixture recorded before deleting its namespace;
 * - the status of every AIM object and InferenceService and every Event still in the cluster, in all namespaces.
 * Zero hits. The first tests prove that the scanner finds a planted value in each kind of source.
 */
const TEST_DIRS = ['integration', 'e2e', 'faults', 'corpus'].map((d) => join(REPO_ROOT, 'test', d));

/** Files under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/**
 * Secret values written literally in the test files and the corpus (each must be in TEST_SECRET_VALUES): S3 secret
 * keys, the credential entries of Secrets' stringData, Hub tokens, and literal credentials in corpus manifests.
 * Secret *names* (`secret: 's3-wrong'` options, secretKeyRef names) are not secrets: product messages name them.
 */
function literalSecretsOfTests(): string[] {
  const values = new Set<string>();
  for (const file of TEST_DIRS.flatMap(filesUnder).filter((f) => !f.endsWith('zz-secretsAudit.test.ts'))) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.ts')) {
      for (const m of text.matchAll(/const (?:SECRET|SECRET_KEY) = '([^']+)'/g)) values.add(m[1]!);
      for (const m of text.matchAll(/\bsecretKey: '([^']{6,})'/g)) values.add(m[1]!);
      for (const m of text.matchAll(/\b(?:token|HF_TOKEN): '(hf_[^']+)'/g)) values.add(m[1]!);
      for (const data of text.matchAll(/stringData: \{([^}]*)\}/g))
        for (const m of data[1]!.matchAll(/(?:\bsecret|'secret-key'|\btoken|\bpassword): '([^']{6,})'/g))
          values.add(m[1]!);
    } else if (/\.ya?ml$/.test(file)) {
      const credential =
        /- name: (?:AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|AWS_SESSION_TOKEN|HF_TOKEN|HUGGING_FACE_HUB_TOKEN)\s*\n\s*value: ["']?([^"'\s]+)/g;
      for (const m of text.matchAll(credential)) values.add(m[1]!);
    }
  }
  return [...values];
}

/** The run's Kubernetes tokens: the admin's and those of the worker's and the bridge's ServiceAccounts. */
function runTokens(): string[] {
  const tokens = [inject('stack').kubeToken];
  for (const account of ['worker', 'bridge'] as const) {
    const sa = serviceAccountKubeconfigPath(inject('kubeconfigPath'), account);
    if (existsSync(sa)) tokens.push(loadKubeConfig(sa).getCurrentUser()?.token ?? '');
  }
  return tokens.filter((t) => t.length >= 16);
}

const secretValues = (): string[] => [...TEST_SECRET_VALUES, ...runTokens()];

/** Which of `values` occur in `text`, named by their first four characters only (the report must not leak them). */
function hitsIn(text: string, values: readonly string[], where: string): string[] {
  return values.filter((v) => text.includes(v)).map((v) => `${where}: ${v.slice(0, 4)}…`);
}

/** All text of a structure: its strings, and its byte arrays (payloads) decoded as UTF-8. */
function textOf(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (Array.isArray(value)) for (const v of value) textOf(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) textOf(v, out);
  return out;
}

/** Every file under `dir`: hits and how many files and lines were read, per file name. */
function scanDir(dir: string, values: readonly string[]): { hits: string[]; lines: Map<string, number> } {
  const hits: string[] = [];
  const lines = new Map<string, number>();
  for (const file of filesUnder(dir)) {
    const text = readFileSync(file, 'utf8');
    const name = relative(dir, file);
    lines.set(name, text.split('\n').length - 1);
    hits.push(...hitsIn(text, values, name));
  }
  return { hits, lines };
}

let connection: Connection;
let client: Client;
const counts: Record<string, number> = {};

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: inject('temporalNamespace') });
});
afterAll(async () => {
  await connection?.close();
  console.info(`[secrets audit] scanned: ${JSON.stringify(counts)}`);
});

describe('secrets audit: the scanner', () => {
  it('knows every secret value the test files use', () => {
    const listed = new Set(secretValues());
    const used = literalSecretsOfTests();
    expect(used).toContain('svc-secret-value-7');
    expect(used).toContain('hf_literal'); // from test/corpus
    expect(used.filter((v) => !listed.has(v)).map((v) => v.slice(0, 4))).toEqual([]);
    expect(runTokens().length).toBeGreaterThanOrEqual(1);
  });

  it('finds a planted value in a log file, in a nested file and in a base64-exported payload', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'aim-audit-'));
    try {
      const planted = TEST_SECRET_VALUES[0]!;
      mkdirSync(join(scratch, RUN_LOGS.objects));
      writeFileSync(join(scratch, 'workers.jsonl'), `{"message":"ok"}\n{"message":"key=${planted}"}\n`);
      writeFileSync(join(scratch, RUN_LOGS.objects, 'ns.json'), JSON.stringify({ status: { message: 'fine' } }));
      const found = scanDir(scratch, secretValues());
      expect(found.hits).toEqual([`workers.jsonl: ${planted.slice(0, 4)}…`]);
      expect(found.lines.get('workers.jsonl')).toBe(2);

      const history = {
        events: [{ input: { payloads: [{ data: Buffer.from(JSON.stringify({ env: [{ value: planted }] })) }] } }],
      };
      expect(historyToJSON(history as never)).not.toContain(planted); // base64 in the export
      expect(hitsIn(textOf(history).join('\n'), secretValues(), 'h')).toHaveLength(1);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe('secrets audit: zero hits', () => {
  it('no workflow history of the suite contains any secret value', async () => {
    const values = secretValues();
    let histories = 0;
    const hits: string[] = [];
    for await (const wf of client.workflow.list({ query: 'WorkflowId STARTS_WITH "aim/"' })) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      histories += 1;
      const text = `${historyToJSON(history)}\n${textOf(history).join('\n')}`;
      hits.push(...hitsIn(text, values, wf.workflowId));
    }
    counts.histories = histories;
    expect(histories).toBeGreaterThan(0);
    expect(hits).toEqual([]);
  });

  it('no server, worker or bridge log and no recorded status or Event contains any secret value', () => {
    const logDir = inject('stackLogDir');
    const { hits, lines } = scanDir(logDir, secretValues());
    const sum = (pred: (f: string) => boolean) => [...lines].filter(([f]) => pred(f)).reduce((n, [, l]) => n + l, 0);
    counts.logFiles = lines.size;
    counts.serverLogLines = sum((f) => f.endsWith('.log'));
    counts.workerLogLines = lines.get(RUN_LOGS.workers) ?? 0;
    counts.bridgeLogLines = lines.get(RUN_LOGS.bridge) ?? 0;
    counts.workerRequests = lines.get(RUN_LOGS.requests) ?? 0;
    const recorded = [...lines.keys()].filter((f) => f.startsWith(`${RUN_LOGS.objects}/`));
    counts.recordedNamespaces = recorded.length;
    for (const f of recorded) {
      const state = JSON.parse(readFileSync(join(logDir, f), 'utf8')) as { objects: unknown[]; events: unknown[] };
      counts.recordedStatuses = (counts.recordedStatuses ?? 0) + state.objects.length;
      counts.recordedEvents = (counts.recordedEvents ?? 0) + state.events.length;
    }
    expect(counts.serverLogLines).toBeGreaterThan(0);
    expect(lines.has('kube-apiserver.log')).toBe(true);
    expect([...lines.keys()].some((f) => f.startsWith('temporal'))).toBe(true);
    expect(counts.workerLogLines).toBeGreaterThan(0);
    expect(counts.recordedNamespaces).toBeGreaterThan(0);
    expect(hits).toEqual([]);
  });

  it('no status of an AIM object or InferenceService and no Event in any namespace contains any secret value', async () => {
    const { objects, events } = await collectStatusesAndEvents(loadKubeConfig(inject('kubeconfigPath')));
    counts.liveStatuses = objects.length;
    counts.liveEvents = events.length;
    const values = secretValues();
    const hits = [
      ...objects.flatMap((o) => hitsIn(JSON.stringify(o.status), values, `${o.kind} ${o.namespace ?? ''}/${o.name}`)),
      ...events.flatMap((e) => hitsIn(JSON.stringify(e), values, `Event ${e.metadata?.namespace}/${e.metadata?.name}`)),
    ];
    expect(events.length).toBeGreaterThan(0);
    expect(hits).toEqual([]);
  });
});

describe('the worker identity during the run', () => {
  it('was refused no request (deploy/base/rbac.yaml grants everything the worker and the bridge do)', async () => {
    const file = join(inject('stackLogDir'), RUN_LOGS.requests);
    const requests = existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map(
            (l) =>
              JSON.parse(l) as { method: string; path: string; status: number; namespace: string; identity: string },
          )
      : [];
    // A 403 is also how admission refuses a request RBAC allowed (a ResourceQuota, a namespace being deleted, both
    // provoked on purpose by tests): the API server's own SubjectAccessReview tells an RBAC refusal from those.
    const authz = loadKubeConfig(inject('kubeconfigPath')).makeApiClient(AuthorizationV1Api);
    const refused: string[] = [];
    for (const r of requests.filter((x) => x.status === 403)) {
      const a = rbacAttributes(r.method, r.path);
      const review = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user: r.identity,
            groups: ['system:serviceaccounts', 'system:authenticated'],
            ...('resource' in a
              ? {
                  resourceAttributes: {
                    group: a.group,
                    resource: a.resource.split('/')[0],
                    ...(a.resource.includes('/') ? { subresource: a.resource.split('/')[1] } : {}),
                    verb: a.verb,
                    ...(a.namespace ? { namespace: a.namespace } : {}),
                    ...(a.name ? { name: a.name } : {}),
                  },
                }
              : { nonResourceAttributes: { path: a.nonResourceURL, verb: a.verb } }),
          },
        },
      });
      if (!review.status?.allowed) refused.push(`${r.method} ${r.path.split('?')[0]}`);
    }
    expect([...new Set(refused)]).toEqual([]);
  });
});
