import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUNDLE_FILE,
  BUNDLE_MANIFEST_FILE,
  buildWorkflowBundles,
  chooseWorkflowCode,
  variantPath,
  workflowSourcesDigest,
  type BundleManifest,
} from '../../worker/workflowBundle.js';

/**
 * The prebuilt workflow bundle (worker/workflowBundle.ts) is what production workers run, so it must be the
 * workflow sources: built here fresh (CI runs from a clean clone), it names every workflow file, replays every
 * recorded history, and a bundle left in dist/ by an earlier `npm run build` must match today's sources.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const HISTORIES = join(ROOT, 'test', 'histories');
let out: string;
let manifest: BundleManifest;

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'aim-bundle-'));
  manifest = await buildWorkflowBundles(ROOT, out);
}, 120_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('prebuilt workflow bundle', () => {
  it('is built from every registered workflow and what it imports; its digest is that of those files today', () => {
    const index = readFileSync(join(ROOT, 'workflows', 'index.ts'), 'utf8');
    const workflowFiles = [...index.matchAll(/from '\.\/(\w+)\.js'/g)].map((m) => `workflows/${m[1]}.ts`);
    expect(workflowFiles.length).toBeGreaterThan(5);
    expect(manifest.sources).toEqual(expect.arrayContaining(workflowFiles));
    expect(manifest.sources.some((f) => f.startsWith('domain/'))).toBe(true);
    expect(manifest.sources.every((f) => !f.startsWith('dist/') && !f.includes('node_modules'))).toBe(true);
    expect(manifest.sourcesDigest).toBe(workflowSourcesDigest(ROOT, manifest.sources));
    expect(JSON.parse(readFileSync(join(out, BUNDLE_MANIFEST_FILE), 'utf8'))).toEqual(manifest);
  });

  it('compiles the payload-key failure converter into the encoded-failures variant only', () => {
    const plain = readFileSync(join(out, BUNDLE_FILE), 'utf8');
    const encoded = readFileSync(variantPath(join(out, BUNDLE_FILE), 'encodedFailures'), 'utf8');
    // Booleans, not the 2 MB texts, in a failure message.
    const converter = 'new DefaultFailureConverter({ encodeCommonAttributes: true })';
    expect(encoded.includes(converter)).toBe(true);
    expect(plain.includes(converter)).toBe(false);
  });

  it('is what the worker loads when given, in the variant of its failure converter', () => {
    const plainPath = join(out, BUNDLE_FILE);
    expect(chooseWorkflowCode({ bundlePath: plainPath, encodedFailures: false }).options).toEqual({
      workflowBundle: { codePath: plainPath },
    });
    expect(chooseWorkflowCode({ bundlePath: plainPath, encodedFailures: true }).options).toEqual({
      workflowBundle: { codePath: variantPath(plainPath, 'encodedFailures') },
    });
    expect(() => chooseWorkflowCode({ bundlePath: join(out, 'missing.js'), encodedFailures: false })).toThrow(
      /AIM_WORKFLOW_BUNDLE: no workflow bundle at .*missing\.js/,
    );
  });

  it('falls back to bundling the sources in development (no dist/ beside the worker sources)', () => {
    const choice = chooseWorkflowCode({ encodedFailures: false });
    expect(choice.options.workflowsPath).toBe(join(ROOT, 'workflows', 'index.ts'));
    expect(choice.description).toMatch(/development/);
  });

  it('replays every recorded history', async () => {
    const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    const histories = files.map((f) => ({
      workflowId: f.replace(/\.json$/, ''),
      history: JSON.parse(readFileSync(join(HISTORIES, f), 'utf8')) as never,
    }));
    const failed: string[] = [];
    let replayed = 0;
    for await (const r of Worker.runReplayHistories(
      { workflowBundle: { codePath: join(out, BUNDLE_FILE) } },
      histories,
    )) {
      replayed++;
      if (r.error) failed.push(`${r.workflowId}: ${String(r.error)}`);
    }
    expect(failed).toEqual([]);
    expect(replayed).toBe(files.length);
  }, 120_000);

  it.skipIf(!existsSync(join(ROOT, 'dist', BUNDLE_MANIFEST_FILE)))(
    'left in dist/ by npm run build, matches the sources of today (rebuild after editing a workflow)',
    () => {
      const built = JSON.parse(readFileSync(join(ROOT, 'dist', BUNDLE_MANIFEST_FILE), 'utf8')) as BundleManifest;
      expect(built.sources).toEqual(manifest.sources);
      expect(built.sourcesDigest, 'dist/ holds a stale workflow bundle: run npm run build').toBe(
        manifest.sourcesDigest,
      );
    },
  );
});
