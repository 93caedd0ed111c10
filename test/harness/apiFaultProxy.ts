// An HTTPS reverse proxy in front of the test API server that injects transient failures into a client's traffic:
// a fraction of requests answered `429 Too Many Requests` with Retry-After (without reaching the API server, as its
// priority-and-fairness limiter would), and a fraction answered `500` *after* the API server processed them (the
// client cannot tell whether its write happened — the demanding case for idempotency). The choice is a seeded
// pseudo-random sequence, so a run's fault pattern depends only on the seed and the order of requests.
// Further faults of a real cluster's path (each off unless its rate is set): `503 Service Unavailable` with Retry-After
// (an API server starting or overloaded, not forwarded), `409 Conflict` on updates (someone else wrote the object
// first; PUT only, not forwarded), a connection reset *after* the API server processed the request (a load balancer
// dropping the connection), and a hung request (never answered, never forwarded, until the client gives up: what a
// client without a timeout never survives). Watches (`?watch=true`, `/watch/` paths) are never given those; with
// `rateWatchGone` a fraction of them is answered `410 Gone` (the resourceVersion is too old, after a compaction or an
// etcd restart), alternately as the HTTP status and as a 200 stream holding one ERROR event, the two ways the API
// server says it: the client must relist. Watches draw from their own seeded sequence, so they do not shift the
// other requests' faults.
//
//   const proxy = await startApiFaultProxy({ target: stack.kubeServer, targetCaPath: stack.kubeCaPath, workDir,
//                                            seed: 42, rate429: 0.025, rate500: 0.025 });
//   await proxy.writeKubeconfig(path, stack.kubeToken);   // give this kubeconfig to the client under test
//   ... proxy.stats() ...
//   await proxy.stop();
import { readFileSync } from 'node:fs';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeKubeconfig } from './kube.js';
import { createPki } from './pki.js';

export interface ApiFaultProxyOptions {
  /** The API server, `https://127.0.0.1:<port>`. */
  target: string;
  /** CA that signed the API server's serving certificate. */
  targetCaPath: string;
  /** Holds the proxy's own throw-away PKI. */
  workDir: string;
  /** Seed of the fault sequence (default 1). */
  seed?: number;
  /** Fraction of non-watch requests answered 429 (default 0.025). */
  rate429?: number;
  /** Fraction of non-watch requests answered 500 after the API server handled them (default 0.025). */
  rate500?: number;
  /** Retry-After of the 429 and 503 answers, seconds (default 1). */
  retryAfterSeconds?: number;
  /** Fraction of non-watch requests answered 503 without forwarding (default 0). */
  rate503?: number;
  /** Fraction of PUT requests answered 409 Conflict without forwarding (default 0). */
  rate409?: number;
  /** Fraction of non-watch requests forwarded, then answered with a connection reset (default 0). */
  rateReset?: number;
  /** Fraction of non-watch requests never answered (held until the client closes the connection; default 0). */
  rateHang?: number;
  /** Fraction of watch requests answered 410 Gone (default 0). */
  rateWatchGone?: number;
  /**
   * Hold the answer to every write (POST, PUT, PATCH, DELETE) this long after the API server sent it (default 0): the
   * write is stored and seen by watches while its author still waits for the answer, as over a slow path. A test
   * that kills the author when a watch shows the write then lands inside the step that made it, even when the
   * watch delivers late on a loaded machine.
   */
  writeAnswerDelayMs?: number;
}

/** What the proxy can do to a request instead of passing its answer on. */
export type FaultKind = 429 | 500 | 503 | 409 | 410 | 'reset' | 'hang';

export interface InjectedFault {
  status: FaultKind;
  method: string;
  /** Path without the query. */
  path: string;
}

export interface ApiFaultStats {
  /** Non-watch requests seen (faulted or not). */
  requests: number;
  /** Watch requests passed through. */
  watches: number;
  injected429: number;
  injected500: number;
  injected503: number;
  injected409: number;
  /** Connections reset after the API server answered. */
  resets: number;
  /** Requests held unanswered. */
  hangs: number;
  /** Hung requests the client gave up on (closed the connection): its timeout worked. */
  hangsAbandoned: number;
  /** Watches answered 410 Gone. */
  watchGone: number;
  /** Requests whose forwarding failed (API server unreachable): answered 502. */
  upstreamErrors: number;
}

