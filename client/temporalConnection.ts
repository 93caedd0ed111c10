/**
 * Temporal connection settings the Temporal way (`@temporalio/envconfig`): one place that turns the environment (and
 * a program's flags) into connection options for every process that connects: the worker, the sweeper, the bridge,
 * `aimctl`, the SDK.
 *
 * Read, as Temporal's CLI and SDKs read them: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS,
 * TEMPORAL_TLS_CLIENT_CERT_PATH / _DATA, TEMPORAL_TLS_CLIENT_KEY_PATH / _DATA, TEMPORAL_TLS_SERVER_CA_CERT_PATH /
 * _DATA, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_GRPC_META_*, and a TOML profile (TEMPORAL_CONFIG_FILE, else
 * ~/.config/temporalio/temporal.toml; TEMPORAL_PROFILE, else `default`); variables override the profile. Nothing set
 * means 127.0.0.1:7233 in plaintext, namespace `default`.
 *
 * Wrong settings fail here, before any connection, with a `TemporalSettingsError` naming the setting (the variable,
 * or the profile key and file); a refused connection fails with a `TemporalConnectError` naming the settings in use.
 * Neither ever holds the API key or key material: only variable names, file paths and what was wrong.
 */
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import {
  loadClientConfigProfile,
  type ClientConfigProfile,
  type ClientConfigTLS,
  type ConfigDataSource,
} from '@temporalio/envconfig';
import { TASK_QUEUE } from '../workflows/signals.js';
import { dataConverterFromEnv } from './dataConverter.js';

/** Every variable that decides the connection (read here or by @temporalio/envconfig), for docs and packaging checks. */
export const TEMPORAL_ENV_VARIABLES = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_CONFIG_FILE',
  'TEMPORAL_PROFILE',
] as const;

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

export type Env = Record<string, string | undefined>;

/** What a program's flags may override (aimctl's `--temporal-address`, `--temporal-namespace`). */
export interface TemporalOverrides {
  address?: string;
  namespace?: string;
  /** A profile of the config file instead of TEMPORAL_PROFILE. */
  profile?: string;
}

/** Options both `Connection.connect` (client) and `NativeConnection.connect` (worker) accept. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

export interface TemporalSettings {
  namespace: string;
  connection: TemporalConnectionOptions;
  /** Whether anything (a variable, a flag or a profile) named an address; aimctl connects only then. */
  addressConfigured: boolean;
  /** A one-line description for logs and errors: address, namespace, TLS and where each came from, no secrets. */
  summary: string;
  /** The settings that decided TLS, the API key and the address (for error messages). */
  sources: { address: string; tls?: string; serverCa?: string; clientCert?: string; apiKey?: string };
}

/** A setting that cannot work; `setting` is the variable (or profile key) to fix. */
export class TemporalSettingsError extends Error {
  override readonly name = 'TemporalSettingsError';
  constructor(
    readonly setting: string,
    problem: string,
  ) {
    super(`${setting}: ${problem}`);
  }
}

/** Temporal refused or could not be reached with these settings. */
export class TemporalConnectError extends Error {
  override readonly name = 'TemporalConnectError';
  constructor(
    message: string,
    /** The settings to look at first (variable names). */
    readonly settings: string[],
  ) {
    super(message);
  }
}

const definedEnv = (env: Env): Record<string, string> =>
  Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));

/** The file envconfig reads when TEMPORAL_CONFIG_FILE is unset (Linux/XDG layout, as the Temporal CLI). */
function configFilePath(env: Env): string {
  if (env.TEMPORAL_CONFIG_FILE) return env.TEMPORAL_CONFIG_FILE;
  const base = env.XDG_CONFIG_HOME || join(env.HOME ?? homedir(), '.config');
  return join(base, 'temporalio', 'temporal.toml');
}

/** Names the setting a value came from: the variable when it is set, else the profile key in the config file. */
function namer(env: Env, profile: string) {
  const file = configFilePath(env);
  return (variable: string, profileKey: string): string =>
    env[variable] !== undefined ? variable : `${profileKey} of profile "${profile}" in ${file}`;
}

