import { join } from 'node:path';
import { describeS3, type S3Source } from '../config.js';
import type { CredentialsEndpoint } from './credentialsEndpoint.js';

/**
 * Every variable through which s5cmd's SDK could find credentials of its own. They are removed from its environment:
 * when signing it asks only our loopback endpoint (the credentials the probe's listing used), and when not signing
 * nothing could make it sign by accident.
 */
const IDENTITY_VARIABLES = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
] as const;

/** s5cmd's environment: no identity of its own; our endpoint when signing; shared files pointed nowhere. */
export function s5cmdEnv(base: NodeJS.ProcessEnv, tmpDir: string, endpoint?: CredentialsEndpoint): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...base };
  for (const name of IDENTITY_VARIABLES) delete out[name];
  // A [default] profile in a shared file would win over the endpoint in s5cmd's SDK.
  const nowhere = join(tmpDir, 'aim-downloader-no-aws-files');
  out.AWS_SHARED_CREDENTIALS_FILE = nowhere;
  out.AWS_CONFIG_FILE = nowhere;
  out.AWS_EC2_METADATA_DISABLED = 'true';
  return { ...out, ...endpoint?.env };
}

export function s5cmdArgs(src: S3Source, dest: string, sign: boolean): string[] {
  const endpoint = src.endpoint ? ['--endpoint-url', src.endpoint] : [];
  // sync copies only what is missing or differs in size: a retry resumes per file. `--json --log info`: one line
  // per finished object on stdout, which starts its verification (completions.ts).
  return [
    ...endpoint,
    ...(sign ? [] : ['--no-sign-request']),
    '--json',
    '--log',
    'info',
    '--numworkers',
    '32',
    'sync',
    '--size-only',
    `${describeS3(src)}*`,
    `${dest}/`,
  ];
}
