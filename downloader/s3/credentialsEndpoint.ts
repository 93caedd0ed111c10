import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolveS3Credentials, type S3Access } from './credentials.js';

/**
 * Hands the credentials this process resolved to s5cmd, which keeps asking as they near expiry: a container
 * credentials endpoint on loopback, the protocol of ECS and EKS Pod Identity that s5cmd's SDK (aws-sdk-go v1.44)
 * reads from AWS_CONTAINER_CREDENTIALS_FULL_URI (loopback only) with AWS_CONTAINER_AUTHORIZATION_TOKEN.
 *
 * Why not s5cmd's own chain: its SDK predates Pod Identity (no token file, no 169.254.170.23) and ignores
 * AWS_ENDPOINT_URL_STS. Why not keys in its environment: they expire after an hour (IRSA's default) while a large
 * model downloads for longer, and s5cmd cannot be given new ones without a restart that loses partial files.
 * The token is random per run and only this process and its child know it; the secret never enters an environment.
 */
export interface CredentialsEndpoint {
  /** The variables s5cmd needs (the token among them: pass them to the child only, never log them). */
  env: Record<string, string>;
  /** Requests answered with credentials (tests check that s5cmd really came here). */
  served(): number;
  close(): Promise<void>;
}

/** s5cmd's SDK refreshes 5 minutes before expiry; credentials closer to it than this are refreshed first. */
const MIN_VALIDITY_MS = 10 * 60_000;

const sameToken = (a: string | undefined, b: string): boolean =>
  a !== undefined && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export async function serveCredentials(access: S3Access): Promise<CredentialsEndpoint> {
  const token = randomBytes(32).toString('hex');
  const path = `/credentials/${randomBytes(8).toString('hex')}`;
  let served = 0;
  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' || req.url !== path || !sameToken(req.headers.authorization, token)) {
      res.writeHead(403).end();
      return;
    }
    let c = await resolveS3Credentials(access);
    if (c?.expiration && c.expiration.getTime() - Date.now() < MIN_VALIDITY_MS)
      c = await resolveS3Credentials(access, { forceRefresh: true });
    if (!c) throw new Error('no credentials to serve');
    served += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        AccessKeyId: c.accessKeyId,
        SecretAccessKey: c.secretAccessKey,
        ...(c.sessionToken && { Token: c.sessionToken }),
        // Static keys do not expire; s5cmd then asks once.
        ...(c.expiration && { Expiration: c.expiration.toISOString() }),
      }),
    );
  };
  const server = createServer((req, res) => {
    // A failure here reaches s5cmd as a refused request (and the download as a classified failure): no details.
    answer(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    env: {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}${path}`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: token,
    },
    served: () => served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
