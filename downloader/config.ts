import { DEFAULT_AWS_REGION, DEFAULT_HF_ENDPOINT } from '../schemas/constants.js';
import { DownloaderFailure } from './failures.js';

/** Everything the downloader needs, from env only (spec section 6): the same program runs in a pod or a test. */
export interface DownloaderConfig {
  mode: 'probe' | 'download';
  sourceUri: string;
  modelId: string;
  mountPath: string;
  expectedSizeBytes?: number;
  stallTimeoutSeconds: number;
  attempt: number;
  hfDisableXet: boolean;
  volumeCapacityBytes?: number;
  terminationMessagePath: string;
  tmpDir: string;
  cache?: { name: string; namespace: string };
  source: S3Source | HfSource;
}

export interface S3Source {
  kind: 's3';
  bucket: string;
  /** Without a trailing slash; empty for the whole bucket. */
  prefix: string;
  endpoint?: string;
  region: string;
  pathStyle: boolean;
}

/** `s3://bucket/prefix/`: how messages and s5cmd name an S3 source. */
export const describeS3 = (src: S3Source) => `s3://${src.bucket}/${src.prefix ? `${src.prefix}/` : ''}`;

export interface HfSource {
  kind: 'hf';
  repo: string;
  revision: string;
  endpoint: string;
  hasToken: boolean;
}

const int = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v));

export function parseSourceUri(uri: string, env: NodeJS.ProcessEnv): S3Source | HfSource {
  if (uri.startsWith('s3://')) {
    const rest = uri.slice(5);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
    const endpoint = env.AWS_ENDPOINT_URL || undefined;
    const style = env.S3_ADDRESSING_STYLE || (endpoint ? 'path' : 'virtual');
    return {
      kind: 's3',
      bucket,
      prefix,
      endpoint,
      region: env.AWS_REGION || env.AWS_DEFAULT_REGION || DEFAULT_AWS_REGION,
      pathStyle: style === 'path',
    };
  }
  if (uri.startsWith('hf://')) {
    const m = /^hf:\/\/([^/@]+\/[^/@]+)(?:@(.+))?$/.exec(uri);
    if (!m)
      throw new DownloaderFailure(
        'SourceNotFound',
        `invalid Hugging Face URI ${uri}: expected hf://org/name[@revision]`,
      );
    return {
      kind: 'hf',
      repo: m[1]!,
      revision: m[2] ?? 'main',
      endpoint: (env.HF_ENDPOINT || DEFAULT_HF_ENDPOINT).replace(/\/+$/, ''),
      hasToken: Boolean(env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN),
    };
  }
  throw new DownloaderFailure('SourceNotFound', `unsupported source URI scheme in ${uri}: expected s3:// or hf://`);
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): DownloaderConfig {
  const mode = env.MODE;
  if (mode !== 'probe' && mode !== 'download')
    throw new Error(`MODE must be probe or download, got ${mode ?? '(unset)'}`);
  const sourceUri = env.SOURCE_URI;
  const modelId = env.MODEL_ID;
  if (!sourceUri || !modelId) throw new Error('SOURCE_URI and MODEL_ID are required');
  return {
    mode,
    sourceUri,
    modelId,
    mountPath: env.MOUNT_PATH || '/cache',
    expectedSizeBytes: int(env.EXPECTED_SIZE_BYTES),
    stallTimeoutSeconds: int(env.STALL_TIMEOUT) ?? 120,
    attempt: int(env.ATTEMPT) ?? 1,
    hfDisableXet: env.HF_HUB_DISABLE_XET === '1',
    volumeCapacityBytes: int(env.VOLUME_CAPACITY_BYTES),
    terminationMessagePath: env.TERMINATION_MESSAGE_PATH || '/dev/termination-log',
    tmpDir: env.TMPDIR || '/tmp',
    cache: env.CACHE_NAME && env.CACHE_NAMESPACE ? { name: env.CACHE_NAME, namespace: env.CACHE_NAMESPACE } : undefined,
    source: parseSourceUri(sourceUri, env),
  };
}
