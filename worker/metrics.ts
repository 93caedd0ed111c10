import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger, LogLevel, MetricMeter } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import { CustomObjects } from '../activities/kube/customObjects.js';
import type { Reads } from '../activities/kube/readCache.js';
import { RESOURCES } from '../activities/kube/resources.js';
import { isLogLevel, JsonLogger, LOG_LEVELS, parseLogLevel } from './logging.js';

/**
 * The worker program's telemetry: the Temporal Runtime with the JSON logger and a Prometheus endpoint that serves the
 * SDK's `temporal_*` metrics and ours (`aim_deployments{status}`, `aim_download_bytes`, `aim_failures_total{reason}`,
 * the last one counted in activities/failures.ts).
 */

export const DEFAULT_METRICS_ADDRESS = '0.0.0.0:9464';

/**
 * The Prometheus naming Temporal's dashboards and Prometheus itself expect, instead of Core's defaults: counters end
 * in `_total` (`temporal_workflow_completed_total`), durations are in seconds and histograms carry their unit
 * (`temporal_activity_execution_latency_seconds_bucket`). deploy/monitoring/ queries these names.
 */
export function prometheusExporter(bindAddress: string) {
  return {
    prometheus: { bindAddress, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true },
  } as const;
}
const SERVICE_STATUSES = ['Pending', 'Starting', 'Running', 'Degraded', 'Failed'] as const;

/** `AIM_METRICS_ADDRESS`: host:port to serve /metrics on; unset → 0.0.0.0:9464; `off` (or empty) → no endpoint. */
export function metricsAddress(value: string | undefined): string | undefined {
  if (value === undefined) return DEFAULT_METRICS_ADDRESS;
  const v = value.trim();
  if (v === '' || v.toLowerCase() === 'off') return undefined;
  if (!/^[^\s:]+:\d{1,5}$|^\[[0-9a-f:]+\]:\d{1,5}$/i.test(v))
    throw new Error(`AIM_METRICS_ADDRESS must be host:port or "off", got "${v}"`);
  return v;
}

export interface RuntimeSetup {
  logLevel?: string;
  metricsAddress?: string;
  /** Where log lines go (default stdout). */
  write?: (line: string) => void;
}

/**
 * Installs the Temporal Runtime for this process: must run before any connection or worker is created (once per
 * process). Core's own logs are forwarded to the JSON logger instead of going to stderr as plain text.
 */
export function installRuntime(opts: RuntimeSetup = {}): { logger: JsonLogger; metricsAddress: string | undefined } {
  const level = parseLogLevel(opts.logLevel);
  const logger = new JsonLogger(level, opts.write);
  if (opts.logLevel && !isLogLevel(opts.logLevel))
    logger.warn(`AIM_LOG_LEVEL is not one of ${LOG_LEVELS.join(', ')}; using INFO`);
  const address = metricsAddress(opts.metricsAddress);
  const coreLevel: LogLevel = level === 'TRACE' || level === 'DEBUG' || level === 'ERROR' ? level : 'WARN';
  Runtime.install({
    logger,
    telemetryOptions: {
      logging: { filter: { core: coreLevel, other: 'ERROR' }, forward: {} },
      ...(address ? { metrics: prometheusExporter(address) } : {}),
    },
  });
  if (address) logger.info('serving Prometheus metrics', { address, path: '/metrics' });
  return { logger, metricsAddress: address };
}

interface Listed {
  status?: { status?: string; progress?: { downloadedBytes?: number } };
}

export interface ClusterMetricsOptions {
  /** Default 15 s. */
  intervalMs?: number;
  /** Count only these namespaces (default: the whole cluster). */
  namespaces?: string[];
  /** Default: the Runtime's meter (the Prometheus endpoint of installRuntime). */
  meter?: MetricMeter;
  log?: Logger;
  /** The worker's read cache: the lists come from memory instead of the API server every interval. */
  reads?: Reads;
}

export interface ClusterMetrics {
  /** One refresh now (the first runs at start). */
  refresh(): Promise<void>;
  stop(): void;
}

/**
 * `aim_deployments{status}` (AIMServices by status.status; `Unknown` before the first status) and `aim_download_bytes`
 * (the sum of every cache's status.progress.downloadedBytes), from a list every 15 s. A failed list keeps the last
 * values and logs a warning.
 */
export function startClusterMetrics(kc: KubeConfig, opts: ClusterMetricsOptions = {}): ClusterMetrics {
  const meter = opts.meter ?? Runtime.instance().metricMeter;
  const deployments = meter.createGauge('aim_deployments', 'int', '', 'AIMServices by status.status');
  const downloadBytes = meter.createGauge(
    'aim_download_bytes',
    'int',
    '',
    'bytes downloaded so far, summed over AIMModelCache status.progress',
  );
  const objects = new CustomObjects(kc);
  const scopes = opts.namespaces?.length ? opts.namespaces : [undefined];
  const reported = new Set<string>(SERVICE_STATUSES);
  const list = async (kind: 'AIMService' | 'AIMModelCache') =>
    (
      await Promise.all(
        scopes.map((ns) =>
          opts.reads
            ? opts.reads.list<Listed & { metadata?: object }>(kind, ns)
            : objects.list<Listed & { metadata?: object }>(RESOURCES[kind], ns),
        ),
      )
    ).flat();
  let failing = false;

  async function refresh(): Promise<void> {
    try {
      const [services, caches] = await Promise.all([list('AIMService'), list('AIMModelCache')]);
      const counts = new Map<string, number>();
      for (const s of services) {
        const status = s.status?.status ?? 'Unknown';
        counts.set(status, (counts.get(status) ?? 0) + 1);
      }
      for (const status of counts.keys()) reported.add(status);
      for (const status of reported) deployments.set(counts.get(status) ?? 0, { status });
      downloadBytes.set(
        caches.reduce((sum, c) => sum + Math.max(0, Math.floor(c.status?.progress?.downloadedBytes ?? 0)), 0),
      );
      if (failing) opts.log?.info('cluster metrics: listing works again');
      failing = false;
    } catch (err) {
      if (!failing) opts.log?.warn('cluster metrics: list failed; keeping the last values', { error: err });
      failing = true;
    }
  }

  const first = refresh();
  const timer = setInterval(() => void refresh(), opts.intervalMs ?? 15_000);
  timer.unref();
  return {
    refresh: async () => {
      await first;
      await refresh();
    },
    stop: () => clearInterval(timer),
  };
}
