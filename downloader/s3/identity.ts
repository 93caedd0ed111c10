/**
 * Whether S3 requests are signed, decided once from the environment (pure). The probe's listing and s5cmd both follow
 * this one decision, so they can never disagree. Signing is chosen whenever the AWS default credential chain has a
 * source to read: static keys, a profile or shared config/credentials files, a web identity token (EKS IRSA) or a
 * container credentials endpoint (EKS Pod Identity, ECS). Requests go unsigned only when none is configured: an
 * anonymous, public bucket, on purpose (the chain, and with it the EC2 instance metadata, is then never consulted).
 */

export type S3IdentitySource = 'static-keys' | 'profile' | 'web-identity' | 'container' | 'shared-files' | 'none';

export interface S3IdentityDecision {
  sign: boolean;
  source: S3IdentitySource;
  /** The variables that configure this source, for messages: names only, never values. */
  variables: string[];
  /** A half-configured source (one of a pair missing): signing was meant, but the chain cannot complete it. */
  incomplete?: string;
}

export interface S3IdentityFacts {
  /** The shared credentials or config file exists (AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE, else ~/.aws/…). */
  sharedFilesExist: boolean;
}

const set = (env: NodeJS.ProcessEnv, name: string): boolean => Boolean(env[name]);

/** A pair of variables of which either alone means "this source was meant" and both are needed. */
function pair(env: NodeJS.ProcessEnv, a: string, b: string): { variables: string[]; incomplete?: string } | undefined {
  const hasA = set(env, a);
  const hasB = set(env, b);
  if (!hasA && !hasB) return undefined;
  const incomplete = !hasB ? `${a} is set but ${b} is not` : !hasA ? `${b} is set but ${a} is not` : undefined;
  return { variables: [a, b], ...(incomplete && { incomplete }) };
}

/** Same order as the SDK's chain where it matters (a profile wins over keys); shared files count last. */
export function decideS3Identity(env: NodeJS.ProcessEnv, facts: S3IdentityFacts): S3IdentityDecision {
  const profile = env.AWS_PROFILE;
  if (profile) return { sign: true, source: 'profile', variables: ['AWS_PROFILE'] };
  const keys = pair(env, 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY');
  if (keys) return { sign: true, source: 'static-keys', ...keys };
  const webIdentity = pair(env, 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN');
  if (webIdentity) return { sign: true, source: 'web-identity', ...webIdentity };
  const container = ['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI'].filter((n) =>
    set(env, n),
  );
  if (container.length) return { sign: true, source: 'container', variables: container };
  if (facts.sharedFilesExist)
    return { sign: true, source: 'shared-files', variables: ['AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE'] };
  return { sign: false, source: 'none', variables: [] };
}

const LABELS: Record<S3IdentitySource, string> = {
  'static-keys': 'static keys',
  profile: 'the AWS profile',
  'web-identity': 'the web identity token (IRSA)',
  container: 'the container credentials endpoint (Pod Identity)',
  'shared-files': 'the shared AWS config files',
  none: 'no credentials (unsigned requests)',
};

/** "the web identity token (IRSA) (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)": what a message names. */
export function describeS3Identity(d: S3IdentityDecision): string {
  return `${LABELS[d.source]}${d.variables.length ? ` (${d.variables.join(', ')})` : ''}`;
}
