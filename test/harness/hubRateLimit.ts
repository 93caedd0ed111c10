// The Hub fixture's rate limit, as the Hugging Face Hub answers one (huggingface/hub-docs docs/hub/rate-limits.md):
// status 429 with the IETF draft-09 headers the Hub implements, `RateLimit: "api";r=0;t=<seconds to reset>` and
// `RateLimit-Policy: "fixed window";"api";q=<quota>;w=<window seconds>` (huggingface_hub ≥ 1.2 parses these to wait out
// the reset), per bucket: "api" for /api/… and "resolvers" for /…/resolve/…; the CDN is not limited. The Hub limits
// per user (a token) or per IP address (anonymous): here a rule names a token or applies to everyone. The Hub documents
// no Retry-After, so none is sent. Pure: the clock is injected, so it is tested without a server.

export type RateLimitBucket = 'api' | 'resolvers';

export interface RateLimitRule {
  /** Whose requests are refused: the holder of this token; everyone when unset. */
  token?: string;
  /** The limit lifts this long after it was switched on. */
  seconds?: number;
  /** The limit lifts once this many requests were refused. */
  requests?: number;
  /** Which buckets are exhausted (default both). */
  buckets?: RateLimitBucket[];
}

export interface RateLimitRefusal {
  status: 429;
  headers: Record<string, string>;
  /** The Hub's wording (as its 429 answers to the git-lfs batch API report it). */
  message: string;
}

/** The free tier's quotas per 5-minute fixed window (rate-limits.md, "Rate limit Tiers"). */
const QUOTA: Record<RateLimitBucket, number> = { api: 1000, resolvers: 5000 };
const WINDOW_SECONDS = 300;

interface ActiveRule extends RateLimitRule {
  since: number;
  refused: number;
}

export class HubRateLimit {
  private rule: ActiveRule | undefined;
  private refusedTotal = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Switches the limit on (replacing any earlier one); nothing is refused until then. */
  limit(rule: RateLimitRule): void {
    this.rule = { ...rule, since: this.now(), refused: 0 };
  }

  lift(): void {
    this.rule = undefined;
  }

  /** Whether a rule is in force now (one bounded by time or count lifts by itself). */
  active(): boolean {
    const r = this.rule;
    if (!r) return false;
    const expired =
      (r.seconds !== undefined && this.now() - r.since >= r.seconds * 1000) ||
      (r.requests !== undefined && r.refused >= r.requests);
    if (expired) this.rule = undefined;
    return !expired;
  }

  /** Requests answered 429 since the fixture started. */
  refused(): number {
    return this.refusedTotal;
  }

  /** The 429 for a request of `token` (undefined: anonymous) to `bucket`, or undefined when it may pass. */
  check(token: string | undefined, bucket: RateLimitBucket): RateLimitRefusal | undefined {
    if (!this.active()) return undefined;
    const r = this.rule!;
    if (r.token !== undefined && r.token !== token) return undefined;
    if (r.buckets && !r.buckets.includes(bucket)) return undefined;
    r.refused += 1;
    this.refusedTotal += 1;
    const elapsed = (this.now() - r.since) / 1000;
    // Until the limit lifts if bounded by time, else until the end of the current fixed window.
    const reset = r.seconds !== undefined ? r.seconds - elapsed : WINDOW_SECONDS - (elapsed % WINDOW_SECONDS);
    const quota = QUOTA[bucket];
    return {
      status: 429,
      headers: {
        RateLimit: `"${bucket}";r=0;t=${Math.max(1, Math.ceil(reset))}`,
        'RateLimit-Policy': `"fixed window";"${bucket}";q=${quota};w=${WINDOW_SECONDS}`,
      },
      message:
        `We had to rate limit you, you hit the quota of ${quota} ${bucket} requests per 5 minutes period. ` +
        'Upgrade to a PRO user or Team/Enterprise organization account (https://hf.co/pricing) to get higher limits. ' +
        'See https://huggingface.co/docs/hub/rate-limits',
    };
  }
}
