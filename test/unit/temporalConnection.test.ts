import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AimClient } from '../../client/sdk.js';
import {
  diagnoseConnectError,
  temporalSettingsFromEnv,
  TemporalSettingsError,
  type Env,
} from '../../client/temporalConnection.js';
import { createTestCa, issueCertificate } from '../harness/pki.js';

const dir = mkdtempSync(join(tmpdir(), 'aim-tconn-'));
const API_KEY = 'super-secret-api-key-42';
let ca: { cert: string; key: string };
let client: { cert: string; key: string };
let other: { cert: string; key: string };

beforeAll(async () => {
  const [testCa, otherCa] = await Promise.all([createTestCa(dir, 'ca'), createTestCa(dir, 'other')]);
  ca = testCa;
  [client, other] = await Promise.all([
    issueCertificate(testCa, 'client', 'client'),
    issueCertificate(otherCa, 'stranger', 'client'),
  ]);
  writeFileSync(
    join(dir, 'temporal.toml'),
    `[profile.default]\naddress = "a:1"\n\n[profile.prod]\naddress = "prod.example:7233"\nnamespace = "prod"\n` +
      `[profile.prod.tls]\nserver_ca_cert_path = "${ca.cert}"\n`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** No HOME: the user's ~/.config/temporalio/temporal.toml must not leak into the table. */
const settings = (env: Env, overrides = {}) => temporalSettingsFromEnv({ HOME: dir, ...env }, overrides);

describe('temporalSettingsFromEnv', () => {
  it('keeps 127.0.0.1:7233 in plaintext, namespace default, when nothing is set', () => {
    const s = settings({});
    expect(s.connection).toEqual({ address: '127.0.0.1:7233' });
    expect(s.namespace).toBe('default');
    expect(s.addressConfigured).toBe(false);
    expect(s.summary).toBe('address 127.0.0.1:7233, namespace default, TLS off');
  });

  it('reads address, namespace, CA, client certificate and server name from TEMPORAL_*', () => {
    const s = settings({
      TEMPORAL_ADDRESS: 'temporal.example:7233',
      TEMPORAL_NAMESPACE: 'aim',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca.cert,
      TEMPORAL_TLS_CLIENT_CERT_PATH: client.cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: client.key,
      TEMPORAL_TLS_SERVER_NAME: 'frontend.internal',
    });
    expect(s.namespace).toBe('aim');
    expect(s.connection.address).toBe('temporal.example:7233');
    const tls = s.connection.tls as {
      serverNameOverride?: string;
      serverRootCACertificate?: Uint8Array;
      clientCertPair?: object;
    };
    expect(tls.serverNameOverride).toBe('frontend.internal');
    expect(tls.serverRootCACertificate?.length).toBeGreaterThan(100);
    expect(tls.clientCertPair).toBeDefined();
    expect(s.summary).toContain('CA of TEMPORAL_TLS_SERVER_CA_CERT_PATH');
    expect(s.summary).toContain('client certificate of TEMPORAL_TLS_CLIENT_CERT_PATH');
  });

  it('turns TLS on (system CAs) with an API key, and never puts the key in the summary', () => {
    const s = settings({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: API_KEY });
    expect(s.connection).toMatchObject({ tls: true, apiKey: API_KEY });
    expect(s.summary).toContain('API key of TEMPORAL_API_KEY');
    expect(s.summary).not.toContain(API_KEY);
  });

  it('reads a profile of TEMPORAL_CONFIG_FILE (TEMPORAL_PROFILE); variables and flags override it', () => {
    const file = join(dir, 'temporal.toml');
    const prod = settings({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' });
    expect(prod.connection.address).toBe('prod.example:7233');
    expect(prod.namespace).toBe('prod');
    expect(prod.addressConfigured).toBe(true);
    expect(prod.summary).toContain(`CA of tls.server_ca_cert of profile "prod" in ${file}`);
    expect(settings({ TEMPORAL_CONFIG_FILE: file }).connection.address).toBe('a:1');
    const env = settings({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod', TEMPORAL_NAMESPACE: 'other' });
    expect(env.namespace).toBe('other');
    const flags = settings({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' }, { address: 'flag:7233' });
    expect(flags.connection.address).toBe('flag:7233');
    expect(flags.sources.address).toBe('--temporal-address');
  });

  const bad: Array<[string, () => Env, string, RegExp]> = [
    [
      'an unreadable CA',
      () => ({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'nope.crt') }),
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
      /cannot read .*nope\.crt \(ENOENT\)/,
    ],
    [
      'a CA file that is no certificate',
      () => ({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: client.key }),
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
      /no PEM certificate/,
    ],
    [
      'a key that is no key',
      () => ({ TEMPORAL_TLS_CLIENT_CERT_PATH: client.cert, TEMPORAL_TLS_CLIENT_KEY_PATH: client.cert }),
      'TEMPORAL_TLS_CLIENT_KEY_PATH',
      /no PEM private key/,
    ],
    [
      'a certificate without key',
      () => ({ TEMPORAL_TLS_CLIENT_CERT_PATH: client.cert }),
      'TEMPORAL_TLS_CLIENT_KEY_PATH',
      /but no key/,
    ],
    [
      'a key without certificate',
      () => ({ TEMPORAL_TLS_CLIENT_KEY_PATH: client.key }),
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      /but no certificate/,
    ],
    [
      'a certificate of another key',
      () => ({ TEMPORAL_TLS_CLIENT_CERT_PATH: other.cert, TEMPORAL_TLS_CLIENT_KEY_PATH: client.key }),
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      /does not belong to the key of TEMPORAL_TLS_CLIENT_KEY_PATH/,
    ],
    ['TEMPORAL_TLS=yes', () => ({ TEMPORAL_TLS: 'yes' }), 'TEMPORAL_TLS', /must be true or false/],
    [
      'TLS off with certificates',
      () => ({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca.cert }),
      'TEMPORAL_TLS',
      /TLS is off but TLS certificates are set/,
    ],
    ['an address without port', () => ({ TEMPORAL_ADDRESS: 'temporal.example' }), 'TEMPORAL_ADDRESS', /not host:port/],
    ['an empty API key', () => ({ TEMPORAL_API_KEY: ' ' }), 'TEMPORAL_API_KEY', /is empty/],
    [
      'a missing config file',
      () => ({ TEMPORAL_CONFIG_FILE: join(dir, 'none.toml') }),
      'TEMPORAL_CONFIG_FILE',
      /cannot read/,
    ],
    [
      'an unknown profile',
      () => ({ TEMPORAL_CONFIG_FILE: join(dir, 'temporal.toml'), TEMPORAL_PROFILE: 'staging' }),
      'TEMPORAL_PROFILE',
      /no profile "staging"/,
    ],
  ];
  it.each(bad)('refuses %s naming %s', (_what, env, setting, message) => {
    const err = settingsError({ ...env(), TEMPORAL_API_KEY_UNUSED: API_KEY });
    expect(err.setting).toBe(setting);
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(`${setting}: `)).toBe(true);
    expect(err.message).not.toMatch(/BEGIN|PRIVATE KEY/);
  });

  it('never quotes the API key or key material in an error', () => {
    const err = settingsError({
      TEMPORAL_API_KEY: API_KEY,
      TEMPORAL_TLS_CLIENT_CERT_PATH: client.key,
      TEMPORAL_TLS_CLIENT_KEY_PATH: client.key,
    });
    expect(err.message).not.toContain(API_KEY);
    expect(err.message).not.toMatch(/BEGIN|MII|-----/);
  });
});

/** The TemporalSettingsError these settings throw (fails the test when they are accepted). */
function settingsError(env: Env): TemporalSettingsError {
  try {
    settings(env);
  } catch (err) {
    expect(err).toBeInstanceOf(TemporalSettingsError);
    return err as TemporalSettingsError;
  }
  throw new Error(`accepted: ${JSON.stringify(Object.keys(env))}`);
}

describe('diagnoseConnectError', () => {
  const base = (env: Env) => settings({ TEMPORAL_ADDRESS: 'h:1', ...env });
  const rows: Array<[string, Env, unknown, RegExp, string]> = [
    [
      'a refused API key (grpc-js)',
      { TEMPORAL_API_KEY: API_KEY },
      { message: 'Failed to connect', cause: { code: 16, details: 'bad key' } },
      /refused the API key of TEMPORAL_API_KEY/,
      'TEMPORAL_API_KEY',
    ],
    [
      'no API key (core)',
      { TEMPORAL_TLS: 'true' },
      new Error("code: 'The request does not have valid authentication credentials'"),
      /wants credentials/,
      'TEMPORAL_API_KEY',
    ],
    [
      'an untrusted server certificate (core)',
      { TEMPORAL_TLS_SERVER_CA_CERT_PATH: '' },
      new Error('InvalidCertificate(UnknownIssuer)'),
      /not trusted/,
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
    ],
    [
      'a required client certificate (core)',
      { TEMPORAL_TLS: 'true' },
      new Error('received fatal alert: CertificateRequired'),
      /wants a client certificate/,
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
    ],
    [
      'TLS to a plaintext server (core)',
      { TEMPORAL_TLS: 'true' },
      new Error('InvalidMessage(InvalidContentType)'),
      /does not speak TLS/,
      'TEMPORAL_TLS',
    ],
    [
      'plaintext to a TLS server (core)',
      {},
      new Error('stream closed because of a broken pipe'),
      /wants TLS/,
      'TEMPORAL_TLS',
    ],
    [
      'nothing listening',
      {},
      new Error('Connection refused'),
      /not reachable: check TEMPORAL_ADDRESS/,
      'TEMPORAL_ADDRESS',
    ],
  ];
  it.each(rows)('explains %s', (_what, env, err, hint, setting) => {
    const { TEMPORAL_TLS_SERVER_CA_CERT_PATH: caPath, ...rest } = env;
    const d = diagnoseConnectError(
      err,
      base(caPath !== undefined ? { ...rest, TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca.cert } : rest),
    );
    expect(d.hint).toMatch(hint);
    expect(d.settings).toContain(setting);
    expect(d.hint).not.toContain(API_KEY);
  });
});

describe('AimClient.connect', () => {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'team-a' }],
    currentContext: 'x',
  });

  it('has no Temporal when no address is configured anywhere (no flag, variable or profile)', async () => {
    const client = await AimClient.connect({ kubeConfig, env: { HOME: dir } });
    expect(client.hasTemporal).toBe(false);
    expect(client.namespace).toBe('team-a');
    await client.close();
  });

  it('refuses a wrong setting before connecting, naming it', async () => {
    await expect(
      AimClient.connect({ kubeConfig, env: { HOME: dir, TEMPORAL_ADDRESS: 'h:1', TEMPORAL_TLS: 'maybe' } }),
    ).rejects.toThrow(/^TEMPORAL_TLS: must be true or false/);
  });
});
