// A TLS endpoint in front of the stack's plaintext Temporal dev server, as a secured self-hosted cluster or Temporal
// Cloud presents one: an HTTP/2 server with TLS (ALPN h2) that forwards every gRPC stream — headers, body and
// trailers — to the dev server over h2c. Modes: `tls` (server certificate only), `mtls` (a client certificate signed by
// the client CA is required at the handshake) and `apiKey` (TLS, and a stream without `authorization: Bearer <key>`
// ends at once with gRPC status UNAUTHENTICATED, as Temporal Cloud answers).
import {
  connect,
  constants,
  createSecureServer,
  type ClientHttp2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

export type TlsProxyMode =
  { kind: 'tls' } | { kind: 'mtls'; clientCaCert: string } | { kind: 'apiKey'; apiKey: string };

export interface TemporalTlsProxyOptions {
  /** The plaintext dev server, `127.0.0.1:<port>`. */
  upstream: string;
  /** Serving certificate and key (PEM files) for 127.0.0.1. */
  cert: string;
  key: string;
  mode: TlsProxyMode;
}

export interface TemporalTlsProxy {
  /** `127.0.0.1:<port>` */
  address: string;
  /** Streams refused for a missing or wrong API key (apiKey mode). */
  readonly refusedStreams: number;
  /** TLS handshakes that failed (plaintext clients, untrusted or missing client certificates). */
  readonly failedHandshakes: number;
  close(): Promise<void>;
}

const GRPC_UNAUTHENTICATED = '16';
/** HTTP/2 headers that belong to one hop and must not be forwarded. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

function forwardable(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_HEADERS.has(k)) continue;
    if (k.startsWith(':') && k !== ':method' && k !== ':path' && k !== ':status') continue;
    out[k] = v;
  }
  return out;
}

export async function startTemporalTlsProxy(opts: TemporalTlsProxyOptions): Promise<TemporalTlsProxy> {
  let upstream: ClientHttp2Session | undefined;
  const session = (): ClientHttp2Session => {
    if (!upstream || upstream.closed || upstream.destroyed) {
      upstream = connect(`http://${opts.upstream}`);
      upstream.on('error', () => undefined); // a broken session is replaced at the next stream
    }
    return upstream;
  };
  let refusedStreams = 0;
  let failedHandshakes = 0;

  const server = createSecureServer({
    cert: readFileSync(opts.cert),
    key: readFileSync(opts.key),
    allowHTTP1: false,
    ...(opts.mode.kind === 'mtls'
      ? { ca: readFileSync(opts.mode.clientCaCert), requestCert: true, rejectUnauthorized: true }
      : {}),
  });
  server.on('tlsClientError', () => {
    failedHandshakes += 1;
  });
  server.on('sessionError', () => undefined);
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (s: ServerHttp2Session) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });

  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on('error', () => undefined);
    const mode = opts.mode;
    if (mode.kind === 'apiKey' && headers.authorization !== `Bearer ${mode.apiKey}`) {
      refusedStreams += 1;
      // A trailers-only response: what a gRPC server sends when it rejects a call before any message.
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': GRPC_UNAUTHENTICATED,
          'grpc-message': 'missing or invalid API key',
        },
        { endStream: true },
      );
      return;
    }
    const req = session().request(forwardable(headers), { endStream: false });
    req.on('error', () => {
      if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    });
    stream.on('close', () => {
      if (!req.closed) req.close(constants.NGHTTP2_CANCEL);
    });
    stream.pipe(req);

    let trailers: OutgoingHttpHeaders = {};
    req.on('response', (responseHeaders, flags) => {
      if (stream.destroyed) return;
      // Trailers-only (an error before any message): the headers end the stream.
      if ((flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0) {
        stream.respond(forwardable(responseHeaders), { endStream: true });
        return;
      }
      stream.respond(forwardable(responseHeaders), { waitForTrailers: true });
      req.pipe(stream);
    });
    req.on('trailers', (t) => {
      trailers = forwardable(t);
    });
    stream.on('wantTrailers', () => {
      stream.sendTrailers(trailers);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    get refusedStreams() {
      return refusedStreams;
    },
    get failedHandshakes() {
      return failedHandshakes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        upstream?.destroy();
        // Established client sessions would keep close() waiting; the test is done with them.
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
      }),
  };
}
