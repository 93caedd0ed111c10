import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { payloadCodecFromEnv } from '../client/dataConverter.js';
import { createLogger } from './logging.js';

/**
 * `aim-orchestrator codec-server`: the Temporal codec server protocol (POST `…/encode` and `…/decode`, body
 * `{"payloads":[{"metadata":{k: base64},"data": base64}]}`), so that the Temporal UI and `temporal --codec-endpoint`
 * can show payloads the worker encrypted. Anyone who can reach it can decrypt: bind it to loopback (the default) or put
 * it behind your own authentication, and allow only the UI's origin.
 */

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

export interface CodecServerOptions {
  codec: PayloadCodec;
  host?: string;
  port: number;
  /** Origins allowed by CORS (the Temporal UI's, e.g. http://localhost:8080). */
  corsOrigins: string[];
}

export interface CodecServer {
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 8 * 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    if (origin && opts.corsOrigins.includes(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Vary', 'Origin');
    }
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    const op = /\/(encode|decode)$/.exec(new URL(req.url ?? '/', 'http://x').pathname)?.[1];
    if (req.method !== 'POST' || !op) return void res.writeHead(404).end('not found\n');
    try {
      const body = JSON.parse(await readBody(req)) as { payloads?: JsonPayload[] };
      const payloads = (body.payloads ?? []).map(fromJson);
      const out = op === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ payloads: out.map(toJson) }));
    } catch (err) {
      // Codec errors name a key id or "failed authentication", never payload contents.
      const status = (err as { status?: number }).status ?? 400;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
    }
  };
  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', resolve);
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : opts.port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * The `codec-server` subcommand: AIM_PAYLOAD_KEY (+ AIM_PAYLOAD_KEY_ID, AIM_PAYLOAD_DECRYPT_KEYS) as the worker,
 * AIM_CODEC_SERVER_ADDRESS (default 127.0.0.1:8888), AIM_CODEC_CORS_ORIGINS (default http://localhost:8080,
 * comma-separated). Runs until SIGINT/SIGTERM.
 */
export async function runCodecServer(env: Record<string, string | undefined> = process.env): Promise<void> {
  const logger = createLogger(env.AIM_LOG_LEVEL);
  const codec = payloadCodecFromEnv(env);
  if (!codec) throw new Error('codec-server needs AIM_PAYLOAD_KEY (the key the worker encrypts with)');
  const address = env.AIM_CODEC_SERVER_ADDRESS || '127.0.0.1:8888';
  const at = address.lastIndexOf(':');
  const corsOrigins = (env.AIM_CODEC_CORS_ORIGINS ?? 'http://localhost:8080')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const server = await startCodecServer({
    codec,
    host: address.slice(0, at),
    port: Number(address.slice(at + 1)),
    corsOrigins,
  });
  logger.info('codec server listening', { address, corsOrigins, keyId: codec.keyId });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
}
