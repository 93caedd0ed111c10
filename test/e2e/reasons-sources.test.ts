/* eslint-disable @typescript-eslint/no-explicit-any -- objects are asserted field by field */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CoreV1Event, V1Job } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { DEFAULT_TIMING, type LifecycleTiming } from '../../domain/timing.js';
import { exampleSecret, type KubeManifest, type Manifest } from '../cases/examples.js';
import { cacheDir } from '../harness/bins.js';
import { recordCacheHistory } from '../harness/recordHistory.js';
import {
  contentBuffer,
  deterministicBytes,
  GATED_REPO,
  MIRRORED_REPO,
  modelFiles,
  PRIVATE_REPO,
  PUBLIC_REPO,
} from '../harness/fixtures.js';
import { downloaderImageMapping, startProcessKubelet, type ProcessKubelet } from '../harness/kubelet.js';
import { waitForObject } from '../harness/orchestrator.js';
import { waitFor } from '../harness/processes.js';
import { recordNamespaceState } from '../harness/runLog.js';
import {
  condition,
  EXAMPLE_BUCKET,
  kubectlApply,
  putTinyModel,
  standaloneCache,
  startAcceptance,
  useHub,
  type AcceptanceFixture,
} from '../harness/scenarios.js';
import { REPO_ROOT } from '../harness/stack.js';
import { startTcpProxy, type TcpProxy } from '../harness/tcpProxy.js';
import type { Bridge } from '../../bridge/bridge.js';
import { createTestNamespace } from '../harness/namespaces.js';

/**
 * Spec 7, the source reasons produced for real through a cache (AIMModelCache → probe Job → download Job) against
 * the stack's SeaweedFS and the Hub fixture, each in a namespace of its own and all at once: the reason on the
 * condition and the status, a message that names what to fix and never a secret, the Event, no retry storm, and the
 * recovery after the fix with no human nudge (measured). A fixed Secret is seen by the bridge at once; a licence
 * accepted on the Hub is no cluster change, so it is picked up by the re-probe back-off, compressed here by
 * configuration (1 minute → 3 s, 30 minutes → 90 s) as AIM_TIME_SCALE does for a worker, never by sleeping less.
 *
 * The Hub's own refusals: RateLimited is the Hub fixture answering 429 with the Hub's RateLimit headers to one user's
 * token (a cache with `size` goes on past the probe, its download attempts are paced by the workflow's 10 s → 5 min
 * back-off, and it is Ready once the limit lifts, with nothing touched; a cache without `size` has its probe asked
 * again after the pause, Progressing meanwhile); SizeUnknown is a repo answered like a mirror
 * that drops `?blobs=true` (Olah's proxy: names, no sizes), fixed by the user setting `size` on the cache.
 */
const TIMING: LifecycleTiming = { ...DEFAULT_TIMING, backoffBaseSeconds: 3, backoffMaxSeconds: 90 };
/** Each refused credential is held at least this long before the fix (and until a re-probe was refused again). */
const HOLD_MS = 10_000;
const WEIGHTS = deterministicBytes('e2e-reasons-sources/weights', 1024 * 1024);
const WRONG_SECRET_VALUE = 'wrong-secret-value-reasons';
const INVALID_HF_TOKEN = 'hf_invalidtokenvalue123';
const CASES = ['s3-auth', 'hf-auth', 'gated', 'integrity', 'unreachable', 'rate-limited', 'size-unknown'] as const;
/** The size a user sets on a source the Hub cannot measure (the mirrored repo holds ~3 MiB). */
const SPEC_SIZE = '10Mi';
type Case = (typeof CASES)[number];
// All cases wait at once: vitest runs at most 5 concurrent tests by default, which would queue the last two behind
// the first to finish (about 40 s more for the file).
vi.setConfig({ maxConcurrency: CASES.length });

let e2e: AcceptanceFixture;
let kubelet: ProcessKubelet;
let bridge: Bridge;
let unreachable: TcpProxy;
let workDir: string;
/** The token of the user the Hub rate-limits (the Hub limits per user; the other cases' tokens are not limited). */
let limitedToken: string;
const namespaces = {} as Record<Case, string>;
const recovery: Record<string, string> = {};

