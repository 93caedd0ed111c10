import { describe, expect, it } from 'vitest';
import { cpuBetween, processLabel, type CpuSnapshot } from '../../bench/cpuProfile.js';
import {
  describeMemory,
  peakSample,
  threadHeapsAt,
  type MemorySample,
  type ThreadSample,
} from '../../bench/memoryLog.js';

describe('bench CPU profile', () => {
  it.each([
    ['kube-apiserver', ['/bin/kube-apiserver', '--etcd-servers=x'], 'kube-apiserver'],
    ['node', ['/usr/bin/node', '--import', 'file:///x/requestTap.js', '/x/worker/cli.js', 'worker'], 'aim worker'],
    ['node', ['/usr/bin/node', '/x/worker/cli.js', 'bridge'], 'aim bridge'],
    ['node', ['/usr/bin/node', '/x/images/model-server/main.js'], 'model servers (predictor pods)'],
    ['node', ['/usr/bin/node', '/x/downloader/main.js'], 'downloader (Job pods)'],
    ['node', ['/usr/bin/node', 'something.js'], 'node (other)'],
  ])('%s %j is %s', (comm, args, label) => {
    expect(processLabel(comm, args, 1, 2)).toBe(label);
  });

  it('names the bench process by its pid', () => {
    expect(processLabel('node', ['/usr/bin/node', 'bench/fleet.ts'], 7, 7)).toMatch(/^the bench process/);
  });

  it('sums CPU per label between snapshots, counting new processes from zero and dropping idle ones', () => {
    const before: CpuSnapshot = new Map([
      [1, { label: 'etcd', ticks: 100 }],
      [2, { label: 'aim worker', ticks: 50 }],
      [3, { label: 'temporal', ticks: 10 }],
    ]);
    const after: CpuSnapshot = new Map([
      [1, { label: 'etcd', ticks: 350 }],
      [2, { label: 'aim worker', ticks: 50 }],
      [3, { label: 'temporal', ticks: 110 }],
      [4, { label: 'temporal', ticks: 40 }],
    ]);
    expect(cpuBetween(before, after)).toEqual([
      { label: 'etcd', seconds: 2.5 },
      { label: 'temporal', seconds: 1.4 },
    ]);
  });
});

describe('bench memory profile', () => {
  const MiB = 2 ** 20;
  const sample = (at: number, rss: number): MemorySample => ({
    at,
    rss: rss * MiB,
    heapTotal: 300 * MiB,
    heapUsed: 250 * MiB,
    external: 20 * MiB,
    arrayBuffers: 5 * MiB,
  });

  it('takes the highest RSS inside the window only', () => {
    const samples = [sample(1, 900), sample(2, 500), sample(3, 700), sample(4, 950)];
    expect(peakSample(samples, 2, 3)?.at).toBe(3);
    expect(peakSample(samples, 10, 20)).toBeUndefined();
  });

  it('splits RSS into V8 heap, external and native', () => {
    expect(describeMemory(sample(1, 700))).toBe(
      "RSS 700 MiB = main-thread V8 heap 300 MiB (used 250 MiB) + external 20 MiB (array buffers 5 MiB) + the rest 380 MiB (workflow threads' V8 heaps with the cached workflows, Temporal Core SDK, code, allocator)",
    );
  });

  const thread = (at: number, id: number, total: number): ThreadSample => ({
    at,
    thread: id,
    heapTotal: total * MiB,
    heapUsed: (total / 2) * MiB,
    external: 1 * MiB,
  });

  it("sums each worker thread's latest heap sample at or before the moment, never a later one", () => {
    const samples = [thread(1, 7, 100), thread(2, 7, 120), thread(3, 7, 500), thread(1, 9, 10)];
    expect(threadHeapsAt(samples, 2.5)).toEqual({
      threads: 2,
      heapTotal: 130 * MiB,
      heapUsed: 65 * MiB,
      external: 2 * MiB,
    });
    expect(threadHeapsAt(samples, 0.5)).toBeUndefined();
  });

  it("takes the workflow thread's heap out of the rest when the thread logged", () => {
    expect(describeMemory(sample(1, 700), threadHeapsAt([thread(1, 7, 200)], 1))).toBe(
      "RSS 700 MiB = main-thread V8 heap 300 MiB (used 250 MiB) + external 20 MiB (array buffers 5 MiB) + workflow thread's V8 heap 200 MiB (used 100 MiB, the cached workflows) + external 1 MiB + the rest 179 MiB (Temporal Core SDK, code, allocator)",
    );
  });
});
