import { describe, expect, it } from 'vitest';
import {
  cacheDownloadFailed,
  cacheDownloading,
  cacheInvalid,
  cacheProbeFailed,
  cacheProbeRetrying,
  cacheProbing,
  cacheSecretMissing,
  cacheSizeUnknown,
  cacheVerified,
  cacheVolume,
  jobFailure,
  namingClaim,
  probeRetryRule,
  type CacheConditionsReport,
} from '../../domain/cacheConditions.js';

const summary = (r: CacheConditionsReport) => [
  r.status,
  ...r.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`),
];
const pvc = { name: 'cache-qwen', size: '70Gi', className: 'local', accessMode: 'ReadWriteOnce' };

describe('AIMModelCache status and conditions at each step (spec 5.4, 8)', () => {
  it.each<[string, CacheConditionsReport, string[]]>([
    [
      'invalid spec',
      cacheInvalid('spec.sourceUri: bad'),
      ['Failed', 'ConfigValid=False/InvalidSpec', 'Ready=False/InvalidSpec'],
    ],
    [
      'Secret missing: Pending, no Job',
      cacheSecretMissing('secret s3 not found'),
      ['Pending', 'AuthValid=False/SecretNotFound', 'Ready=False/SecretNotFound'],
    ],
    [
      'probing',
      cacheProbing(2),
      ['Progressing', 'ConfigValid=True/Valid', 'SourcesValid=Unknown/Probing', 'Ready=False/Probing'],
    ],
    [
      'probe refused the key: also on AuthValid',
      cacheProbeFailed({ reason: 'AuthFailed', message: 'S3 403' }),
      ['Failed', 'AuthValid=False/AuthFailed', 'SourcesValid=False/AuthFailed', 'Ready=False/AuthFailed'],
    ],
    [
      'gated model: also on AuthValid',
      cacheProbeFailed({ reason: 'GatedModel', message: 'accept the licence' }),
      ['Failed', 'AuthValid=False/GatedModel', 'SourcesValid=False/GatedModel', 'Ready=False/GatedModel'],
    ],
    [
      'source not found: the sources only',
      cacheProbeFailed({ reason: 'SourceNotFound', message: 'no such bucket' }),
      ['Failed', 'SourcesValid=False/SourceNotFound', 'Ready=False/SourceNotFound'],
    ],
    [
      'the probe pod could not pull its image: on DownloadReady, the source not judged',
      cacheProbeFailed({ reason: 'ImagePullFailed', message: 'container probe cannot pull image x' }),
      [
        'Failed',
        'SourcesValid=Unknown/ImagePullFailed',
        'DownloadReady=False/ImagePullFailed',
        'Ready=False/ImagePullFailed',
      ],
    ],
    [
      'the probe pod never started: on DownloadReady, the source not judged',
      cacheProbeFailed({ reason: 'PodNotStarted', message: 'no pod was created' }),
      [
        'Failed',
        'SourcesValid=Unknown/PodNotStarted',
        'DownloadReady=False/PodNotStarted',
        'Ready=False/PodNotStarted',
      ],
    ],
    [
      'the probe pod was OOMKilled and the probe runs again: the source not judged yet',
      cacheProbeRetrying({ reason: 'OOMKilled', message: 'container probe was OOMKilled' }),
      ['Progressing', 'SourcesValid=Unknown/OOMKilled', 'DownloadReady=False/OOMKilled', 'Ready=False/OOMKilled'],
    ],
    ['size unknown', cacheSizeUnknown(), ['Failed', 'SourcesValid=False/SizeUnknown', 'Ready=False/SizeUnknown']],
    [
      'volume bound, source measured',
      cacheVolume({ pvc, bound: true, source: { totalBytes: 10, files: 2 } }),
      [
        'Progressing',
        'AuthValid=True/CredentialsAccepted',
        'SourcesValid=True/SourceReachable',
        'VolumeReady=True/VolumeBound',
      ],
    ],
    [
      'claim waiting for its first consumer, probe could not measure (spec size)',
      cacheVolume({ pvc, bound: false, probeFailure: { reason: 'EndpointUnreachable', message: 'timeout' } }),
      [
        'Pending',
        'AuthValid=True/CredentialsAccepted',
        'SourcesValid=Unknown/EndpointUnreachable',
        'VolumeReady=Unknown/WaitingForBinding',
      ],
    ],
    [
      'downloading on a bound volume',
      cacheDownloading(3, 5, true),
      ['Progressing', 'DownloadReady=False/Downloading', 'Ready=False/Downloading'],
    ],
    [
      'downloading on an unbound claim',
      cacheDownloading(1, 5, false),
      ['Pending', 'DownloadReady=False/Downloading', 'Ready=False/Downloading'],
    ],
    ['verified', cacheVerified(2), ['Ready', 'DownloadReady=True/Verified', 'Ready=True/Ready']],
    [
      'a stall with attempts left retries (on Ready too, for the services waiting on the cache)',
      cacheDownloadFailed({ reason: 'Stalled', message: 'no bytes for 60 s' }, { last: false, maxAttempts: 5 }),
      ['Progressing', 'DownloadReady=False/Stalled', 'Ready=False/Stalled'],
    ],
    [
      'an eviction with attempts left retries',
      cacheDownloadFailed({ reason: 'Evicted', message: 'pod p was evicted' }, { last: false, maxAttempts: 5 }),
      ['Progressing', 'DownloadReady=False/Evicted', 'Ready=False/Evicted'],
    ],
    [
      'a stall on the last attempt fails',
      cacheDownloadFailed({ reason: 'Stalled', message: 'no bytes' }, { last: true, maxAttempts: 5 }),
      ['Failed', 'DownloadReady=False/Stalled', 'Ready=False/Stalled'],
    ],
    [
      'a full disk fails at once',
      cacheDownloadFailed({ reason: 'InsufficientStorage', message: 'ENOSPC' }, { last: false, maxAttempts: 5 }),
      ['Failed', 'DownloadReady=False/InsufficientStorage', 'Ready=False/InsufficientStorage'],
    ],
    [
      'an unbound volume is on VolumeReady too',
      cacheDownloadFailed({ reason: 'VolumeNotBound', message: 'class slow' }, { last: false, maxAttempts: 5 }),
      [
        'Failed',
        'DownloadReady=False/VolumeNotBound',
        'VolumeReady=False/VolumeNotBound',
        'Ready=False/VolumeNotBound',
      ],
    ],
  ])('%s', (_, report, expected) => {
    expect(summary(report)).toEqual(expected);
  });

  it('messages say what happened and what is next', () => {
    expect(
      cacheDownloadFailed({ reason: 'Stalled', message: 'no bytes' }, { last: false, maxAttempts: 5 }).conditions[0]!
        .message,
    ).toBe('no bytes; retrying');
    expect(
      cacheDownloadFailed({ reason: 'Stalled', message: 'no bytes' }, { last: true, maxAttempts: 5 }).conditions[0]!
        .message,
    ).toBe('no bytes (after 5 attempts)');
    expect(
      cacheDownloadFailed({ reason: 'SourceNotFound', message: 'gone' }, { last: true, maxAttempts: 5 }).conditions[0]!
        .message,
    ).toBe('gone');
    expect(cacheVolume({ pvc, bound: false }).conditions[2]!.message).toBe(
      'PVC cache-qwen (70Gi, class local, ReadWriteOnce) is not bound yet; it binds when the download pod is scheduled',
    );
    expect(cacheVolume({ pvc, bound: true, source: { totalBytes: 10, files: 2 } }).conditions[1]!.message).toBe(
      '2 file(s), 10 bytes',
    );
  });
});

describe('a failed probe runs again, as a download attempt does (retry class nextAttempt)', () => {
  it.each([
    // reason, retry (0: the first probe), maxAttempts, the cache has a size, runs again because of
    ['OOMKilled', 0, 5, false, 'pod'],
    ['Evicted', 3, 5, true, 'pod'],
    ['OOMKilled', 4, 5, false, undefined], // the last attempt: the cache fails
    ['Evicted', 0, 1, false, undefined],
    // Pod reasons another system fixes are re-checked on the fix back-off, not run again at once.
    ['ImagePullFailed', 0, 5, false, undefined],
    ['PodNotStarted', 0, 5, false, undefined],
    // A source that refused for a while: asked again when there is no size to go on with.
    ['RateLimited', 0, 5, false, 'source'],
    ['EndpointUnreachable', 2, 5, false, 'source'],
    ['RateLimited', 4, 5, false, undefined],
    ['RateLimited', 0, 5, true, undefined], // the download goes on with the spec size; its attempts retry
    ['EndpointUnreachable', 0, 5, true, undefined],
    // The source's other failures keep their rules (re-probe, a fix).
    ['AuthFailed', 0, 5, false, undefined],
    ['SourceNotFound', 0, 5, false, undefined],
    ['IntegrityMismatch', 0, 5, false, undefined], // a download's failure, never a probe's
  ] as const)(
    '%s on retry %i of %i attempts (size known: %s): runs again because of %s',
    (reason, retry, maxAttempts, sizeKnown, rule) => {
      expect(probeRetryRule({ reason, message: 'm' }, { retry, maxAttempts, sizeKnown })).toBe(rule);
    },
  );

  it('says the probe runs again, and why it did not finish', () => {
    const report = cacheProbeRetrying({ reason: 'Evicted', message: 'pod p-probe-1-x was evicted from node n' });
    expect(report.conditions.map((c) => c.message)).toEqual([
      'the probe did not finish: pod p-probe-1-x was evicted from node n; retrying',
      'pod p-probe-1-x was evicted from node n; retrying',
      'pod p-probe-1-x was evicted from node n; retrying',
    ]);
  });

  it('says the source turned the probe away, and that it is asked again', () => {
    const report = cacheProbeRetrying({
      reason: 'RateLimited',
      message: 'http://hub is rate-limiting requests for o/r',
    });
    expect(summary(report)).toEqual([
      'Progressing',
      'SourcesValid=Unknown/RateLimited',
      'DownloadReady=False/RateLimited',
      'Ready=False/RateLimited',
    ]);
    expect(report.conditions[0]!.message).toBe(
      'the source turned the probe away: http://hub is rate-limiting requests for o/r; retrying',
    );
  });
});

describe('a volume without room names its claim', () => {
  it('InsufficientStorage gets the PVC name; other reasons are left as they are', () => {
    expect(namingClaim({ reason: 'InsufficientStorage', message: 'the volume has 1 MiB free' }, 'c-1a2b')).toEqual({
      reason: 'InsufficientStorage',
      message: 'PVC c-1a2b: the volume has 1 MiB free',
    });
    expect(namingClaim({ reason: 'Stalled', message: 'no bytes' }, 'c-1a2b').message).toBe('no bytes');
  });
});

describe('the typed failure of a Job', () => {
  it.each([
    ['succeeded: none', { phase: 'Succeeded', containers: [] }, undefined],
    [
      'the downloader termination message first',
      {
        phase: 'Failed',
        containers: [{ result: { reason: 'AuthFailed', message: '403' } }],
        problem: { reason: 'OOMKilled', message: 'x' },
      },
      { reason: 'AuthFailed', message: '403' },
    ],
    [
      'then the pod state',
      { phase: 'Failed', containers: [{}], problem: { reason: 'OOMKilled', message: 'limit 1Gi' } },
      { reason: 'OOMKilled', message: 'limit 1Gi' },
    ],
    [
      'a missing Secret key in the env is SecretNotFound',
      {
        phase: 'NotStarted',
        containers: [],
        problem: { reason: 'CreateContainerConfigError', message: 'secret "s" not found' },
      },
      { reason: 'SecretNotFound', message: 'secret "s" not found' },
    ],
    [
      'nothing said: DownloadFailed',
      { phase: 'Failed', containers: [] },
      { reason: 'DownloadFailed', message: 'the Job failed without a termination message' },
    ],
    [
      'a container killed without a word: DownloadFailed naming it and its exit code',
      { phase: 'Failed', containers: [{ name: 'downloader', exitCode: 137, reason: 'Error' }] },
      {
        reason: 'DownloadFailed',
        message: 'container downloader exited with code 137 (Error) without a termination message',
      },
    ],
  ])('%s', (_, outcome, expected) => {
    expect(jobFailure(outcome)).toEqual(expected);
  });
});
