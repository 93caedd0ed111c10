import type { HfSource } from '../config.js';
import { DownloaderFailure } from '../failures.js';
import { listingOf, type Listing, type RemoteFile } from '../listing.js';

interface Sibling {
  rfilename: string;
  size?: number;
  blobId?: string;
  lfs?: { sha256?: string; oid?: string; size?: number };
}

const token = (env: NodeJS.ProcessEnv) => env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined;

/**
 * Hub answers → section 7 reasons, by `X-Error-Code` first (the Hub's own classification), then status.
 * `GatedRepo` is `GatedModel` whether 401 (no token) or 403 (token without access).
 */
export function classifyHubResponse(status: number, errorCode: string | null, src: HfSource): DownloaderFailure {
  const page = `${src.endpoint}/${src.repo}`;
  switch (errorCode) {
    case 'GatedRepo':
      return new DownloaderFailure(
        'GatedModel',
        `${src.repo} is gated: accept its license at ${page}${src.hasToken ? ' with the account of HF_TOKEN' : ' and set HF_TOKEN from a Secret'}`,
      );
    case 'RepoNotFound':
      return new DownloaderFailure(
        'SourceNotFound',
        `${src.repo} not found at ${src.endpoint}, or private${src.hasToken ? ' and HF_TOKEN has no access' : ' and HF_TOKEN missing'}`,
      );
    case 'RevisionNotFound':
      return new DownloaderFailure(
        'SourceNotFound',
        `revision ${src.revision} of ${src.repo} not found at ${src.endpoint}`,
      );
    case 'EntryNotFound':
      return new DownloaderFailure(
        'SourceNotFound',
        `a file of ${src.repo}@${src.revision} was not found at ${src.endpoint}`,
      );
  }
  if (status === 401 || status === 403) {
    return new DownloaderFailure(
      'AuthFailed',
      `${src.endpoint} refused ${src.hasToken ? 'HF_TOKEN' : 'the anonymous request'} for ${src.repo} (HTTP ${status})${src.hasToken ? '' : '; set HF_TOKEN'}`,
    );
  }
  if (status === 404)
    return new DownloaderFailure('SourceNotFound', `${src.repo}@${src.revision} not found at ${src.endpoint}`);
  if (status === 429)
    return new DownloaderFailure('RateLimited', `${src.endpoint} is rate-limiting requests for ${src.repo}`);
  if (status >= 500)
    return new DownloaderFailure('EndpointUnreachable', `${src.endpoint} answered HTTP ${status} for ${src.repo}`);
  return new DownloaderFailure('DownloadFailed', `${src.endpoint} answered HTTP ${status} for ${src.repo}`);
}

/**
 * Repo info at a revision: resolved commit, file list, sizes, LFS sha256 and git blob ids. An endpoint that reports no
 * sizes (a mirror that drops `?blobs=true`, answering names only) is `SizeUnknown` unless the model source has a `size`
 * (`expectedSizeBytes`): then the listing carries that total, files of unknown size (-1) and no digests, as the spec
 * lets a cache go on with `size` when the source cannot be measured (spec 5.4 step 1).
 */
export async function listHf(
  src: HfSource,
  env: NodeJS.ProcessEnv = process.env,
  expectedSizeBytes?: number,
): Promise<Listing> {
  const url = `${src.endpoint}/api/models/${src.repo}/revision/${encodeURIComponent(src.revision)}?blobs=true`;
  const t = token(env);
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { Accept: 'application/json', ...(t ? { Authorization: `Bearer ${t}` } : {}) },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new DownloaderFailure('EndpointUnreachable', `cannot reach ${src.endpoint} (${cause})`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw classifyHubResponse(res.status, res.headers.get('x-error-code'), src);
  }
  const info = (await res.json()) as { sha?: string; siblings?: Sibling[]; gated?: boolean | string };
  const files: RemoteFile[] = (info.siblings ?? []).map((s) => ({
    path: s.rfilename,
    size: s.lfs?.size ?? s.size ?? -1,
    ...(s.lfs?.sha256 ? { sha256: s.lfs.sha256 } : s.blobId ? { gitBlobSha1: s.blobId } : {}),
  }));
  if (files.length === 0) throw new DownloaderFailure('SourceNotFound', `${src.repo}@${src.revision} has no files`);
  // Repo info is public even for gated repos: only file access tells whether this token may download.
  await checkFileAccess(src, info.sha ?? src.revision, files[0]!.path, t);
  if (files.some((f) => f.size < 0)) {
    if (expectedSizeBytes) return { ...listingOf(files, info.sha), totalBytes: expectedSizeBytes };
    throw new DownloaderFailure(
      'SizeUnknown',
      `${src.endpoint} did not report file sizes for ${src.repo}; set size on the model source`,
    );
  }
  return listingOf(files, info.sha);
}

/** HEAD of one file, without following the CDN redirect: the Hub answers 401/403 `GatedRepo` here, not in repo info. */
async function checkFileAccess(src: HfSource, revision: string, path: string, t: string | undefined): Promise<void> {
  const url = `${src.endpoint}/${src.repo}/resolve/${encodeURIComponent(revision)}/${path.split('/').map(encodeURIComponent).join('/')}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'HEAD',
      redirect: 'manual',
      headers: t ? { Authorization: `Bearer ${t}` } : {},
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new DownloaderFailure('EndpointUnreachable', `cannot reach ${src.endpoint} (${cause})`);
  }
  if (res.status >= 400) throw classifyHubResponse(res.status, res.headers.get('x-error-code'), src);
}
