// A TCP proxy that can be taken down and brought back on the same port: an outage of whatever it fronts (e.g. the
// Temporal frontend's gRPC port) for the one client pointed at it, without stopping the shared server.
//
//   const proxy = await startTcpProxy('127.0.0.1:7233');
//   ... connect the client under test to proxy.address ...
//   await proxy.down();   // open connections are cut and new ones refused (ECONNREFUSED)
//   await proxy.up();     // accepting again on the same port
//   await proxy.stop();
import { connect, createServer, type Server, type Socket } from 'node:net';
import { stablePort } from './processes.js';

export interface TcpProxy {
  /** `127.0.0.1:<port>`. */
  address: string;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const [targetHost, targetPort] = splitHostPort(target);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  // Below the ephemeral range: while the proxy is down, its client retrying 127.0.0.1:P could be given P itself as
  // its local port and hold it, and `up()` could not listen there again (processes.ts, stablePort).
  let port = await stablePort();

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(targetPort, targetHost);
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on('close', () => sockets.delete(sock));
          sock.on('error', () => (client.destroy(), upstream.destroy()));
        }
        client.pipe(upstream).pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        const addr = s.address();
        if (typeof addr === 'object' && addr) port = addr.port;
        server = s;
        resolve();
      });
    });
  const down = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      if (!s) return resolve();
      s.close(() => resolve());
      for (const sock of sockets) sock.destroy();
    });

  await listen();
  return { address: `127.0.0.1:${port}`, down, up: () => (server ? Promise.resolve() : listen()), stop: down };
}

function splitHostPort(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i) || '127.0.0.1', Number(address.slice(i + 1))];
}
