/**
 * Worker start-up with and without the prebuilt workflow bundle (`npm run build` first):
 *   npm run bench:startup   (npm run build && tsx bench/workerStartup.ts [RUNS])
 * Each run starts the compiled worker (node dist/worker/main.js) against a local Temporal dev server and measures
 * process start → "Worker state changed RUNNING" (it polls from then on) and the process's peak RSS up to that moment
 * (VmHWM). "sources" is the image as it was: the workflow sources beside the compiled worker, bundled with webpack at
 * start; "bundle" is dist/ with the prebuilt bundle and no workflow sources.
 */
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { startTemporal } from '../test/harness/temporal.js';
import { BUNDLE_FILE } from '../worker/workflowBundle.js';
import { table } from '../client/aimctl/format.js';
import { IMAGE_ENV } from './imageEnv.js';

const ROOT = join(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');
const RUNS = Number(process.argv[2] ?? 3);

type Variant = 'sources' | 'bundle';

/** An app directory laid out like the image's /app for one variant. */
function appDir(work: string, variant: Variant): string {
  const app = join(work, variant);
  cpSync(DIST, join(app, 'dist'), {
    recursive: true,
    filter: (src) => !src.startsWith(join(DIST, 'test')) && !(variant === 'sources' && src.includes('workflow-bundle')),
  });
  if (variant === 'sources')
    for (const f of readdirSync(join(ROOT, 'workflows')).filter((x) => x.endsWith('.ts') && !x.endsWith('.test.ts')))
      cpSync(join(ROOT, 'workflows', f), join(app, 'dist', 'workflows', f));
  cpSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
  return app;
}

const peakRss = (pid: number) => {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
};

async function startOnce(app: string, env: NodeJS.ProcessEnv): Promise<{ ms: number; rss: number; source: string }> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(app, 'dist', 'worker', 'main.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let source = '';
  const result = await new Promise<{ ms: number; rss: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no RUNNING within 120 s\n${stderr}`)), 120_000);
    child.once('exit', (code) => reject(new Error(`worker exited ${code}\n${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('workflow code:')) source = /workflow code: ([^"]+)/.exec(line)?.[1] ?? '';
      if (line.includes('Worker state changed') && line.includes('RUNNING')) {
        clearTimeout(timer);
        resolve({ ms: performance.now() - started, rss: peakRss(child.pid!) });
      }
    });
  });
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  return { ...result, source };
}

async function main(): Promise<void> {
  if (!existsSync(join(DIST, BUNDLE_FILE))) throw new Error('run "npm run build" first (no dist/workflow-bundle.js)');
  const work = mkdtempSync(join(tmpdir(), 'aim-startup-'));
  const temporal = await startTemporal({ workDir: work, headless: true });
  try {
    // The worker reads a kubeconfig at start but needs no API server until a workflow runs.
    const kubeconfig = join(work, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    const env = {
      PATH: process.env.PATH,
      HOME: work,
      KUBECONFIG: kubeconfig,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      AIM_TASK_QUEUE: 'startup-bench',
      AIM_METRICS_ADDRESS: 'off',
      AIM_SHARED_CACHE_TTL: '0',
      ...IMAGE_ENV,
    };
    const apps = { sources: appDir(work, 'sources'), bundle: appDir(work, 'bundle') };
    const rows: string[][] = [];
    for (let i = 1; i <= RUNS; i++) {
      for (const variant of ['sources', 'bundle'] as const) {
        const r = await startOnce(apps[variant], env);
        rows.push([variant, String(i), (r.ms / 1000).toFixed(2), (r.rss / 2 ** 20).toFixed(0), r.source]);
      }
    }
    const load = loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    process.stdout.write(`${cpus().length} cores, load average ${load}, Node ${process.version}\n`);
    process.stdout.write(
      `${table(['VARIANT', 'RUN', 'START→POLLING (s)', 'PEAK RSS (MiB)', 'WORKFLOW CODE'], rows)}\n`,
    );
  } finally {
    await temporal.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
