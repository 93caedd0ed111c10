// Recorded histories for the replay test (test/unit/replay.test.ts): a run of a real workflow, written to
// test/histories/ when the suite runs with RECORD_HISTORIES=1, so that a later workflow change which would break runs
// started by this version fails replay.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';

export const HISTORIES_DIR = join(import.meta.dirname, '..', 'histories');

/** With RECORD_HISTORIES=1: the run of `workflowId` as `test/histories/<file>.json`; otherwise nothing. */
export async function recordHistory(client: Client, workflowId: string, file: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  writeFileSync(join(HISTORIES_DIR, `${file}.json`), historyToJSON(history));
}

/** The same for the AIMModelCache `name` in `namespace`. */
export const recordCacheHistory = (client: Client, namespace: string, name: string, file: string) =>
  recordHistory(client, `aim/AIMModelCache/${namespace}/${name}`, file);