export interface ApiFaultProxy {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** CA of the proxy's serving certificate (put into the client's kubeconfig). */
  caPath: string;
  /** Writes a kubeconfig that reaches the API server through this proxy with `token`. */
  writeKubeconfig(path: string, token: string): Promise<void>;
  stats(): ApiFaultStats;
  /** Every injected fault, in order. */
  faults(): readonly InjectedFault[];
  /**
   * Ends every open watch stream now (as an API server restart or a load balancer would): the clients reconnect,
   * and with `rateWatchGone` some of them are told 410 Gone and must relist. Returns how many were open.
   */
  dropWatches(): number;
  /** Pause (false) or resume (true) the random injection; counting continues. */
  setEnabled(enabled: boolean): void;
  /**
   * A targeted fault (independent of the random ones): the next request with this method whose path contains
   * `pathIncludes` gets `status` (500: after the API server processed it). Resolves when it has been injected.
   */
  injectOnce(rule: { method: string; pathIncludes: string; status: FaultKind }): Promise<InjectedFault>;
  stop(): Promise<void>;
}

/** mulberry32: a tiny, well-distributed 32-bit PRNG; deterministic for a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Watches and other long-lived streams, which are never faulted. */
export function isStreaming(method: string, url: URL): boolean {
  if (method !== 'GET') return false;
  const watch = url.searchParams.get('watch');
  return watch === 'true' || watch === '1' || url.pathname.includes('/watch/') || url.searchParams.has('follow');
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);

function endToEnd(headers: IncomingMessage['headers']): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

/**
 * The fault for a draw `r` in [0, 1): the rates are stacked in this order (429 and 500 first, so that a seed gives the
 * same 429/500 sequence as before the other faults existed). 409 only for PUT (an update that lost a race).
 */
export function pickFault(
  r: number,
  method: string,
  rates: { r429: number; r500: number; r503: number; r409: number; reset: number; hang: number },
): FaultKind | undefined {
  const steps: Array<[FaultKind, number]> = [
    [429, rates.r429],
    [500, rates.r500],
    [503, rates.r503],
    [409, method === 'PUT' ? rates.r409 : 0],
    ['reset', rates.reset],
    ['hang', rates.hang],
  ];
  let edge = 0;
  for (const [fault, rate] of steps) {
    edge += rate;
    if (r < edge) return fault;
  }
  return undefined;
}

/** The faults the proxy answers itself, as the API server would word them. */
const REFUSALS = {
  429: {
    counter: 'injected429',
    reason: 'TooManyRequests',
    message: 'too many requests, please try again later',
    retryAfter: true,
  },
  503: {
    counter: 'injected503',
    reason: 'ServiceUnavailable',
    message: 'the server is currently unable to handle the request',
    retryAfter: true,
  },
  409: {
    counter: 'injected409',
    reason: 'Conflict',
    message:
      'Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again',
    retryAfter: false,
  },
} as const;

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A Kubernetes `Status` answer, as the API server would send it. */
function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

