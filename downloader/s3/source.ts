import {
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
  type ChecksumAlgorithm,
} from '@aws-sdk/client-s3';
import { describeS3, type S3Source } from '../config.js';
import { DownloaderFailure } from '../failures.js';
import { listingOf, type Listing, type RemoteFile } from '../listing.js';
import { resolveS3Credentials, type S3Access } from './credentials.js';
import { describeS3Identity, type S3IdentityDecision } from './identity.js';

/**
 * The listing's client signs with the one provider of `access` (the same credentials s5cmd is handed), or sends
 * unsigned requests when no identity is configured (a public bucket) rather than fail on a missing key.
 */
export function s3Client(src: S3Source, access: S3Access): S3Client {
  return new S3Client({
    ...(access.provider
      ? { credentials: access.provider }
      : {
          credentials: { accessKeyId: '', secretAccessKey: '' },
          signer: { sign: (request) => Promise.resolve(request) },
        }),
    region: src.region,
    ...(src.endpoint ? { endpoint: src.endpoint } : {}),
    forcePathStyle: src.pathStyle,
    maxAttempts: 3,
    // Checksums are verified by us per file; do not let the SDK add or demand its own on listings.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

const AUTH_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'AuthorizationHeaderMalformed',
  'InvalidClientTokenId',
  'CredentialsProviderError',
]);
const THROTTLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequests',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'TimeoutError',
]);

/** S3 errors → section 7 reasons, by error code (never by message text). */
export function classifyS3Error(err: unknown, src: S3Source, identity?: S3IdentityDecision): DownloaderFailure {
  if (err instanceof DownloaderFailure) return err;
  const where = describeS3(src);
  const e = err as { name?: string; Code?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const code = e.Code ?? e.name ?? e.code ?? '';
  const status = e.$metadata?.httpStatusCode;
  if (AUTH_CODES.has(code) || status === 403 || code === 'CredentialsProviderError') {
    const what = code || `HTTP ${status}`;
    return new DownloaderFailure(
      'AuthFailed',
      identity && !identity.sign
        ? `S3 refused unsigned access to ${where} (${what}): no AWS credentials are configured and the bucket is not public`
        : `S3 refused the credentials${identity ? ` of ${describeS3Identity(identity)}` : ''} for ${where} (${what})`,
    );
  }
  if (code === 'NoSuchBucket')
    return new DownloaderFailure(
      'SourceNotFound',
      `bucket ${src.bucket} does not exist at ${src.endpoint ?? 'AWS S3'}`,
    );
  if (code === 'NoSuchKey')
    return new DownloaderFailure('SourceNotFound', `an object under ${where} disappeared while listing`);
  if (THROTTLE_CODES.has(code) || status === 429 || status === 503)
    return new DownloaderFailure('RateLimited', `S3 is throttling requests for ${where} (${code || status})`);
  // Node's socket errors are plain `Error`s whose `code` says what happened (ECONNREFUSED …), on the error itself
  // or on its cause: that code, not the class name, is what the message reports.
  const network = [e.code, (err as { cause?: { code?: string } }).cause?.code, code].find(
    (c): c is string => c !== undefined && NETWORK_CODES.has(c),
  );
  if (network || (!(err instanceof S3ServiceException) && status === undefined)) {
    return new DownloaderFailure(
      'EndpointUnreachable',
      `cannot reach S3 at ${src.endpoint ?? `region ${src.region}`} (${network ?? (code || 'network error')})`,
    );
  }
  return new DownloaderFailure('DownloadFailed', `S3 error for ${where}: ${code || `HTTP ${status}`}`);
}

const CHECKSUM_FIELDS = [
  ['ChecksumSHA256', 'SHA256'],
  ['ChecksumSHA1', 'SHA1'],
  ['ChecksumCRC32C', 'CRC32C'],
  ['ChecksumCRC32', 'CRC32'],
] as const;

/**
 * Lists everything under `prefix/` (directory semantics, relative paths kept) with sizes, single-part ETag MD5s and,
 * where the object has one, its full-object `x-amz-checksum-*` (HEAD with checksum mode).
 */
export async function listS3(src: S3Source, access: S3Access, opts: { checksums: boolean }): Promise<Listing> {
  // Resolved before the first request so that a refused token or an unreachable STS fails as itself.
  await resolveS3Credentials(access);
  const client = s3Client(src, access);
  const prefix = src.prefix ? `${src.prefix}/` : '';
  const files: RemoteFile[] = [];
  const withChecksums: Array<{ file: RemoteFile; key: string }> = [];
  try {
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: src.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue; // directory markers
        const etag = (o.ETag ?? '').replace(/"/g, '');
        const file: RemoteFile = {
          path: o.Key.slice(prefix.length),
          size: o.Size ?? 0,
          ...(/^[0-9a-f]{32}$/.test(etag) ? { md5: etag } : {}),
        };
        files.push(file);
        if (opts.checksums && (o.ChecksumAlgorithm as ChecksumAlgorithm[] | undefined)?.length)
          withChecksums.push({ file, key: o.Key });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    for (const { file, key } of withChecksums) {
      const head = await client.send(new HeadObjectCommand({ Bucket: src.bucket, Key: key, ChecksumMode: 'ENABLED' }));
      // Composite (multipart) checksums end in -N and cannot be checked against the whole file.
      const found = CHECKSUM_FIELDS.map(([field, algorithm]) => ({ algorithm, value: head[field] })).find(
        (c) => c.value && !c.value.includes('-') && head.ChecksumType !== 'COMPOSITE',
      );
      if (found?.value) file.checksum = { algorithm: found.algorithm, value: found.value };
    }
  } catch (err) {
    throw classifyS3Error(err, src, access.decision);
  } finally {
    client.destroy();
  }
  if (files.length === 0) {
    throw new DownloaderFailure(
      'SourceNotFound',
      `no objects under ${describeS3(src)}${src.endpoint ? ` at ${src.endpoint}` : ''}`,
    );
  }
  return listingOf(files);
}
