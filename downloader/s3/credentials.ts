import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { defaultProvider } from '@aws-sdk/credential-provider-node';
import { DownloaderFailure } from '../failures.js';
import { decideS3Identity, describeS3Identity, type S3IdentityDecision } from './identity.js';

/** The AWS SDK's default chain, memoized: it refreshes temporary credentials within 5 minutes of their expiry. */
type DefaultChain = ReturnType<typeof defaultProvider>;
export type CredentialProvider = (opts?: Parameters<DefaultChain>[0]) => ReturnType<DefaultChain>;
export type Credentials = Awaited<ReturnType<CredentialProvider>>;

/** How this process reaches S3: the one signing decision and, when signing, the one provider everything uses. */
export interface S3Access {
  decision: S3IdentityDecision;
  provider?: CredentialProvider;
}

function sharedFilesExist(env: NodeJS.ProcessEnv): boolean {
  const home = env.HOME || homedir();
  return [
    env.AWS_SHARED_CREDENTIALS_FILE || join(home, '.aws', 'credentials'),
    env.AWS_CONFIG_FILE || join(home, '.aws', 'config'),
  ].some((f) => existsSync(f));
}

/**
 * Decides once per process. The provider reads `process.env` (the SDK has no other input for the chain), so `env` is
 * the process environment in production; tests of the decision itself use `decideS3Identity`.
 */
export function s3Access(env: NodeJS.ProcessEnv = process.env): S3Access {
  const decision = decideS3Identity(env, { sharedFilesExist: sharedFilesExist(env) });
  if (!decision.sign) return { decision };
  return { decision, provider: defaultChainOnFirstUse(env) };
}

/** One chain for the process, imported when first asked: the SDK's modules are start-up an hf download never needs. */
function defaultChainOnFirstUse(env: NodeJS.ProcessEnv): CredentialProvider {
  let chain: Promise<DefaultChain> | undefined;
  return async (opts) => {
    chain ??= import('@aws-sdk/credential-provider-node').then(({ defaultProvider }) =>
      // Short timeouts: STS and the container endpoint answer in milliseconds; a wrong address should fail the probe.
      defaultProvider({ timeout: 1000, maxRetries: 1, clientConfig: stsClientConfig(env) }),
    );
    return (await chain)(opts);
  };
}

/**
 * Where the chain's STS calls (web identity, assumed roles) go. AWS_ENDPOINT_URL is the S3 endpoint here (MinIO, a
 * VPC endpoint), but the SDK would apply it to every service, STS included: STS keeps its own default unless
 * AWS_ENDPOINT_URL_STS names one.
 */
export function stsClientConfig(env: NodeJS.ProcessEnv): { endpoint: string } | { ignoreConfiguredEndpointUrls: true } {
  return env.AWS_ENDPOINT_URL_STS ? { endpoint: env.AWS_ENDPOINT_URL_STS } : { ignoreConfiguredEndpointUrls: true };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH']);

function networkCode(err: unknown): string | undefined {
  for (let e = err as { code?: string; name?: string; cause?: unknown } | undefined, i = 0; e && i < 4; i++) {
    if (e.code && NETWORK_CODES.has(e.code)) return e.code;
    if (e.name === 'TimeoutError') return e.name;
    e = e.cause as typeof e;
  }
  return undefined;
}

/**
 * Credentials from the decided source, or undefined for unsigned access. Failures are typed and name the source and
 * its variables, never an SDK message (which may quote a credentials URL or a response body).
 */
export async function resolveS3Credentials(
  access: S3Access,
  opts: { forceRefresh?: boolean } = {},
): Promise<Credentials | undefined> {
  const { decision, provider } = access;
  const source = describeS3Identity(decision);
  if (decision.incomplete)
    throw new DownloaderFailure('AuthFailed', `${decision.incomplete}: cannot sign with ${source}`);
  if (!provider) return undefined;
  try {
    return await provider(opts.forceRefresh ? { forceRefresh: true } : undefined);
  } catch (err) {
    const network = networkCode(err);
    if (network)
      throw new DownloaderFailure(
        'EndpointUnreachable',
        `cannot reach the credentials service of ${source} (${network})`,
      );
    const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    const why = e.Code ?? (e.name && e.name !== 'Error' ? e.name : undefined) ?? 'no credentials';
    throw new DownloaderFailure('AuthFailed', `could not obtain AWS credentials from ${source}: ${why}`);
  }
}