beforeAll(async () => {
  e2e = await startAcceptance({ hub: true, proxy: true, timing: TIMING });
  workDir = mkdtempSync(join(tmpdir(), 'aim-reasons-'));
  for (const c of CASES) {
    namespaces[c] = `${e2e.namespace}-${c}`;
    await createTestNamespace(e2e.orch.core, namespaces[c]);
  }
  const mine = new Set(Object.values(namespaces));
  // A node for the case namespaces (the fixture's own node serves its namespace only) and a bridge watching them.
  kubelet = await startProcessKubelet({
    kubeconfigPath: inject('kubeconfigPath'),
    workDir: join(workDir, 'kubelet'),
    nodeName: `node-${e2e.namespace}-reasons`,
    backoffBaseMs: 4000,
    backoffMaxMs: 60_000,
    images: downloaderImageMapping(REPO_ROOT),
    namespaces: (ns) => mine.has(ns),
    extraPath: [join(cacheDir(), 'bin')],
  });
  bridge = e2e.orch.startBridge({ namespaces: [...mine] });
  for (const prefix of ['rs-auth', 'rs-integrity', 'rs-unreachable'])
    await putTinyModel(e2e.s3, EXAMPLE_BUCKET, prefix, WEIGHTS);
  const s3Host = new URL(e2e.s3.endpoint).host;
  unreachable = await startTcpProxy(s3Host);
  await unreachable.down();
  // Credentials per namespace: wrong S3 keys, an invalid HF token, a token without access, the right S3 keys.
  await applyIn('s3-auth', s3Secret(WRONG_SECRET_VALUE));
  await applyIn('hf-auth', hfSecret(INVALID_HF_TOKEN));
  await applyIn('gated', hfSecret(e2e.hub!.noAccessToken));
  for (const c of ['integrity', 'unreachable'] as const) await applyIn(c, s3Secret(e2e.s3.secretKey));
  limitedToken = e2e.hub!.newToken();
  await applyIn('rate-limited', hfSecret(limitedToken));
  await bridge.ready;
}, 240_000);

afterAll(async () => {
  await bridge?.stop();
  await kubelet?.stop();
  await unreachable?.stop();
  for (const ns of Object.values(namespaces)) {
    // For the secrets audit at the end of the run, as the fixture records its own namespace.
    await recordNamespaceState(e2e.orch.kc, ns, e2e.orch.logDir).catch(() => undefined);
    await e2e.orch.core.deleteNamespace({ name: ns }).catch(() => undefined);
  }
  await e2e?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  console.log(`[reasons-sources] recovery after the fix: ${JSON.stringify(recovery)}`);
});

function s3Secret(secretKey: string): KubeManifest {
  return exampleSecret('secret-s3-credentials.yaml', { 'access-key': e2e.s3.accessKey, 'secret-key': secretKey });
}

function hfSecret(token: string): KubeManifest {
  return exampleSecret('secret-hf-token.yaml', { token });
}

function applyIn(c: Case, m: KubeManifest): Promise<unknown> {
  return kubectlApply(e2e.orch.kc, { ...m, metadata: { ...m.metadata, namespace: namespaces[c] } });
}

