/* eslint-disable @typescript-eslint/no-explicit-any -- objects are asserted field by field */
import { closeSync, openSync, readFileSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StorageV1Api, type V1StorageClass } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../../activities/kube/resources.js';
import { timingFromEnv } from '../../domain/timing.js';
import { deterministicBytes } from '../harness/fixtures.js';
import { recordCacheHistory } from '../harness/recordHistory.js';
import { PROVISIONER } from '../harness/kubelet/volumes.js';
import { waitForObject } from '../harness/orchestrator.js';
import { waitFor } from '../harness/processes.js';
import {
  condition,
  EXAMPLE_BUCKET,
  putTinyModel,
  standaloneCache,
  startAcceptance,
  type AcceptanceFixture,
} from '../harness/scenarios.js';

/**
 * Spec 7, the volume reasons, produced by the cluster for real and recovered from without a human nudge:
 *  - `VolumeNotBound`: a claim nobody can provision. Once because its StorageClass does not exist (the real
 *    kube-controller-manager's PV controller says so in a ProvisioningFailed Event), once because the class's
 *    provisioner (the process kubelet's, with a real node capacity) refuses a request larger than the node's storage.
 *  - `InsufficientStorage`: volumes with a real capacity (tmpfs). Once a real ENOSPC in the middle of the transfer (the
 *    node disk of a local-path-style class fills up under the download), once the downloader's statfs before the
 *    transfer (another volume on the same node disk already holds the space). The fix is freeing the space, nothing
 *    else: nobody touches the cache, its re-checks on the fix back-off find the room.
 * Each case asserts the reason, the message, the Event, that nothing retries in a storm, and how long recovery took
 * after the fix. Time is compressed by configuration (AIM_TIME_SCALE): VolumeNotBound after 9 s instead of 5 minutes,
 * re-checks backing off 1.8 → 54 s instead of 1 → 30 minutes.
 */
const SCALE = 0.03;
const timing = timingFromEnv({ AIM_TIME_SCALE: String(SCALE) });
const RUN = Math.random().toString(36).slice(2, 7);
const MiB = 1024 * 1024;
const SMALL = deterministicBytes('e2e-reasons-volumes/small', 64 * 1024);
const BIG = deterministicBytes('e2e-reasons-volumes/big', 8 * MiB);
/** The ENOSPC case's source is sent at this rate through the proxy: an 8-second transfer to fill the disk under. */
const SLOW_BYTES_PER_SECOND = MiB;

let e2e: AcceptanceFixture;
let storage: StorageV1Api;
const classes = new Set<string>();
const recovery: Record<string, number> = {};
/** New download attempts while the disk stayed full (the re-checks), per case. */
const attemptsWhileFull: Record<string, number> = {};

beforeAll(async () => {
  e2e = await startAcceptance({ timing, proxy: true });
  storage = e2e.orch.kc.makeApiClient(StorageV1Api);
  await Promise.all([
    putTinyModel(e2e.s3, EXAMPLE_BUCKET, 'rv-missing', SMALL),
    putTinyModel(e2e.s3, EXAMPLE_BUCKET, 'rv-small', SMALL),
    putTinyModel(e2e.s3, EXAMPLE_BUCKET, 'rv-enospc', BIG),
    putTinyModel(e2e.s3, EXAMPLE_BUCKET, 'rv-statfs', BIG),
  ]);
}, 240_000);

afterAll(async () => {
  console.log(`[reasons-volumes] recovery after the fix (ms): ${JSON.stringify(recovery)}`);
  console.log(`[reasons-volumes] re-checks while the disk was full: ${JSON.stringify(attemptsWhileFull)}`);
  await e2e?.stop();
  for (const name of classes) await storage?.deleteStorageClass({ name }).catch(() => undefined);
  // Every volume filesystem the kubelet mounted is gone with it (no leak on the machine).
  const left = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes(e2e?.orch.kubelet.workDir ?? '\0'));
  expect(left).toEqual([]);
});

