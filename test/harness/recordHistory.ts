// Recorded histories for the replay test (test/unit/replay.test.ts): a run of a real workflow, written to
// test/histories/ when the suite runs with RECORD_HISTORIES=1, so that a later workflow change which would break runs
// started by this version fails replay.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';

export const HISTORIES_DIR = join(import.meta.dirname, '..', 'histories');

export const recordingHistories = () => process.env.RECORD_HISTORIES === '1';

/** A run of `workflowId` (the latest unless `runId`) as the JSON the replay test reads. */
export async function historyJSON(client: Client, workflowId: string, runId?: string): Promise<string> {
  return historyToJSON(await client.workflow.getHandle(workflowId, runId).fetchHistory());
}

/** With RECORD_HISTORIES=1: the run of `workflowId` (the latest unless `runId`) as `test/histories/<file>.json`. */
export async function recordHistory(client: Client, workflowId: string, file: string, runId?: string): Promise<void> {
  if (!recordingHistories()) return;
  writeHistory(file, await historyJSON(client, workflowId, runId));
}

/** `history` (from historyJSON) as `test/histories/<file>.json` with RECORD_HISTORIES=1. */
export function writeHistory(file: string, history: string): void {
  if (recordingHistories()) writeFileSync(join(HISTORIES_DIR, `${file}.json`), history);
}

/** The same for the AIMModelCache `name` in `namespace`. */
export const recordCacheHistory = (client: Client, namespace: string, name: string, file: string) =>
  recordHistory(client, `aim/AIMModelCache/${namespace}/${name}`, file);
