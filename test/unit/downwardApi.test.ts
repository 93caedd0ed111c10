import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { downwardApiField, downwardApiFiles } from '../harness/kubelet/downwardApi.js';

const pod: V1Pod = {
  metadata: {
    name: 'p',
    namespace: 'team-a',
    uid: 'u-1',
    labels: { b: '2', a: 'x"y' },
    annotations: { note: 'n' },
  },
};

describe('downward API projections of the process kubelet', () => {
  it.each([
    ['metadata.name', 'p'],
    ['metadata.namespace', 'team-a'],
    ['metadata.uid', 'u-1'],
    ["metadata.labels['b']", '2'],
    ["metadata.annotations['note']", 'n'],
    ["metadata.labels['missing']", ''],
    // The kubelet's format: sorted `key="value"` lines, values quoted.
    ['metadata.labels', 'a="x\\"y"\nb="2"'],
    ['status.podIP', undefined],
  ])('%s → %j', (path, value) => {
    expect(downwardApiField(pod, path)).toBe(value);
  });

  it('writes the `namespace` file of the kube-api-access volume, and refuses what a volume cannot show', () => {
    const files = downwardApiFiles(pod, [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }]);
    expect([...files]).toEqual([['namespace', 'team-a']]);
    expect(() => downwardApiFiles(pod, [{ path: 'ip', fieldRef: { fieldPath: 'status.podIP' } }])).toThrow(
      'downward API item ip: only metadata fieldRefs are supported by the process kubelet',
    );
  });
});