/** A standalone cache of a Hugging Face repo on the Hub fixture, HF_TOKEN from the namespace's Secret hf-token. */
function hfCache(name: string, repo: string): Manifest {
  const m = standaloneCache(e2e.s3.endpoint, name, 'unused', { size: undefined });
  m.spec.env = [{ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hf-token', key: 'token' } } }];
  useHub(m.spec, e2e.hub!.endpoint, repo, true);
  return m;
}

/** A cache of the repo the Hub fixture answers like a mirror that ignores `?blobs=true`; public, so no token. */
function mirroredCache(name: string, size?: string): Manifest {
  const m = standaloneCache(e2e.s3.endpoint, name, 'unused', { size });
  useHub(m.spec, e2e.hub!.endpoint, MIRRORED_REPO, false);
  return m;
}

const cacheUntil = (c: Case, name: string, ok: (o: any) => boolean, ms = 120_000) =>
  waitForObject<any>(e2e.orch.objects, RESOURCES.AIMModelCache, name, namespaces[c], ok, ms);
const jobsOf = async (c: Case, name: string): Promise<V1Job[]> =>
  (await e2e.batch.listNamespacedJob({ namespace: namespaces[c], labelSelector: `aim.silogen.ai/cache=${name}` }))
    .items;
const jobNames = async (c: Case, name: string, kind: 'probe' | 'dl') =>
  (await jobsOf(c, name)).map((j) => j.metadata!.name!).filter((n) => n.startsWith(`${name}-${kind}-`));
const eventsOf = async (c: Case, name: string): Promise<CoreV1Event[]> =>
  (await e2e.orch.core.listNamespacedEvent({ namespace: namespaces[c], fieldSelector: `involvedObject.name=${name}` }))
    .items;
const eventCount = (events: CoreV1Event[], reason: string) =>
  events.filter((e) => e.reason === reason).reduce((n, e) => n + (e.count ?? 1), 0);
/** Waits for a Warning Event of `reason` on the object (Events follow the status write they report). */
const warningEvent = (c: Case, name: string, reason: string) =>
  waitFor(
    `a Warning ${reason} Event on ${name}`,
    async () => (await eventsOf(c, name)).find((e) => e.reason === reason && e.type === 'Warning'),
    { timeoutMs: 30_000, intervalMs: 300 },
  );
const hold = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/**
 * The most probe Jobs a cache may have `ms` after its first probe failed: that one, and one per back-off step that
 * fits (3 s, then 6 s, 12 s …; the probes' own run time only lowers it). 2 s of slack for when the failure was seen.
 */
function maxProbesWithin(ms: number): number {
  return 1 + Math.floor(Math.log2((ms + 2000) / 1000 / TIMING.backoffBaseSeconds + 1));
}

/**
 * Waits until the cache was re-probed on its back-off and refused again (its second probe Job failed, nothing changed
 * in the cluster), then holds until HOLD_MS after the first failure; asserts the probe Jobs and the Events of `reason`
 * over that window stay within the back-off's bound.
 */
async function expectReprobedWithoutStorm(c: Case, name: string, reason: string, failedAt: number): Promise<void> {
  await waitFor(
    `${name}: a second probe refused again`,
    async () => {
      const job = (await jobsOf(c, name)).find((j) => j.metadata?.name === `${name}-probe-2`);
      return (job?.status?.failed ?? 0) >= 1 ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 300 },
  );
  await hold(HOLD_MS - (Date.now() - failedAt));
  const probes = await jobNames(c, name, 'probe');
  const window = Date.now() - failedAt;
  expect(probes.length).toBeGreaterThanOrEqual(2);
  expect(probes.length, `probe Jobs ${window} ms after the failure`).toBeLessThanOrEqual(maxProbesWithin(window));
  await warningEvent(c, name, reason);
  const events = await eventsOf(c, name);
  expect(eventCount(events, reason)).toBeLessThanOrEqual(probes.length);
  const cache = await e2e.orch.objects.get<any>(RESOURCES.AIMModelCache, name, namespaces[c]);
  expect(condition(cache, 'AuthValid')).toMatchObject({ status: 'False', reason });
}

/** The files of a Hub fixture repo are on the cache's volume, byte for byte. */
async function expectRepoOnVolume(c: Case, cache: any, repo: string): Promise<void> {
  const volume = await kubelet.volumePath(namespaces[c], cache.status.persistentVolumeClaim);
  for (const [path, content] of Object.entries(modelFiles(repo)))
    expect(readFileSync(join(volume, repo, path)).equals(contentBuffer(content)), path).toBe(true);
}

/** Nothing a user can read holds a credential value: status, conditions, Events. */
async function expectNoSecretIn(c: Case, cache: any): Promise<void> {
  const shown = JSON.stringify([cache.status, await eventsOf(c, cache.metadata.name)]);
  const hub = e2e.hub!;
  for (const value of [
    WRONG_SECRET_VALUE,
    INVALID_HF_TOKEN,
    hub.token,
    hub.noAccessToken,
    limitedToken,
    e2e.s3.secretKey,
  ])
    expect(shown).not.toContain(value);
}

/** The signals the cache's workflow received since `since` (ms), by name. */
async function signalsSince(c: Case, name: string, since: number): Promise<string[]> {
  const history = await e2e.orch.client.workflow.getHandle(`aim/AIMModelCache/${namespaces[c]}/${name}`).fetchHistory();
  return (history.events ?? [])
    .filter((ev) => Number(ev.eventTime?.seconds ?? 0) * 1000 >= Math.floor(since / 1000) * 1000)
    .flatMap((ev) => ev.workflowExecutionSignaledEventAttributes?.signalName ?? []);
}

/** Seconds from `since` until the cache is Ready and verified. */
async function secondsToReady(c: Case, name: string, since: number): Promise<{ cache: any; seconds: number }> {
  const cache = await cacheUntil(c, name, (o) => o.status?.status === 'Ready', 120_000);
  expect(cache.status.verified).toBe(true);
  const seconds = (Date.now() - since) / 1000;
  recovery[c] = `${seconds.toFixed(1)} s`;
  return { cache, seconds };
}

describe.concurrent(
  'spec 7 source reasons through a cache, each fixed with no human nudge',
  { timeout: 240_000 },
  () => {
    it('S3 AuthFailed (wrong secret key): names the Secret and key, re-probes on the back-off; the key fixed → Ready at once', async () => {
      await applyIn('s3-auth', standaloneCache(e2e.s3.endpoint, 'keys', 'rs-auth'));
      const failed = await cacheUntil('s3-auth', 'keys', (o) => condition(o, 'AuthValid')?.reason === 'AuthFailed');
      const failedAt = Date.now();
      expect(failed.status.status).toBe('Failed');
      expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'AuthFailed' });
      const message = condition(failed, 'AuthValid').message as string;
      expect(message).toContain('SignatureDoesNotMatch');
      expect(message).toContain(
        'Secret s3-credentials (key access-key → AWS_ACCESS_KEY_ID, key secret-key → AWS_SECRET_ACCESS_KEY)',
      );
      expect(failed.status.persistentVolumeClaim).toBeUndefined();
      await expectReprobedWithoutStorm('s3-auth', 'keys', 'AuthFailed', failedAt);
      await expectNoSecretIn('s3-auth', failed);

      const fixedAt = Date.now();
      await applyIn('s3-auth', s3Secret(e2e.s3.secretKey));
      const { cache, seconds } = await secondsToReady('s3-auth', 'keys', fixedAt);
      // The bridge saw the Secret change and retried the cache at once, not its back-off's timer.
      expect(await signalsSince('s3-auth', 'keys', fixedAt)).toContain('retry');
      expect(seconds).toBeLessThan(60);
      expect(condition(cache, 'AuthValid')).toMatchObject({ status: 'True' });
      expect(await jobNames('s3-auth', 'keys', 'dl')).toEqual(['keys-dl-1']);
      await expectNoSecretIn('s3-auth', cache);
    });

    it('HF AuthFailed (invalid token): names HF_TOKEN and its Secret; the Secret fixed → Ready at once', async () => {
      await applyIn('hf-auth', hfCache('tok', PRIVATE_REPO));
      const failed = await cacheUntil('hf-auth', 'tok', (o) => condition(o, 'AuthValid')?.reason === 'AuthFailed');
      const failedAt = Date.now();
      expect(failed.status.status).toBe('Failed');
      const message = condition(failed, 'AuthValid').message as string;
      expect(message).toContain(`${e2e.hub!.endpoint} refused HF_TOKEN for ${PRIVATE_REPO} (HTTP 401)`);
      expect(message).toContain('Secret hf-token (key token → HF_TOKEN)');
      await expectReprobedWithoutStorm('hf-auth', 'tok', 'AuthFailed', failedAt);
      await expectNoSecretIn('hf-auth', failed);

      const fixedAt = Date.now();
      await applyIn('hf-auth', hfSecret(e2e.hub!.token));
      const { cache, seconds } = await secondsToReady('hf-auth', 'tok', fixedAt);
      expect(await signalsSince('hf-auth', 'tok', fixedAt)).toContain('retry');
      expect(seconds).toBeLessThan(60);
      expect(cache.status.source.revision).toBe(e2e.hub!.commitOf(PRIVATE_REPO));
      await expectNoSecretIn('hf-auth', cache);
    });

    it('GatedModel (a token without access): names {HF_ENDPOINT}/{repo}; the licence accepted on the Hub → Ready on the re-probe', async () => {
      const hub = e2e.hub!;
      await applyIn('gated', hfCache('gate', GATED_REPO));
      const failed = await cacheUntil('gated', 'gate', (o) => condition(o, 'AuthValid')?.reason === 'GatedModel');
      const failedAt = Date.now();
      expect(failed.status.status).toBe('Failed');
      expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'GatedModel' });
      const message = condition(failed, 'AuthValid').message as string;
      expect(message).toContain(`accept its license at ${hub.endpoint}/${GATED_REPO} with the account of HF_TOKEN`);
      expect(message).toContain('Secret hf-token (key token → HF_TOKEN)');
      expect(failed.status.persistentVolumeClaim).toBeUndefined();
      // Re-probed on the back-off with nothing changed in the cluster: still gated, refused by the Hub itself.
      await expectReprobedWithoutStorm('gated', 'gate', 'GatedModel', failedAt);
      expect(
        hub.requests().filter((r) => r.errorCode === 'GatedRepo' && r.auth === 'no-access').length,
      ).toBeGreaterThanOrEqual(2);
      await expectNoSecretIn('gated', failed);

      const acceptedAt = Date.now();
      hub.acceptLicence(GATED_REPO);
      const { cache, seconds } = await secondsToReady('gated', 'gate', acceptedAt);
      // No cluster change, so no nudge: the next re-probe of the back-off (3 s → 6 s → 12 s → 24 s here) found access.
      expect(await signalsSince('gated', 'gate', acceptedAt)).not.toContain('retry');
      expect(seconds).toBeLessThan(90);
      expect(condition(cache, 'AuthValid')).toMatchObject({ status: 'True' });
      const volume = await kubelet.volumePath(namespaces.gated, cache.status.persistentVolumeClaim);
      for (const [path, content] of Object.entries(modelFiles(GATED_REPO)))
        expect(readFileSync(join(volume, GATED_REPO, path)).equals(contentBuffer(content))).toBe(true);
      await expectNoSecretIn('gated', cache);
    });

    it('IntegrityMismatch (bytes that do not match the ETag): names the file, Progressing, the next attempt refetches it', async () => {
      const proxy = e2e.proxy!;
      proxy.corrupt('rs-integrity/model.safetensors');
      await applyIn('integrity', standaloneCache(proxy.url, 'bytes', 'rs-integrity'));
      const bad = await cacheUntil(
        'integrity',
        'bytes',
        (o) => condition(o, 'DownloadReady')?.reason === 'IntegrityMismatch',
      );
      expect(bad.status.status).toBe('Progressing');
      expect(condition(bad, 'DownloadReady')).toMatchObject({ status: 'False' });
      const message = condition(bad, 'DownloadReady').message as string;
      expect(message).toContain('model.safetensors');
      expect(message).not.toContain('config.json');
      expect((await warningEvent('integrity', 'bytes', 'IntegrityMismatch')).message).toContain('model.safetensors');
      await expectNoSecretIn('integrity', bad);

      const fixedAt = Date.now();
      proxy.clearFaults();
      const { cache, seconds } = await secondsToReady('integrity', 'bytes', fixedAt);
      // The workflow's next attempt comes 10 s after a failed one (spec 5.4 step 3), then a 1 MiB download.
      expect(seconds).toBeLessThan(90);
      const dl = await jobNames('integrity', 'bytes', 'dl');
      expect(dl.length).toBe(cache.status.attempt);
      expect(dl.length).toBeGreaterThanOrEqual(2);
      expect(dl.length).toBeLessThanOrEqual(3);
      expect(await jobNames('integrity', 'bytes', 'probe')).toEqual(['bytes-probe-1']);
      const volume = await kubelet.volumePath(namespaces.integrity, cache.status.persistentVolumeClaim);
      expect(readFileSync(join(volume, 'Qwen/Qwen2-0.5B/model.safetensors')).equals(WEIGHTS)).toBe(true);
    });

    it('EndpointUnreachable (an endpoint that refuses): continues with the spec size, Progressing; the endpoint back → Ready', async () => {
      const endpoint = `http://${unreachable.address}`;
      await applyIn('unreachable', standaloneCache(endpoint, 'ep', 'rs-unreachable', { size: '10Mi' }));
      const down = await cacheUntil(
        'unreachable',
        'ep',
        (o) => condition(o, 'DownloadReady')?.reason === 'EndpointUnreachable',
      );
      expect(down.status.status).toBe('Progressing');
      const message = condition(down, 'DownloadReady').message as string;
      expect(message).toContain(`cannot reach S3 at ${endpoint}`);
      expect(message).toContain('ECONNREFUSED');
      // The probe could not reach it either, and the spec's size let the cache go on (spec 5.4 step 1).
      expect(down.status.persistentVolumeClaim).toBeDefined();
      expect(condition(down, 'SourcesValid')).toMatchObject({ status: 'Unknown', reason: 'EndpointUnreachable' });
      expect(condition(down, 'SourcesValid').message).toContain('continuing with spec size');
      // The probe's is a Normal Event (the cache went on); the failed download attempt's a Warning.
      expect((await warningEvent('unreachable', 'ep', 'EndpointUnreachable')).message).toContain(endpoint);
      await expectNoSecretIn('unreachable', down);

      const upAt = Date.now();
      await unreachable.up();
      const { cache, seconds } = await secondsToReady('unreachable', 'ep', upAt);
      expect(seconds).toBeLessThan(90);
      const dl = await jobNames('unreachable', 'ep', 'dl');
      expect(dl.length).toBe(cache.status.attempt);
      expect(dl.length).toBeLessThanOrEqual(3);
      expect(await jobNames('unreachable', 'ep', 'probe')).toEqual(['ep-probe-1']);
    });
    it('RateLimited (the Hub answers 429 to the token): names the endpoint and repo, the next attempt waits its back-off; the limit lifted → Ready untouched; unsized, the probe is asked again', async () => {
      const hub = e2e.hub!;
      hub.rateLimit({ token: limitedToken });
      const m = hfCache('busy', PUBLIC_REPO);
      m.spec.size = SPEC_SIZE;
      await applyIn('rate-limited', m);
      const limited = await cacheUntil(
        'rate-limited',
        'busy',
        (o) => condition(o, 'DownloadReady')?.reason === 'RateLimited',
      );
      // The probe was refused too, and the cache went on with the spec's size (spec 5.4 step 1).
      expect(limited.status.status).toBe('Progressing');
      expect(limited.status.persistentVolumeClaim).toBeDefined();
      expect(condition(limited, 'SourcesValid')).toMatchObject({ status: 'Unknown', reason: 'RateLimited' });
      const message = condition(limited, 'DownloadReady').message as string;
      expect(message).toContain(`${hub.endpoint} is rate-limiting requests for ${PUBLIC_REPO}`);
      expect((await warningEvent('rate-limited', 'busy', 'RateLimited')).message).toContain(hub.endpoint);
      await expectNoSecretIn('rate-limited', limited);

      // The Hub's window ends: nobody touches the cache, its next attempt (10 s after the refused one) gets through.
      const liftedAt = Date.now();
      hub.liftRateLimit();
      const { cache, seconds } = await secondsToReady('rate-limited', 'busy', liftedAt);
      expect(await signalsSince('rate-limited', 'busy', liftedAt)).not.toContain('retry');
      // The same bound as the other recoveries: that it was the very next attempt is pinned by the Jobs and the attempt
      // count below; under a full CI run the 10 s back-off, the download and verification took up to 46 s.
      expect(seconds).toBeLessThan(60);
      // No storm while limited: one probe and one attempt, each asked once and stopped at the 429 (only this user is
      // limited), and the next attempt was created a whole back-off step after the refused one ended.
      expect(await jobNames('rate-limited', 'busy', 'probe')).toEqual(['busy-probe-1']);
      expect(hub.requests().filter((r) => r.status === 429)).toHaveLength(2);
      expect(eventCount(await eventsOf('rate-limited', 'busy'), 'RateLimited')).toBeLessThanOrEqual(2);
      const jobs = await jobsOf('rate-limited', 'busy');
      const job = (n: string) => jobs.find((j) => j.metadata?.name === n)!;
      expect(jobs.map((j) => j.metadata!.name).filter((n) => n!.includes('-dl-'))).toEqual(['busy-dl-1', 'busy-dl-2']);
      expect(cache.status.attempt).toBe(2);
      // When the refused attempt's Job failed (FailureTarget, then Failed), and when the next one was created.
      const failedAt = Math.min(
        ...(job('busy-dl-1').status?.conditions ?? []).map((c) => Date.parse(String(c.lastTransitionTime))),
      );
      const nextCreated = Date.parse(String(job('busy-dl-2').metadata!.creationTimestamp));
      // The workflow's 10 s back-off; Kubernetes times have whole seconds, the worker learns of the failure a moment later.
      expect(nextCreated - failedAt).toBeGreaterThanOrEqual(8000);
      await expectRepoOnVolume('rate-limited', cache, PUBLIC_REPO);

      // Without a size to go on with, the probe itself is turned away: it is asked again after the attempt pause
      // (Progressing meanwhile, never Failed) and, the limit gone after that one refusal, the cache becomes Ready.
      hub.rateLimit({ token: limitedToken, requests: 1 });
      await applyIn('rate-limited', hfCache('busy-unsized', PUBLIC_REPO));
      const refused = await cacheUntil(
        'rate-limited',
        'busy-unsized',
        (o) => condition(o, 'SourcesValid')?.reason === 'RateLimited',
      );
      expect(refused.status.status).toBe('Progressing');
      expect(condition(refused, 'SourcesValid').message).toContain('the source turned the probe away');
      expect(condition(refused, 'SourcesValid').message).toContain(`is rate-limiting requests for ${PUBLIC_REPO}`);
      const unsized = await cacheUntil('rate-limited', 'busy-unsized', (o) => o.status?.status === 'Ready');
      expect(await jobNames('rate-limited', 'busy-unsized', 'probe')).toEqual([
        'busy-unsized-probe-1',
        'busy-unsized-probe-2',
      ]);
      await expectRepoOnVolume('rate-limited', unsized, PUBLIC_REPO);
      await recordCacheHistory(
        e2e.orch.client,
        namespaces['rate-limited'],
        'busy-unsized',
        'cacheLifecycle-probe-rate-limited',
      );
    });

    it('SizeUnknown (a Hub mirror that ignores ?blobs=true): Failed, asks for size, nothing retries; size set → Ready', async () => {
      const hub = e2e.hub!;
      await applyIn('size-unknown', mirroredCache('sizes'));
      const failed = await cacheUntil(
        'size-unknown',
        'sizes',
        (o) => condition(o, 'SourcesValid')?.reason === 'SizeUnknown',
      );
      const failedAt = Date.now();
      expect(failed.status.status).toBe('Failed');
      expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'SizeUnknown' });
      expect(condition(failed, 'SourcesValid').message).toBe(
        `${hub.endpoint} did not report file sizes for ${MIRRORED_REPO}; set size on the model source`,
      );
      expect(failed.status.persistentVolumeClaim).toBeUndefined();
      expect((await warningEvent('size-unknown', 'sizes', 'SizeUnknown')).message).toContain('set size');
      // The probe asked for sizes and got the mirror's names-only answer.
      const asked = hub.requests().filter((r) => r.path === `/api/models/${MIRRORED_REPO}/revision/main?blobs=true`);
      expect(asked.map((r) => r.status)).toEqual([200]);
      // It waits for a fix: no re-probe, no volume, no download over several back-off steps.
      await hold(HOLD_MS - (Date.now() - failedAt));
      expect(await jobNames('size-unknown', 'sizes', 'probe')).toEqual(['sizes-probe-1']);
      expect(await jobNames('size-unknown', 'sizes', 'dl')).toEqual([]);
      expect(eventCount(await eventsOf('size-unknown', 'sizes'), 'SizeUnknown')).toBe(1);

      const fixedAt = Date.now();
      await applyIn('size-unknown', mirroredCache('sizes', SPEC_SIZE));
      const { cache, seconds } = await secondsToReady('size-unknown', 'sizes', fixedAt);
      expect(seconds).toBeLessThan(60);
      expect(cache.status.source).toMatchObject({ files: 3, revision: hub.commitOf(MIRRORED_REPO) });
      expect(await jobNames('size-unknown', 'sizes', 'probe')).toEqual(['sizes-probe-1', 'sizes-probe-2']);
      expect(await jobNames('size-unknown', 'sizes', 'dl')).toEqual(['sizes-dl-1']);
      await expectRepoOnVolume('size-unknown', cache, MIRRORED_REPO);
    });
  },
);