const cache = (name: string) => e2e.orch.objects.get<any>(RESOURCES.AIMModelCache, name, e2e.namespace);
const until = (name: string, ok: (c: any) => boolean, ms = 60_000) =>
  waitForObject<any>(e2e.orch.objects, RESOURCES.AIMModelCache, name, e2e.namespace, ok, ms);
const downloadJobs = async (name: string) =>
  (await e2e.jobsOf(name)).filter((j) => j.metadata?.name?.startsWith(`${name}-dl-`));
const hold = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mounts = () => readFileSync('/proc/mounts', 'utf8');

/** A StorageClass of the process kubelet's provisioner (capacity parameters: test/harness/kubelet/volumeCapacity.ts). */
async function createClass(
  name: string,
  parameters: Record<string, string> | undefined,
  mode: 'WaitForFirstConsumer' | 'Immediate' = 'WaitForFirstConsumer',
): Promise<V1StorageClass> {
  classes.add(name);
  return storage.createStorageClass({
    body: {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name },
      provisioner: PROVISIONER,
      reclaimPolicy: 'Delete',
      volumeBindingMode: mode,
      ...(parameters ? { parameters } : {}),
    },
  });
}

/** Fills the filesystem at `dir` as another tenant of the node disk would, until it is full (ENOSPC). */
function fillDisk(file: string): number {
  const chunk = Buffer.alloc(256 * 1024, 7);
  const fd = openSync(file, 'w');
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return written;
}

/** The first VolumeNotBound of a cache: Pending while the claim waits, then Failed naming the class and the Event. */
async function expectVolumeNotBound(name: string, className: string, event: RegExp): Promise<any> {
  const pending = await until(name, (c) => condition(c, 'VolumeReady')?.status === 'Unknown');
  expect(pending.status.status).toBe('Pending');
  expect(condition(pending, 'VolumeReady').message).toContain(`class ${className}`);
  const failed = await until(name, (c) => condition(c, 'VolumeReady')?.reason === 'VolumeNotBound');
  expect(failed.status.status).toBe('Failed');
  const volumeReady = condition(failed, 'VolumeReady');
  expect(volumeReady.status).toBe('False');
  expect(volumeReady.message).toContain(`class ${className}, ReadWriteOnce) is not bound`);
  expect(volumeReady.message).toMatch(event);
  expect(volumeReady.message).toContain('try another storageClassName or accessMode');
  expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'VolumeNotBound' });
  const ev = await e2e.eventFor(name, 'VolumeNotBound');
  expect(ev.type).toBe('Warning');
  return failed;
}

/**
 * No storm while the claim stays unbound: each re-check (back-off from 1.8 s) starts one Job that waits 9 s, so a
 * window of `ms` sees at most ms / 9 s + 2 new attempts.
 */
const unboundAttemptsWithin = (ms: number) => Math.ceil(ms / (timing.volumeNotBoundSeconds * 1000)) + 2;

/**
 * No storm while the disk stays full: re-checks follow the fix back-off (1.8 s doubling), so a window of `ms` sees at
 * most as many new attempts as back-off steps fit in it, plus the one under way when it opened.
 */
function backoffAttemptsWithin(ms: number): number {
  let steps = 0;
  for (let waited = timing.backoffBaseSeconds; waited * 1000 <= ms; waited += timing.backoffBaseSeconds * 2 ** steps)
    steps += 1;
  return steps + 1;
}

/**
 * How long the InsufficientStorage cases watch the re-checks (≥ 1 expected, no storm): a re-check is a Job whose pod
 * must start and fail, which took over 8 s once while the beside lane (test/harness/fileLanes.ts) loaded the machine.
 */
const RECHECK_WINDOW_MS = 20_000;

/**
 * Nothing retries in a storm while a failure waits for its fix: at most `maxNewAttempts` attempts in a window of
 * `ms`, one Job at a time, and `reason` Events only per attempt. Returns the new attempts seen.
 */
