// Container probes as the kubelet's prober runs them (pkg/kubelet/prober): tcpSocket, httpGet and exec handlers, the
// result thresholds of worker.go, and one loop per container instance and probe kind. KServe's raw-deployment pods
// carry a tcpSocket readiness probe on the first container port (period 10 s, timeout 1 s, thresholds 1/3), which is
// what makes the Deployment Available and the InferenceService Ready only once the model server listens.
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Container, V1Probe } from '@kubernetes/client-node';

export type ProbeKind = 'startup' | 'readiness' | 'liveness';
export type ProbeResult = 'success' | 'failure' | 'unknown';

/** Where a probe of one container instance goes. */
export interface ProbeTarget {
  podIP: string;
  container: V1Container;
  /** For exec probes: the container's environment and working directory. */
  env: Record<string, string>;
  cwd: string;
}

export interface ProbeOutcome {
  result: 'success' | 'failure';
  /** The kubelet's words for a failure (`dial tcp 127.1.2.3:8000: connect: connection refused`). */
  output: string;
}

/** The API server's defaults (pkg/apis/core/v1/defaults.go), for probes written without them. */
export function probeTimings(probe: V1Probe): {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
} {
  return {
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: (probe.periodSeconds || 10) * 1000,
    timeoutMs: (probe.timeoutSeconds || 1) * 1000,
    successThreshold: probe.successThreshold || 1,
    failureThreshold: probe.failureThreshold || 3,
  };
}

/** A probe's port: a number, or the name of one of the container's ports. */
export function resolveProbePort(port: number | string | undefined, container: V1Container): number | undefined {
  if (typeof port === 'number') return port;
  if (port === undefined) return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

function dialError(host: string, port: number, err: NodeJS.ErrnoException): string {
  const why =
    err.code === 'ECONNREFUSED'
      ? 'connect: connection refused'
      : err.code === 'ETIMEDOUT' || err.message === 'timeout'
        ? 'i/o timeout'
        : err.message;
  return `dial tcp ${host}:${port}: ${why}`;
}

async function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ result: 'failure', output: `dial tcp ${host}:${port}: i/o timeout` });
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ result: 'success', output: '' });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ result: 'failure', output: dialError(host, port, err) });
    });
  });
}

async function httpProbe(probe: NonNullable<V1Probe['httpGet']>, target: ProbeTarget, timeoutMs: number) {
  const port = resolveProbePort(probe.port as number | string, target.container);
  const scheme = (probe.scheme ?? 'HTTP').toLowerCase();
  const host = probe.host || target.podIP;
  const url = `${scheme}://${host}:${port}${probe.path?.startsWith('/') ? probe.path : `/${probe.path ?? ''}`}`;
  const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.36', Accept: '*/*' };
  for (const h of probe.httpHeaders ?? []) headers[h.name] = h.value;
  return new Promise<ProbeOutcome>((resolve) => {
    // HTTPS probes do not verify the certificate (the kubelet's prober skips verification too).
    const send = scheme === 'https' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'GET', headers, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      // 2xx and 3xx are success (a redirect elsewhere is a success with a warning in the kubelet).
      resolve(
        code >= 200 && code < 400
          ? { result: 'success', output: '' }
          : { result: 'failure', output: `HTTP probe failed with statuscode: ${code}` },
      );
    });
    req.once('timeout', () => {
      req.destroy();
      resolve({
        result: 'failure',
        output: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
      });
    });
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' && req.destroyed) return; // after our own timeout
      resolve({ result: 'failure', output: `Get "${url}": ${dialError(host, port ?? 0, err)}` });
    });
    req.end();
  });
}

/** An exec probe runs the command as a local process with the container's env (there is no container to exec in). */
async function execProbe(command: string[], target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const [file, ...args] = command;
  if (!file) return { result: 'failure', output: 'exec probe without a command' };
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(file, args, { env: target.env, cwd: target.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (b: Buffer): void => {
      output = (output + b.toString('utf8')).slice(-10 * 1024); // the kubelet keeps at most 10 KiB
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ result: 'failure', output: `command timed out after ${timeoutMs / 1000}s` });
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ result: 'failure', output: err.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? { result: 'success', output } : { result: 'failure', output });
    });
  });
}

