import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/** The determinism guard of workflow files is a lint rule: prove it fires (and stays quiet on allowed imports). */
describe('workflow lint rule', () => {
  // The probe file does not exist on disk, so lint it without type information (the rule under test needs none).
  const eslint = new ESLint({
    cwd: process.cwd(),
    overrideConfig: {
      languageOptions: { parserOptions: { projectService: false, project: null } },
      rules: { '@typescript-eslint/no-floating-promises': 'off' },
    },
  });
  const lint = async (code: string) => {
    const [result] = await eslint.lintText(code, { filePath: 'workflows/__lint_probe.ts' });
    return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
  };

  it.each([
    ["import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", 'Node built-ins'],
    ["import { randomUUID } from 'crypto';\nexport const x = randomUUID;\n", 'Node built-ins'],
    ["import { KubeConfig } from '@kubernetes/client-node';\nexport const x = KubeConfig;\n", 'do I/O'],
    ["import { z } from 'zod';\nexport const x = z;\n", 'validation runs in activities'],
    ["import { KINDS } from '../schemas/index.js';\nexport const x = KINDS;\n", 'only types and constants'],
  ])('refuses %j', async (code, message) => {
    const messages = await lint(code);
    expect(
      messages.some((m) => m.includes(message)),
      JSON.stringify(messages),
    ).toBe(true);
  });

  it('allows types from schemas/ and plain constants', async () => {
    const code =
      "import type { AIMModel } from '../schemas/types.js';\nimport { LABELS } from '../schemas/constants.js';\n" +
      "import { proxyActivities } from '@temporalio/workflow';\nexport type M = AIMModel;\nexport const x = [LABELS, proxyActivities];\n";
    expect(await lint(code)).toEqual([]);
  });
}, 60_000);
