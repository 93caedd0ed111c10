import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HfSource } from '../../downloader/config.js';
import { DownloaderFailure } from '../../downloader/failures.js';
import { listHf } from '../../downloader/hf/source.js';
import { finalStep } from '../../downloader/verify.js';
import { MIRRORED_REPO, modelFiles, PUBLIC_REPO, contentSize } from '../harness/fixtures.js';
import { startHfHub, type HfHub } from '../harness/hfHub.js';
import { HubRateLimit, type RateLimitRule } from '../harness/hubRateLimit.js';

/** huggingface_hub's own parsers of the headers (utils/_http.py, _RATELIMIT_REGEX / _RATELIMIT_POLICY_REGEX). */
const RATELIMIT = /"(?<resource>\w+)"\s*;\s*r\s*=\s*(?<r>\d+)\s*;\s*t\s*=\s*(?<t>\d+)/;
const POLICY = /q\s*=\s*(?<q>\d+).*?w\s*=\s*(?<w>\d+)/;

describe('the Hub fixture rate limit (no server)', () => {
  const clock = { ms: 1_000_000 };
  const limiter = () => new HubRateLimit(() => clock.ms);

  it.each<[string, RateLimitRule, Array<[token: string | undefined, bucket: 'api' | 'resolvers', refused: boolean]>]>([
    [
      'everyone, both buckets',
      {},
      [
        [undefined, 'api', true],
        ['hf_a', 'resolvers', true],
      ],
    ],
    [
      'one token only',
      { token: 'hf_a' },
      [
        ['hf_a', 'api', true],
        ['hf_b', 'api', false],
        [undefined, 'api', false],
      ],
    ],
    [
      'the API bucket only',
      { buckets: ['api'] },
      [
        [undefined, 'api', true],
        [undefined, 'resolvers', false],
      ],
    ],
  ])('refuses %s', (_name, rule, requests) => {
    const l = limiter();
    expect(l.check(undefined, 'api')).toBeUndefined();
    l.limit(rule);
    for (const [token, bucket, refused] of requests)
      expect(Boolean(l.check(token, bucket)), `${token} ${bucket}`).toBe(refused);
  });

  it('answers 429 with the RateLimit headers huggingface_hub parses (t = seconds until it lifts)', () => {
    const l = limiter();
    l.limit({ seconds: 30 });
    clock.ms += 10_500;
    const r = l.check(undefined, 'api')!;
    expect(r.status).toBe(429);
    expect(RATELIMIT.exec(r.headers.RateLimit!)?.groups).toEqual({ resource: 'api', r: '0', t: '20' });
    expect(POLICY.exec(r.headers['RateLimit-Policy']!)?.groups).toEqual({ q: '1000', w: '300' });
    expect(r.headers['RateLimit-Policy']).toMatch(/^"fixed window";"api";/);
    expect(r.message).toContain('We had to rate limit you, you hit the quota of 1000 api requests per 5 minutes');
    expect(r.headers['Retry-After']).toBeUndefined();
  });

  it('lifts by itself after its duration, after its number of refusals, or when lifted', () => {
    const timed = limiter();
    timed.limit({ seconds: 5 });
    expect(timed.check(undefined, 'api')).toBeDefined();
    clock.ms += 5000;
    expect(timed.check(undefined, 'api')).toBeUndefined();
    expect(timed.active()).toBe(false);

    const counted = limiter();
    counted.limit({ requests: 2 });
    expect(counted.check(undefined, 'api')).toBeDefined();
    expect(counted.check(undefined, 'resolvers')).toBeDefined();
    expect(counted.check(undefined, 'api')).toBeUndefined();
    expect(counted.refused()).toBe(2);

    const manual = limiter();
    manual.limit({});
    manual.lift();
    expect(manual.check(undefined, 'api')).toBeUndefined();
  });
});

