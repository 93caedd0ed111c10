import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { bundlerOptions } from '../../worker/worker.js';

/**
 * Recorded histories of real runs (test/histories/, written by the integration suite with RECORD_HISTORIES=1) are
 * replayed against today's workflow code: a change that breaks determinism fails here, not in a customer's cluster.
 */
const dir = join(import.meta.dirname, '..', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
const require = createRequire(import.meta.url);

describe('workflow replay', () => {
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)(
    '%s replays deterministically',
    async (file) => {
      const history = JSON.parse(readFileSync(join(dir, file), 'utf8')) as object;
      await Worker.runReplayHistory(
        { workflowsPath: require.resolve('../../workflows/index.ts'), bundlerOptions },
        history as never,
        file.replace(/\.json$/, ''),
      );
    },
    120_000,
  );
});
