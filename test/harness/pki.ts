// Throw-away certificates for the test API server, made with the openssl CLI (Node cannot issue X.509 certificates).
// ECDSA P-256 for the CA and serving cert because it is generated instantly; the service-account key is RSA as the
// API server's token signer expects by default.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  /** RSA private key that signs service-account tokens. */
  saKey: string;
  /** Its public half, which verifies them. */
  saPub: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}

/** Creates a CA, an API-server serving certificate for 127.0.0.1/localhost signed by it, and a service-account key. */
export async function createPki(dir: string): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  const p = (f: string): string => join(dir, f);
  const pki: Pki = {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    servingCert: p('apiserver.crt'),
    servingKey: p('apiserver.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  // The CA and the service-account key do not depend on each other: make them in parallel.
  await Promise.all([
    openssl(
      [
        'req',
        '-x509',
        ...ec,
        '-keyout',
        pki.caKey,
        '-out',
        pki.caCert,
        '-days',
        '3650',
        '-subj',
        '/CN=aim-test-ca',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
      ],
      dir,
    ),
    (async () => {
      await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', pki.saKey], dir);
      await openssl(['pkey', '-in', pki.saKey, '-pubout', '-out', pki.saPub], dir);
    })(),
  ]);

  // Names in-cluster clients would use too, so a future in-cluster style client does not trip over the SAN list.
  const san = [
    'IP:127.0.0.1',
    'DNS:localhost',
    'IP:10.0.0.1',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local',
  ].join(',');
  const ext = p('apiserver.ext');
  await writeFile(
    ext,
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
  );
  await openssl(
    ['req', '-new', ...ec, '-keyout', pki.servingKey, '-out', p('apiserver.csr'), '-subj', '/CN=kube-apiserver'],
    dir,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      p('apiserver.csr'),
      '-CA',
      pki.caCert,
      '-CAkey',
      pki.caKey,
      '-CAcreateserial',
      '-out',
      pki.servingCert,
      '-days',
      '3650',
      '-extfile',
      ext,
    ],
    dir,
  );
  return pki;
}

/**
 * A self-signed serving certificate (`tls.crt`, `tls.key` in `dir`, the names controller-runtime's webhook server
 * reads) for a server on loopback. Nothing verifies it unless a client is given the certificate itself as its CA.
 */
export async function createSelfSignedServingCert(
  dir: string,
  commonName: string,
): Promise<{ cert: string; key: string }> {
  await mkdir(dir, { recursive: true });
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  await selfSigned(dir, { cert, key }, commonName, [
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    'extendedKeyUsage=serverAuth',
  ]);
  return { cert, key };
}

export interface TestCa {
  cert: string;
  key: string;
  dir: string;
}

/** A self-signed ECDSA P-256 certificate with the given `-addext` extensions (10 years). */
async function selfSigned(dir: string, out: { cert: string; key: string }, commonName: string, exts: string[]) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const args = [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    out.key,
    '-out',
    out.cert,
    '-days',
    '3650',
    '-subj',
    `/CN=${commonName}`,
  ];
  await openssl([...args, ...exts.flatMap((e) => ['-addext', e])], dir);
}

/** A throw-away CA (`<name>.crt`, `<name>.key` in `dir`) for issuing test certificates with `issueCertificate`. */
export async function createTestCa(dir: string, name: string): Promise<TestCa> {
  await mkdir(dir, { recursive: true });
  const ca = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), dir };
  await selfSigned(dir, ca, name, [
    'basicConstraints=critical,CA:TRUE',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  return ca;
}

/**
 * A certificate signed by `ca` (`<name>.crt`, `<name>.key` next to the CA): `server` for 127.0.0.1/localhost,
 * `client` for mTLS client authentication.
 */
export async function issueCertificate(
  ca: TestCa,
  name: string,
  use: 'server' | 'client',
): Promise<{ cert: string; key: string }> {
  const p = (f: string): string => join(ca.dir, f);
  const out = { cert: p(`${name}.crt`), key: p(`${name}.key`) };
  const ext = p(`${name}.ext`);
  await writeFile(
    ext,
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' +
      (use === 'server'
        ? 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n'
        : 'extendedKeyUsage=clientAuth\n'),
  );
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-new', ...ec, '-keyout', out.key, '-out', p(`${name}.csr`), '-subj', `/CN=${name}`], ca.dir);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-out',
      out.cert,
    ].concat(['-days', '3650', '-extfile', ext]),
    ca.dir,
  );
  return out;
}
