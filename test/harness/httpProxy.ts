// An HTTP reverse proxy for fault injection in front of the S3 or Hugging Face test servers, plus the body-streaming
// and fault-rule machinery it shares with hfHub.ts.
//
// The proxy forwards every request unchanged, *including the Host header as received*: SigV4 signs the Host header,
// so rewriting it to the upstream's address would make every signature fail. It counts the response body bytes it
// sends per request path, and can stall or corrupt response bodies by path substring.
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';

// ---------------------------------------------------------------------------------------------------------------
// Fault rules (shared with hfHub.ts)
// ---------------------------------------------------------------------------------------------------------------

export interface FaultOptions {
  /** Apply to this many matching responses, then expire (default: every matching response until clearFaults()). */
  times?: number;
}

type FaultKind = { kind: 'stall'; afterBytes: number } | { kind: 'corrupt' } | { kind: 'slow'; bytesPerSecond: number };

interface FaultRule {
  pathSubstring: string;
  fault: FaultKind;
  remaining: number;
}

/** The fault (if any) chosen for one response. */
export type ActiveFault = FaultKind | undefined;

/** Offsets whose byte a `corrupt` fault flips: the first byte, then one every 64 KiB (small files are hit too). */
const CORRUPT_STRIDE = 64 * 1024;

/** Stall and corrupt rules matched by path substring; the first live matching rule wins. */
export class FaultRules {
  private rules: FaultRule[] = [];

  /** Sends the first `nBytes` of each matching body, then stops sending but keeps the connection open. */
  stallAfter(pathSubstring: string, nBytes: number, opts: FaultOptions = {}): void {
    this.add(pathSubstring, { kind: 'stall', afterBytes: nBytes }, opts);
  }

  /** Flips bytes in each matching body while keeping its length (an integrity check must catch it). */
  corrupt(pathSubstring: string, opts: FaultOptions = {}): void {
    this.add(pathSubstring, { kind: 'corrupt' }, opts);
  }

  /** Sends each matching body at about `bytesPerSecond` (a slow source: a long download in a short test). */
  slowDown(pathSubstring: string, bytesPerSecond: number, opts: FaultOptions = {}): void {
    this.add(pathSubstring, { kind: 'slow', bytesPerSecond }, opts);
  }

  clearFaults(): void {
    this.rules = [];
  }

  /** Picks (and consumes one use of) the rule for a response about to be sent for `key`. */
  take(key: string): ActiveFault {
    const rule = this.rules.find((r) => r.remaining > 0 && key.includes(r.pathSubstring));
    if (!rule) return undefined;
    rule.remaining -= 1;
    return rule.fault;
  }

  private add(pathSubstring: string, fault: FaultKind, opts: FaultOptions): void {
    this.rules.push({ pathSubstring, fault, remaining: opts.times ?? Number.POSITIVE_INFINITY });
  }
}

/** Per-key byte counters; `total(substring)` sums every key containing the substring ('' = everything). */
export class ByteCounter {
  private readonly counts = new Map<string, number>();

  add(key: string, n: number): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  total(substring = ''): number {
    let sum = 0;
    for (const [key, n] of this.counts) if (key.includes(substring)) sum += n;
    return sum;
  }

  reset(): void {
    this.counts.clear();
  }
}

/**
 * Streams `source` into `res` (whose headers the caller has set) with backpressure, applying `fault`, and reports
 * every byte actually written through `onBytes`. Resolves when the body is complete, the client went away, or a
 * stall began (a stalled response stays open until the client gives up or the server stops).
 */
