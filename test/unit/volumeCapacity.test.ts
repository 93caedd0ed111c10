import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { classCapacity, provisioningRefusal } from '../harness/kubelet/volumeCapacity.js';

const sc = (parameters?: Record<string, string>): V1StorageClass => ({
  metadata: { name: 'small' },
  provisioner: 'aim-test.local/process-kubelet',
  ...(parameters ? { parameters } : {}),
});
const pvc = (storage: string): V1PersistentVolumeClaim => ({ spec: { resources: { requests: { storage } } } });
const pv = (storage: string, className = 'small'): V1PersistentVolume => ({
  spec: { capacity: { storage }, storageClassName: className },
});

describe('the process kubelet provisioner: class capacity (volumeCapacity.ts)', () => {
  it.each([
    [undefined, { filesystem: 'directory' }],
    [{ nodeStorage: '512Mi' }, { filesystem: 'directory', nodeStorageBytes: 512n << 20n }],
    [{ filesystem: 'perVolume' }, { filesystem: 'perVolume' }],
    [
      { filesystem: 'nodeDisk', nodeStorage: '12Mi' },
      { filesystem: 'nodeDisk', nodeStorageBytes: 12n << 20n },
    ],
  ])('parameters %j', (parameters, expected) => {
    expect(classCapacity(sc(parameters))).toEqual(expected);
  });

  it.each([
    [{ filesystem: 'loop' }, /parameters.filesystem must be perVolume or nodeDisk/],
    [{ filesystem: 'nodeDisk' }, /filesystem nodeDisk needs parameters.nodeStorage/],
  ])('refuses parameters %j', (parameters, message) => {
    expect(() => classCapacity(sc(parameters))).toThrow(message);
  });

  it.each([
    // [class parameters, request, already provisioned, refusal or undefined]
    [undefined, '1Gi', [], undefined],
    [{ nodeStorage: '2Gi' }, '1Gi', [pv('1Gi')], undefined],
    [{ nodeStorage: '512Mi' }, '1Gi', [], 'requested 1 GiB, free 512 MiB of 512 MiB'],
    [{ nodeStorage: '2Gi' }, '1500Mi', [pv('1Gi')], 'requested 1.46 GiB, free 1 GiB of 2 GiB'],
    // Volumes of other classes do not count; a node disk does not check requests (local-path does not).
    [{ nodeStorage: '2Gi' }, '1Gi', [pv('2Gi', 'other')], undefined],
    [{ filesystem: 'nodeDisk', nodeStorage: '12Mi' }, '1Gi', [], undefined],
  ] as const)('%j: a claim of %s beside %j', (parameters, request, provisioned, refusal) => {
    const c = sc(parameters);
    const out = provisioningRefusal(pvc(request), c, classCapacity(c), provisioned);
    if (refusal === undefined) expect(out).toBeUndefined();
    else {
      expect(out).toContain(
        'failed to provision volume with StorageClass "small": rpc error: code = ResourceExhausted',
      );
      expect(out).toContain(refusal);
    }
  });
});
