import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
// Type-only: keeps the failure converter in the compiled program, so tsc emits failureConverter.cjs beside us.
import type {} from './failureConverter.cjs';

/**
 * Optional encryption of everything Temporal stores for us (spec section 9, issue 6): workflow and activity inputs and
 * results, signals, queries, memos, and — through the failure converter — failure messages and stack traces. Search
 * attributes stay readable (Temporal indexes them). The worker, the bridge and aimctl build their data converter here.
 */

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const CIPHER = 'AES256GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const META = { encoding: 'encoding', keyId: 'encryption-key-id', cipher: 'encryption-cipher' } as const;

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

/** The payload as it was before encryption (metadata and data, base64), serialised inside the ciphertext. */
interface Sealed {
  m: Record<string, string>;
  d: string;
}

/**
 * AES-256-GCM payload codec. Encodes with the current key and writes its id into the metadata; decodes with whichever
 * known key the payload names. Payloads that are not encrypted pass through, so turning encryption on does not break
 * workflows that started without it. A tampered payload or an unknown key id fails loudly (the task is retried).
 */
export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Buffer>;

  /** `keys`: key id → 32-byte key; must contain `keyId`, the key new payloads are encrypted with. */
  constructor(
    readonly keyId: string,
    keys: ReadonlyMap<string, Uint8Array>,
  ) {
    this.keys = new Map([...keys].map(([id, k]) => [id, Buffer.from(k)]));
    for (const [id, k] of this.keys)
      if (k.length !== 32) throw new Error(`payload key "${id}" must be 32 bytes, got ${k.length}`);
    if (!this.keys.has(keyId)) throw new Error(`payload key id "${keyId}" has no key`);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.seal(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => (isEncrypted(p) ? this.open(p) : p));
  }

  private seal(payload: Payload): Payload {
    const sealed: Sealed = {
      m: Object.fromEntries(
        Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      ),
      d: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
    };
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.keyId)!, iv);
    cipher.setAAD(aad(this.keyId));
    const body = Buffer.concat([cipher.update(JSON.stringify(sealed), 'utf8'), cipher.final()]);
    return {
      metadata: {
        [META.encoding]: utf8(ENCRYPTED_ENCODING),
        [META.keyId]: utf8(this.keyId),
        [META.cipher]: utf8(CIPHER),
      },
      data: Buffer.concat([iv, body, cipher.getAuthTag()]),
    };
  }

  private open(payload: Payload): Payload {
    const keyId = text(payload.metadata?.[META.keyId]) ?? '';
    const key = this.keys.get(keyId);
    if (!key)
      throw new Error(
        `payload encrypted with key id "${keyId}", which this process does not have (AIM_PAYLOAD_KEY_ID / AIM_PAYLOAD_DECRYPT_KEYS)`,
      );
    const cipherName = text(payload.metadata?.[META.cipher]);
    if (cipherName !== CIPHER) throw new Error(`payload cipher "${String(cipherName)}" is not supported`);
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) throw new Error('encrypted payload is truncated');
    let plain: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(aad(keyId));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new Error(`encrypted payload failed authentication (tampered, or not encrypted with key id "${keyId}")`);
    }
    const sealed = JSON.parse(plain) as Sealed;
    return {
      metadata: Object.fromEntries(Object.entries(sealed.m).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
      data: Buffer.from(sealed.d, 'base64'),
    };
  }
}

function aad(keyId: string): Buffer {
  return Buffer.from(`${CIPHER}:${keyId}`, 'utf8');
}

export function isEncrypted(payload: Payload): boolean {
  return text(payload.metadata?.[META.encoding]) === ENCRYPTED_ENCODING;
}

/** A base64 key of exactly 32 bytes. The message never contains the value. */
export function parseKey(value: string, name: string): Buffer {
  const trimmed = value.trim();
  const key = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || key.length !== 32)
    throw new Error(`${name} must be 32 random bytes in base64 (openssl rand -base64 32)`);
  return key;
}

/** Where the SDK finds the failure converter: the compiled `.cjs` beside the compiled module, else the source `.cts`. */
export function failureConverterPath(): string {
  const candidates = ['./failureConverter.cjs', './failureConverter.cts'].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

/**
 * The payload codec from env, or undefined when `AIM_PAYLOAD_KEY` is unset:
 * - `AIM_PAYLOAD_KEY`: base64 of 32 bytes, encrypts (and decrypts) under `AIM_PAYLOAD_KEY_ID` (default `default`);
 * - `AIM_PAYLOAD_DECRYPT_KEYS`: optional `id:base64,id:base64` of retired keys, decrypt only (key rotation).
 */
export function payloadCodecFromEnv(
  env: Record<string, string | undefined> = process.env,
): AesGcmPayloadCodec | undefined {
  const key = env.AIM_PAYLOAD_KEY;
  if (!key) return undefined;
  const keyId = env.AIM_PAYLOAD_KEY_ID?.trim() || 'default';
  const keys = new Map<string, Uint8Array>();
  for (const entry of (env.AIM_PAYLOAD_DECRYPT_KEYS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = entry.indexOf(':');
    if (at <= 0) throw new Error('AIM_PAYLOAD_DECRYPT_KEYS must be a comma-separated list of id:base64-key');
    const id = entry.slice(0, at);
    keys.set(id, parseKey(entry.slice(at + 1), `AIM_PAYLOAD_DECRYPT_KEYS (key id "${id}")`));
  }
  keys.set(keyId, parseKey(key, 'AIM_PAYLOAD_KEY'));
  return new AesGcmPayloadCodec(keyId, keys);
}

/**
 * The data converter for the worker and every client (`Worker.create`, `new Client`): with a key, the AES-GCM codec
 * plus the failure converter that encodes messages and stack traces; without one, the SDK defaults (`{}`).
 */
export function dataConverterFromEnv(env: Record<string, string | undefined> = process.env): DataConverter {
  const codec = payloadCodecFromEnv(env);
  return codec ? { payloadCodecs: [codec], failureConverterPath: failureConverterPath() } : {};
}
