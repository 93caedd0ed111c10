// Local stand-ins for the two ways EKS gives a pod an AWS identity, so that the real AWS SDK chain (and, through the
// downloader, s5cmd) can be exercised without the internet:
//  - IRSA: an STS endpoint answering `AssumeRoleWithWebIdentity` (AWS query protocol, XML), reached by the SDK through
//    AWS_ENDPOINT_URL_STS. It checks the role ARN and that the token is the token file's current content.
//  - EKS Pod Identity: a container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI, JSON) that checks the
//    Authorization header against the token the pod would read from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
// Both hand out keys the test S3 server knows (configure them there as read-only identities), the next pair of a list
// per call, so that a client that refreshed can be told from one that did not.
//
// No session token: SeaweedFS treats any X-Amz-Security-Token as one its own STS issued (a JWT it signed) and refuses
// the request, so a stand-in's token would fail every request. The SDKs sign the same way apart from that header.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer } from './httpProxy.js';

export interface IssuedKeys {
  accessKey: string;
  secretKey: string;
}

export interface IdentityStandIn {
  /** `http://127.0.0.1:PORT`, plus the path the credentials endpoint serves on (Pod Identity's `/v1/credentials`). */
  url: string;
  /** Credentials handed out so far. */
  issued(): number;
  /** Requests refused (wrong token, role or header). */
  refused(): number;
  stop(): Promise<void>;
}

export interface StandInOptions {
  /** Issued in turn, one pair per call. */
  keys: IssuedKeys[];
  /** Lifetime of each issued set (default 3600 s). Short lifetimes make clients come back: a refresh in seconds. */
  lifetimeSeconds?: number;
}

interface Issue extends IssuedKeys {
  expiration: string;
}

type Handler = (
  req: IncomingMessage,
  body: string,
  issue: () => Issue,
) => { status: number; type: string; body: string };

/** One loopback HTTP server that counts what it issues and refuses; `handler` speaks the protocol. */
async function serve(opts: StandInOptions, path: string, handler: Handler): Promise<IdentityStandIn> {
  let issued = 0;
  let refused = 0;
  const issue = (): Issue => {
    const keys = opts.keys[issued % opts.keys.length]!;
    issued += 1;
    return {
      ...keys,
      expiration: new Date(Date.now() + (opts.lifetimeSeconds ?? 3600) * 1000).toISOString(),
    };
  };
  const server = createServer((req, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const out = handler(req, body, issue);
      if (out.status >= 400) refused += 1;
      res.writeHead(out.status, { 'content-type': out.type }).end(out.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    issued: () => issued,
    refused: () => refused,
    stop: () => closeServer(server),
  };
}

const stsError = (status: number, code: string, message: string) => ({
  status,
  type: 'text/xml',
  body: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>stand-in</RequestId></ErrorResponse>`,
});

/** STS `AssumeRoleWithWebIdentity` for `roleArn`, accepting only the current content of `tokenFile`. */
export function startStsStandIn(
  opts: StandInOptions & { roleArn: string; tokenFile: string },
): Promise<IdentityStandIn> {
  return serve(opts, '', (req, body, issue) => {
    const form = new URLSearchParams(body);
    if (req.method !== 'POST' || form.get('Action') !== 'AssumeRoleWithWebIdentity')
      return stsError(400, 'InvalidAction', 'only AssumeRoleWithWebIdentity is served here');
    if (form.get('WebIdentityToken') !== readFileSync(opts.tokenFile, 'utf8'))
      return stsError(400, 'InvalidIdentityToken', 'the web identity token is not valid');
    if (form.get('RoleArn') !== opts.roleArn) return stsError(403, 'AccessDenied', 'not authorized to assume the role');
    const c = issue();
    return {
      status: 200,
      type: 'text/xml',
      body: `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>${c.accessKey}</AccessKeyId>
      <SecretAccessKey>${c.secretKey}</SecretAccessKey>
      <Expiration>${c.expiration}</Expiration>
    </Credentials>
    <SubjectFromWebIdentityToken>system:serviceaccount:ns:aim-downloader</SubjectFromWebIdentityToken>
    <AssumedRoleUser>
      <Arn>${opts.roleArn.replace(':role/', ':assumed-role/')}/${form.get('RoleSessionName') ?? 'session'}</Arn>
      <AssumedRoleId>AROASTANDIN:${form.get('RoleSessionName') ?? 'session'}</AssumedRoleId>
    </AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`,
    };
  });
}

/** A container credentials endpoint (Pod Identity's agent) at `/v1/credentials`, for `Authorization: {token}` only. */
export function startContainerCredentialsStandIn(opts: StandInOptions & { token: string }): Promise<IdentityStandIn> {
  return serve(opts, '/v1/credentials', (req, _body, issue) => {
    if (req.method !== 'GET' || req.url !== '/v1/credentials' || req.headers.authorization !== opts.token)
      return { status: 403, type: 'application/json', body: '{"Code":"AccessDenied","Message":"invalid token"}' };
    const c = issue();
    return {
      status: 200,
      type: 'application/json',
      body: JSON.stringify({
        AccessKeyId: c.accessKey,
        SecretAccessKey: c.secretKey,
        Token: '', // required by the SDK's format check; empty means none (see above)
        Expiration: c.expiration,
        AccountId: '000000000000',
      }),
    };
  });
}
