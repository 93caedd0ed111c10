import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, type WorkerOptions } from '@temporalio/worker';
import type { Compiler } from 'webpack';
import { failureConverterPath } from '../client/dataConverter.js';

/**
 * The workflow code the worker runs, prebuilt: `npm run build` (and the image) bundles workflows/index.ts once with
 * webpack into dist/, and the worker loads that file instead of bundling at every start (seconds of CPU and a memory
 * peak exactly when a crashed or scaled-out worker should be polling). Bundling from sources stays for development.
 */

const require = createRequire(import.meta.url);

/** Sources use NodeNext-style `.js` specifiers for `.ts` files; let the workflow bundler (webpack) map them. */
export const bundlerOptions: WorkerOptions['bundlerOptions'] = {
  webpackConfigHook: (config) => {
    config.resolve = { ...config.resolve, extensionAlias: { '.js': ['.ts', '.js'] } };
    return config;
  },
};

/**
 * The sandbox's failure converter is compiled into the bundle, so each converter the worker may use gets its own
 * bundle: `plain` (the SDK's) and `encodedFailures` (client/failureConverter.cts, chosen with a payload key).
 */
export const BUNDLE_VARIANTS = ['plain', 'encodedFailures'] as const;
export type BundleVariant = (typeof BUNDLE_VARIANTS)[number];

export const BUNDLE_FILE = 'workflow-bundle.js';
/** Beside the bundles: the digest of the sources they were built from (see `workflowSourcesDigest`). */
export const BUNDLE_MANIFEST_FILE = 'workflow-bundle.json';
/** The environment variable naming the plain bundle (its variants sit beside it). */
export const BUNDLE_ENV = 'AIM_WORKFLOW_BUNDLE';

/** `dist/workflow-bundle.js` → `dist/workflow-bundle.encoded-failures.js` for the encoded-failures variant. */
export function variantPath(plainPath: string, variant: BundleVariant): string {
  return variant === 'plain' ? plainPath : plainPath.replace(/(\.js)?$/, '.encoded-failures.js');
}

export interface BundleManifest {
  /** sha256 over the project files webpack read (path and content), see `workflowSourcesDigest`. */
  sourcesDigest: string;
  /** Those files, relative to the project root. */
  sources: string[];
  /** File name of each variant, relative to the manifest. */
  variants: Record<BundleVariant, string>;
}

/** sha256 over each file's root-relative path and content, in sorted order: what a rebuild would have to reproduce. */
export function workflowSourcesDigest(root: string, files: string[]): string {
  const hash = createHash('sha256');
  for (const file of [...files].sort()) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(join(root, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

const isFile = (path: string) => statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;

/** Records every project source file (not node_modules, not package.json) webpack reads, so the manifest can name what the bundle is made of. */
function recordSources(root: string, into: Set<string>) {
  return (compiler: Compiler) => {
    compiler.hooks.afterCompile.tap('aim-workflow-sources', (compilation) => {
      for (const file of compilation.fileDependencies) {
        const rel = relative(root, file);
        const parts = rel.split(/[\\/]/);
        if (rel.startsWith('..') || parts.includes('node_modules') || parts.at(-1) === 'package.json') continue;
        if (isFile(file)) into.add(rel);
      }
    });
  };
}

/**
 * Bundles `workflows/index.ts` under `root` into `outDir` (one file per variant plus the manifest) and returns the
 * manifest. Used by `npm run build`, the Dockerfile and the test that proves bundle and sources agree.
 */
export async function buildWorkflowBundles(root: string, outDir: string): Promise<BundleManifest> {
  const workflowsPath = join(root, 'workflows', 'index.ts');
  const plainPath = join(outDir, BUNDLE_FILE);
  const files = new Set<string>();
  // The converter's source when building from a checkout, so that the digest names sources, not compiled output.
  const converterSource = join(root, 'client', 'failureConverter.cts');
  const converter = existsSync(converterSource) ? converterSource : failureConverterPath();
  await mkdir(outDir, { recursive: true });
  for (const variant of BUNDLE_VARIANTS) {
    const { code } = await bundleWorkflowCode({
      workflowsPath,
      logger: new DefaultLogger('WARN'),
      ...(variant === 'encodedFailures' ? { failureConverterPath: converter } : {}),
      webpackConfigHook: (config) => {
        const hooked = bundlerOptions?.webpackConfigHook?.(config) ?? config;
        hooked.plugins = [...(hooked.plugins ?? []), { apply: recordSources(root, files) }];
        return hooked;
      },
    });
    await writeFile(variantPath(plainPath, variant), code);
  }
  const sources = [...files].sort();
  const manifest: BundleManifest = {
    sourcesDigest: workflowSourcesDigest(root, sources),
    sources,
    variants: {
      plain: BUNDLE_FILE,
      encodedFailures: relative(outDir, variantPath(plainPath, 'encodedFailures')),
    },
  };
  await writeFile(join(outDir, BUNDLE_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** The bundle of a compiled worker: dist/workflow-bundle.js beside dist/worker/. */
const DEFAULT_BUNDLE_PATH = fileURLToPath(new URL(`../${BUNDLE_FILE}`, import.meta.url));

export type WorkflowCodeOptions = Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'bundlerOptions'>;

export interface WorkflowCodeChoice {
  options: WorkflowCodeOptions;
  /** What the worker runs, for its start-up log line. */
  description: string;
}

/**
 * Where the worker's workflow code comes from:
 * 1. `bundlePath` (option or AIM_WORKFLOW_BUNDLE): that prebuilt bundle, which must exist;
 * 2. dist/workflow-bundle.js beside the compiled worker (the image, `npm run build`);
 * 3. the workflow sources (development: tsx, tests), bundled at start.
 * `encodedFailures` picks the bundle variant that matches the worker's failure converter.
 */
export function chooseWorkflowCode(opts: { bundlePath?: string; encodedFailures: boolean }): WorkflowCodeChoice {
  const variant: BundleVariant = opts.encodedFailures ? 'encodedFailures' : 'plain';
  const prebuilt = (plain: string) => {
    const codePath = variantPath(resolve(plain), variant);
    if (!existsSync(codePath))
      throw new Error(`${BUNDLE_ENV}: no workflow bundle at ${codePath} (built by "npm run build")`);
    return { options: { workflowBundle: { codePath } }, description: `prebuilt workflow bundle ${codePath}` };
  };
  if (opts.bundlePath) return prebuilt(opts.bundlePath);
  if (existsSync(variantPath(DEFAULT_BUNDLE_PATH, variant))) return prebuilt(DEFAULT_BUNDLE_PATH);
  const sources = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
  if (!existsSync(sources))
    throw new Error(
      `no workflow bundle at ${DEFAULT_BUNDLE_PATH} and no workflow sources at ${dirname(sources)}: run "npm run build" or set ${BUNDLE_ENV}`,
    );
  return {
    options: { workflowsPath: require.resolve(sources), bundlerOptions },
    description: `workflows bundled from sources ${dirname(sources)} (development)`,
  };
}