describe('the Hub fixture behind a limit or a mirror, read by the downloader (in-process fixture)', () => {
  let hub: HfHub;
  const src = (repo: string, hasToken = false): HfSource => ({
    kind: 'hf',
    repo,
    revision: 'main',
    endpoint: hub.endpoint,
    hasToken,
  });
  const failureOf = async (p: Promise<unknown>): Promise<DownloaderFailure> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DownloaderFailure);
    return err as DownloaderFailure;
  };

  beforeAll(async () => {
    hub = await startHfHub();
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('a rate-limited token gets 429 on the API and resolvers with the headers, others pass, the CDN is open', async () => {
    const limited = hub.newToken();
    hub.rateLimit({ token: limited });
    try {
      const auth = { Authorization: `Bearer ${limited}` };
      const info = await fetch(`${hub.endpoint}/api/models/${PUBLIC_REPO}`, { headers: auth });
      expect(info.status).toBe(429);
      expect(info.headers.get('ratelimit')).toMatch(/^"api";r=0;t=\d+$/);
      expect(info.headers.get('x-error-message')).toContain('We had to rate limit you');
      const resolve = await fetch(`${hub.endpoint}/${PUBLIC_REPO}/resolve/main/config.json`, { headers: auth });
      expect(resolve.status).toBe(429);
      expect(resolve.headers.get('ratelimit-policy')).toBe('"fixed window";"resolvers";q=5000;w=300');
      const other = await fetch(`${hub.endpoint}/api/models/${PUBLIC_REPO}`, {
        headers: { Authorization: `Bearer ${hub.token}` },
      });
      expect(other.status).toBe(200);
      await other.body?.cancel();

      const failure = await failureOf(listHf(src(PUBLIC_REPO, true), { HF_TOKEN: limited }));
      expect(failure.reason).toBe('RateLimited');
      expect(failure.message).toBe(`${hub.endpoint} is rate-limiting requests for ${PUBLIC_REPO}`);
    } finally {
      hub.liftRateLimit();
    }
    expect((await listHf(src(PUBLIC_REPO, true), { HF_TOKEN: limited })).files).toHaveLength(3);
  });

  it('a mirror that ignores ?blobs=true: siblings without sizes → SizeUnknown asking for size; with size → that total', async () => {
    const res = await fetch(`${hub.endpoint}/api/models/${MIRRORED_REPO}/revision/main?blobs=true`);
    const info = (await res.json()) as { siblings: object[] };
    expect(info.siblings).toEqual(Object.keys(modelFiles(MIRRORED_REPO)).map((rfilename) => ({ rfilename })));

    const failure = await failureOf(listHf(src(MIRRORED_REPO), {}));
    expect(failure.reason).toBe('SizeUnknown');
    expect(failure.message).toBe(
      `${hub.endpoint} did not report file sizes for ${MIRRORED_REPO}; set size on the model source`,
    );

    const listing = await listHf(src(MIRRORED_REPO), {}, 10 * 1024 * 1024);
    expect(listing.totalBytes).toBe(10 * 1024 * 1024);
    expect(listing.revision).toBe(hub.commitOf(MIRRORED_REPO));
    expect(listing.files.map((f) => [f.path, f.size, f.sha256 ?? f.gitBlobSha1])).toEqual(
      Object.keys(modelFiles(MIRRORED_REPO)).map((p) => [p, -1, undefined]),
    );
    // The same Hub with sizes for a repo it serves itself.
    const direct = await listHf(src(PUBLIC_REPO), {});
    expect(direct.totalBytes).toBe(Object.values(modelFiles(PUBLIC_REPO)).reduce((n, c) => n + contentSize(c), 0));
  });

  it('a file of unknown size is judged present, never by a size it does not have', () => {
    const st = { size: 123n } as Parameters<typeof finalStep>[1];
    expect(finalStep({ path: 'a', size: -1 }, st)).toEqual({ kind: 'ok' });
    expect(finalStep({ path: 'a', size: -1 }, undefined)).toEqual({ kind: 'missing' });
    expect(finalStep({ path: 'a', size: 5 }, st)).toEqual({ kind: 'bad', why: 'size 123 != 5' });
  });
});
