// A local Hugging Face Hub: the subset of the Hub's HTTP protocol that `hf download` (huggingface_hub 1.x) and
// HfApi.model_info / list_repo_files / list_repo_tree use, answering auth and not-found cases the way the Hub does
// (header `X-Error-Code` / `X-Error-Message`, which huggingface_hub's hf_raise_for_status maps to its error classes).
//
// Routes (models only; repo ids are `namespace/name`):
//   GET       /api/models/{repo}[/revision/{rev}]      repo info: sha, siblings (sizes + lfs with ?blobs=true)
//   GET       /api/models/{repo}/tree/{rev}[/{path}]   tree listing (?recursive=true), oid/size/lfs per file
//   HEAD|GET  /{repo}/resolve/{rev}/{path}             plain files: 200 with ETag (git blob sha1), X-Repo-Commit;
//                                                      LFS files: 302 to a signed blob URL with X-Linked-Etag
//                                                      (sha256), X-Linked-Size, X-Repo-Commit
//   HEAD|GET  /cdn-lfs/{repo}/{commit}/{path}?expires&sig   the "CDN": signed, needs no token, Range → 206
//   GET       /api/whoami-v2                           token check
// No Xet: responses carry no X-Xet-* headers and tree entries no xetHash, so the client uses plain HTTP.
// A rate limit a test switches on (hubRateLimit.ts) answers 429 as the Hub does; a repo can answer repo info like a
// mirror that drops the query string (HubRepoFixture.repoInfo).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  contentDigests,
  contentSize,
  contentStream,
  defaultHubRepos,
  fixtureCommitSha,
  type FixtureContent,
  type HubRepoFixture,
} from './fixtures.js';
import { ByteCounter, closeServer, FaultRules, sendBody, type FaultOptions } from './httpProxy.js';
import { HubRateLimit, type RateLimitBucket, type RateLimitRule } from './hubRateLimit.js';

export interface StartHfHubOptions {
  /** Defaults to `defaultHubRepos()`. */
  repos?: HubRepoFixture[];
  /**
   * Host name for LFS blob redirects. Default: the host the request came in on, so the client follows the redirect
   * on the same host (as for the Hub's own `/api/resolve-cache` redirects). Set e.g. `localhost` to make it a
   * different host, like the Hub's CDN: huggingface_hub then stops at the 302, takes the metadata from it and drops
   * the Authorization header for the blob GET. (Only where `localhost` resolves to 127.0.0.1 alone.)
   */
  cdnHost?: string;
}

export interface HubRequestRecord {
  method: string;
  /** Path and query as received. */
  path: string;
  status: number;
  /** Which credential came with the request (never the token itself). */
  auth: 'none' | 'valid' | 'no-access' | 'invalid';
  /** X-Error-Code of an error answer. */
  errorCode?: string;
  range?: string;
  /** Body bytes sent (file bytes for resolve/blob GETs). */
  bytes: number;
}

export interface HfHub {
  /** `http://127.0.0.1:PORT`: the value for HF_ENDPOINT. */
  endpoint: string;
  /** A token that can read every repo, including the gated and private ones. */
  token: string;
  /**
   * A valid token of a user without access: gated → 403 GatedRepo (until that user accepts the repo's licence),
   * private/missing → 404 RepoNotFound.
   */
  noAccessToken: string;
  /**
   * The user of `noAccessToken` accepts a gated repo's licence on its page (`{endpoint}/{repo}`): from now on that
   * token reads the repo, as on the Hub once access is granted. Nothing changes in any cluster.
   */
  acceptLicence(repoId: string): void;
  /** A new valid token of another user who can read every repo (the Hub rate-limits per user). */
  newToken(): string;
  /**
   * Switches a rate limit on: the requests of `rule.token` (or everyone's) to the API and/or the resolvers are
   * answered 429 with the Hub's RateLimit headers, until `rule.seconds` passed or `rule.requests` were refused.
   */
  rateLimit(rule: RateLimitRule): void;
  liftRateLimit(): void;
  /** File bytes sent for files whose key `{repo}/{path}` contains `substring` ('' = all). */
  bytesServed(substring?: string): number;
  requests(): readonly HubRequestRecord[];
  /** Fault rules on file bodies, matched against `{repo}/{path}` (same semantics as the proxy's). */
  stallAfter(substring: string, nBytes: number, opts?: FaultOptions): void;
  corrupt(substring: string, opts?: FaultOptions): void;
  /** Sends matching file bodies at `bytesPerSecond` (a large file over a slow link, in little time). */
  slowDown(substring: string, bytesPerSecond: number, opts?: FaultOptions): void;
  clearFaults(): void;
  resetCounters(): void;
  /** Computes every file's digests now (lazily generated files are streamed once: ~3 s per GiB), so that a
   * benchmark does not time it; otherwise the first tree/HEAD request pays. */
  precompute(): Promise<void>;
  /** The commit sha a revision (branch name or sha) of a repo resolves to. */
  commitOf(repoId: string, revision?: string): string;
  stop(): Promise<void>;
}

