// Deterministic fixture content for the S3 and Hugging Face test servers.
// Every byte is a pure function of a seed, so a test can regenerate the expected content instead of storing it, and a
// ~1 GB benchmark file is streamed on demand rather than held in memory.
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const BLOCK = 16; // AES block size: the CTR counter advances once per 16 bytes
const CHUNK = 1 << 20; // streaming chunk size

/** AES-256 key for a seed: sha256 of the seed, so different seeds give unrelated streams. */
function keyFor(seed: string): Buffer {
  return createHash('sha256').update(`aim-fixture:${seed}`).digest();
}

/** The 128-bit big-endian CTR counter block for the block at `blockIndex`. */
function counterBlock(blockIndex: number): Buffer {
  const iv = Buffer.alloc(BLOCK);
  iv.writeBigUInt64BE(BigInt(blockIndex), 8);
  return iv;
}

/**
 * `size` deterministic pseudo-random bytes of the stream named `seed`, starting at `offset`.
 * AES-256-CTR over zeros: fast (GB/s with AES-NI) and seekable, so a byte range can be produced without generating
 * everything before it (range requests on a 1 GB file stay cheap).
 */
export function deterministicBytes(seed: string, size: number, offset = 0): Buffer {
  if (!Number.isSafeInteger(size) || size < 0 || !Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`invalid size/offset ${size}/${offset}`);
  }
  const firstBlock = Math.floor(offset / BLOCK);
  const skip = offset - firstBlock * BLOCK;
  const cipher = createCipheriv('aes-256-ctr', keyFor(seed), counterBlock(firstBlock));
  const out = cipher.update(Buffer.alloc(skip + size));
  return out.subarray(skip);
}

/** Streams bytes [start, end) of the deterministic stream `seed` in 1 MiB chunks (pull-based: honours backpressure). */
export function deterministicStream(seed: string, start: number, end: number): Readable {
  let pos = start;
  return new Readable({
    read() {
      if (pos >= end) {
        this.push(null);
        return;
      }
      const n = Math.min(CHUNK, end - pos);
      const chunk = deterministicBytes(seed, n, pos);
      pos += n;
      this.push(chunk);
    },
  });
}

/** Content digests the servers advertise: sha256 (LFS oid, X-Linked-Etag) and git's blob sha1 (tree oid, ETag). */
export interface ContentDigests {
  sha256: string;
  gitBlobSha1: string;
  md5: string;
}

/** A file whose bytes are generated on demand from a seed; only its digests are cached (computed once, lazily). */
export class GeneratedContent {
  private digestsPromise: Promise<ContentDigests> | undefined;

  constructor(
    readonly seed: string,
    readonly size: number,
  ) {}

  /** Bytes [start, end) as a stream. */
  stream(start = 0, end = this.size): Readable {
    return deterministicStream(this.seed, start, end);
  }

  /** The whole content in memory: only for small files (tests comparing bytes). */
  toBuffer(): Buffer {
    return deterministicBytes(this.seed, this.size);
  }

  /** Digests over the whole content; one streaming pass the first time, memoized afterwards. */
  digests(): Promise<ContentDigests> {
    this.digestsPromise ??= digestStream(this.stream(), this.size);
    return this.digestsPromise;
  }
}

/** What a fixture file holds: literal bytes, text, or generated content. */
export type FixtureContent = Buffer | string | GeneratedContent;

export function contentSize(content: FixtureContent): number {
  if (content instanceof GeneratedContent) return content.size;
  return typeof content === 'string' ? Buffer.byteLength(content) : content.length;
}

/** Bytes [start, end) of any fixture content as a stream. */
export function contentStream(content: FixtureContent, start = 0, end = contentSize(content)): Readable {
  if (content instanceof GeneratedContent) return content.stream(start, end);
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  return Readable.from([buf.subarray(start, end)], { objectMode: false });
}

/** The whole content in memory (fine for the small default fixtures; avoid for benchmark-sized files). */
export function contentBuffer(content: FixtureContent): Buffer {
  if (content instanceof GeneratedContent) return content.toBuffer();
  return typeof content === 'string' ? Buffer.from(content) : content;
}

const digestCache = new WeakMap<Buffer, ContentDigests>();

export async function contentDigests(content: FixtureContent): Promise<ContentDigests> {
  if (content instanceof GeneratedContent) return content.digests();
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  let cached = digestCache.get(buf);
  if (!cached) {
    cached = await digestStream(Readable.from([buf]), buf.length);
    if (typeof content !== 'string') digestCache.set(buf, cached);
  }
  return cached;
}

