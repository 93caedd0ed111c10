import { createHash } from 'node:crypto';
import https from 'node:https';

/**
 * client-node (1.4) makes a new `https.Agent` for every request (KubeConfig.applySecurityAuthentication), so every
 * API request opened its own TCP connection and TLS handshake: at 200 services in the fleet bench, TLS set-up
 * (SecureContext, getPeerCertificate, TLSSocket._start) was the worker's largest cost after the workflows themselves
 * (6.5 s of its main thread's CPU). This swaps that agent for one kept-alive agent per set of TLS options, so requests
 * reuse open connections. A kubeconfig whose credentials change (a rotated client certificate) gets a new agent for
 * the new options; a proxy agent or a plain-HTTP one is left as it is.
 */
const agents = new Map<string, https.Agent>();
/** Distinct TLS option sets kept (a process talks to one cluster; rotation adds one at a time). */
const AGENTS_MAX = 4;

/** The kept-alive agent for `agent`'s options, or `agent` itself when it is not a plain HTTPS agent. */
export function keptAlive<T>(agent: T): T | https.Agent {
  if (!(agent instanceof https.Agent) || agent.constructor !== https.Agent) return agent;
  const options = (agent as https.Agent & { options: https.AgentOptions }).options;
  const key = optionsKey(options);
  let kept = agents.get(key);
  if (!kept) {
    kept = new https.Agent({ ...options, keepAlive: true });
    agents.set(key, kept);
    if (agents.size > AGENTS_MAX) {
      const [oldest, old] = agents.entries().next().value!;
      agents.delete(oldest);
      old.destroy(); // its in-flight requests finish on their sockets' errors and are retried like any other
    }
  }
  return kept;
}

/** A digest of what makes two agents' connections interchangeable (certificates and keys hashed, never kept). */
function optionsKey(o: https.AgentOptions): string {
  const h = createHash('sha256');
  for (const field of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const) {
    const v = o[field] as unknown;
    h.update(`${field}=`);
    for (const part of Array.isArray(v) ? v : [v]) h.update(Buffer.isBuffer(part) ? part : String(part ?? ''));
    h.update(';');
  }
  return h.digest('hex');
}

/** Agents kept (for tests). */
export const keptAgents = (): number => agents.size;