function loadProfile(env: Env, overrides: TemporalOverrides): { profile: ClientConfigProfile; name: string } {
  const name = overrides.profile ?? env.TEMPORAL_PROFILE ?? 'default';
  // envconfig ignores a config file that does not exist; a file someone named explicitly must exist.
  if (env.TEMPORAL_CONFIG_FILE) {
    try {
      accessSync(env.TEMPORAL_CONFIG_FILE, fsConstants.R_OK);
    } catch (err) {
      throw new TemporalSettingsError(
        'TEMPORAL_CONFIG_FILE',
        `cannot read ${env.TEMPORAL_CONFIG_FILE} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  try {
    const profile = loadClientConfigProfile({
      overrideEnvVars: definedEnv(env),
      ...(overrides.profile ? { profile: overrides.profile } : {}),
    });
    return { profile, name };
  } catch (err) {
    const message = (err as Error).message;
    if (/^Profile '.*' not found/.test(message)) {
      throw new TemporalSettingsError(
        overrides.profile ? '--temporal-profile' : 'TEMPORAL_PROFILE',
        `no profile "${name}" in ${configFilePath(env)}`,
      );
    }
    // A TOML syntax error names a line and column of the file, never a value of another setting.
    throw new TemporalSettingsError('TEMPORAL_CONFIG_FILE', `cannot parse ${configFilePath(env)}: ${message}`);
  }
}

/** Reads one PEM source (path or inline data) and checks what it is, without ever quoting its content. */
function readPem(source: ConfigDataSource, setting: string, what: 'certificate' | 'private key'): Buffer {
  let data: Buffer;
  if ('path' in source) {
    try {
      data = readFileSync(source.path);
    } catch (err) {
      throw new TemporalSettingsError(
        setting,
        `cannot read ${source.path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  } else {
    data = Buffer.from(source.data);
  }
  const where = 'path' in source ? ` in ${source.path}` : '';
  try {
    if (what === 'certificate') new X509Certificate(data);
    else createPrivateKey(data);
  } catch {
    throw new TemporalSettingsError(setting, `no PEM ${what}${where}`);
  }
  return data;
}

/** TLS settings → the SDK's TLS config; every file read and checked here so that a bad one names its setting. */
function tlsConfig(tls: ClientConfigTLS, name: (v: string, k: string) => string): TLSConfig {
  const certSetting = tls.clientCert && name(sourceVariable(tls.clientCert, 'CLIENT_CERT'), 'tls.client_cert');
  const keySetting = tls.clientKey && name(sourceVariable(tls.clientKey, 'CLIENT_KEY'), 'tls.client_key');
  if (tls.clientCert && !tls.clientKey)
    throw new TemporalSettingsError(
      'TEMPORAL_TLS_CLIENT_KEY_PATH',
      `a client certificate is set (${certSetting ?? ''}) but no key`,
    );
  if (tls.clientKey && !tls.clientCert)
    throw new TemporalSettingsError(
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      `a client key is set (${keySetting ?? ''}) but no certificate`,
    );
  const out: TLSConfig = {};
  if (tls.serverName) out.serverNameOverride = tls.serverName;
  if (tls.serverCACert) {
    const setting = name(sourceVariable(tls.serverCACert, 'SERVER_CA_CERT'), 'tls.server_ca_cert');
    out.serverRootCACertificate = readPem(tls.serverCACert, setting, 'certificate');
  }
  if (tls.clientCert && tls.clientKey && certSetting && keySetting) {
    const crt = readPem(tls.clientCert, certSetting, 'certificate');
    const key = readPem(tls.clientKey, keySetting, 'private key');
    if (!new X509Certificate(crt).checkPrivateKey(createPrivateKey(key)))
      throw new TemporalSettingsError(certSetting, `the certificate does not belong to the key of ${keySetting}`);
    out.clientCertPair = { crt, key };
  }
  return out;
}

/** `TEMPORAL_TLS_CLIENT_CERT_PATH` or `…_DATA`, whichever form the source has. */
const sourceVariable = (source: ConfigDataSource, part: string): string =>
  `TEMPORAL_TLS_${part}_${'path' in source ? 'PATH' : 'DATA'}`;

const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/;

/**
 * The connection settings of this process: env (and the config file's profile), then `overrides`. Throws a
 * `TemporalSettingsError` naming the setting when one cannot work (unreadable or non-PEM certificate, key without
 * certificate, TEMPORAL_TLS neither true nor false, TLS off with certificates set, an address without port).
 */
export function temporalSettingsFromEnv(env: Env = process.env, overrides: TemporalOverrides = {}): TemporalSettings {
  const { profile, name: profileName } = loadProfile(env, overrides);
  const name = namer(env, profileName);

  const tlsVar = env.TEMPORAL_TLS;
  if (tlsVar !== undefined && !['true', 'false', '1', '0'].includes(tlsVar.trim().toLowerCase()))
    throw new TemporalSettingsError('TEMPORAL_TLS', `must be true or false, not "${tlsVar}"`);

  const addressSetting = overrides.address ? '--temporal-address' : name('TEMPORAL_ADDRESS', 'address');
  const address = overrides.address ?? profile.address ?? DEFAULT_TEMPORAL_ADDRESS;
  if (!ADDRESS.test(address)) throw new TemporalSettingsError(addressSetting, `"${address}" is not host:port`);
  const namespace = overrides.namespace ?? profile.namespace ?? DEFAULT_TEMPORAL_NAMESPACE;

  const apiKeySetting = profile.apiKey !== undefined ? name('TEMPORAL_API_KEY', 'api_key') : undefined;
  if (profile.apiKey !== undefined && profile.apiKey.trim() === '')
    throw new TemporalSettingsError(apiKeySetting ?? 'TEMPORAL_API_KEY', 'is empty');

  let tls: TLSConfig | boolean | undefined;
  const tlsSetting = tlsVar !== undefined ? 'TEMPORAL_TLS' : profile.tls ? name('TEMPORAL_TLS', 'tls') : undefined;
  if (profile.tls?.disabled) {
    const stray = profile.tls.clientCert ?? profile.tls.clientKey ?? profile.tls.serverCACert;
    if (stray)
      throw new TemporalSettingsError(
        tlsSetting ?? 'TEMPORAL_TLS',
        'TLS is off but TLS certificates are set (TEMPORAL_TLS_*): turn TLS on or remove them',
      );
    tls = false;
  } else if (profile.tls) {
    tls = tlsConfig(profile.tls, name);
  } else if (profile.apiKey !== undefined) {
    tls = true; // as envconfig: an API key implies TLS (system roots)
  }

  const connection: TemporalConnectionOptions = {
    address,
    ...(tls !== undefined ? { tls } : {}),
    ...(profile.apiKey !== undefined ? { apiKey: profile.apiKey } : {}),
    ...(profile.grpcMeta ? { metadata: profile.grpcMeta } : {}),
  };
  const tlsOn = tls !== undefined && tls !== false;
  const tlsObj = typeof tls === 'object' ? tls : undefined;
  const sources = {
    address: addressSetting,
    ...(tlsSetting ? { tls: tlsSetting } : {}),
    ...(tlsObj?.serverRootCACertificate && profile.tls?.serverCACert
      ? { serverCa: name(sourceVariable(profile.tls.serverCACert, 'SERVER_CA_CERT'), 'tls.server_ca_cert') }
      : {}),
    ...(tlsObj?.clientCertPair && profile.tls?.clientCert
      ? { clientCert: name(sourceVariable(profile.tls.clientCert, 'CLIENT_CERT'), 'tls.client_cert') }
      : {}),
    ...(apiKeySetting ? { apiKey: apiKeySetting } : {}),
  };
  const parts = [
    `address ${address}`,
    `namespace ${namespace}`,
    tlsOn
      ? `TLS on${sources.serverCa ? ` (CA of ${sources.serverCa})` : ' (system CAs)'}${tlsObj?.serverNameOverride ? ` server name ${tlsObj.serverNameOverride}` : ''}`
      : 'TLS off',
    ...(sources.clientCert ? [`client certificate of ${sources.clientCert}`] : []),
    ...(apiKeySetting ? [`API key of ${apiKeySetting}`] : []),
  ];
  return {
    namespace,
    connection,
    addressConfigured: overrides.address !== undefined || profile.address !== undefined,
    summary: parts.join(', '),
    sources,
  };
}

/** gRPC status codes the explanation distinguishes. */
const GRPC = { unauthenticated: 16, permissionDenied: 7 } as const;

/** What went wrong, in words that name the settings to check. */
export interface ConnectDiagnosis {
  hint: string;
  settings: string[];
  /** What was observed, when it was not the SDK's error (the TLS probe's handshake). */
  cause?: string;
}

/** The error and its causes (the client wraps the gRPC error), flattened: first gRPC code, every message. */
function flatten(err: unknown): { code?: number; text: string } {
  const texts: string[] = [];
  let code: number | undefined;
  for (
    let e = err as { code?: unknown; message?: string; details?: string; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (code === undefined && typeof e.code === 'number') code = e.code;
    const t = e.details || e.message;
    if (t && !texts.includes(t)) texts.push(t);
  }
  return {
    ...(code !== undefined ? { code } : {}),
    text: (texts.join(': ') || String(err)).replace(/\s+/g, ' ').trim(),
  };
}

/**
 * Maps the SDKs' connection failures once, here at the edge: grpc-js (the client) gives gRPC codes, core (the worker)
 * gives rustls/hyper text; `probe` is what a TLS handshake of our own saw (grpc-js only says "deadline").
 */
export function diagnoseConnectError(
  err: unknown,
  settings: TemporalSettings,
  probe?: ConnectDiagnosis,
): ConnectDiagnosis {
  const { code, text } = flatten(err);
  const s = settings.sources;
  const tlsOn = settings.connection.tls !== undefined && settings.connection.tls !== false;
  const caSetting = s.serverCa ?? 'TEMPORAL_TLS_SERVER_CA_CERT_PATH';
  if (code === GRPC.unauthenticated || /unauthenticated|authentication credentials|api key/i.test(text))
    return s.apiKey
      ? { hint: `the server refused the API key of ${s.apiKey}`, settings: [s.apiKey] }
      : {
          hint: 'the server wants credentials: set TEMPORAL_API_KEY (or a client certificate)',
          settings: ['TEMPORAL_API_KEY'],
        };
  if (code === GRPC.permissionDenied)
    return {
      hint: `the credentials are not allowed in namespace ${settings.namespace}`,
      settings: [s.apiKey ?? s.clientCert ?? 'TEMPORAL_NAMESPACE'],
    };
  if (/certificate ?required|CertificateRequired|alert.*(116|certificate)/i.test(text))
    return {
      hint: `the server wants a client certificate: set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH${s.clientCert ? ` (the one of ${s.clientCert} was refused)` : ''}`,
      settings: ['TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH'],
    };
  if (/UnknownIssuer|unknown ca|issuer|self[- ]signed|verify|NotValidForName|altname|InvalidCertificate/i.test(text))
    return {
      hint: `the server's certificate is not trusted: check ${caSetting} (the CA that signed it) and TEMPORAL_TLS_SERVER_NAME`,
      settings: [caSetting, 'TEMPORAL_TLS_SERVER_NAME'],
    };
  if (tlsOn && /InvalidContentType|wrong version|packet length|handshake/i.test(text))
    return {
      hint: `the server does not speak TLS: TEMPORAL_TLS=false, or the TLS endpoint's address in ${s.address}`,
      settings: [s.tls ?? 'TEMPORAL_TLS', s.address],
    };
  if (!tlsOn && /broken pipe|reset|GOAWAY|frame|protocol/i.test(text))
    return {
      hint: 'the server closed a plaintext connection: it probably wants TLS (TEMPORAL_TLS=true, TEMPORAL_TLS_SERVER_CA_CERT_PATH)',
      settings: ['TEMPORAL_TLS'],
    };
  if (probe) return probe;
  return {
    hint: `Temporal is not reachable: check ${s.address}${tlsOn ? ' and the TLS settings' : ' (and TEMPORAL_TLS if the server wants TLS)'}`,
    settings: [s.address],
  };
}

export function explainConnectError(
  err: unknown,
  settings: TemporalSettings,
  probe?: ConnectDiagnosis,
): TemporalConnectError {
  const d = diagnoseConnectError(err, settings, probe);
  return new TemporalConnectError(
    `cannot connect to Temporal (${settings.summary}): ${d.hint}. Cause: ${d.cause ?? flatten(err).text}`,
    d.settings,
  );
}

/**
 * A TLS handshake of our own, when the client's error says no more than "deadline": with TLS on it tells an untrusted
 * certificate, a plaintext server and a required client certificate apart; with TLS off, a server that speaks TLS.
 */
export async function probeTls(settings: TemporalSettings, timeoutMs = 3000): Promise<ConnectDiagnosis | undefined> {
  const at = settings.connection.address.lastIndexOf(':');
  const host = settings.connection.address.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(settings.connection.address.slice(at + 1));
  const tlsOn = settings.connection.tls !== undefined && settings.connection.tls !== false;
  const cfg = typeof settings.connection.tls === 'object' ? settings.connection.tls : {};
  const serverName = cfg.serverNameOverride ?? (isIP(host) ? undefined : host);
  const outcome = await new Promise<{ ok: boolean; code?: string; message?: string }>((resolve) => {
    const socket = tlsConnect({
      host,
      port,
      ALPNProtocols: ['h2'],
      ...(serverName ? { servername: serverName } : {}),
      rejectUnauthorized: tlsOn,
      ...(cfg.serverRootCACertificate ? { ca: Buffer.from(cfg.serverRootCACertificate) } : {}),
      ...(cfg.clientCertPair
        ? { cert: Buffer.from(cfg.clientCertPair.crt), key: Buffer.from(cfg.clientCertPair.key) }
        : {}),
    });
    const done = (r: { ok: boolean; code?: string; message?: string }) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: true }), timeoutMs);
    // TLS 1.3: a refused client certificate arrives as an alert after the client's handshake is done.
    socket.once('secureConnect', () => setTimeout(() => done({ ok: true }), 300));
    socket.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, code: e.code ?? '', message: e.message }));
  });
  const s = settings.sources;
  if (!tlsOn)
    return outcome.ok
      ? {
          hint: `the server speaks TLS but TLS is off: set TEMPORAL_TLS=true (and TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA)`,
          settings: [s.tls ?? 'TEMPORAL_TLS'],
          cause: 'a TLS handshake with the server succeeded',
        }
      : undefined;
  if (outcome.ok || outcome.code === 'ECONNREFUSED') return undefined;
  const seen = `TLS handshake: ${outcome.code ?? ''} ${outcome.message ?? ''}`.trim();
  return { ...diagnoseConnectError(new Error(seen), settings), cause: seen };
}

