// The process kubelet's probes and pod addresses, without an API server: thresholds as the kubelet's probe worker
// applies them, the handlers against sockets opened here, and the per-pod loopback address allocator.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { V1Container } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { allocatePodIP, isPodLoopbackIP, NODE_IP, releasePodIP } from '../harness/kubelet/podIPs.js';
import {
  probeLoop,
  probeTimings,
  ProbeResults,
  resolveProbePort,
  runProbe,
  type ProbeTarget,
} from '../harness/kubelet/probes.js';

const container: V1Container = { name: 'main', ports: [{ name: 'http', containerPort: 8000 }] };
const target = (podIP: string): ProbeTarget => ({ podIP, container, env: { PATH: process.env.PATH ?? '' }, cwd: '/' });

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(server: Server, host: string): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen({ host, port: 0 }, resolve));
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}

describe('probe results (kubelet prober worker thresholds)', () => {
  it('starts readiness as failure, startup as unknown and liveness as success', () => {
    const t = { successThreshold: 1, failureThreshold: 3 };
    expect(new ProbeResults('readiness', t).result).toBe('failure');
    expect(new ProbeResults('startup', t).result).toBe('unknown');
    expect(new ProbeResults('liveness', t).result).toBe('success');
  });

  it('changes the reported result only after the threshold of consecutive raw results', () => {
    const r = new ProbeResults('readiness', { successThreshold: 2, failureThreshold: 3 });
    expect(r.record('success')).toBe(false);
    expect(r.record('failure')).toBe(false); // the run of successes is broken
    expect(r.record('success')).toBe(false);
    expect(r.record('success')).toBe(true);
    expect(r.result).toBe('success');
    expect([r.record('failure'), r.record('failure'), r.record('success')]).toEqual([false, false, false]);
    expect([r.record('failure'), r.record('failure'), r.record('failure')]).toEqual([false, false, true]);
    expect(r.result).toBe('failure');
  });

  it('fills in the API server defaults for unset timings', () => {
    expect(probeTimings({ tcpSocket: { port: 8000 } })).toEqual({
      initialDelayMs: 0,
      periodMs: 10_000,
      timeoutMs: 1000,
      successThreshold: 1,
      failureThreshold: 3,
    });
  });

  it('resolves a named port through the container ports', () => {
    expect(resolveProbePort('http', container)).toBe(8000);
    expect(resolveProbePort(9000, container)).toBe(9000);
    expect(resolveProbePort('9001', container)).toBe(9001);
    expect(resolveProbePort('metrics', container)).toBeUndefined();
  });
});

describe('probe handlers', () => {
  it('tcpSocket succeeds when something listens on the pod IP and fails with the dial error otherwise', async () => {
    const ip = '127.77.0.9';
    const port = await listen(createTcpServer() as unknown as Server, ip);
    expect(await runProbe({ tcpSocket: { port } }, target(ip))).toEqual({ result: 'success', output: '' });
    // Same port, another pod's address: nothing listens there.
    expect(await runProbe({ tcpSocket: { port } }, target('127.77.0.10'))).toEqual({
      result: 'failure',
      output: `dial tcp 127.77.0.10:${port}: connect: connection refused`,
    });
  });

  it('httpGet counts 2xx and 3xx as success and reports other status codes', async () => {
    const ip = '127.77.0.11';
    const port = await listen(
      createHttpServer((req, res) => {
        res.statusCode = req.url === '/health' ? 200 : req.url === '/moved' ? 302 : 503;
        res.end();
      }),
      ip,
    );
    const probe = (path: string) => runProbe({ httpGet: { path, port } }, target(ip));
    expect((await probe('/health')).result).toBe('success');
    expect((await probe('/moved')).result).toBe('success');
    expect(await probe('/loading')).toEqual({ result: 'failure', output: 'HTTP probe failed with statuscode: 503' });
  });

  it('exec succeeds on exit 0 and reports the output of a failing command', async () => {
    expect((await runProbe({ exec: { command: ['true'] } }, target(NODE_IP))).result).toBe('success');
    expect(await runProbe({ exec: { command: ['/bin/sh', '-c', 'echo not yet; exit 1'] } }, target(NODE_IP))).toEqual({
      result: 'failure',
      output: 'not yet\n',
    });
  });
});

describe('probe loop', () => {
  it('probes nothing before initialDelaySeconds, then reports the result and stops with the container', async () => {
    const ip = '127.77.0.12';
    const port = await listen(createTcpServer() as unknown as Server, ip);
    const start = Date.now();
    let alive = true;
    const changes: Array<{ result: string; afterMs: number }> = [];
    const loop = probeLoop(
      'readiness',
      { tcpSocket: { port }, initialDelaySeconds: 1, periodSeconds: 1 },
      target(ip),
      start,
      {
        alive: () => alive,
        started: () => true,
        onFailure: () => undefined,
        onChange: (result) => {
          changes.push({ result, afterMs: Date.now() - start });
          alive = false; // the container "exits": the loop ends at its next turn
        },
      },
    );
    await loop;
    expect(changes).toHaveLength(1);
    expect(changes[0]?.result).toBe('success');
    expect(changes[0]?.afterMs).toBeGreaterThanOrEqual(1000);
  });
});

describe('pod IPs', () => {
  it('gives every pod its own loopback address, stable for a UID and reusable once released', () => {
    const a = allocatePodIP('uid-a');
    const b = allocatePodIP('uid-b');
    expect(a).not.toBe(b);
    expect([a, b].every(isPodLoopbackIP)).toBe(true);
    expect([a, b]).not.toContain(NODE_IP);
    // Taken: the same UID (a second worker for it) gets another one; released: the first again.
    const again = allocatePodIP('uid-a');
    expect(again).not.toBe(a);
    releasePodIP(again);
    releasePodIP(a);
    expect(allocatePodIP('uid-a')).toBe(a);
    releasePodIP(a);
    releasePodIP(b);
  });

  it('keeps the address a pod already reports (a kubelet restarted on the same node) when it is free', () => {
    expect(allocatePodIP('uid-c', '127.9.8.7')).toBe('127.9.8.7');
    expect(allocatePodIP('uid-d', '127.9.8.7')).not.toBe('127.9.8.7');
    expect(allocatePodIP('uid-e', '10.0.0.5')).not.toBe('10.0.0.5');
  });
});
