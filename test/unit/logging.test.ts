import { describe, expect, it } from 'vitest';
import { formatLogLine, JsonLogger, parseLogLevel } from '../../worker/logging.js';

const ENV = { AIM_PAYLOAD_KEY: 'c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcy1sb25nIQ==' };
const parse = (line: string) => JSON.parse(line) as Record<string, unknown>;

describe('JSON log lines', () => {
  it('writes ts, level, msg and the metadata as one JSON object', () => {
    const line = formatLogLine(
      {
        level: 'INFO',
        message: 'Worker state changed',
        meta: { sdkComponent: 'worker', taskQueue: 'aim', attempt: 2 },
        timestampNanos: 1_700_000_000_123_000_000n,
      },
      {},
    );
    expect(line).not.toContain('\n');
    expect(parse(line)).toEqual({
      ts: '2023-11-14T22:13:20.123Z',
      level: 'INFO',
      msg: 'Worker state changed',
      sdkComponent: 'worker',
      taskQueue: 'aim',
      attempt: 2,
    });
  });

  it('keeps ts, level and msg its own when the metadata has such keys', () => {
    const out = parse(formatLogLine({ level: 'WARN', message: 'm', meta: { level: 'x', msg: 'y' } }, {}));
    expect(out).toMatchObject({ level: 'WARN', msg: 'm', meta_level: 'x', meta_msg: 'y' });
  });

  it('serialises errors, bigints and cycles instead of throwing', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const err = new Error('boom', { cause: new Error('root') });
    const out = parse(formatLogLine({ level: 'ERROR', message: 'failed', meta: { error: err, n: 10n, cyclic } }, {}));
    expect(out.error).toMatchObject({ name: 'Error', message: 'boom', cause: { message: 'root' } });
    expect((out.error as { stack: string }).stack).toContain('boom');
    expect(out.n).toBe('10');
    expect(out.cyclic).toEqual({ a: 1, self: '[circular]' });
  });

  it('never prints credential values: URL userinfo, auth headers, tokens, secret-named fields, key env values', () => {
    const line = formatLogLine(
      {
        level: 'ERROR',
        message: `GET https://alice:pa55word@s3.example.com/models failed; Authorization: Bearer abc.def.ghi; token hf_AbCdEfGhIjKlMnOp; key ${ENV.AIM_PAYLOAD_KEY}`,
        meta: {
          env: { AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG', HF_TOKEN: 'hf_zzzzzzzzzzzzzz' },
          headers: { authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' },
          url: 'https://bob:hunter22@hub.example/x?X-Amz-Signature=deadbeef01&a=1',
          accessKey: 'AKIAIOSFODNN7EXAMPLE',
          error: new Error(`connect to https://carol:s3cr3t@proxy:3128 refused`),
        },
      },
      ENV,
    );
    for (const secret of [
      'pa55word',
      'abc.def.ghi',
      'hf_AbCdEfGhIjKlMnOp',
      ENV.AIM_PAYLOAD_KEY,
      'wJalrXUtnFEMI/K7MDENG',
      'hf_zzzzzzzzzzzzzz',
      'YWxhZGRpbjpvcGVuc2VzYW1l',
      'hunter22',
      'deadbeef01',
      'AKIAIOSFODNN7EXAMPLE',
      's3cr3t',
    ])
      expect(line, secret).not.toContain(secret);
    // What is not secret stays readable.
    expect(line).toContain('s3.example.com/models');
    expect(line).toContain('hub.example/x');
  });

  it('filters by level and takes the SDK timestamp from its symbol', () => {
    const lines: string[] = [];
    const logger = new JsonLogger('WARN', (l) => lines.push(l), {});
    logger.info('hidden');
    logger.debug('hidden');
    logger.warn('shown', { [Symbol.for('log_timestamp')]: 0n } as never);
    logger.error('also shown');
    expect(lines.map((l) => parse(l).msg)).toEqual(['shown', 'also shown']);
    expect(parse(lines[0]!).ts).toBe('1970-01-01T00:00:00.000Z');
  });

  it('reads AIM_LOG_LEVEL case-insensitively, INFO when unset or unknown', () => {
    expect(parseLogLevel('debug')).toBe('DEBUG');
    expect(parseLogLevel(' Warn ')).toBe('WARN');
    expect(parseLogLevel(undefined)).toBe('INFO');
    expect(parseLogLevel('verbose')).toBe('INFO');
  });
});