export async function sendBody(
  res: ServerResponse,
  source: Readable,
  fault: ActiveFault,
  onBytes: (n: number) => void,
): Promise<'complete' | 'stalled' | 'aborted'> {
  let sent = 0;
  const clientGone = (): boolean => res.destroyed || res.writableEnded;
  const onClose = (): void => {
    source.destroy();
  };
  res.once('close', onClose);
  try {
    for await (const raw of source) {
      if (clientGone()) return 'aborted';
      let chunk = raw as Buffer;
      if (fault?.kind === 'corrupt') chunk = corruptChunk(chunk, sent);
      if (fault?.kind === 'stall' && sent + chunk.length >= fault.afterBytes) {
        const head = chunk.subarray(0, Math.max(0, fault.afterBytes - sent));
        if (head.length > 0) {
          res.write(head);
          onBytes(head.length);
        }
        // Stop reading the source and never end the response: the client sees an open, silent connection.
        source.destroy();
        return 'stalled';
      }
      if (fault?.kind === 'slow') {
        // Slices of 1/20 s each, paced by the clock.
        const slice = Math.max(1, Math.floor(fault.bytesPerSecond / 20));
        for (let at = 0; at < chunk.length; at += slice) {
          if (clientGone()) return 'aborted';
          const piece = chunk.subarray(at, at + slice);
          sent += piece.length;
          onBytes(piece.length);
          if (!res.write(piece)) await drained(res);
          await new Promise((r) => setTimeout(r, (piece.length / fault.bytesPerSecond) * 1000));
        }
        continue;
      }
      sent += chunk.length;
      onBytes(chunk.length);
      if (!res.write(chunk)) await drained(res);
    }
    if (fault?.kind === 'stall' && sent >= fault.afterBytes) {
      // The body was exactly `afterBytes` long (or shorter): nothing left to withhold, but still never finish.
      return 'stalled';
    }
    if (clientGone()) return 'aborted';
    res.end();
    return 'complete';
  } catch {
    // Upstream failed mid-body (or the client vanished): cut the response so the client sees a short read.
    res.destroy();
    return 'aborted';
  } finally {
    res.off('close', onClose);
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

/** A copy of `chunk` (which starts at body offset `offset`) with the bytes at CORRUPT_STRIDE offsets inverted. */
function corruptChunk(chunk: Buffer, offset: number): Buffer {
  const out = Buffer.from(chunk);
  const first = Math.ceil(offset / CORRUPT_STRIDE) * CORRUPT_STRIDE - offset;
  for (let i = first; i < out.length; i += CORRUPT_STRIDE) out[i] = (out[i] ?? 0) ^ 0xff;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The proxy
// ---------------------------------------------------------------------------------------------------------------

export interface ProxyRequestRecord {
  method: string;
  /** Path and query as received. */
  path: string;
  status: number;
  /** Response body bytes sent to the client. */
  bytes: number;
  /** The request's Range header, if any (to see resumes). */
  range?: string;
  outcome: 'complete' | 'stalled' | 'aborted' | 'upstream-error';
}

export interface HttpProxy {
  /** `http://127.0.0.1:PORT`: use it as the S3 endpoint or HF_ENDPOINT. */
  url: string;
  /** Response body bytes sent for requests whose path contains `pathSubstring` ('' = all). */
  bytesServed(pathSubstring?: string): number;
  requests(): readonly ProxyRequestRecord[];
  stallAfter(pathSubstring: string, nBytes: number, opts?: FaultOptions): void;
  /** Sends matching bodies at about `bytesPerSecond`. */
  slowDown(pathSubstring: string, bytesPerSecond: number, opts?: FaultOptions): void;
  corrupt(pathSubstring: string, opts?: FaultOptions): void;
  clearFaults(): void;
  /** Forgets the byte counts and the request log (fault rules stay). */
  resetCounters(): void;
  stop(): Promise<void>;
}

export interface StartHttpProxyOptions {
  /** Where to forward, e.g. the S3 server's endpoint (`http://127.0.0.1:PORT`). */
  target: string;
}

/** Hop-by-hop headers (RFC 9110 7.6.1) are per connection and must not be forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
]);

function endToEndHeaders(headers: IncomingMessage['headers']): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

export async function startHttpProxy(opts: StartHttpProxyOptions): Promise<HttpProxy> {
  const target = new URL(opts.target);
  if (target.protocol !== 'http:') throw new Error(`proxy target must be http://, got ${opts.target}`);
  const agent = new Agent({ keepAlive: true });
  const faults = new FaultRules();
  const counter = new ByteCounter();
  let log: ProxyRequestRecord[] = [];

  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const record: ProxyRequestRecord = {
      method: req.method ?? 'GET',
      path,
      status: 0,
      bytes: 0,
      outcome: 'complete',
      ...(req.headers.range ? { range: req.headers.range } : {}),
    };
    log.push(record);
    // `transfer-encoding` is kept: a chunked upload (s5cmd pipe) must reach the upstream chunked as well.
    const upstreamReq = httpRequest({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path,
      headers: endToEndHeaders(req.headers), // Host included, unchanged: SigV4 covers it
      agent,
    });
    // A client that hangs up early must not leave the upstream exchange running (a completed one keeps its
    // keep-alive socket).
    let upstreamDone = false;
    res.once('close', () => {
      if (!upstreamDone) upstreamReq.destroy();
    });
    upstreamReq.on('response', (upstreamRes) => {
      upstreamRes.once('end', () => {
        upstreamDone = true;
      });
      record.status = upstreamRes.statusCode ?? 502;
      res.writeHead(record.status, upstreamRes.statusMessage, endToEndHeaders(upstreamRes.headers));
      if (req.method === 'HEAD') {
        upstreamRes.resume();
        res.end();
        return;
      }
      void sendBody(res, upstreamRes, faults.take(path), (n) => {
        record.bytes += n;
        counter.add(path, n);
      }).then((outcome) => {
        record.outcome = outcome;
      });
    });
    upstreamReq.on('error', (err) => {
      record.outcome = 'upstream-error';
      if (!res.headersSent) {
        record.status = 502;
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`proxy: upstream error: ${err.message}\n`);
      } else {
        res.destroy();
      }
    });
    req.pipe(upstreamReq);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    bytesServed: (sub = '') => counter.total(sub),
    requests: () => log,
    stallAfter: (sub, n, o) => faults.stallAfter(sub, n, o),
    slowDown: (sub, rate, o) => faults.slowDown(sub, rate, o),
    corrupt: (sub, o) => faults.corrupt(sub, o),
    clearFaults: () => faults.clearFaults(),
    resetCounters: () => {
      counter.reset();
      log = [];
    },
    stop: () => closeServer(server, () => agent.destroy()),
  };
}

/** Closes a server including its open (possibly stalled) connections. */
export function closeServer(server: ReturnType<typeof createServer>, after?: () => void): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      after?.();
      resolve();
    });
    // Stalled responses never finish on their own: cut them, or close() would wait forever.
    server.closeAllConnections();
  });
}
