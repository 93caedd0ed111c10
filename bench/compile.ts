/**
 * Compiles the programs the benches run as separate processes, the way the images ship them (Dockerfile,
 * images/downloader/Dockerfile): tsc to JavaScript, and the prebuilt workflow bundle beside the compiled worker
 * (dist/workflow-bundle.js, `npm run build`), which the worker loads instead of bundling with webpack at start-up.
 * tsx's start-up transpiling is therefore never measured: not in the worker, the downloader, nor the model server the
 * predictor pods run (images/model-server, the stand-in for vLLM in the AIM serving image).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/harness/stack.js';

export interface CompiledPrograms {
  dist: string;
  /** `node <cli> worker|bridge` (worker/cli.ts: the program of the orchestrator image). */
  cli: string;
  /** `node <downloader>` (downloader/main.ts: the program of the downloader image). */
  downloader: string;
  /** `node <modelServer>` (images/model-server/main.ts: what the process kubelet runs for the AIM serving image). */
  modelServer: string;
  /** `node --import <requestTap>`: logs the process's own Kubernetes API requests (bench/requestTap.ts). */
  requestTap: string;
  /** `node --import <memoryTap>`: logs the process's memory each second (bench/memoryTap.ts). */
  memoryTap: string;
}

/** Inside the repo, so that node_modules and `"type": "module"` resolve. Ignored by git (`.aim/`). */
const DIST = join(REPO_ROOT, '.aim', 'bench-dist');

export function compileForBench(): CompiledPrograms {
  const entries = [
    'worker/cli.ts',
    'worker/main.ts',
    'worker/buildWorkflowBundle.ts',
    'bridge/main.ts',
    'downloader/main.ts',
    'images/model-server/main.ts',
    'bench/requestTap.ts',
    'bench/memoryTap.ts',
  ].map((f) => join(REPO_ROOT, f));
  // The Dockerfile's flags, without type checking (that is `npm run typecheck`'s job; here it only costs time).
  const args = [
    join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
    ...entries,
    '--outDir',
    DIST,
    '--rootDir',
    REPO_ROOT,
    '--module',
    'NodeNext',
    '--moduleResolution',
    'NodeNext',
    '--target',
    'ES2022',
    '--strict',
    '--skipLibCheck',
    '--esModuleInterop',
    '--resolveJsonModule',
    '--types',
    'node',
    '--declaration',
    'false',
    '--sourceMap',
    'false',
    '--noCheck',
  ];
  execFileSync(process.execPath, args, { stdio: 'inherit', cwd: REPO_ROOT });
  // The image's step (Dockerfile: `node dist/worker/buildWorkflowBundle.js dist`): the bundle of the sources.
  execFileSync(process.execPath, [join(DIST, 'worker', 'buildWorkflowBundle.js'), DIST], {
    stdio: 'inherit',
    cwd: REPO_ROOT,
  });
  const out = {
    dist: DIST,
    cli: join(DIST, 'worker', 'cli.js'),
    downloader: join(DIST, 'downloader', 'main.js'),
    modelServer: join(DIST, 'images', 'model-server', 'main.js'),
    requestTap: join(DIST, 'bench', 'requestTap.js'),
    memoryTap: join(DIST, 'bench', 'memoryTap.js'),
  };
  for (const f of [
    out.cli,
    out.downloader,
    out.modelServer,
    out.requestTap,
    out.memoryTap,
    join(DIST, 'workflow-bundle.js'),
  ])
    if (!existsSync(f)) throw new Error(`compiling for the bench: no ${f}`);
  return out;
}
