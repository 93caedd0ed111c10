import { z } from 'zod';
import { stringify } from 'yaml';
import { API_VERSION, LABELS, MANAGED_BY } from '../constants.js';
import { QUANTITY_PATTERN } from '../quantity.js';
import type { KindDef } from '../kinds.js';
import { crdRegistry } from './registry.js';

type Json = Record<string, unknown>;

/**
 * zod → OpenAPI v3 (openapi-3.0 target) → a structural schema the API server accepts.
 * zod's output is close but not structural: this pass drops `additionalProperties: false` beside `properties`,
 * turns `const` into `enum`, renders quantities as int-or-string, adds CEL rules and list-map markers from
 * `crdRegistry`, and refuses any union it does not know (a union must be one object plus CEL).
 */
export function toStructuralSchema(schema: z.ZodType): Json {
  const json = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'input',
    unrepresentable: 'throw',
    override: (ctx) => {
      const meta = crdRegistry.get(ctx.zodSchema);
      if (!meta) return;
      const out = ctx.jsonSchema as Json;
      if (meta.quantity) {
        for (const k of Object.keys(out)) delete out[k];
        Object.assign(out, {
          anyOf: [{ type: 'integer' }, { type: 'string' }],
          pattern: QUANTITY_PATTERN,
          // Bounds the cost of quantity() in CEL rules (no real quantity is longer).
          maxLength: 64,
          'x-kubernetes-int-or-string': true,
        });
      }
      if (meta.listMapKeys) {
        out['x-kubernetes-list-type'] = 'map';
        out['x-kubernetes-list-map-keys'] = meta.listMapKeys;
      }
      if (meta.cel?.length) out['x-kubernetes-validations'] = meta.cel.map((r) => ({ ...r }));
    },
  }) as Json;
  delete json.$schema;
  return structural(json, '');
}

const SAFE = Number.MAX_SAFE_INTEGER;

function structural(node: Json, path: string): Json {
  const out: Json = { ...node };
  if ('const' in out) {
    out.enum = [out.const];
    delete out.const;
  }
  if (out.anyOf && !out['x-kubernetes-int-or-string']) {
    throw new Error(`${path || '<root>'}: unions are not structural; model them as one object plus a CEL rule`);
  }
  if (out.oneOf || out.allOf || out.not || out.$ref) {
    throw new Error(`${path || '<root>'}: oneOf/allOf/not/$ref are not supported in CRD schemas`);
  }
  if (out.properties) {
    delete out.additionalProperties;
    const props = out.properties as Record<string, Json>;
    const required = new Set((out.required as string[] | undefined) ?? []);
    out.properties = Object.fromEntries(
      Object.entries(props).map(([k, v]) => {
        const child = structural(v, `${path}.${k}`);
        // A parent of defaulted fields defaults too, so that the API server applies the inner defaults. The default
        // is written out ({} plus the children's defaults): the API server checks defaults against CEL rules as they
        // stand, and a rule such as `self.mode == oldSelf.mode` fails on a bare {}.
        if (!required.has(k) && child.type === 'object' && hasDefaultedChild(child)) {
          child.default = { ...childDefaults(child), ...((child.default as Json | undefined) ?? {}) };
        }
        return [k, child];
      }),
    );
    if (required.size === 0) delete out.required;
  } else if (out.additionalProperties && typeof out.additionalProperties === 'object') {
    out.additionalProperties = structural(out.additionalProperties as Json, `${path}.*`);
  } else if (out.additionalProperties === false) {
    delete out.additionalProperties;
  }
  delete out.propertyNames;
  if (out.items) out.items = structural(out.items as Json, `${path}[]`);
  if (out.type === 'integer' || out.type === 'number') {
    if (out.minimum === -SAFE) delete out.minimum;
    if (out.maximum === SAFE) delete out.maximum;
  }
  if (out.format === 'date-time') delete out.pattern;
  if (out.minItems === 0) delete out.minItems;
  return out;
}

function childDefaults(node: Json): Json {
  const props = (node.properties as Record<string, Json> | undefined) ?? {};
  return Object.fromEntries(
    Object.entries(props)
      .filter(([, c]) => c.default !== undefined)
      .map(([k, c]) => [k, c.default]),
  );
}

function hasDefaultedChild(node: Json): boolean {
  return Object.values((node.properties as Record<string, Json> | undefined) ?? {}).some(
    (c) => c.default !== undefined,
  );
}

export function toCrd(def: KindDef): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: def.crdName, labels: { [LABELS.managedBy]: MANAGED_BY } },
    spec: {
      group: def.group,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: [def.shortName],
        categories: ['aim', 'all'],
      },
      scope: def.scope,
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: toStructuralSchema(def.spec),
                status: toStructuralSchema(def.status),
              },
            },
          },
        },
      ],
    },
  };
}

export const CRD_HEADER = '# Generated from schemas/ by `npm run crds`. Do not edit: change the zod schemas instead.\n';

export function renderCrd(def: KindDef): string {
  return CRD_HEADER + stringify(toCrd(def), { lineWidth: 0, aliasDuplicateObjects: false });
}

export function crdFileName(def: KindDef): string {
  return `${def.group}_${def.plural}.yaml`;
}
