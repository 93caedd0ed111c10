import { createServer, type Server } from 'node:http';
import type { MetricRegistry } from './metrics.js';

/**
 * The bridge's health server: `/healthz` (liveness), `/readyz` (readiness) and `/metrics` (Prometheus text).
 *
 * - **Live** while the bridge runs (not stopped). A Temporal or API-server outage does not fail liveness: the bridge
 *   rides it out (watches reconnect, nudges wait in the delivery queue), and a restart would only lose that queue.
 * - **Ready** when every source has been listed once and the orphan sweep ran, *and* Temporal answers: readiness
 *   is false from the first delivery attempt Temporal did not answer until the next one it answers, and while any
 *   nudge has waited longer than `STALLED_AFTER_MS` (bridge.ts; an attempt that hangs has not failed yet), so a
 *   bridge holding undelivered nudges in an outage says so (`aim_bridge_deliveries_pending` shows how many).
 */
export interface HealthServerOptions {
  port: number;
  host: string;
  metrics: MetricRegistry;
  live(): boolean;
  ready(): boolean;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(opts.metrics.render());
      return;
    }
    const ok = req.url === '/healthz' ? opts.live() : req.url === '/readyz' ? opts.ready() : undefined;
    if (ok === undefined) res.writeHead(404).end('not found\n');
    else res.writeHead(ok ? 200 : 503).end(ok ? 'ok\n' : 'not ready\n');
  });
  return new Promise<HealthServer>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr ? addr.port : opts.port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
