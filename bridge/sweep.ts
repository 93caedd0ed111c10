import type { Client } from '@temporalio/client';
import { hasOwnWorkflow, parseWorkflowId, targetId, type BridgeObject, type Send, type Target } from './routing.js';

/**
 * The orphan sweep, once the first lists are in: every open AIM workflow of our task queue whose object is gone
 * (deleted while no bridge ran) gets a plain `deleted` signal, so that it cleans up and ends.
 */
export interface SweepOptions {
  client: Client;
  taskQueue: string;
  /** The namespaces the bridge watches (empty: all); workflows of other namespaces are not ours to judge. */
  namespaces: string[];
  lookup(target: Target): BridgeObject | undefined;
  send(s: Send): Promise<void>;
  log: (level: 'info' | 'warn', msg: string) => void;
}

export async function runningWorkflowIds(client: Client, taskQueue: string, log: SweepOptions['log']) {
  const running = `ExecutionStatus = "Running" AND TaskQueue = "${taskQueue}"`;
  const ids: string[] = [];
  try {
    for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "aim/" AND ${running}` }))
      ids.push(wf.workflowId);
  } catch (err) {
    // Older visibility stores lack STARTS_WITH: list the running workflows and filter by prefix here.
    log('warn', `visibility query with STARTS_WITH failed (${(err as Error).message}); filtering by prefix`);
    ids.length = 0;
    for await (const wf of client.workflow.list({ query: running })) ids.push(wf.workflowId);
  }
  return ids;
}

/** The `deleted` signals the sweep sends for these running workflow IDs (pure: tested without Temporal). */
export function orphanSignals(ids: string[], namespaces: string[], lookup: SweepOptions['lookup']): Send[] {
  const watched = new Set(namespaces);
  const out: Send[] = [];
  for (const id of ids) {
    const target = parseWorkflowId(id);
    if (!target) continue;
    if (target.namespace && watched.size > 0 && !watched.has(target.namespace)) continue;
    const obj = lookup(target);
    if (obj && hasOwnWorkflow(target.kind, obj)) continue;
    out.push({ signal: 'deleted', target, start: false, nudge: { uid: '' } });
  }
  return out;
}

export async function sweepOrphans(opts: SweepOptions): Promise<void> {
  const ids = await runningWorkflowIds(opts.client, opts.taskQueue, opts.log);
  const sends = orphanSignals(ids, opts.namespaces, opts.lookup);
  for (const s of sends) opts.log('info', `${targetId(s.target)}: object gone, sending deleted`);
  await Promise.allSettled(sends.map((s) => opts.send(s)));
}
