import { describe, expect, it } from 'vitest';
import { describeMissingSecrets } from '../../activities/secrets.js';

describe('describeMissingSecrets (spec 5.3 step 4: namespace/secret/key)', () => {
  it.each([
    [
      'a missing Secret names its namespace, name, key and variable',
      [{ namespace: 'team', name: 's3', key: 'access-key', env: 'AWS_ACCESS_KEY_ID', problem: 'secret not found' }],
      'secret team/s3 not found (key access-key, for AWS_ACCESS_KEY_ID)',
    ],
    [
      'a missing key in an existing Secret',
      [{ namespace: 'team', name: 's3', key: 'secret-key', env: 'AWS_SECRET_ACCESS_KEY', problem: 'key not found' }],
      'secret team/s3 has no key secret-key (for AWS_SECRET_ACCESS_KEY)',
    ],
    [
      'without a variable name',
      [{ namespace: 'ns', name: 'hf', key: 'token', problem: 'secret not found' }],
      'secret ns/hf not found (key token)',
    ],
  ] as const)('%s', (_, missing, expected) => {
    expect(describeMissingSecrets(missing as never)).toBe(expected);
  });

  it('lists every problem, in order', () => {
    const text = describeMissingSecrets([
      { namespace: 'a', name: 'x', key: 'k1', problem: 'secret not found' },
      { namespace: 'a', name: 'y', key: 'k2', problem: 'key not found' },
    ]);
    expect(text).toBe('secret a/x not found (key k1); secret a/y has no key k2');
  });
});
