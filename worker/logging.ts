import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';

/**
 * Structured logs for the worker and the bridge: one JSON object per line on stdout, `{"ts","level","msg",...meta}`.
 * The same logger is the Temporal Runtime's (SDK, workflow and activity logs go through it). Nothing secret may reach
 * a line: messages and string values are scrubbed of credential shapes, and fields named like credentials are
 * replaced, whatever a caller passes. We never log env values or Secret data in the first place.
 */

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
/** The SDK attaches core's own timestamp (nanoseconds) under this registered symbol. */
const LOG_TIMESTAMP = Symbol.for('log_timestamp');
const MAX_DEPTH = 5;
const MAX_STRING = 4096;
const RESERVED = new Set(['ts', 'level', 'msg']);

/** Field names whose values are never printed. */
const SECRET_FIELD = /pass(word|wd)?|secret|token|credential|authorization|cookie|api[-_]?key|private[-_]?key|^key$/i;
/** Env variables whose literal values are removed from every line, wherever they appear. */
const SECRET_ENV = [
  'AIM_PAYLOAD_KEY',
  'AIM_PAYLOAD_DECRYPT_KEYS',
  'HF_TOKEN',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'TEMPORAL_API_KEY',
];
/** Credential shapes in free text: [pattern, replacement]. */
const SECRET_TEXT: Array<[RegExp, string]> = [
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, '$1[redacted]@'], // URL userinfo
  [/\b(authorization|proxy-authorization)(["']?\s*[:=]\s*["']?)[^"'\s,}]+(\s+[^"'\s,}]+)?/gi, '$1$2[redacted]'],
  [/\bbearer\s+[a-z0-9._~+/=-]{6,}/gi, 'Bearer [redacted]'],
  [/\bhf_[a-z0-9]{8,}/gi, 'hf_[redacted]'],
  [/\b(AKIA|ASIA)[A-Z0-9]{12,}/g, '$1[redacted]'],
  [/((?:x-amz-)?(?:signature|credential|security-token)=)[^&\s"']+/gi, '$1[redacted]'],
];

export function isLogLevel(value: string): boolean {
  return (LOG_LEVELS as readonly string[]).includes(value.trim().toUpperCase());
}

/** `AIM_LOG_LEVEL` (case-insensitive); unset or unknown → INFO. */
export function parseLogLevel(value: string | undefined): LogLevel {
  return value && isLogLevel(value) ? (value.trim().toUpperCase() as LogLevel) : 'INFO';
}

export function scrubText(s: string, env: Record<string, string | undefined> = process.env): string {
  let out = s;
  for (const [pattern, replacement] of SECRET_TEXT) out = out.replace(pattern, replacement);
  for (const name of SECRET_ENV) {
    const v = env[name];
    if (v && v.length >= 6) out = out.split(v).join('[redacted]');
  }
  return out.length > MAX_STRING ? `${out.slice(0, MAX_STRING)}…` : out;
}

function safe(value: unknown, env: Record<string, string | undefined>, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return scrubText(value, env);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return typeof value === 'function' ? undefined : value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[truncated]';
  seen.add(value);
  if (value instanceof Error) {
    const cause = (value as { cause?: unknown }).cause;
    return {
      name: value.name,
      message: scrubText(value.message, env),
      ...(value.stack ? { stack: scrubText(value.stack, env) } : {}),
      ...(cause !== undefined ? { cause: safe(cause, env, depth + 1, seen) } : {}),
    };
  }
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `[${value.length} bytes]`;
  if (Array.isArray(value)) return value.map((v) => safe(v, env, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    out[k] = SECRET_FIELD.test(k) ? '[redacted]' : safe(v, env, depth + 1, seen);
  return out;
}

export interface LogEntry {
  level: LogLevel;
  message: string;
  meta?: LogMetadata;
  /** Nanoseconds since the epoch (the SDK's timestamps); default now. */
  timestampNanos?: bigint;
}

/** One log line (without the newline): `{"ts","level","msg",...meta}`, scrubbed. Never throws. */
export function formatLogLine(entry: LogEntry, env: Record<string, string | undefined> = process.env): string {
  const ts = new Date(
    entry.timestampNanos !== undefined ? Number(entry.timestampNanos / 1_000_000n) : Date.now(),
  ).toISOString();
  const line: Record<string, unknown> = { ts, level: entry.level, msg: scrubText(String(entry.message), env) };
  const meta = (safe(entry.meta ?? {}, env, 0, new WeakSet()) ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(meta)) line[RESERVED.has(k) ? `meta_${k}` : k] = v;
  try {
    return JSON.stringify(line);
  } catch {
    return JSON.stringify({ ts, level: entry.level, msg: line.msg, logError: 'metadata not serialisable' });
  }
}

/** A Temporal `Logger` from one `log(level, …)`: the per-level methods, written once. */
export abstract class LevelLogger implements Logger {
  abstract log(level: LogLevel, message: string, meta?: LogMetadata): void;
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/** A Temporal `Logger` writing JSON lines; `write` defaults to stdout. */
export class JsonLogger extends LevelLogger {
  private readonly severity: number;

  constructor(
    readonly level: LogLevel = 'INFO',
    private readonly write: (line: string) => void = (line) => void process.stdout.write(`${line}\n`),
    private readonly env: Record<string, string | undefined> = process.env,
  ) {
    super();
    this.severity = LOG_LEVELS.indexOf(level);
  }

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (LOG_LEVELS.indexOf(level) < this.severity) return;
    const { [LOG_TIMESTAMP]: timestampNanos, ...rest } = (meta ?? {}) as LogMetadata & { [LOG_TIMESTAMP]?: bigint };
    this.write(
      formatLogLine(
        { level, message, meta: rest, ...(typeof timestampNanos === 'bigint' ? { timestampNanos } : {}) },
        this.env,
      ),
    );
  }
}

/** The program's logger from `AIM_LOG_LEVEL` (default INFO). */
export function createLogger(level: string | undefined): JsonLogger {
  return new JsonLogger(parseLogLevel(level));
}
