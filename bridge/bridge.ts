import { setMaxListeners } from 'node:events';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { clusterView } from './clusterView.js';
import { DeliveryQueue } from './deliveryQueue.js';
import { startHealthServer } from './health.js';
import { startInformer, type Informer } from './informer.js';
import { bridgeMetrics, type MetricRegistry } from './metrics.js';
import { route, targetId, type Send, type WatchedKind } from './routing.js';
import { bridgeSources } from './sources.js';
import { sweepOrphans } from './sweep.js';
import { deliveryErrorText, temporalDelivery, temporalDidNotAnswer } from './temporalDelivery.js';

/**
 * The bridge (spec section 9): list-watches the six AIM kinds, our Jobs, PVCs and InferenceServices, ResourceQuotas,
 * Secrets (metadata only) and Nodes (sources.ts, one informer each: informer.ts), and turns each change into nudges
 * for the owning workflows (routing.ts decides which, clusterView.ts answers its questions from the caches). Nudges
 * go through a coalescing delivery queue that retries until Temporal answers (deliveryQueue.ts). It keeps no state
 * but its caches and that queue: a restart relists, which re-sends `changed` to every object (idempotent) and
 * `deleted` to open workflows whose object is gone (sweep.ts). Health and metrics: health.ts.
 */
export interface BridgeOptions {
  kubeConfig: KubeConfig;
  client: Client;
  taskQueue: string;
  /** Watch namespaced kinds only in these namespaces (cluster-scoped kinds are always watched). Default: all. */
  namespaces?: string[];
  /** Serve `/healthz`, `/readyz` and `/metrics` on {healthHost}:{port} (0 = any free port). Omitted: no server. */
  healthPort?: number;
  /** Address the health server binds (default 127.0.0.1; 0.0.0.0 lets Prometheus scrape `/metrics`). */
  healthHost?: string;
  /** Log sink; default console. */
  log?: (level: 'info' | 'warn' | 'error', msg: string) => void;
}

export interface Bridge {
  /** Resolves once every initial list is done, their nudges are sent and orphaned workflows have been told. */
  ready: Promise<void>;
  /** The health server's port, once listening (undefined without one). */
  healthPort(): number | undefined;
  /** Nudges sent, relists, errors and the delivery queue (also served as `/metrics`). */
  metrics: MetricRegistry;
  stop(): Promise<void>;
}

/**
 * A nudge this old means Temporal is not answering even if no attempt has failed yet: an attempt can hang inside the
 * client's own gRPC retries, or on a connection that was accepted and never answered, up to its deadline.
 */
export const STALLED_AFTER_MS = 10_000;

export function startBridge(opts: BridgeOptions): Bridge {
  const { client, taskQueue } = opts;
  const log = opts.log ?? ((level, msg) => console[level](`[aim-bridge] ${msg}`));
  const metrics = bridgeMetrics();
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per watch
  const namespaces = (opts.namespaces ?? []).filter(Boolean);

  let sent = 0;
  const deliveries = new DeliveryQueue({
    deliver: temporalDelivery(client, taskQueue),
    isOutage: temporalDidNotAnswer,
    onDelivered: (s, outcome) => {
      if (outcome !== 'signalled') return;
      sent++;
      metrics.inc('aim_bridge_nudges_total', { kind: s.target.kind, signal: s.signal });
    },
    onAttemptFailed: (s, err, { outage, retryInMs }) => {
      metrics.inc('aim_bridge_errors_total', { stage: 'deliver' });
      const what = `${s.signal} → ${targetId(s.target)}`;
      if (retryInMs === undefined) {
        metrics.inc('aim_bridge_nudges_dropped_total', { kind: s.target.kind });
        log('error', `${what} failed: ${deliveryErrorText(err)}; refused on every attempt, dropped`);
      } else if (!outage)
        log('warn', `${what} refused: ${deliveryErrorText(err)}; retrying in ${Math.round(retryInMs)} ms`);
    },
    onAnsweringChanged: (answering, err) =>
      answering
        ? log('info', 'Temporal answers again: delivering the pending nudges')
        : log(
            'warn',
            `Temporal does not answer (${deliveryErrorText(err)}): nudges wait and are retried until it does`,
          ),
  });

  const informers: Informer[] = [];
  const cachesOf = (kind: WatchedKind) => informers.filter((i) => i.source.kind === kind).map((i) => i.objects);
  const view = clusterView(cachesOf);
  const sources = bridgeSources(opts.kubeConfig, namespaces);
  for (const source of sources)
    informers.push(
      startInformer(source, {
        signal: abort.signal,
        metrics,
        log,
        onChange: (c) => {
          // The first list of Secrets is what exists, not a change: nothing waiting is fixed by it.
          if (c.initialList && source.kind === 'Secret') return [];
          const sends = route(source.kind, c.type, c.old, c.obj, view);
          // Readiness waits for the first lists' nudges; later ones are queued without a waiter (bounded memory).
          if (c.initialList) return sends.map((s) => deliveries.enqueueAndWait(s));
          for (const s of sends) deliveries.enqueue(s);
          return [];
        },
      }),
    );

  let listedAndSwept = false;
  const isReady = () => {
    const d = deliveries.stats();
    return listedAndSwept && !abort.signal.aborted && d.temporalAnswering && d.oldestPendingMs < STALLED_AFTER_MS;
  };
  metrics.collect(() => {
    const { pendingWorkflows, oldestPendingMs } = deliveries.stats();
    metrics.set('aim_bridge_ready', isReady() ? 1 : 0);
    metrics.set('aim_bridge_deliveries_pending', pendingWorkflows);
    metrics.set('aim_bridge_delivery_oldest_pending_seconds', oldestPendingMs / 1000);
  });
  let port: number | undefined;
  const health =
    opts.healthPort === undefined
      ? Promise.resolve(undefined)
      : startHealthServer({
          port: opts.healthPort,
          host: opts.healthHost ?? '127.0.0.1',
          metrics,
          live: () => !abort.signal.aborted,
          ready: isReady,
        }).then((h) => ((port = h.port), h));

  const started = Date.now();
  const ready = (async () => {
    await health;
    await Promise.race([
      Promise.all(informers.map((i) => i.listed)),
      new Promise<void>((r) => abort.signal.addEventListener('abort', () => r(), { once: true })),
    ]);
    if (abort.signal.aborted) throw new Error('bridge stopped before it was ready');
    const send = (s: Send) => deliveries.enqueueAndWait(s);
    await sweepOrphans({ client, taskQueue, namespaces, lookup: view.lookup, send, log }).catch((err: unknown) => {
      metrics.inc('aim_bridge_errors_total', { stage: 'sweep' });
      log('error', `orphan sweep failed: ${(err as Error).message}`);
    });
    listedAndSwept = true;
    log('info', `ready in ${Date.now() - started} ms: ${sources.length} watches, ${sent} nudges sent`);
  })();
  ready.catch(() => undefined);

  return {
    ready,
    healthPort: () => port,
    metrics,
    async stop() {
      abort.abort();
      await Promise.allSettled(informers.map((i) => i.done));
      await deliveries.stop();
      await (await health.catch(() => undefined))?.close();
    },
  };
}