interface ResolvedRevision {
  commit: string;
  files: Record<string, FixtureContent>;
}

/** Which credential a request carried, and the token itself when it is a valid one (for per-user rate limits). */
interface Caller {
  auth: HubRequestRecord['auth'];
  token?: string;
}

interface RepoState {
  fixture: HubRepoFixture;
  /** Branch name and commit sha → revision. */
  revisions: Map<string, ResolvedRevision>;
}

/** Files the Hub would store with Git LFS: weights by extension, anything else from 10 MiB up. */
const LFS_EXTENSIONS = /\.(safetensors|bin|pt|pth|ckpt|gguf|onnx|h5|msgpack|tflite|model|npz|zip|tar|gz)$/;
const LFS_MIN_BYTES = 10 * 1024 * 1024;
const BLOB_URL_TTL_S = 3600;

function isLfs(path: string, size: number): boolean {
  return LFS_EXTENSIONS.test(path) || size >= LFS_MIN_BYTES;
}

/** The git-lfs pointer file git stores for an LFS object; its blob sha1 is the file's `oid` in tree listings. */
function lfsPointer(sha256: string, size: number): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
}

/** git's object id of a blob: sha1("blob <size>\0" + content). */
function gitBlobSha1(text: string): string {
  const buf = Buffer.from(text);
  return createHash('sha1').update(`blob ${buf.length}\0`).update(buf).digest('hex');
}

/** Metadata the API and the resolve endpoint report for one file. */
interface FileMeta {
  path: string;
  size: number;
  /** git blob sha1 of what git stores: the content itself, or the LFS pointer. */
  oid: string;
  lfs?: { sha256: string; size: number; pointerSize: number };
}

async function fileMeta(path: string, content: FixtureContent): Promise<FileMeta> {
  const size = contentSize(content);
  const digests = await contentDigests(content);
  if (!isLfs(path, size)) return { path, size, oid: digests.gitBlobSha1 };
  const pointer = lfsPointer(digests.sha256, size);
  return {
    path,
    size,
    oid: gitBlobSha1(pointer),
    lfs: { sha256: digests.sha256, size, pointerSize: Buffer.byteLength(pointer) },
  };
}

class HubError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
    readonly extraHeaders: Record<string, string> = {},
  ) {
    super(message);
  }
}

