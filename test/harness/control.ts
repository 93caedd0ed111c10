// Fault injection across processes: the stack lives in vitest's main process (global setup) while tests run in
// worker processes, so tests cannot call `stack.controlPlane.restartApiServer()` directly. The global setup serves
// these few operations on 127.0.0.1 behind a random token, and `stackControl(url)` calls them from a test.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Stack } from './stack.js';

const ACTIONS = [
  'apiserver/stop',
  'apiserver/start',
  'apiserver/restart',
  'temporal/stop',
  'temporal/start',
  'temporal/restart',
] as const;
export type ControlAction = (typeof ACTIONS)[number];

function isAction(s: string): s is ControlAction {
  return (ACTIONS as readonly string[]).includes(s);
}

export interface ControlServer {
  /** `http://127.0.0.1:<port>/<token>` — pass it to tests (provide/inject). */
  url: string;
  close(): Promise<void>;
}

async function perform(stack: Stack, action: ControlAction, kill: boolean): Promise<void> {
  switch (action) {
    case 'apiserver/stop':
      return stack.controlPlane.stopApiServer({ kill });
    case 'apiserver/start':
      return stack.controlPlane.startApiServer();
    case 'apiserver/restart':
      return stack.controlPlane.restartApiServer({ kill });
    case 'temporal/stop':
      return stack.temporal.stop({ kill });
    case 'temporal/start':
      return stack.temporal.start();
    case 'temporal/restart':
      return stack.temporal.restart({ kill });
  }
}

export async function startControlServer(stack: Stack): Promise<ControlServer> {
  const token = randomBytes(16).toString('hex');
  // One operation at a time: concurrent stop/start of the same server would race.
  let queue: Promise<unknown> = Promise.resolve();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const [, reqToken, ...rest] = url.pathname.split('/');
    const action = rest.join('/');
    if (req.method !== 'POST' || reqToken !== token || !isAction(action)) {
      res.writeHead(404).end();
      return;
    }
    const kill = url.searchParams.get('kill') === '1';
    const op = queue.then(() => perform(stack, action, kill));
    queue = op.catch(() => undefined);
    op.then(
      () => res.writeHead(204).end(),
      (err: unknown) => res.writeHead(500).end(err instanceof Error ? err.message : String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${token}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface StackControl {
  /** Stop the API server (SIGTERM, or SIGKILL with `{ kill: true }`); etcd and the controller-manager stay up. */
  stopApiServer(opts?: { kill?: boolean }): Promise<void>;
  startApiServer(): Promise<void>;
  restartApiServer(opts?: { kill?: boolean }): Promise<void>;
  stopTemporal(opts?: { kill?: boolean }): Promise<void>;
  startTemporal(): Promise<void>;
  restartTemporal(opts?: { kill?: boolean }): Promise<void>;
}

/** Client for the global setup's control server; `url` comes from `inject('stackControlUrl')`. */
export function stackControl(url: string): StackControl {
  const call = async (action: ControlAction, kill = false): Promise<void> => {
    const res = await fetch(`${url}/${action}${kill ? '?kill=1' : ''}`, { method: 'POST' });
    if (res.status !== 204) throw new Error(`stack control ${action} failed: HTTP ${res.status} ${await res.text()}`);
  };
  return {
    stopApiServer: (o) => call('apiserver/stop', o?.kill),
    startApiServer: () => call('apiserver/start'),
    restartApiServer: (o) => call('apiserver/restart', o?.kill),
    stopTemporal: (o) => call('temporal/stop', o?.kill),
    startTemporal: () => call('temporal/start'),
    restartTemporal: (o) => call('temporal/restart', o?.kill),
  };
}
