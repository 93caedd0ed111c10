/* eslint-disable @typescript-eslint/no-explicit-any -- statuses are written loosely */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { RESOURCES } from '../../activities/kube/resources.js';
import { EXIT } from '../../client/aimctl.js';
import { aimctlInMemory } from '../harness/aimctlInMemory.js';
import type { MemoryObjects } from '../harness/memoryObjects.js';
import { example } from '../cases/examples.js';

/** The verbs against an in-memory API server (MemoryObjects): output and exit codes, no servers. */
const work = mkdtempSync(join(tmpdir(), 'aimctl-verbs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const setup = () => aimctlInMemory({ workDir: work });

const file = (name: string, docs: unknown[]) => {
  const path = join(work, name);
  writeFileSync(path, docs.map((d) => stringify(d)).join('---\n'));
  return path;
};

function serviceWithStatus(store: MemoryObjects, status: any) {
  const svc = example('aimservice-custom-s3.yaml');
  store.put(RESOURCES.AIMService, {
    ...svc,
    metadata: { name: 'qwen-chat', namespace: 'team-a', uid: 'u-1', creationTimestamp: new Date().toISOString() },
    status,
  });
}

const cacheObj = (name: string, status: any, labels: Record<string, string> = {}) => ({
  apiVersion: 'aim.silogen.ai/v1alpha1',
  kind: 'AIMModelCache',
  metadata: { name, namespace: 'team-a', labels, creationTimestamp: new Date().toISOString() },
  spec: { modelId: 'Qwen/Qwen2-0.5B', sourceUri: 's3://models/qwen2-0.5b' },
  status,
});

describe('apply and get', () => {
  it('applies every document and lists them with the kind columns', async () => {
    const { aimctl, store } = setup();
    const r = await aimctl(
      'apply',
      '-f',
      file('two.yaml', [example('aimmodel-s3-custom-templates.yaml'), example('aimservice-custom-s3.yaml')]),
    );
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toBe('aimmodel.aim.silogen.ai/qwen-small applied\naimservice.aim.silogen.ai/qwen-chat applied\n');
    expect(store.peek(RESOURCES.AIMModel, 'qwen-small', 'team-a')).toBeDefined();

    const svc = store.peek(RESOURCES.AIMService, 'qwen-chat', 'team-a');
    svc.status = {
      status: 'Starting',
      resolvedModel: { name: 'qwen-qwen2-0-5b-abcd1234' },
      progressDisplay: 'Downloading 1/1 caches (40%)',
    };
    const got = await aimctl('get', 'aimsvc');
    expect(got.code).toBe(EXIT.ok);
    const [header, row] = got.stdout.trim().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['NAME', 'STATUS', 'MODEL', 'TEMPLATE', 'PROGRESS', 'ENDPOINT', 'AGE']);
    expect(row).toMatch(/^qwen-chat\s+Starting\s+qwen-qwen2-0-5b-abcd1234\s+Downloading 1\/1 caches \(40%\)\s+\d+s$/);

    // Running: the endpoint in its column; `-o wide` adds the in-cluster address, `describe` shows both.
    svc.status = {
      status: 'Running',
      progressDisplay: 'Running',
      endpoint: {
        inferenceService: 'qwen-chat',
        url: 'http://qwen-chat-team-a.example.com',
        internalUrl: 'http://qwen-chat-predictor.team-a.svc.cluster.local',
      },
    };
    const running = (await aimctl('get', 'aimsvc')).stdout.trim().split('\n')[1]!;
    expect(running).toMatch(/^qwen-chat\s+Running\s+.*http:\/\/qwen-chat-team-a\.example\.com\s+\d+s$/);
    const [wideHeader, wideRow] = (await aimctl('get', 'aimsvc', '-o', 'wide')).stdout.trim().split('\n');
    expect(wideHeader!.split(/\s{2,}/).slice(-3)).toEqual(['ENDPOINT', 'AGE', 'INTERNAL-URL']);
    expect(wideRow).toMatch(/\s+http:\/\/qwen-chat-predictor\.team-a\.svc\.cluster\.local$/);
    const described = (await aimctl('describe', 'aimsvc', 'qwen-chat')).stdout;
    expect(described).toContain('Endpoint:      http://qwen-chat-team-a.example.com (InferenceService qwen-chat)');
    expect(described).toContain('Internal URL:  http://qwen-chat-predictor.team-a.svc.cluster.local');

    expect(JSON.parse((await aimctl('get', 'aimsvc', 'qwen-chat', '-o', 'json')).stdout).metadata.name).toBe(
      'qwen-chat',
    );
    expect((await aimctl('get', 'aimmdl', '-o', 'yaml')).stdout).toContain('kind: List');
    const missing = await aimctl('get', 'aimsvc', 'nope');
    expect(missing.code).toBe(EXIT.failure);
    expect(missing.stderr).toContain('(NotFound)');
  });

  it('get caches --unused: Shared caches no service lists', async () => {
    const { aimctl, store } = setup();
    store.put(
      RESOURCES.AIMModelCache,
      cacheObj('shared-used', { status: 'Ready', displaySize: '1 GiB' }, { 'aim.silogen.ai/cache-mode': 'shared' }),
    );
    store.put(
      RESOURCES.AIMModelCache,
      cacheObj('shared-free', { status: 'Ready', displaySize: '2 GiB' }, { 'aim.silogen.ai/cache-mode': 'shared' }),
    );
    store.put(
      RESOURCES.AIMModelCache,
      cacheObj('dedicated', { status: 'Ready' }, { 'aim.silogen.ai/cache-mode': 'dedicated' }),
    );
    serviceWithStatus(store, {
      status: 'Running',
      caches: [{ name: 'shared-used', modelId: 'Qwen/Qwen2-0.5B', status: 'Ready' }],
    });
    const r = await aimctl('get', 'caches', '--unused');
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toMatch(
      /^NAME\s+MODEL\s+SIZE\s+STATUS\s+LAST USED\s+AGE\nshared-free\s+Qwen\/Qwen2-0.5B\s+2 GiB\s+Ready\s+never\s+\d+s\n$/,
    );
  });
});

describe('wait', () => {
  it('prints progress with a bar as it changes and exits 0 when Running', async () => {
    const { aimctl, store } = setup();
    serviceWithStatus(store, {
      status: 'Starting',
      progressDisplay: 'Downloading',
      caches: [{ name: 'c1', modelId: 'Qwen/Qwen2-0.5B', status: 'Progressing', percent: 10 }],
    });
    store.put(
      RESOURCES.AIMModelCache,
      cacheObj('c1', {
        status: 'Progressing',
        attempt: 1,
        progress: { downloadedBytes: 1, percent: 10, display: '100 MiB / 1 GiB' },
      }),
    );
    const steps = [
      () =>
        (store.peek(RESOURCES.AIMModelCache, 'c1', 'team-a').status.progress = {
          downloadedBytes: 2,
          percent: 60,
          display: '600 MiB / 1 GiB',
        }),
      () =>
        (store.peek(RESOURCES.AIMService, 'qwen-chat', 'team-a').status = {
          status: 'Starting',
          progressDisplay: 'Deploying',
        }),
      () => (store.peek(RESOURCES.AIMService, 'qwen-chat', 'team-a').status = { status: 'Running' }),
    ];
    const timer = setInterval(() => steps.shift()?.(), 60);
    const r = await aimctl('wait', 'aimsvc', 'qwen-chat', '--for=Running', '--interval', '20ms');
    clearInterval(timer);
    expect(r.code).toBe(EXIT.ok);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('aimservice.aim.silogen.ai/qwen-chat: Starting - Downloading');
    expect(lines).toContain('  cache c1: Progressing attempt 1 [##------------------]  10% 100 MiB / 1 GiB');
    expect(lines).toContain('  cache c1: Progressing attempt 1 [############--------]  60% 600 MiB / 1 GiB');
    expect(lines).toContain('aimservice.aim.silogen.ai/qwen-chat: Starting - Deploying');
    expect(lines.at(-1)).toBe('aimservice.aim.silogen.ai/qwen-chat is Running');
  });

  it('exits 1 on Failed with the reason', async () => {
    const { aimctl, store } = setup();
    serviceWithStatus(store, {
      status: 'Failed',
      conditions: [
        {
          type: 'AuthValid',
          status: 'False',
          reason: 'SecretNotFound',
          message: 'team-a/s3-credentials missing',
          lastTransitionTime: new Date().toISOString(),
        },
      ],
    });
    const r = await aimctl('wait', 'aimsvc', 'qwen-chat', '--for=Running', '--interval', '20ms');
    expect(r.code).toBe(EXIT.failure);
    expect(r.stderr).toContain('Failed: SecretNotFound: team-a/s3-credentials missing');
  });

  it('exits 2 on timeout, 1 when the object does not exist', async () => {
    const { aimctl, store } = setup();
    serviceWithStatus(store, { status: 'Starting' });
    const r = await aimctl('wait', 'aimsvc', 'qwen-chat', '--for=Running', '--timeout', '150ms', '--interval', '20ms');
    expect(r.code).toBe(EXIT.timeout);
    expect(r.stderr).toContain('timed out after 150ms');
    expect((await aimctl('wait', 'aimmdl', 'nope', '--for=Ready', '--interval', '20ms')).code).toBe(EXIT.failure);
  });
});

describe('describe, logs, retry, delete', () => {
  it('describe shows status, caches, conditions and the workflow id', async () => {
    const { aimctl, store } = setup();
    serviceWithStatus(store, {
      status: 'Starting',
      workflow: { id: 'aim/AIMService/team-a/qwen-chat', runId: 'r1' },
      caches: [{ name: 'c1', modelId: 'Qwen/Qwen2-0.5B', status: 'Progressing', percent: 25 }],
      conditions: [
        {
          type: 'CacheReady',
          status: 'False',
          reason: 'Downloading',
          message: '25%',
          lastTransitionTime: new Date().toISOString(),
        },
      ],
    });
    const r = await aimctl('describe', 'aimsvc', 'qwen-chat');
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toContain('Workflow:      aim/AIMService/team-a/qwen-chat (run r1)');
    expect(r.stdout).toContain('  c1  Qwen/Qwen2-0.5B  Progressing  [#####---------------]  25%');
    expect(r.stdout).toMatch(/CacheReady\s+False\s+Downloading\s+\d+s\s+25%/);
    expect(r.stdout).toMatch(/Events:\n {2}<cannot list: /); // no API server here
  });

  it('logs prints each cache of the service with its progress and last failure', async () => {
    const { aimctl, store } = setup();
    serviceWithStatus(store, {
      status: 'Starting',
      caches: [{ name: 'c1', modelId: 'Qwen/Qwen2-0.5B', status: 'Progressing' }],
    });
    store.put(
      RESOURCES.AIMModelCache,
      cacheObj('c1', {
        status: 'Progressing',
        attempt: 2,
        progress: { downloadedBytes: 1, percent: 50, display: '512 MiB / 1 GiB, 20 MiB/s' },
        conditions: [
          {
            type: 'DownloadReady',
            status: 'False',
            reason: 'Stalled',
            message: 'no progress for 120s',
            lastTransitionTime: new Date().toISOString(),
          },
        ],
      }),
    );
    const r = await aimctl('logs', 'qwen-chat');
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toBe(
      '  cache c1: Progressing attempt 2 [##########----------]  50% 512 MiB / 1 GiB, 20 MiB/s (Stalled: no progress for 120s)\n',
    );
  });

  it('retry sets the annotation; delete --force removes the finalizer and the InferenceService', async () => {
    const { aimctl, store } = setup();
    serviceWithStatus(store, { status: 'Running' });
    const svc = store.peek(RESOURCES.AIMService, 'qwen-chat', 'team-a');
    svc.metadata.finalizers = ['aim.silogen.ai/cleanup'];
    store.put(RESOURCES.InferenceService, { metadata: { name: 'qwen-chat', namespace: 'team-a' } });

    const retried = await aimctl('retry', 'aimservices', 'qwen-chat');
    expect(retried.code).toBe(EXIT.ok);
    expect(
      store.peek(RESOURCES.AIMService, 'qwen-chat', 'team-a').metadata.annotations['aim.silogen.ai/retry'],
    ).toBeTruthy();

    const plain = await aimctl('delete', 'aimsvc', 'qwen-chat');
    expect(plain.stdout).toContain('deletion requested');
    const forced = await aimctl('delete', 'aimsvc', 'qwen-chat', '--force');
    expect(forced.code).toBe(EXIT.ok);
    expect(forced.stdout).toBe('aimservice.aim.silogen.ai/qwen-chat deleted\n');
    expect(store.peek(RESOURCES.AIMService, 'qwen-chat', 'team-a')).toBeUndefined();
    expect(store.peek(RESOURCES.InferenceService, 'qwen-chat', 'team-a')).toBeUndefined();
    expect((await aimctl('delete', 'aimsvc', 'qwen-chat')).code).toBe(EXIT.failure);
  });
});
