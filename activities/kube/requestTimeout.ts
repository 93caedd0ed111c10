import type { KubeConfig } from '@kubernetes/client-node';
import { keptAlive } from './keptAliveAgent.js';

/**
 * How long a request to the API server may go unanswered before the client gives it up (and its caller retries, as
 * after any other failed request). Without it a request that a proxy or load balancer accepted and never answered
 * hangs for ever: an informer's list would never return (the bridge would stop seeing that kind) and an activity
 * would sit until its own timeout. The API server ends a normal request itself after 60 s (--request-timeout), and
 * answers ours in milliseconds, so 30 s only ever cuts off a request that is not going to be answered.
 */
export const KUBE_REQUEST_TIMEOUT_MS = 30_000;

/**
 * The same configuration (cluster, user, credentials: it delegates to `kc`), whose API clients (`makeApiClient`) give
 * a request up after `timeoutMs` unless the caller passed a signal of its own, and reuse kept-alive connections
 * (keptAliveAgent.ts). Watches (client-node's `Watch`) do not go through this and are not limited: they are meant to
 * stay open.
 */
export function withRequestTimeout(kc: KubeConfig, timeoutMs = KUBE_REQUEST_TIMEOUT_MS): KubeConfig {
  const timed = Object.create(kc) as KubeConfig;
  timed.applySecurityAuthentication = async (context) => {
    await kc.applySecurityAuthentication(context);
    context.setAgent(keptAlive(context.getAgent()) as never);
    if (!context.getSignal()) context.setSignal(AbortSignal.timeout(timeoutMs));
  };
  return timed;
}
