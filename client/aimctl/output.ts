import { stringify } from 'yaml';
import { KINDS, type KindName } from '../../schemas/kinds.js';
import type { AimObject } from '../sdk.js';
import { cell, table } from './format.js';
import { compileJsonPath, JsonPathError } from './jsonpath.js';
import { resourceName, UsageError } from './session.js';

/** What `-o` asks for: kubectl's table, wide table, json, yaml, name or a JSONPath template. */
export type Output =
  { format: 'table' | 'wide' | 'json' | 'yaml' | 'name' } | { format: 'jsonpath'; render: (data: unknown) => string };

export const OUTPUT_HELP = 'wide | json | yaml | name | jsonpath=TEMPLATE';

/** Reads `-o`; a usage error for anything else (and for a template that does not parse). */
export function parseOutput(value: string | undefined, allowed: string[] = ['wide', 'json', 'yaml', 'name']): Output {
  if (value === undefined || value === 'table') return { format: 'table' };
  const jsonpath = /^jsonpath=(.*)$/s.exec(value);
  if (jsonpath && allowed.includes('jsonpath')) {
    try {
      return { format: 'jsonpath', render: compileJsonPath(jsonpath[1]!.replace(/^'(.*)'$/s, '$1')) };
    } catch (err) {
      if (err instanceof JsonPathError) throw new UsageError(`-o jsonpath: ${err.message}`);
      throw err;
    }
  }
  if (allowed.includes(value)) return { format: value as 'wide' | 'json' | 'yaml' | 'name' };
  throw new UsageError(
    `--output must be one of ${allowed.join(', ').replace('jsonpath', 'jsonpath=TEMPLATE')}, not "${value}"`,
  );
}

/** Header and rows of kind's table (columns of priority > 0 only with `-o wide`, as kubectl). */
export function objectTable(
  kind: KindName,
  items: AimObject[],
  opts: { wide: boolean; withNamespace: boolean },
): { header: string[]; rows: string[][] } {
  const cols = KINDS[kind].printColumns.filter((c) => !c.priority || opts.wide);
  const header = [...(opts.withNamespace ? ['NAMESPACE'] : []), 'NAME', ...cols.map((c) => c.name.toUpperCase())];
  const rows = items.map((o) => [
    ...(opts.withNamespace ? [o.metadata.namespace ?? ''] : []),
    o.metadata.name,
    ...cols.map((c) => cell(o, c)),
  ]);
  return { header, rows };
}

/**
 * Prints objects as `-o` asks. `single`: one object asked for by name (json/yaml/jsonpath see the object, not a
 * List). Returns false when a table had nothing to show (the caller says "No ... found.").
 */
export function formatObjects(
  kind: KindName,
  items: AimObject[],
  output: Output,
  opts: { single: boolean; withNamespace: boolean; header?: boolean },
): string | undefined {
  const value = opts.single ? items[0] : { apiVersion: 'v1', kind: 'List', items };
  switch (output.format) {
    case 'json':
      return JSON.stringify(value, null, 2);
    case 'yaml':
      return stringify(value);
    case 'jsonpath':
      return output.render(value);
    case 'name':
      return items.length ? items.map((o) => `${resourceName(kind)}/${o.metadata.name}`).join('\n') : undefined;
    default: {
      if (items.length === 0) return undefined;
      const { header, rows } = objectTable(kind, items, { wide: output.format === 'wide', ...opts });
      const text = table(header, rows);
      return opts.header === false ? text.split('\n').slice(1).join('\n') : text;
    }
  }
}
