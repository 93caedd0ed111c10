import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The secrets audit (issue: secrets never enter workflow inputs, histories, status or messages). It runs last (see
 * the sequencer in vitest.config.ts), exports every workflow history the integration suite produced from the real
 * Temporal server, and scans them for every secret value the tests used: zero hits.
 */
const dir = import.meta.dirname;

/** Secret values the suite puts into Kubernetes Secrets or tool env: taken from the test files themselves. */
function secretValues(): string[] {
  const values = new Set<string>(['hf_valid', 'hf_noaccess', 'hf_invalidtokenvalue123']);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.test.ts'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    for (const m of text.matchAll(/const SECRET = '([^']+)'/g)) values.add(m[1]!);
    for (const m of text.matchAll(/secret: '([^']{6,})'/g)) values.add(m[1]!);
    for (const m of text.matchAll(/'secret-key': ([A-Z_]+|'[^']+')/g))
      if (m[1]!.startsWith("'")) values.add(m[1]!.slice(1, -1));
  }
  return [...values];
}

let connection: Connection;
let client: Client;

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: inject('temporalNamespace') });
});
afterAll(async () => connection?.close());

describe('secrets audit', () => {
  it('finds the secret values the suite used', () => {
    const values = secretValues();
    expect(values).toContain('svc-secret-value-7');
    expect(values.length).toBeGreaterThan(6);
  });

  it('no workflow history of the suite contains any of them', async () => {
    const values = secretValues();
    let histories = 0;
    const hits: string[] = [];
    for await (const wf of client.workflow.list({ query: 'WorkflowId STARTS_WITH "aim/"' })) {
      const history = historyToJSON(await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory());
      histories += 1;
      for (const v of values) if (history.includes(v)) hits.push(`${wf.workflowId}: ${v.slice(0, 4)}…`);
    }
    expect(histories).toBeGreaterThan(0);
    expect(hits).toEqual([]);
  });
});
