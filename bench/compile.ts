/**
 * Compiles the programs the benches run as separate processes, the way the images ship them (Dockerfile,
 * images/downloader/Dockerfile): tsc to JavaScript, with the workflow sources copied beside the compiled worker
 * (the worker bundles them with webpack at start-up). tsx's start-up transpiling is therefore never measured: not in
 * the worker, the downloader, nor the model server the predictor pods run (images/model-server, the stand-in for
 * vLLM in the AIM serving image).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
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
}

/** Inside the repo, so that node_modules and `"type": "module"` resolve. Ignored by git (`.aim/`). */
const DIST = join(REPO_ROOT, '.aim', 'bench-dist');

const workflowSources = () =>
  readdirSync(join(REPO_ROOT, 'workflows')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));

export function compileForBench(): CompiledPrograms {
  const entries = [
    'worker/cli.ts',
    'worker/main.ts',
    'bridge/main.ts',
    'downloader/main.ts',
    'images/model-server/main.ts',
    'bench/requestTap.ts',
    // What the workflows import (domain/…): the worker bundles the copied workflow sources against compiled modules.
    ...workflowSources().map((f) => `workflows/${f}`),
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
  const workflows = join(DIST, 'workflows');
  mkdirSync(workflows, { recursive: true });
  for (const f of workflowSources()) copyFileSync(join(REPO_ROOT, 'workflows', f), join(workflows, f));
  const out = {
    dist: DIST,
    cli: join(DIST, 'worker', 'cli.js'),
    downloader: join(DIST, 'downloader', 'main.js'),
    modelServer: join(DIST, 'images', 'model-server', 'main.js'),
    requestTap: join(DIST, 'bench', 'requestTap.js'),
  };
  for (const f of [out.cli, out.downloader, out.modelServer, out.requestTap])
    if (!existsSync(f)) throw new Error(`compiling for the bench: no ${f}`);
  return out;
}
