import { createRequire } from 'node:module';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { KubeConfig } from '@kubernetes/client-node';
import { createActivities } from '../activities/index.js';
import type { WorkerSettings } from '../activities/context.js';
import { TASK_QUEUE } from '../workflows/signals.js';

const require = createRequire(import.meta.url);

/** Sources use NodeNext-style `.js` specifiers for `.ts` files; let the workflow bundler (webpack) map them. */
export const bundlerOptions: WorkerOptions['bundlerOptions'] = {
  webpackConfigHook: (config) => {
    config.resolve = { ...config.resolve, extensionAlias: { '.js': ['.ts', '.js'] } };
    return config;
  },
};

export interface AimWorkerOptions {
  temporalAddress: string;
  namespace?: string;
  taskQueue?: string;
  kubeConfig: KubeConfig;
  settings?: WorkerSettings;
  /** Extra Worker options (tests shorten shutdown, production sets identity). */
  overrides?: Partial<WorkerOptions>;
}

/** Builds the worker: workflows bundled from workflows/index.ts, activities bound to the given cluster. */
export async function createWorker(opts: AimWorkerOptions): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect({ address: opts.temporalAddress });
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    workflowsPath: require.resolve('../workflows/index.ts'),
    bundlerOptions,
    activities: createActivities(opts.kubeConfig, opts.settings),
    ...opts.overrides,
  });
  return { worker, connection };
}
