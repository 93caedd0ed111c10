import { describe, expect, it } from 'vitest';
import { credentialSources, withCredentialSources } from '../../domain/credentialSources.js';
import { jobOutcome } from '../../activities/jobs.js';

const S3_ENV = [
  { name: 'AWS_ENDPOINT_URL', value: 'http://s3' },
  { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3-creds', key: 'access-key' } } },
  { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 's3-creds', key: 'secret-key' } } },
];
const HF_ENV = [
  { name: 'HF_ENDPOINT', value: 'http://hub' },
  { name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hf-token', key: 'token' } } },
];

describe('credentialSources', () => {
  it.each([
    [
      'S3 keys of one Secret',
      S3_ENV,
      ['Secret s3-creds (key access-key → AWS_ACCESS_KEY_ID, key secret-key → AWS_SECRET_ACCESS_KEY)'],
    ],
    ['an HF token', HF_ENV, ['Secret hf-token (key token → HF_TOKEN)']],
    ['no references', [{ name: 'HF_ENDPOINT', value: 'http://hub' }], []],
    ['no env', undefined, []],
    [
      'two Secrets',
      [HF_ENV[1]!, { name: 'AWS_SESSION_TOKEN', valueFrom: { secretKeyRef: { name: 'sts', key: 'session' } } }],
      ['Secret hf-token (key token → HF_TOKEN)', 'Secret sts (key session → AWS_SESSION_TOKEN)'],
    ],
  ])('%s', (_what, env, expected) => {
    expect(credentialSources(env)).toEqual(expected);
  });
});

describe('withCredentialSources', () => {
  it.each([
    [
      'AuthFailed',
      'refused',
      S3_ENV,
      'refused; credentials from Secret s3-creds (key access-key → AWS_ACCESS_KEY_ID, key secret-key → AWS_SECRET_ACCESS_KEY)',
    ],
    ['GatedModel', 'gated', HF_ENV, 'gated; credentials from Secret hf-token (key token → HF_TOKEN)'],
    // Without a token nothing is added: the message already asks for HF_TOKEN.
    ['GatedModel', 'gated', [{ name: 'HF_ENDPOINT', value: 'http://hub' }], 'gated'],
    // Other reasons are not about the credentials.
    ['IntegrityMismatch', 'bad files', S3_ENV, 'bad files'],
    ['SourceNotFound', 'no bucket', S3_ENV, 'no bucket'],
  ])('%s', (reason, message, env, expected) => {
    expect(withCredentialSources(reason, message, env)).toBe(expected);
  });
});

describe('jobOutcome', () => {
  it("names the Secret and key of a refused credential from the Job's own env, never a value", () => {
    const job = {
      spec: {
        template: { spec: { containers: [{ name: 'download', env: [...S3_ENV, { name: 'X', value: 'v4l' }] }] } },
      },
      status: { conditions: [{ type: 'Failed', status: 'True' }] },
    };
    const pod = {
      status: {
        phase: 'Failed',
        containerStatuses: [
          {
            name: 'download',
            state: { terminated: { exitCode: 1, message: '{"reason":"AuthFailed","message":"S3 refused the keys"}' } },
          },
        ],
      },
    };
    const out = jobOutcome(job as never, [pod] as never, 0, 900);
    expect(out?.containers[0]?.result).toEqual({
      reason: 'AuthFailed',
      message:
        'S3 refused the keys; credentials from Secret s3-creds (key access-key → AWS_ACCESS_KEY_ID, key secret-key → AWS_SECRET_ACCESS_KEY)',
    });
    expect(JSON.stringify(out)).not.toContain('v4l');
  });
});
