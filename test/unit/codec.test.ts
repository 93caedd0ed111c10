import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AesGcmPayloadCodec,
  dataConverterFromEnv,
  ENCRYPTED_ENCODING,
  isEncrypted,
  payloadCodecFromEnv,
} from '../../client/dataConverter.js';
import { startCodecServer, type CodecServer } from '../../worker/codecServer.js';

const KEY = randomBytes(32);
const OLD_KEY = randomBytes(32);
const env = (extra: Record<string, string> = {}) => ({ AIM_PAYLOAD_KEY: KEY.toString('base64'), ...extra });
const meta = (p: Payload, k: string) => Buffer.from(p.metadata?.[k] ?? new Uint8Array()).toString('utf8');
const plain = (value: unknown) => defaultPayloadConverter.toPayload(value);

describe('AES-GCM payload codec', () => {
  const codec = payloadCodecFromEnv(env({ AIM_PAYLOAD_KEY_ID: 'k2' }))!;

  it('round-trips payloads, metadata included, and hides the plaintext', async () => {
    const input = [plain({ name: 'qwen-chat', namespace: 'team-a' }), plain('x'), plain(undefined)];
    const encoded = await codec.encode(input);
    expect(encoded).toHaveLength(3);
    for (const p of encoded) {
      expect(meta(p, 'encoding')).toBe(ENCRYPTED_ENCODING);
      expect(meta(p, 'encryption-key-id')).toBe('k2');
      expect(Buffer.from(p.data!).includes('qwen-chat')).toBe(false);
    }
    const decoded = await codec.decode(encoded);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([
      { name: 'qwen-chat', namespace: 'team-a' },
      'x',
      undefined,
    ]);
    expect(meta(decoded[0]!, 'encoding')).toBe('json/plain');
  });

  it('uses a fresh IV for every payload', async () => {
    const [a, b] = await codec.encode([plain('same'), plain('same')]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('passes unencrypted payloads through on decode (turning encryption on mid-flight)', async () => {
    const p = plain({ uid: 'abc' });
    const [out] = await codec.decode([p]);
    expect(out).toBe(p);
    expect(isEncrypted(p)).toBe(false);
  });

  it('refuses a tampered ciphertext', async () => {
    const [enc] = await codec.encode([plain('do not change me')]);
    const data = Buffer.from(enc!.data!);
    data[20] = data[20]! ^ 0x01;
    await expect(codec.decode([{ ...enc!, data }])).rejects.toThrow(/failed authentication/);
  });

  it('refuses a payload whose key id was swapped for another known key', async () => {
    const two = new AesGcmPayloadCodec(
      'new',
      new Map([
        ['new', KEY],
        ['old', OLD_KEY],
      ]),
    );
    const [enc] = await two.encode([plain('v')]);
    const swapped = { ...enc!, metadata: { ...enc!.metadata, 'encryption-key-id': Buffer.from('old') } };
    await expect(two.decode([swapped])).rejects.toThrow(/failed authentication/);
  });

  it('decodes payloads of a retired key listed in AIM_PAYLOAD_DECRYPT_KEYS, and encodes with the new one', async () => {
    const before = payloadCodecFromEnv({ AIM_PAYLOAD_KEY: OLD_KEY.toString('base64'), AIM_PAYLOAD_KEY_ID: 'v1' })!;
    const [old] = await before.encode([plain('written before the rotation')]);
    const after = payloadCodecFromEnv(
      env({ AIM_PAYLOAD_KEY_ID: 'v2', AIM_PAYLOAD_DECRYPT_KEYS: `v1:${OLD_KEY.toString('base64')}` }),
    )!;
    expect(defaultPayloadConverter.fromPayload((await after.decode([old!]))[0]!)).toBe('written before the rotation');
    expect(meta((await after.encode([plain('new')]))[0]!, 'encryption-key-id')).toBe('v2');
    // Without the retired key the payload cannot be read, and the error names the key id (never a key).
    await expect(codec.decode([old!])).rejects.toThrow(/key id "v1"/);
  });

  it('rejects keys that are not 32 bytes of base64 without echoing them', () => {
    for (const bad of ['short', randomBytes(16).toString('base64'), `${KEY.toString('base64')}!!`]) {
      let message = '';
      try {
        payloadCodecFromEnv({ AIM_PAYLOAD_KEY: bad });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/AIM_PAYLOAD_KEY must be 32 random bytes/);
      expect(message).not.toContain(bad);
    }
  });

  it('gives the SDK defaults without a key, and the codec plus the encoding failure converter with one', async () => {
    expect(dataConverterFromEnv({})).toEqual({});
    const dc = dataConverterFromEnv(env());
    expect(dc.payloadCodecs).toHaveLength(1);
    // Loaded the way the SDK loads it (require by path).
    const mod = createRequire(import.meta.url)(dc.failureConverterPath!) as {
      failureConverter: { options: { encodeCommonAttributes: boolean } };
    };
    expect(mod.failureConverter.options.encodeCommonAttributes).toBe(true);
  });
});

describe('codec server (Temporal UI / CLI protocol)', () => {
  const codec = payloadCodecFromEnv(env())!;
  let server: CodecServer;
  const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;
  const toJson = (p: Payload) => ({
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  });
  const post = (path: string, payloads: Payload[], origin = 'http://localhost:8080') =>
    fetch(url(path), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-namespace': 'default', origin },
      body: JSON.stringify({ payloads: payloads.map(toJson) }),
    });

  beforeAll(async () => {
    server = await startCodecServer({ codec, port: 0, corsOrigins: ['http://localhost:8080'] });
  });
  afterAll(async () => server?.close());

  it('decodes what the worker encoded, as JSON payloads with base64 fields', async () => {
    const encoded = await codec.encode([plain({ uid: 'u-1' })]);
    const res = await post('/decode', encoded);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:8080');
    const body = (await res.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    expect(Buffer.from(body.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(body.payloads[0]!.data, 'base64').toString())).toEqual({ uid: 'u-1' });
  });

  it('encodes under a path prefix, and the result decodes with the codec', async () => {
    const res = await post('/codec/encode', [plain('hello')]);
    const body = (await res.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    const p = body.payloads[0]!;
    const back = await codec.decode([
      {
        metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
        data: Buffer.from(p.data, 'base64'),
      },
    ]);
    expect(defaultPayloadConverter.fromPayload(back[0]!)).toBe('hello');
  });

  it('answers the CORS preflight for allowed origins only', async () => {
    const ok = await fetch(url('/decode'), { method: 'OPTIONS', headers: { origin: 'http://localhost:8080' } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/i);
    const other = await fetch(url('/decode'), { method: 'OPTIONS', headers: { origin: 'http://evil.test' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('rejects a tampered payload with 400 and unknown paths with 404', async () => {
    const [enc] = await codec.encode([plain('x')]);
    const data = Buffer.from(enc!.data!);
    data[data.length - 1] = data[data.length - 1]! ^ 0xff;
    const res = await post('/decode', [{ ...enc!, data }]);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/failed authentication/);
    expect((await fetch(url('/other'), { method: 'POST', body: '{}' })).status).toBe(404);
  });
});
