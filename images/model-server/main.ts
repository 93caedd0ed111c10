/**
 * A stand-in for vLLM in the serving container: reads the model directory the InferenceService mounts from the
 * cache volume and serves an OpenAI-compatible API over it, without any inference. It refuses to start (exit 1, the
 * reason on stderr and in the termination log) when the directory is missing or empty or config.json is unreadable,
 * as a real server fails on missing weights, so a bad cache shows up as a crash loop that KServe reports.
 *
 * Options (flags first, then env):
 *   --model-dir  default `$AIM_CACHE_PATH/$AIM_MODEL_ID` (the paths the InferenceService mounts)
 *   --model-dir-shown-as  the model directory's name in messages, default `$AIM_CACHE_PATH/$AIM_MODEL_ID`: the
 *                path in the container when the process kubelet has the server read a host directory
 *   --model-id   default `$AIM_MODEL_ID`
 *   --host       default `0.0.0.0` (the process kubelet's image mapping passes the pod IP)
 *   --port       default `$AIM_PORT`, else 8000 (the InferenceService's container port)
 *   --termination-log  default `$TERMINATION_MESSAGE_PATH`, else /dev/termination-log
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { inspectModelDir, ModelLoadError } from './model.js';
import { startServer } from './server.js';

function log(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ ts: new Date().toISOString(), component: 'aim-model-server', event, ...fields }));
}

function fail(message: string, terminationLog: string): number {
  console.error(`aim-model-server: ${message}`);
  try {
    writeFileSync(terminationLog, message.slice(0, 4096));
  } catch {
    // no termination log outside a pod: stderr has it
  }
  return 1;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'model-dir': { type: 'string' },
      'model-dir-shown-as': { type: 'string' },
      'model-id': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'termination-log': { type: 'string' },
    },
  });
  const env = process.env;
  const terminationLog = values['termination-log'] ?? (env.TERMINATION_MESSAGE_PATH || '/dev/termination-log');
  const modelId = values['model-id'] ?? env.AIM_MODEL_ID ?? '';
  if (!modelId) return fail('no model: set AIM_MODEL_ID or --model-id', terminationLog);
  const containerModelDir = join(env.AIM_CACHE_PATH ?? '/workspace/model-cache', modelId);
  const modelDir = values['model-dir'] ?? containerModelDir;
  const shownAs = values['model-dir-shown-as'] ?? containerModelDir;
  const host = values.host ?? '0.0.0.0';
  const port = Number(values.port ?? (env.AIM_PORT || 8000));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return fail(`invalid port ${values.port}`, terminationLog);

  log('loading', { modelId, modelDir });
  let inventory;
  try {
    inventory = await inspectModelDir(modelDir, shownAs);
  } catch (err) {
    if (err instanceof ModelLoadError) return fail(`cannot load model ${modelId}: ${err.message}`, terminationLog);
    throw err;
  }
  log('loaded', { files: inventory.files.length, totalBytes: inventory.totalBytes, digest: inventory.digest });

  let server;
  try {
    server = await startServer({ modelId, inventory, createdAt: Math.floor(Date.now() / 1000) }, host, port);
  } catch (err) {
    return fail(
      `cannot listen on ${host}:${port}: ${err instanceof Error ? err.message : String(err)}`,
      terminationLog,
    );
  }
  log('listening', { host, port });
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      log('stopping');
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.exit(fail(message, process.env.TERMINATION_MESSAGE_PATH || '/dev/termination-log'));
  },
);
