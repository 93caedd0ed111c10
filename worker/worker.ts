import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { Client, type Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { temporalNudger } from '../activities/nudges.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { createActivities } from '../activities/index.js';
import { startReadCache, type RunningReadCache } from '../activities/kube/readCacheSources.js';
import { readCacheFromEnv } from '../activities/kube/readCacheSetting.js';
import type { ClusterReadCache } from '../activities/kube/readCache.js';
import { kubeFailureInterceptor } from '../activities/kubeFailureInterceptor.js';
import type { WorkerSettings } from '../activities/context.js';
import { changedSignal, TASK_QUEUE } from '../workflows/signals.js';
import { BUNDLE_ENV, chooseWorkflowCode } from './workflowBundle.js';
import {
  connectTemporalClient,
  explainConnectError,
  temporalSettingsFromEnv,
  type TemporalSettings,
} from '../client/temporalConnection.js';

export { bundlerOptions } from './workflowBundle.js';

export interface AimWorkerOptions {
  /** How to connect (client/temporalConnection.ts: address, TLS, API key); wins over `temporalAddress`. */
  temporal?: TemporalSettings;
  /** A plaintext address (tests on the local dev server) when `temporal` is not given. */
  temporalAddress?: string;
  namespace?: string;
  taskQueue?: string;
  kubeConfig: KubeConfig;
  settings?: WorkerSettings;
  /**
   * Payload codec and failure converter for the worker and the activities' own client (client/dataConverter.ts,
   * `dataConverterFromEnv()` in production). Default: the SDK's, payloads in plain JSON.
   */
  dataConverter?: DataConverter;
  /** Prebuilt workflow bundle (default: $AIM_WORKFLOW_BUNDLE, else dist/workflow-bundle.js, else the sources). */
  workflowBundlePath?: string;
  /** Extra Worker options (tests shorten shutdown, production sets identity). */
  overrides?: Partial<WorkerOptions>;
}

/** Builds the worker: the prebuilt workflow bundle (or the sources in development), activities bound to the cluster. */
export interface AimWorker {
  worker: Worker;
  /** The worker's read cache (absent with AIM_READ_CACHE=off), for the process's other readers (cluster metrics). */
  reads?: ClusterReadCache;
  /** Closes the worker's Temporal connections (after `worker.run()` has returned). */
  close(): Promise<void>;
}

export async function createWorker(opts: AimWorkerOptions): Promise<AimWorker> {
  const settings =
    opts.temporal ?? temporalSettingsFromEnv({}, opts.temporalAddress ? { address: opts.temporalAddress } : {});
  const connection = await NativeConnection.connect(settings.connection).catch((err: unknown) => {
    throw explainConnectError(err, settings);
  });
  const taskQueue = opts.taskQueue ?? TASK_QUEUE;
  // Activities start other objects' workflows by signal-with-start; they need a client of their own.
  let clientConnection: Connection;
  try {
    clientConnection = await connectTemporalClient(settings);
  } catch (err) {
    await connection.close();
    throw err;
  }
  const client = new Client({
    connection: clientConnection,
    namespace: opts.namespace ?? 'default',
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
  });
  const bundlePath = opts.workflowBundlePath ?? process.env[BUNDLE_ENV];
  const code = chooseWorkflowCode({
    ...(bundlePath ? { bundlePath } : {}),
    encodedFailures: Boolean(opts.dataConverter?.failureConverterPath),
  });
  Runtime.instance().logger.info(`workflow code: ${code.description}`);
  // Reads from watch-backed caches, writes to the API server (issue 15; the default, AIM_READ_CACHE=off reads directly).
  // Without settings the activities read theirs from the env (createContext), and so does this.
  const cacheOn = opts.settings ? opts.settings.readCache === true : readCacheFromEnv(process.env);
  const readCache: RunningReadCache | undefined = cacheOn
    ? startReadCache(opts.kubeConfig, {
        log: (msg) => Runtime.instance().logger.warn(msg),
        // A pass that read from memory before a change had reached it looks again (readCache.ts rule 5).
        nudge: (workflowId) => client.workflow.getHandle(workflowId).signal(changedSignal, { uid: '' }),
      })
    : undefined;
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace ?? 'default',
    taskQueue,
    ...code.options,
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
    activities: createActivities(opts.kubeConfig, opts.settings, temporalNudger(client, taskQueue), readCache?.cache),
    // Every Kubernetes error an activity lets through is typed here, so no call can skip the mapping.
    interceptors: { activity: [kubeFailureInterceptor] },
    ...opts.overrides,
  }).catch(async (err: unknown) => {
    await readCache?.stop();
    throw err;
  });
  return {
    worker,
    ...(readCache ? { reads: readCache.cache } : {}),
    close: async () => {
      await readCache?.stop();
      await connection.close();
      await clientConnection.close();
    },
  };
}