async function digestStream(source: Readable, size: number): Promise<ContentDigests> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  // git hashes a blob as sha1("blob <size>\0" + content): that is the `oid` the Hub's tree API reports.
  const sha1 = createHash('sha1').update(`blob ${size}\0`);
  for await (const chunk of source) {
    const buf = chunk as Buffer;
    sha256.update(buf);
    md5.update(buf);
    sha1.update(buf);
  }
  return { sha256: sha256.digest('hex'), gitBlobSha1: sha1.digest('hex'), md5: md5.digest('hex') };
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A stable 40-hex "commit sha" for a repo revision (looks like git's, never collides between fixtures). */
export function fixtureCommitSha(repoId: string, revision: string): string {
  return createHash('sha1').update(`aim-fixture-commit:${repoId}@${revision}`).digest('hex');
}

// ---------------------------------------------------------------------------------------------------------------
// The default fixture set
// ---------------------------------------------------------------------------------------------------------------

/** Who may read a Hub repo: the Hub's three cases that the downloader must tell apart. */
export type RepoAccess = 'public' | 'gated' | 'private';

export interface HubRevisionFixture {
  /** 40-hex commit sha; defaults to `fixtureCommitSha(repoId, branch)`. */
  commit?: string;
  /** Repo-relative path (with `/` for folders) → content. */
  files: Record<string, FixtureContent>;
}

export interface HubRepoFixture {
  /** `namespace/name`. */
  id: string;
  access: RepoAccess;
  /** Branch name → revision. `main` is the default branch and must exist. */
  revisions: Record<string, HubRevisionFixture>;
  /**
   * `ignoresBlobsParam`: repo info is answered like a mirror that forwards it without its query string, e.g. Olah's
   * proxy (vtuber-plan/olah, olah/proxy/meta.py builds the upstream URL `/api/{type}/{repo}/revision/{commit}` with no
   * query): `?blobs=true` is dropped, so siblings carry names only (no size, blobId or lfs), as the Hub answers
   * repo info without it. `hf download` still works (it asks repo info without blobs, then the tree).
   */
  repoInfo?: 'hub' | 'ignoresBlobsParam';
}

export const PUBLIC_REPO = 'fixtures/public';
export const GATED_REPO = 'fixtures/gated';
export const PRIVATE_REPO = 'fixtures/token-only';
export const REVISIONED_REPO = 'fixtures/revisioned';
export const LARGE_REPO = 'fixtures/large';
/** A public repo whose repo info is answered like a mirror that ignores `?blobs=true` (no sizes). */
export const MIRRORED_REPO = 'fixtures/mirrored';
/** The named branch of REVISIONED_REPO besides `main`. */
export const SECOND_BRANCH = 'v2';

/** A small model's files: a JSON config, a safetensors blob of `weightBytes` deterministic bytes, a nested tokenizer. */
export function modelFiles(seed: string, weightBytes = 3 * 1024 * 1024): Record<string, FixtureContent> {
  return {
    'config.json': `${JSON.stringify({ model_type: 'llama', fixture: seed, hidden_size: 64 }, null, 2)}\n`,
    'model.safetensors': deterministicBytes(`${seed}/model.safetensors`, weightBytes),
    'sub/tokenizer.json': `${JSON.stringify({ version: '1.0', fixture: seed, vocab: { a: 0, b: 1 } })}\n`,
  };
}

/**
 * A benchmark-sized model: `totalBytes` split into safetensors shards of at most `shardBytes`, all generated lazily
 * (nothing is held in memory; the first digest request streams each shard once).
 */
export function largeModelFiles(
  seed: string,
  totalBytes: number,
  shardBytes = 256 * 1024 * 1024,
): Record<string, FixtureContent> {
  const shards = Math.max(1, Math.ceil(totalBytes / shardBytes));
  const files: Record<string, FixtureContent> = {
    'config.json': `${JSON.stringify({ model_type: 'llama', fixture: seed, total_bytes: totalBytes })}\n`,
  };
  const pad = (n: number): string => String(n).padStart(5, '0');
  for (let i = 0; i < shards; i++) {
    const size = Math.min(shardBytes, totalBytes - i * shardBytes);
    const name = `model-${pad(i + 1)}-of-${pad(shards)}.safetensors`;
    files[name] = new GeneratedContent(`${seed}/${name}`, size);
  }
  return files;
}

export interface DefaultHubReposOptions {
  /** Size of each small repo's model.safetensors (default 3 MiB). */
  weightBytes?: number;
  /** When set, adds LARGE_REPO with this many bytes of lazily generated shards (e.g. 1 GiB for the benchmark). */
  largeRepoBytes?: number;
}

/**
 * The repos the Hub fixture serves by default: public, gated, token-only (private), two-revision repos and a public
 * repo behind a mirror that drops `?blobs=true`.
 */
export function defaultHubRepos(opts: DefaultHubReposOptions = {}): HubRepoFixture[] {
  const w = opts.weightBytes;
  const repos: HubRepoFixture[] = [
    { id: PUBLIC_REPO, access: 'public', revisions: { main: { files: modelFiles(PUBLIC_REPO, w) } } },
    { id: GATED_REPO, access: 'gated', revisions: { main: { files: modelFiles(GATED_REPO, w) } } },
    { id: PRIVATE_REPO, access: 'private', revisions: { main: { files: modelFiles(PRIVATE_REPO, w) } } },
    {
      id: REVISIONED_REPO,
      access: 'public',
      revisions: {
        main: { files: modelFiles(`${REVISIONED_REPO}@main`, w) },
        // Different content *and* a different file set, so a wrong-revision download is visible either way.
        [SECOND_BRANCH]: {
          files: { ...modelFiles(`${REVISIONED_REPO}@${SECOND_BRANCH}`, w), 'v2-only.txt': 'only on v2\n' },
        },
      },
    },
    {
      id: MIRRORED_REPO,
      access: 'public',
      repoInfo: 'ignoresBlobsParam',
      revisions: { main: { files: modelFiles(MIRRORED_REPO, w) } },
    },
  ];
  if (opts.largeRepoBytes !== undefined) {
    repos.push({
      id: LARGE_REPO,
      access: 'public',
      revisions: { main: { files: largeModelFiles(LARGE_REPO, opts.largeRepoBytes) } },
    });
  }
  return repos;
}

// ---------------------------------------------------------------------------------------------------------------
// Secret values of the suite
// ---------------------------------------------------------------------------------------------------------------

/**
 * Every secret value the test suite hands to the product: Secret data (S3 secret keys, Hub tokens), credentials given
 * straight to tools, and the literal credentials of refused manifests (test/corpus, test/cases). The secrets audit
 * (test/integration/zz-secretsAudit.test.ts) requires that none of them appears in a workflow history, a worker or
 * bridge log, a server log, an AIM object's status or an Event, and fails when a test file uses a secret value that
 * is missing here. Values generated per run are listed by their fixed prefix (the Hub fixture's tokens, the
 * acceptance fixture's S3 key); the run's Kubernetes tokens are added by the audit itself.
 */
export const TEST_SECRET_VALUES: readonly string[] = [
  // S3 secret keys of the integration files (startS3Server secretKey and the Secrets that reference it).
  'model-secret-value-1',
  'svc-secret-value-7',
  'scn-secret-value-3',
  'bridge-secret-value-3',
  'job-secret-value-9',
  'rbac-secret-value-5',
  'fault-secret-value-5',
  'aimtestsecret-s3cr3t-value',
  'aim-test-secret-key-0123456789abcdefghij',
  'e2e-secret-',
  'demo-secret-key',
  // S3 identities (test/integration/s3Identity.test.ts): the test server's admin key, the keys the STS and
  // container-credentials stand-ins issue, and the web identity / Pod Identity tokens they check.
  'aimtestadmin-secret',
  'irsa-secret-one',
  'pod-identity-secret-one',
  'rotating-1',
  'rotating-2',
  'rotating-3',
  'eyJhbGciOiJSUzI1NiJ9.irsa-projected-token.sig',
  'pod-identity-agent-token-value',
  // Temporal API keys of test/integration/temporalTls.test.ts, the right one and the wrong ones.
  'aim-test-api-key-7f3c9e',
  'not-the-key-000',
  'wrong-key-5a1b2c3d',
  // Wrong keys: still secrets as far as the product knows (and a wrong key given straight to s5cmd).
  'wrong-secret-value',
  'wrong-key-value',
  'not-the-secret',
  // Secret data read by a pod's environment (kubelet test).
  's3cr3t',
  // Hugging Face tokens: the Hub fixture's (hf_valid…, hf_noaccess… plus random hex) and invalid ones.
  'hf_valid',
  'hf_noaccess',
  'hf_invalidtokenvalue123',
  'hf_thisIsNotAValidToken',
  // Literal credentials of refused manifests (zod and the CRDs refuse them; they must not echo the value).
  'hf_literal',
  'literal-not-a-secret',
  'session-token-literal',
  'AKIAEXAMPLE',
];
