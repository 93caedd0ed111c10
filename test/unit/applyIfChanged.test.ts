import { describe, expect, it } from 'vitest';
import { containsDesired } from '../../activities/kube/applyIfChanged.js';

describe('drift: does the live object still hold what we manage?', () => {
  it.each([
    ['the same object', { spec: { a: 1, b: [{ c: 'x' }] } }, { spec: { a: 1, b: [{ c: 'x' }] } }, true],
    [
      'defaults and other managers fields added',
      { spec: { a: 1, z: 2, b: [{ c: 'x', p: 'TCP' }] } },
      { spec: { a: 1, b: [{ c: 'x' }] } },
      true,
    ],
    ['a managed field edited', { spec: { a: 2 } }, { spec: { a: 1 } }, false],
    ['a managed field removed', { spec: {} }, { spec: { a: 1 } }, false],
    ['a list grown', { spec: { b: [1, 2] } }, { spec: { b: [1] } }, false],
    ['an element edited', { spec: { b: [{ c: 'y' }] } }, { spec: { b: [{ c: 'x' }] } }, false],
    ['undefined desired members are no fields', { spec: {} }, { spec: { a: undefined } }, true],
    ['nothing live', undefined, { spec: {} }, false],
  ])('%s → %s', (_, live, desired, expected) => {
    expect(containsDesired(live, desired)).toBe(expected);
  });
});