/**
 * grpc-js reconnects to a server that went away on a back-off that grows to 120 s: after a Temporal outage of minutes
 * the bridge would sit out up to two more minutes before it delivered a nudge again. Capped at 5 s, it is back within
 * seconds of Temporal, at one connection attempt per 5 s while Temporal is down.
 */
export const RECONNECT_CHANNEL_ARGS = {
  'grpc.initial_reconnect_backoff_ms': 1000,
  'grpc.max_reconnect_backoff_ms': 5000,
} as const;

/**
 * A client connection with these settings; a failure is a `TemporalConnectError` naming the settings. grpc-js retries
 * a failing handshake silently until its deadline, so when the connection is not up after a second a TLS probe of our
 * own runs beside it, and a definite TLS mistake fails at once instead of at the deadline.
 */
export async function connectTemporalClient(
  settings: TemporalSettings,
  opts: { connectTimeout?: Duration } = {},
): Promise<Connection> {
  const connecting = Connection.connect({
    ...settings.connection,
    channelArgs: { ...RECONNECT_CHANNEL_ARGS },
    ...(opts.connectTimeout !== undefined ? { connectTimeout: opts.connectTimeout } : {}),
  });
  let timer: NodeJS.Timeout | undefined;
  const probed = new Promise<ConnectDiagnosis | undefined>((resolve) => {
    timer = setTimeout(() => void probeTls(settings).then(resolve, () => resolve(undefined)), 1000);
  });
  try {
    const first = await Promise.race([
      connecting.then((connection) => ({ connection })),
      probed.then((diagnosis) => ({ diagnosis })),
    ]);
    if ('connection' in first) return first.connection;
    if (first.diagnosis) {
      // The connection attempt is abandoned: close it should it still come up.
      connecting
        .then(
          (c) => c.close(),
          () => undefined,
        )
        .catch(() => undefined);
      throw explainConnectError(new Error('not connected yet'), settings, first.diagnosis);
    }
    return await connecting;
  } catch (err) {
    if (err instanceof TemporalConnectError) throw err;
    throw explainConnectError(err, settings, await probeTls(settings).catch(() => undefined));
  } finally {
    clearTimeout(timer);
  }
}

export interface TemporalClientFromEnv {
  client: Client;
  connection: Connection;
  settings: TemporalSettings;
  taskQueue: string;
}

/**
 * What `aimctl` and `AimClient.connect` use: a Temporal client (with the payload codec of AIM_PAYLOAD_KEY…, to read
 * what the worker encrypted) when an address is configured (flag, TEMPORAL_ADDRESS or a profile), else undefined:
 * Temporal is optional for them (nudges, progress queries).
 */
export async function temporalClientFromEnv(
  env: Env,
  overrides: TemporalOverrides & { taskQueue?: string } = {},
): Promise<TemporalClientFromEnv | undefined> {
  const settings = temporalSettingsFromEnv(env, overrides);
  if (!settings.addressConfigured) return undefined;
  const connection = await connectTemporalClient(settings, { connectTimeout: '5 seconds' });
  const client = new Client({ connection, namespace: settings.namespace, dataConverter: dataConverterFromEnv(env) });
  return { client, connection, settings, taskQueue: overrides.taskQueue ?? env.AIM_TASK_QUEUE ?? TASK_QUEUE };
}