export async function startApiFaultProxy(opts: ApiFaultProxyOptions): Promise<ApiFaultProxy> {
  const target = new URL(opts.target);
  const pki = await createPki(join(opts.workDir, 'api-fault-proxy-pki'));
  const agent = new Agent({ ca: readFileSync(opts.targetCaPath), keepAlive: true });
  const random = seededRandom(opts.seed ?? 1);
  const watchRandom = seededRandom((opts.seed ?? 1) ^ 0x5bd1e995);
  const rates = {
    r429: opts.rate429 ?? 0.025,
    r500: opts.rate500 ?? 0.025,
    r503: opts.rate503 ?? 0,
    r409: opts.rate409 ?? 0,
    reset: opts.rateReset ?? 0,
    hang: opts.rateHang ?? 0,
  };
  const rateWatchGone = opts.rateWatchGone ?? 0;
  const retryAfter = opts.retryAfterSeconds ?? 1;
  const stats: ApiFaultStats = {
    requests: 0,
    watches: 0,
    injected429: 0,
    injected500: 0,
    injected503: 0,
    injected409: 0,
    resets: 0,
    hangs: 0,
    hangsAbandoned: 0,
    watchGone: 0,
    upstreamErrors: 0,
  };
  const injected: InjectedFault[] = [];
  const openWatches = new Set<ServerResponse>();
  let enabled = true;
  const once: Array<{ method: string; pathIncludes: string; status: FaultKind; done: (f: InjectedFault) => void }> = [];

  const answer = (
    res: ServerResponse,
    code: number,
    reason: string,
    message: string,
    extra: OutgoingHttpHeaders = {},
  ) => {
    const body = statusBody(code, reason, message);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra });
    res.end(body);
  };

  /** `410 Gone` for a watch: as the HTTP status, or (every other time) as the one ERROR event of a 200 stream. */
  const answerGone = (res: ServerResponse, asEvent: boolean) => {
    const message = 'injected by the API fault proxy: too old resource version (410 Gone)';
    if (!asEvent) return answer(res, 410, 'Expired', message);
    const event = JSON.stringify({ type: 'ERROR', object: JSON.parse(statusBody(410, 'Expired', message)) });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${event}\n`);
  };

  const server: Server = createServer(
    { key: readFileSync(pki.servingKey), cert: readFileSync(pki.servingCert) },
    (req, res) => {
      const method = req.method ?? 'GET';
      const url = new URL(req.url ?? '/', target);
      const streaming = isStreaming(method, url);
      let fault: FaultKind | undefined;
      let onInjected: ((f: InjectedFault) => void) | undefined;
      if (streaming) {
        stats.watches += 1;
        const r = watchRandom();
        if (enabled && r < rateWatchGone) fault = 410;
      } else {
        stats.requests += 1;
        // One draw per request whether or not injection is on, so pausing does not shift the later sequence.
        const r = random();
        if (enabled) fault = pickFault(r, method, rates);
      }
      // A targeted 410 is for a watch, any other targeted fault for a request that is not one.
      const targeted = once.findIndex(
        (o) => o.method === method && url.pathname.includes(o.pathIncludes) && (o.status === 410) === streaming,
      );
      if (targeted >= 0) {
        const [rule] = once.splice(targeted, 1);
        fault = rule!.status;
        onInjected = rule!.done;
      }
      const record = (f: InjectedFault) => {
        injected.push(f);
        onInjected?.(f);
      };
      const fail = (status: FaultKind) => record({ status, method, path: url.pathname });
      switch (fault) {
        case 410:
          stats.watchGone += 1;
          fail(410);
          req.resume();
          answerGone(res, stats.watchGone % 2 === 0);
          return;
        case 429:
        case 503:
        case 409: {
          // Answered by the proxy, never forwarded: the API server does not see the request.
          const refusal = REFUSALS[fault];
          stats[refusal.counter] += 1;
          fail(fault);
          req.resume();
          answer(res, fault, refusal.reason, `injected by the API fault proxy: ${refusal.message}`, {
            ...(refusal.retryAfter ? { 'retry-after': String(retryAfter) } : {}),
          });
          return;
        }
        case 'hang':
          // Neither forwarded nor answered: only the client's own timeout ends it.
          stats.hangs += 1;
          fail('hang');
          req.resume();
          res.once('close', () => (stats.hangsAbandoned += 1));
          return;
        default:
      }
      const upstream = request({
        host: target.hostname,
        port: target.port,
        method,
        path: `${url.pathname}${url.search}`,
        headers: { ...endToEnd(req.headers), host: target.host },
        agent,
      });
      res.once('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      upstream.on('response', (up) => {
        if (fault === 500 || fault === 'reset') {
          // The API server did the work; the client is told it failed, or loses the connection.
          up.resume();
          up.once('end', () => {
            if (fault === 'reset') {
              stats.resets += 1;
              fail('reset');
              // Closed without an answer (TLS sockets cannot send a bare RST): the client sees ECONNRESET.
              req.socket.destroy();
              return;
            }
            stats.injected500 += 1;
            fail(500);
            answer(
              res,
              500,
              'InternalError',
              'injected by the API fault proxy: an error on the server prevented the answer',
            );
          });
          return;
        }
        const pass = () => {
          res.writeHead(up.statusCode ?? 502, up.statusMessage, endToEnd(up.headers));
          if (streaming) {
            res.flushHeaders();
            openWatches.add(res);
            res.once('close', () => openWatches.delete(res));
          }
          up.pipe(res);
        };
        const delay = opts.writeAnswerDelayMs ?? 0;
        if (delay > 0 && !streaming && WRITE_METHODS.has(method)) setTimeout(pass, delay);
        else pass();
      });
      upstream.on('error', (err) => {
        stats.upstreamErrors += 1;
        if (!res.headersSent) answer(res, 502, 'BadGateway', `API fault proxy: upstream error: ${err.message}`);
        else res.destroy();
      });
      req.pipe(upstream);
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    caPath: pki.caCert,
    writeKubeconfig: (path, token) => writeKubeconfig(path, { server: url, caPath: pki.caCert, token }),
    stats: () => ({ ...stats }),
    faults: () => injected,
    dropWatches: () => {
      const open = [...openWatches];
      for (const res of open) res.destroy();
      return open.length;
    },
    setEnabled: (on) => {
      enabled = on;
    },
    injectOnce: (rule) => new Promise<InjectedFault>((done) => once.push({ ...rule, done })),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          agent.destroy();
          resolve();
        });
        server.closeAllConnections(); // open watches never end by themselves
      }),
  };
}