/** Runs one probe once. */
export async function runProbe(probe: V1Probe, target: ProbeTarget): Promise<ProbeOutcome> {
  const { timeoutMs } = probeTimings(probe);
  if (probe.tcpSocket) {
    const port = resolveProbePort(probe.tcpSocket.port as number | string, target.container);
    if (port === undefined) return { result: 'failure', output: `unknown port ${String(probe.tcpSocket.port)}` };
    return tcpProbe(probe.tcpSocket.host || target.podIP, port, timeoutMs);
  }
  if (probe.httpGet) return httpProbe(probe.httpGet, target, timeoutMs);
  if (probe.exec) return execProbe(probe.exec.command ?? [], target, timeoutMs);
  return { result: 'failure', output: 'the process kubelet runs tcpSocket, httpGet and exec probes only' };
}

/**
 * The result thresholds of the kubelet's probe worker: a raw result changes the reported one only after
 * `successThreshold` / `failureThreshold` of them in a row. Readiness starts as failure, startup as unknown, liveness
 * as success (pkg/kubelet/prober/worker.go initialValue).
 */
export class ProbeResults {
  result: ProbeResult;
  private last: ProbeResult = 'unknown';
  private run = 0;

  constructor(
    readonly kind: ProbeKind,
    private readonly thresholds: { successThreshold: number; failureThreshold: number },
  ) {
    this.result = kind === 'readiness' ? 'failure' : kind === 'startup' ? 'unknown' : 'success';
  }

  /** Records one raw result; returns true when the reported result changed. */
  record(raw: 'success' | 'failure'): boolean {
    if (raw === this.last) this.run += 1;
    else {
      this.last = raw;
      this.run = 1;
    }
    const threshold = raw === 'success' ? this.thresholds.successThreshold : this.thresholds.failureThreshold;
    if (this.run < threshold || this.result === raw) return false;
    this.result = raw;
    return true;
  }
}

export interface ProbeLoopHooks {
  /** Whether the container instance still runs (the loop ends when it does not). */
  alive(): boolean;
  /** Readiness and liveness wait until the startup probe has succeeded. */
  started(): boolean;
  /** A raw failure: the kubelet records an `Unhealthy` Event for each. */
  onFailure(output: string): void;
  /** The reported result changed. */
  onChange(result: ProbeResult): void;
}

/**
 * One probe of one container instance: probes at once (the kubelet triggers a first run when the container starts),
 * then every period; nothing before `initialDelaySeconds` after the start; readiness and liveness only once started.
 * Startup stops after its first success, as in the kubelet.
 */
export async function probeLoop(
  kind: ProbeKind,
  probe: V1Probe,
  target: ProbeTarget,
  startedAt: number,
  hooks: ProbeLoopHooks,
): Promise<void> {
  const timings = probeTimings(probe);
  const results = new ProbeResults(kind, timings);
  for (let first = true; ; first = false) {
    // Unref'd: a probe waiting for its next period must not keep a finished test process alive.
    if (!first) await sleep(timings.periodMs, undefined, { ref: false });
    if (!hooks.alive()) return;
    if (Date.now() - startedAt < timings.initialDelayMs) continue;
    if (kind !== 'startup' && !hooks.started()) continue;
    const outcome = await runProbe(probe, target);
    if (!hooks.alive()) return;
    if (outcome.result === 'failure') hooks.onFailure(outcome.output);
    if (results.record(outcome.result)) hooks.onChange(results.result);
    if (kind === 'startup' && results.result === 'success') return;
    // A failed liveness/startup probe restarts the container: this instance's loop is over either way.
    if (kind !== 'readiness' && results.result === 'failure') return;
  }
}