async function expectNoStorm(name: string, ms: number, reason: string, maxNewAttempts: number): Promise<number> {
  const before = (await cache(name)).status.attempt ?? 0;
  const started = Date.now();
  let most = 0;
  while (Date.now() - started < ms) {
    const running = (await downloadJobs(name)).filter((j) => !j.status?.completionTime && !j.status?.failed);
    most = Math.max(most, running.length);
    await hold(500);
  }
  const after = (await cache(name)).status.attempt ?? 0;
  expect(most).toBeLessThanOrEqual(1);
  expect(after - before).toBeLessThanOrEqual(maxNewAttempts);
  const events = (await e2e.eventsFor(name)).filter((e) => e.reason === reason);
  expect(events.reduce((n, e) => n + (e.count ?? 1), 0)).toBeLessThanOrEqual(after + 1);
  return after - before;
}

describe.concurrent('volume reasons (spec 7), produced for real', { timeout: 240_000 }, () => {
  it('VolumeNotBound: a StorageClass that does not exist, until an administrator creates it', async () => {
    const name = 'rv-missing';
    const className = `rv-missing-${RUN}`;
    await e2e.apply(standaloneCache(e2e.s3.endpoint, name, 'rv-missing', { storageClassName: className }));
    // The real PV controller reports the missing class on the claim; the cache names the class and that Event.
    await expectVolumeNotBound(name, className, /ProvisioningFailed: storageclass\.storage\.k8s\.io ".*" not found/);
    await expectNoStorm(name, 9_000, 'VolumeNotBound', unboundAttemptsWithin(9_000));

    const fixedAt = Date.now();
    await createClass(className, undefined);
    const ready = await until(name, (c) => c.status?.status === 'Ready', 90_000);
    recovery.VolumeNotBoundMissingClass = Date.now() - fixedAt;
    expect(ready.status.verified).toBe(true);
    expect(condition(ready, 'VolumeReady')).toMatchObject({ status: 'True', reason: 'VolumeBound' });
  });

  it('VolumeNotBound: a request larger than the node storage of the class, until the class has room', async () => {
    const name = 'rv-small';
    const className = `rv-small-${RUN}`;
    // Each volume of this class is a tmpfs of its request; the node has 512 MiB for the class, the claim asks 1 GiB.
    await createClass(className, { filesystem: 'perVolume', nodeStorage: '512Mi' });
    await e2e.apply(standaloneCache(e2e.s3.endpoint, name, 'rv-small', { storageClassName: className }));
    const failed = await expectVolumeNotBound(
      name,
      className,
      /ProvisioningFailed: failed to provision volume with StorageClass ".*": rpc error: code = ResourceExhausted desc = not enough space on the node: requested 1 GiB, free 512 MiB of 512 MiB/,
    );
    const pvc = failed.status.persistentVolumeClaim;
    const provisioningFailed = (await e2e.eventsFor(pvc)).find((e) => e.reason === 'ProvisioningFailed');
    expect(provisioningFailed).toMatchObject({ type: 'Warning', source: { component: PROVISIONER } });
    await expectNoStorm(name, 9_000, 'VolumeNotBound', unboundAttemptsWithin(9_000));

    // The fix: the administrator recreates the class with room (parameters are immutable).
    const fixedAt = Date.now();
    await storage.deleteStorageClass({ name: className });
    await waitFor(
      `class ${className} gone`,
      async () => ((await storage.readStorageClass({ name: className }).catch(() => undefined)) ? undefined : true),
      { timeoutMs: 30_000 },
    );
    await createClass(className, { filesystem: 'perVolume', nodeStorage: '2Gi' });
    const ready = await until(name, (c) => c.status?.status === 'Ready', 90_000);
    recovery.VolumeNotBoundNodeStorage = Date.now() - fixedAt;
    expect(ready.status.verified).toBe(true);
    // The volume is a real filesystem of the request's size.
    const volume = await e2e.orch.kubelet.volumePath(e2e.namespace, pvc);
    expect(mounts()).toContain(` ${volume} tmpfs `);
    const fs = statfsSync(volume);
    expect(fs.blocks * fs.bsize).toBe(1024 * MiB);
    // Deleting the cache releases the volume: the provisioner unmounts it and removes its PV.
    await e2e.orch.objects.delete(RESOURCES.AIMModelCache, name, e2e.namespace);
    await waitFor(`${volume} unmounted`, async () => (mounts().includes(` ${volume} `) ? undefined : true), {
      timeoutMs: 60_000,
    });
  });

  it('InsufficientStorage: a real ENOSPC when the node disk fills up under the download', async () => {
    const name = 'rv-enospc';
    const className = `rv-enospc-${RUN}`;
    // local-path style: the class's volumes are directories on one 12 MiB node disk (a tmpfs), requests nominal.
    await createClass(className, { filesystem: 'nodeDisk', nodeStorage: '12Mi' });
    e2e.proxy!.slowDown('rv-enospc/model.safetensors', SLOW_BYTES_PER_SECOND);
    await e2e.apply(standaloneCache(e2e.proxy!.url, name, 'rv-enospc', { storageClassName: className, size: '8Mi' }));
    const pvcName = (await until(name, (c) => Boolean(c.status?.persistentVolumeClaim))).status.persistentVolumeClaim;
    const volume = await waitFor(
      `the volume of ${name}`,
      () => e2e.orch.kubelet.volumePath(e2e.namespace, pvcName).catch(() => undefined),
      { timeoutMs: 60_000 },
    );
    const disk = dirname(volume);
    // The downloader's statfs passed (12 MiB free for 8 MiB); once it has written 1 MiB, another tenant fills the disk.
    await waitFor(
      'the download writing',
      async () => {
        const fs = statfsSync(disk);
        return (fs.blocks - fs.bfree) * fs.bsize >= MiB ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    const filler = join(disk, 'other-tenant.bin');
    fillDisk(filler);

    const failed = await until(name, (c) => condition(c, 'DownloadReady')?.reason === 'InsufficientStorage');
    // Later transfers at full speed: the re-checks below and the recovery take seconds, not the slow 8.
    e2e.proxy!.clearFaults();
    expect(failed.status.status).toBe('Failed');
    expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'InsufficientStorage' });
    const generation = failed.metadata.generation;
    // What the user saw: the ENOSPC on the attempt that hit it (the Event keeps it once re-checks say statfs).
    const enospc = await waitFor(
      'the ENOSPC Event',
      async () =>
        (await e2e.eventsFor(name)).find((e) => e.reason === 'InsufficientStorage' && /ENOSPC/.test(e.message ?? '')),
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    expect(enospc.type).toBe('Warning');
    expect(enospc.message?.startsWith(`PVC ${pvcName}: `)).toBe(true);
    expect(enospc.message).toMatch(
      /the volume ran out of space \(ENOSPC\) during the transfer, with [\d.]+ (B|KiB|MiB) of it complete/,
    );
    expect(enospc.message).toContain('the source holds 8 MiB, the volume 12 MiB');
    expect(enospc.message).toContain("raise size or headroomPercent, or free space on the volume's disk");
    // Waits for the space on the fix back-off: a few re-checks (each a Job that finds the disk full), no storm.
    const rechecks = await expectNoStorm(
      name,
      RECHECK_WINDOW_MS,
      'InsufficientStorage',
      backoffAttemptsWithin(RECHECK_WINDOW_MS),
    );
    expect(rechecks).toBeGreaterThanOrEqual(1);
    // A re-check's own report (the window may close in the middle of one): statfs finds the disk still full.
    const waiting = await until(
      name,
      (x) =>
        condition(x, 'DownloadReady')?.reason === 'InsufficientStorage' &&
        / free but /.test(condition(x, 'DownloadReady').message),
    );
    expect(waiting.status.status).toBe('Failed');
    expect(condition(waiting, 'DownloadReady').message).toMatch(
      /^PVC [a-z0-9-]+-[0-9a-f]+: the volume has [\d.]+ (B|KiB|MiB) free but [\d.]+ (KiB|MiB) are still needed \(source 8 MiB, volume 12 MiB\)/,
    );

    // The fix: the other tenant's data leaves the node disk. Nobody touches the cache.
    const fixedAt = Date.now();
    rmSync(filler);
    const ready = await until(name, (c) => c.status?.status === 'Ready', 90_000);
    recovery.InsufficientStorageEnospc = Date.now() - fixedAt;
    attemptsWhileFull.InsufficientStorageEnospc = rechecks;
    expect(ready.metadata.generation).toBe(generation);
    expect(ready.status.verified).toBe(true);
    expect(readFileSync(join(volume, 'Qwen/Qwen2-0.5B/model.safetensors')).equals(BIG)).toBe(true);
  });

  it('InsufficientStorage: statfs before the transfer, when another volume holds the node disk', async () => {
    const name = 'rv-statfs';
    const className = `rv-statfs-${RUN}`;
    await createClass(className, { filesystem: 'nodeDisk', nodeStorage: '12Mi' }, 'Immediate');
    // Another workload's volume on the same node disk, holding 6 MiB.
    await e2e.orch.core.createNamespacedPersistentVolumeClaim({
      namespace: e2e.namespace,
      body: {
        metadata: { name: 'rv-other-tenant' },
        spec: {
          storageClassName: className,
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: '1Gi' } },
        },
      },
    });
    const tenant = await waitFor(
      'the other tenant volume',
      () => e2e.orch.kubelet.volumePath(e2e.namespace, 'rv-other-tenant').catch(() => undefined),
      { timeoutMs: 30_000 },
    );
    const fd = openSync(join(tenant, 'data.bin'), 'w');
    writeSync(fd, Buffer.alloc(6 * MiB, 1));
    closeSync(fd);

    await e2e.apply(standaloneCache(e2e.s3.endpoint, name, 'rv-statfs', { storageClassName: className, size: '8Mi' }));
    const failed = await until(name, (c) => condition(c, 'DownloadReady')?.reason === 'InsufficientStorage');
    expect(failed.status.status).toBe('Failed');
    const message = condition(failed, 'DownloadReady').message;
    expect(message).toMatch(
      /the volume has [\d.]+ MiB free but 8 MiB are still needed \(source 8 MiB, volume 12 MiB\)/,
    );
    expect(message).toContain("or free space on the volume's disk");
    expect(message.startsWith(`PVC ${failed.status.persistentVolumeClaim}: `)).toBe(true);
    expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'InsufficientStorage' });
    expect(await e2e.eventFor(name, 'InsufficientStorage')).toMatchObject({ type: 'Warning' });
    const generation = failed.metadata.generation;
    const rechecks = await expectNoStorm(
      name,
      RECHECK_WINDOW_MS,
      'InsufficientStorage',
      backoffAttemptsWithin(RECHECK_WINDOW_MS),
    );
    expect(rechecks).toBeGreaterThanOrEqual(1);

    // The fix: the other volume is deleted (the provisioner frees its space). Nobody touches the cache.
    const fixedAt = Date.now();
    await e2e.orch.core.deleteNamespacedPersistentVolumeClaim({ name: 'rv-other-tenant', namespace: e2e.namespace });
    await waitFor(
      `${tenant} removed`,
      async () => (statfsSync(dirname(tenant)).bfree * statfsSync(dirname(tenant)).bsize > 9 * MiB ? true : undefined),
      {
        timeoutMs: 30_000,
      },
    );
    const ready = await until(name, (c) => c.status?.status === 'Ready', 90_000);
    recovery.InsufficientStorageStatfs = Date.now() - fixedAt;
    attemptsWhileFull.InsufficientStorageStatfs = rechecks;
    expect(ready.metadata.generation).toBe(generation);
    expect(ready.status.verified).toBe(true);
    await recordCacheHistory(e2e.orch.client, e2e.namespace, name, 'cacheLifecycle-storage-recheck');
  });
});
