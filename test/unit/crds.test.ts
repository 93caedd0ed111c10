import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { KINDS } from '../../schemas/index.js';
import { renderAll, staleCrdFiles } from '../../schemas/crd/generate.js';
import { toCrd } from '../../schemas/crd/toCrd.js';

type Json = Record<string, unknown>;

/** Walks every schema node with its path. */
function* nodes(schema: Json, path = ''): Generator<[string, Json]> {
  yield [path, schema];
  for (const [k, v] of Object.entries((schema.properties as Record<string, Json>) ?? {}))
    yield* nodes(v, `${path}.${k}`);
  if (schema.items) yield* nodes(schema.items as Json, `${path}[]`);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    yield* nodes(schema.additionalProperties as Json, `${path}.*`);
  }
}

const crdSchema = (kind: keyof typeof KINDS) =>
  ((toCrd(KINDS[kind]).spec as Json).versions as Json[])[0]!.schema as { openAPIV3Schema: Json };

describe('generated CRDs', () => {
  it('are committed and up to date (run npm run crds)', () => {
    expect(staleCrdFiles()).toEqual([]);
  });

  it('render one parseable CRD per kind', () => {
    const files = renderAll();
    expect(files.size).toBe(6);
    for (const text of files.values()) expect(parse(text).kind).toBe('CustomResourceDefinition');
  });

  it.each(Object.keys(KINDS) as Array<keyof typeof KINDS>)('%s is structural', (kind) => {
    for (const [path, node] of nodes(crdSchema(kind).openAPIV3Schema)) {
      // Structural: every node has a type, except int-or-string which must use exactly this anyOf.
      if (node['x-kubernetes-int-or-string']) {
        expect(node.anyOf, path).toEqual([{ type: 'integer' }, { type: 'string' }]);
      } else {
        expect(node.type, `${path} has no type`).toBeDefined();
        expect(node.anyOf, path).toBeUndefined();
      }
      expect(
        node.properties && node.additionalProperties !== undefined,
        `${path}: properties beside additionalProperties`,
      ).toBeFalsy();
      for (const k of ['const', '$ref', 'oneOf', 'allOf', 'not', 'nullable', 'propertyNames'])
        expect(node[k], `${path}.${k}`).toBeUndefined();
      // Every string and list is bounded, which keeps CEL cost estimates within budget.
      const topLevel = path === '.apiVersion' || path === '.kind';
      if (node.type === 'string' && !node.enum && !node.format && !topLevel)
        expect(node.maxLength, `${path} unbounded string`).toBeDefined();
      if (node.type === 'array') expect(node.maxItems, `${path} unbounded list`).toBeDefined();
    }
  });

  it('declares list-maps keyed by name and modelId', () => {
    const spec = (crdSchema('AIMModel').openAPIV3Schema.properties as Record<string, Json>).spec!;
    const props = spec.properties as Record<string, Json>;
    expect(props.modelSources).toMatchObject({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['modelId'],
    });
    expect(props.env).toMatchObject({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] });
    const status = (crdSchema('AIMModel').openAPIV3Schema.properties as Record<string, Json>).status!;
    expect((status.properties as Record<string, Json>).conditions).toMatchObject({
      'x-kubernetes-list-map-keys': ['type'],
    });
  });

  it('puts the exactly-one rule on spec.model with the spec message', () => {
    const spec = (crdSchema('AIMService').openAPIV3Schema.properties as Record<string, Json>).spec!;
    const model = (spec.properties as Record<string, Json>).model!;
    expect(model['x-kubernetes-validations']).toContainEqual(
      expect.objectContaining({ message: 'exactly one of name, image, or custom must be specified' }),
    );
    expect((spec.properties as Record<string, Json>).caching).toMatchObject({ default: { mode: 'Dedicated' } });
  });

  it('renders quantities as int-or-string with the quantity pattern', () => {
    const spec = (crdSchema('AIMModelCache').openAPIV3Schema.properties as Record<string, Json>).spec!;
    const size = (spec.properties as Record<string, Json>).size!;
    expect(size).toMatchObject({ 'x-kubernetes-int-or-string': true, pattern: expect.stringContaining('KMGTPE') });
  });

  it.each(Object.values(KINDS).map((k) => [k.kind, k] as const))(
    '%s has names, categories, status and columns',
    (_k, def) => {
      const crd = toCrd(def) as { spec: { names: Json; scope: string; versions: Json[] } };
      expect(crd.spec.names).toMatchObject({ kind: def.kind, shortNames: [def.shortName], categories: ['aim', 'all'] });
      expect(crd.spec.scope).toBe(def.scope);
      expect(crd.spec.versions[0]).toMatchObject({
        subresources: { status: {} },
        additionalPrinterColumns: def.printColumns,
      });
    },
  );

  it('never gives a custom template type a default (spec.type must be inheritable)', () => {
    const text = renderAll().get('aim.silogen.ai_aimmodels.yaml')!;
    const spec = parse(text).spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.customTemplates.items
      .properties as Record<string, Json>;
    expect(spec.type!.default).toBeUndefined();
  });
});
