/**
 * `node dist/worker/buildWorkflowBundle.js [OUT_DIR]` (run by `npm run build` and the Dockerfile): bundles the
 * workflows of the project in the working directory into OUT_DIR (default dist/), see worker/workflowBundle.ts.
 */
import { resolve } from 'node:path';
import { buildWorkflowBundles } from './workflowBundle.js';

const outDir = resolve(process.argv[2] ?? 'dist');
const started = Date.now();
const manifest = await buildWorkflowBundles(process.cwd(), outDir);
process.stdout.write(
  `workflow bundles in ${outDir} from ${manifest.sources.length} source files (sha256 ${manifest.sourcesDigest.slice(0, 12)}) in ${Date.now() - started} ms\n`,
);
