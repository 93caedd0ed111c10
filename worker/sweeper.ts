import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { dataConverterFromEnv } from '../client/dataConverter.js';
import { connectTemporalClient, temporalSettingsFromEnv } from '../client/temporalConnection.js';
import { sharedCacheTtlFromEnv } from '../domain/cacheTtl.js';
import { TASK_QUEUE } from '../workflows/signals.js';
import { sharedCacheSweeper, sharedCacheSweeperId, sweeperTtlSignal } from '../workflows/cacheSweeper.js';

export interface CacheSweeperOptions {
  taskQueue: string;
  /** AIM_SHARED_CACHE_TTL in seconds; 0 = never delete. */
  ttlSeconds: number;
}

export type CacheSweeperState =
  { state: 'running'; workflowId: string; runId: string } | { state: 'stopped' | 'disabled'; workflowId: string };

/**
 * Makes sure the Shared-cache sweeper of this task queue runs with this TTL, from every worker start (idempotent).
 * Signal-with-start under the fixed ID: it starts the workflow when none runs, and otherwise hands the running one
 * the TTL (a changed TTL applies at once). TTL 0 starts nothing; a sweeper left running by an earlier setting is
 * told the TTL is 0 and completes, so `0 = never` holds from this start on (`stopped`; `disabled` when none ran).
 */
export async function ensureCacheSweeper(client: Client, opts: CacheSweeperOptions): Promise<CacheSweeperState> {
  const workflowId = sharedCacheSweeperId(opts.taskQueue);
  if (opts.ttlSeconds <= 0) {
    try {
      await client.workflow.getHandle(workflowId).signal(sweeperTtlSignal, 0);
      return { state: 'stopped', workflowId };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { state: 'disabled', workflowId };
      throw err;
    }
  }
  const handle = await client.workflow.signalWithStart(sharedCacheSweeper, {
    workflowId,
    taskQueue: opts.taskQueue,
    args: [{ ttlSeconds: opts.ttlSeconds }],
    signal: sweeperTtlSignal,
    signalArgs: [opts.ttlSeconds],
  });
  return { state: 'running', workflowId, runId: handle.signaledRunId };
}

/**
 * `ensureCacheSweeper` for `worker/main.ts`: the same Temporal settings (TEMPORAL_ADDRESS, TLS, API key…:
 * client/temporalConnection.ts), AIM_TASK_QUEUE and payload encryption (AIM_PAYLOAD_KEY…) as the worker, and
 * AIM_SHARED_CACHE_TTL (a bad value throws, naming the variable), over a connection of its own.
 */
export async function ensureCacheSweeperFromEnv(
  env: Record<string, string | undefined> = process.env,
): Promise<CacheSweeperState> {
  const ttlSeconds = sharedCacheTtlFromEnv(env);
  const settings = temporalSettingsFromEnv(env);
  const connection = await connectTemporalClient(settings);
  try {
    const client = new Client({
      connection,
      namespace: settings.namespace,
      dataConverter: dataConverterFromEnv(env),
    });
    return await ensureCacheSweeper(client, { taskQueue: env.AIM_TASK_QUEUE ?? TASK_QUEUE, ttlSeconds });
  } finally {
    await connection.close();
  }
}
