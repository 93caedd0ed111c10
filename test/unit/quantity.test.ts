import { describe, expect, it } from 'vitest';
import {
  canonicalQuantity,
  compareQuantities,
  formatBytes,
  isPositiveQuantity,
  isQuantity,
  quantityToBytes,
  volumeSizeWithHeadroom,
} from '../../schemas/quantity.js';

describe('quantities', () => {
  it.each([
    ['1Gi', '1073741824'],
    [1073741824, '1073741824'],
    ['1073741824', '1073741824'],
    ['1.5Gi', '1610612736'],
    ['500m', '0.5'],
    ['0.5', '0.5'],
    ['1e3', '1000'],
    ['1k', '1000'],
    ['2.5M', '2500000'],
    ['100n', '0.0000001'],
    ['-1Ki', '-1024'],
  ])('canonicalises %s as %s', (q, want) => {
    expect(canonicalQuantity(q)).toBe(want);
  });

  it('hashes equal values alike whatever the spelling', () => {
    expect(canonicalQuantity('1Gi')).toBe(canonicalQuantity(1024 ** 3));
    expect(canonicalQuantity('1000m')).toBe(canonicalQuantity('1'));
  });

  it('compares by value', () => {
    expect(compareQuantities('4000m', '8')).toBe(-1);
    expect(compareQuantities('1Gi', '1G')).toBe(1);
    expect(compareQuantities('1024Mi', '1Gi')).toBe(0);
  });

  it('knows what the API server accepts', () => {
    expect(isQuantity('10Gi')).toBe(true);
    expect(isQuantity('10 GB')).toBe(false);
    expect(isQuantity('1.2.3')).toBe(false);
    expect(isPositiveQuantity('0')).toBe(false);
    expect(isPositiveQuantity('-1')).toBe(false);
    expect(isPositiveQuantity('1m')).toBe(true);
  });

  it('rounds bytes up', () => {
    expect(quantityToBytes('1.5')).toBe(2n);
    expect(quantityToBytes('1Ki')).toBe(1024n);
  });

  it('sizes volumes as ceil_GiB(bytes x (1 + headroom))', () => {
    expect(volumeSizeWithHeadroom(10n * 1024n ** 3n, 10)).toBe('11Gi');
    expect(volumeSizeWithHeadroom(1n, 10)).toBe('1Gi');
    expect(volumeSizeWithHeadroom(1024n ** 3n, 0)).toBe('1Gi');
    expect(volumeSizeWithHeadroom(1024n ** 3n + 1n, 0)).toBe('2Gi');
    expect(volumeSizeWithHeadroom(0n, 10)).toBe('1Gi');
  });

  it('formats sizes for people', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(10 * 1024 ** 3)).toBe('10 GiB');
  });
});