export async function startHfHub(opts: StartHfHubOptions = {}): Promise<HfHub> {
  const repos = new Map<string, RepoState>();
  for (const fixture of opts.repos ?? defaultHubRepos()) {
    if (!fixture.revisions.main) throw new Error(`fixture repo ${fixture.id} has no main revision`);
    const revisions = new Map<string, ResolvedRevision>();
    for (const [branch, rev] of Object.entries(fixture.revisions)) {
      const resolved = { commit: rev.commit ?? fixtureCommitSha(fixture.id, branch), files: rev.files };
      revisions.set(branch, resolved);
      revisions.set(resolved.commit, resolved);
    }
    repos.set(fixture.id, { fixture, revisions });
  }

  const token = `hf_valid${randomBytes(12).toString('hex')}`;
  const noAccessToken = `hf_noaccess${randomBytes(12).toString('hex')}`;
  const signingKey = randomBytes(32);
  /** Gated repos whose licence the no-access user has accepted. */
  const accepted = new Set<string>();
  /** Tokens of further users with the same access as `token` (newToken). */
  const otherUsers = new Set<string>();
  const limiter = new HubRateLimit();
  const faults = new FaultRules();
  const counter = new ByteCounter();
  let log: HubRequestRecord[] = [];
  let endpoint = '';

  const sign = (resource: string, expires: number): string =>
    createHmac('sha256', signingKey).update(`${resource}\n${expires}`).digest('hex');

  function callerOf(req: IncomingMessage): Caller {
    const header = req.headers.authorization;
    if (!header) return { auth: 'none' };
    const presented = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (presented === token || (presented && otherUsers.has(presented))) return { auth: 'valid', token: presented };
    if (presented === noAccessToken) return { auth: 'no-access', token: presented };
    return { auth: 'invalid' };
  }

  /** The rate-limit bucket of a path as the Hub counts it: API calls, resolvers; the CDN is not limited. */
  function bucketOf(segs: string[]): RateLimitBucket | undefined {
    if (segs[0] === 'api') return 'api';
    if (segs[0] === 'cdn-lfs') return undefined;
    return segs[2] === 'resolve' ? 'resolvers' : undefined;
  }

  /** Read access as the Hub decides it; `forContent` is false for metadata (repo info, tree), which gating leaves open. */
  function checkAccess(repoId: string, auth: HubRequestRecord['auth'], forContent: boolean): RepoState {
    const repo = repos.get(repoId);
    const access = repo?.fixture.access;
    if (!repo || (access === 'private' && auth !== 'valid')) {
      // Missing and private-without-access look the same, on purpose (no existence oracle): 401 without a token.
      throw new HubError(auth === 'none' ? 401 : 404, 'RepoNotFound', 'Repository not found');
    }
    const granted = auth === 'valid' || (auth === 'no-access' && accepted.has(repoId));
    if (access === 'gated' && forContent && !granted) {
      if (auth === 'none') {
        throw new HubError(
          401,
          'GatedRepo',
          `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
        );
      }
      throw new HubError(
        403,
        'GatedRepo',
        `Access to model ${repoId} is restricted and you are not in the authorized list. Visit ${endpoint}/${repoId} to ask for access.`,
      );
    }
    return repo;
  }

  function revisionOf(repo: RepoState, rev: string): ResolvedRevision {
    const resolved = repo.revisions.get(rev);
    if (!resolved) throw new HubError(404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
    return resolved;
  }

  async function repoInfo(repo: RepoState, rev: ResolvedRevision, blobsAsked: boolean): Promise<unknown> {
    const { fixture } = repo;
    // A mirror that forwards repo info without its query string answers `?blobs=true` with names only.
    const withBlobs = blobsAsked && fixture.repoInfo !== 'ignoresBlobsParam';
    const siblings = await Promise.all(
      Object.entries(rev.files).map(async ([path, content]) => {
        if (!withBlobs) return { rfilename: path };
        const meta = await fileMeta(path, content);
        return { rfilename: path, blobId: meta.oid, size: meta.size, ...(meta.lfs ? { lfs: meta.lfs } : {}) };
      }),
    );
    const [author] = fixture.id.split('/');
    return {
      _id: fixture.id,
      id: fixture.id,
      modelId: fixture.id,
      author,
      sha: rev.commit,
      lastModified: '2025-01-01T00:00:00.000Z',
      createdAt: '2025-01-01T00:00:00.000Z',
      private: fixture.access === 'private',
      gated: fixture.access === 'gated' ? 'manual' : false,
      disabled: false,
      downloads: 0,
      likes: 0,
      tags: [],
      siblings,
      usedStorage: Object.values(rev.files).reduce((n, c) => n + contentSize(c), 0),
    };
  }

  async function tree(rev: ResolvedRevision, dir: string, recursive: boolean): Promise<unknown[]> {
    const prefix = dir === '' ? '' : `${dir}/`;
    const paths = Object.keys(rev.files).filter((p) => p.startsWith(prefix));
    if (dir !== '' && paths.length === 0) throw new HubError(404, 'EntryNotFound', 'Entry not found');
    const entries: unknown[] = [];
    const folders = new Set<string>();
    for (const path of paths.sort()) {
      // Folders get entries of their own, like on the Hub; a one-level listing shows only the first level.
      const parts = path.slice(prefix.length).split('/');
      const depth = recursive ? parts.length - 1 : Math.min(1, parts.length - 1);
      for (let i = 1; i <= depth; i++) {
        const folder = prefix + parts.slice(0, i).join('/');
        if (!folders.has(folder)) {
          folders.add(folder);
          entries.push({ type: 'directory', oid: fixtureCommitSha(folder, rev.commit), size: 0, path: folder });
        }
      }
      if (!recursive && parts.length > 1) continue;
      const meta = await fileMeta(path, rev.files[path] as FixtureContent);
      entries.push({
        type: 'file',
        oid: meta.oid,
        size: meta.size,
        path,
        ...(meta.lfs ? { lfs: { oid: meta.lfs.sha256, size: meta.lfs.size, pointerSize: meta.lfs.pointerSize } } : {}),
      });
    }
    return entries;
  }

  /** Serves a file body (or its headers only) with Range support; the caller has set the metadata headers. */
  async function serveFile(
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    content: FixtureContent,
    record: HubRequestRecord,
  ): Promise<void> {
    const size = contentSize(content);
    let start = 0;
    let end = size; // exclusive
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      const from = m?.[1] ?? '';
      const to = m?.[2] ?? '';
      if (m && from !== '') {
        start = Number(from);
        end = to === '' ? size : Math.min(size, Number(to) + 1);
      } else if (m && to !== '') {
        start = Math.max(0, size - Number(to)); // suffix range: the last N bytes
      }
      if (!m || start >= size || start >= end) {
        record.status = 416;
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
      res.setHeader('Content-Range', `bytes ${start}-${end - 1}/${size}`);
    }
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Length', String(end - start));
    res.setHeader('Content-Type', 'application/octet-stream');
    record.status = status;
    res.writeHead(status);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await sendBody(res, contentStream(content, start, end), faults.take(key), (n) => {
      record.bytes += n;
      counter.add(key, n);
    });
  }

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    record: HubRequestRecord,
    caller: Caller,
  ): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://hub.invalid');
    const segs = url.pathname.split('/').slice(1).map(decodeURIComponent);
    const auth = record.auth;
    const method = req.method ?? 'GET';
    const bucket = bucketOf(segs);
    const refusal = bucket ? limiter.check(caller.token, bucket) : undefined;
    if (refusal) throw new HubError(refusal.status, undefined, refusal.message, refusal.headers);
    // The Hub rejects an unknown token on every route, public repos included (huggingface_hub then raises a plain
    // HfHubHTTPError, not RepositoryNotFoundError: it special-cases this exact message).
    if (auth === 'invalid') throw new HubError(401, undefined, 'Invalid credentials in Authorization header');

    if (segs[0] === 'api' && segs[1] === 'agent-harnesses') {
      // huggingface_hub's best-effort agent detection asks for this registry; an empty one means "no agent".
      return sendJson(res, record, { standardEnvVars: [], harnesses: {} });
    }
    if (segs[0] === 'api' && segs[1] === 'whoami-v2') {
      if (auth === 'none') throw new HubError(401, undefined, 'Invalid username or password.');
      return sendJson(res, record, { type: 'user', name: auth === 'valid' ? 'fixture-user' : 'fixture-outsider' });
    }

    if (segs[0] === 'api' && segs[1] === 'models' && segs.length >= 4 && (method === 'GET' || method === 'HEAD')) {
      const repoId = `${segs[2]}/${segs[3]}`;
      const repo = checkAccess(repoId, auth, false);
      const action = segs[4];
      if (action === undefined || action === 'revision') {
        const rev = revisionOf(repo, action === 'revision' ? segs.slice(5).join('/') : 'main');
        return sendJson(res, record, await repoInfo(repo, rev, url.searchParams.get('blobs') === 'true'));
      }
      if (action === 'tree') {
        const rev = revisionOf(repo, segs[5] ?? 'main');
        const dir = segs.slice(6).join('/').replace(/\/+$/, '');
        return sendJson(res, record, await tree(rev, dir, url.searchParams.get('recursive') === 'true'));
      }
      throw new HubError(404, undefined, 'Not Found');
    }

    if (segs[0] === 'cdn-lfs' && (method === 'GET' || method === 'HEAD')) {
      // /cdn-lfs/{ns}/{name}/{commit}/{path...}: the signature stands in for auth, as on the Hub's CDN.
      const repoId = `${segs[1]}/${segs[2]}`;
      const resource = segs.slice(1).join('/');
      const expires = Number(url.searchParams.get('expires'));
      const sig = Buffer.from(url.searchParams.get('sig') ?? '', 'hex');
      const want = Buffer.from(sign(resource, expires), 'hex');
      if (!(expires > Date.now() / 1000) || sig.length !== want.length || !timingSafeEqual(sig, want)) {
        throw new HubError(403, undefined, 'Request signature is invalid or expired');
      }
      const rev = repos.get(repoId)?.revisions.get(segs[3] ?? '');
      const path = segs.slice(4).join('/');
      const content = rev?.files[path];
      if (!rev || content === undefined) throw new HubError(404, undefined, 'Not Found');
      const meta = await fileMeta(path, content);
      // Same-host redirects are followed by huggingface_hub, which then reads the metadata from *this* response.
      res.setHeader('ETag', `"${meta.lfs?.sha256 ?? meta.oid}"`);
      res.setHeader('X-Repo-Commit', rev.commit);
      return serveFile(req, res, `${repoId}/${path}`, content, record);
    }

    if (segs.length >= 5 && segs[2] === 'resolve' && (method === 'GET' || method === 'HEAD')) {
      const repoId = `${segs[0]}/${segs[1]}`;
      const repo = checkAccess(repoId, auth, true);
      const rev = revisionOf(repo, segs[3] ?? '');
      const path = segs.slice(4).join('/');
      const content = rev.files[path];
      if (content === undefined) {
        throw new HubError(404, 'EntryNotFound', 'Entry not found', { 'X-Repo-Commit': rev.commit });
      }
      const meta = await fileMeta(path, content);
      res.setHeader('X-Repo-Commit', rev.commit);
      res.setHeader(
        'Content-Disposition',
        `inline; filename*=UTF-8''${encodeURIComponent(path.split('/').pop() ?? path)}`,
      );
      if (!meta.lfs) {
        res.setHeader('ETag', `"${meta.oid}"`);
        return serveFile(req, res, `${repoId}/${path}`, content, record);
      }
      const resource = `${repoId}/${rev.commit}/${path}`;
      const expires = Math.floor(Date.now() / 1000) + BLOB_URL_TTL_S;
      const host = blobHost(req);
      const location = `http://${host}/cdn-lfs/${resource.split('/').map(encodeURIComponent).join('/')}?expires=${expires}&sig=${sign(resource, expires)}`;
      const body = `Found. Redirecting to ${location}`;
      record.status = 302;
      res.writeHead(302, {
        Location: location,
        ETag: `"${meta.oid}"`,
        'X-Linked-Etag': `"${meta.lfs.sha256}"`,
        'X-Linked-Size': String(meta.lfs.size),
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': String(Buffer.byteLength(body)),
      });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }

    throw new HubError(404, undefined, 'Not Found');
  }

  /** Host (with port) for blob URLs: the request's own Host, so a proxy in front stays in the path. */
  function blobHost(req: IncomingMessage): string {
    const incoming = req.headers.host ?? new URL(endpoint).host;
    if (!opts.cdnHost) return incoming;
    const port = new URL(`http://${incoming}`).port;
    return port ? `${opts.cdnHost}:${port}` : opts.cdnHost;
  }

  const server = createServer((req, res) => {
    const caller = callerOf(req);
    const record: HubRequestRecord = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      status: 0,
      auth: caller.auth,
      bytes: 0,
      ...(req.headers.range ? { range: req.headers.range } : {}),
    };
    log.push(record);
    handle(req, res, record, caller).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const e = err instanceof HubError ? err : new HubError(500, undefined, String(err));
      record.status = e.status;
      if (e.code) record.errorCode = e.code;
      const body = JSON.stringify({ error: e.message });
      res.writeHead(e.status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': String(Buffer.byteLength(body)),
        ...(e.code ? { 'X-Error-Code': e.code } : {}),
        'X-Error-Message': e.message,
        ...e.extraHeaders,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    token,
    noAccessToken,
    acceptLicence: (repoId) => {
      if (repos.get(repoId)?.fixture.access !== 'gated') throw new Error(`${repoId} is not a gated fixture repo`);
      accepted.add(repoId);
    },
    newToken: () => {
      const t = `hf_valid${randomBytes(12).toString('hex')}`;
      otherUsers.add(t);
      return t;
    },
    rateLimit: (rule) => limiter.limit(rule),
    liftRateLimit: () => limiter.lift(),
    bytesServed: (sub = '') => counter.total(sub),
    requests: () => log,
    stallAfter: (sub, n, o) => faults.stallAfter(sub, n, o),
    corrupt: (sub, o) => faults.corrupt(sub, o),
    slowDown: (sub, rate, o) => faults.slowDown(sub, rate, o),
    clearFaults: () => faults.clearFaults(),
    resetCounters: () => {
      counter.reset();
      log = [];
    },
    precompute: async () => {
      for (const { revisions } of repos.values()) {
        for (const rev of new Set(revisions.values())) {
          for (const [path, content] of Object.entries(rev.files)) await fileMeta(path, content);
        }
      }
    },
    commitOf: (repoId, revision = 'main') => {
      const rev = repos.get(repoId)?.revisions.get(revision);
      if (!rev) throw new Error(`no fixture revision ${repoId}@${revision}`);
      return rev.commit;
    },
    stop: () => closeServer(server),
  };
}

function sendJson(res: ServerResponse, record: HubRequestRecord, value: unknown): void {
  const body = JSON.stringify(value);
  record.status = 200;
  res.writeHead(200, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}
