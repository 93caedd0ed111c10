import { describe, expect, it } from 'vitest';
import { KINDS, RULE_CATALOG, validateObject, type KindName } from '../../schemas/index.js';
import { loadExamples } from '../cases/examples.js';
import { INVALID_CASES, invalidManifest } from '../cases/invalidManifests.js';

describe('valid examples', () => {
  const examples = [...loadExamples()];

  it('cover every kind', () => {
    const kinds = new Set(examples.map(([, m]) => m.kind));
    expect([...kinds].sort()).toEqual(Object.keys(KINDS).sort());
  });

  it.each(examples)('%s parses', (_file, manifest) => {
    const v = validateObject(manifest.kind as KindName, manifest);
    expect(v.ok ? [] : v.errors).toEqual([]);
  });

  it('applies the schema defaults a user leaves out', () => {
    const svc = examples.find(([f]) => f === 'aimservice-custom-s3.yaml')![1];
    const v = validateObject('AIMService', svc);
    if (!v.ok) throw new Error('expected valid');
    expect(v.value.spec.caching).toEqual({ mode: 'Dedicated' });
    const cache = validateObject('AIMModelCache', examples.find(([f]) => f === 'aimmodelcache.yaml')![1]);
    if (!cache.ok) throw new Error('expected valid');
    expect(cache.value.spec).toMatchObject({ headroomPercent: 10, stallTimeoutSeconds: 120, maxAttempts: 5 });
  });
});

describe('invalid manifests', () => {
  it('has at least 25 cases, each marked with the layers that refuse it', () => {
    expect(INVALID_CASES.length).toBeGreaterThanOrEqual(25);
    for (const c of INVALID_CASES) {
      if (c.enforcedBy !== 'api') expect(c.zod, c.name).toBeDefined();
      if (c.enforcedBy !== 'zod') expect(c.api, c.name).toBeDefined();
    }
  });

  it('covers every rule of the catalog with a case asserting its message', () => {
    const messages = INVALID_CASES.flatMap((c) => [c.zod?.message, c.api?.message]).filter(Boolean) as string[];
    const uncovered = RULE_CATALOG.filter((r) => !messages.some((m) => r.message.includes(m)));
    expect(uncovered.map((r) => r.id)).toEqual([]);
  });

  const zodCases = INVALID_CASES.filter((c) => c.enforcedBy !== 'api');
  it.each(zodCases.map((c) => [c.name, c] as const))('zod refuses: %s', (_name, c) => {
    const m = invalidManifest(c);
    const v = validateObject(m.kind as KindName, m);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    const hit = v.errors.find((e) => e.path === c.zod!.path && e.message.includes(c.zod!.message));
    expect(hit, `expected "${c.zod!.path}: ${c.zod!.message}" in ${JSON.stringify(v.errors)}`).toBeDefined();
  });

  const apiOnly = INVALID_CASES.filter((c) => c.enforcedBy === 'api');
  it.each(apiOnly.map((c) => [c.name, c] as const))('zod cannot see transitions, so it accepts: %s', (_name, c) => {
    const m = invalidManifest(c);
    expect(validateObject(m.kind as KindName, m).ok).toBe(true);
  });

  it('never echoes a field value in a message (values may be secrets)', () => {
    const c = INVALID_CASES.find((x) => x.name === 'literal AWS secret key in a source')!;
    const v = validateObject('AIMModel', invalidManifest(c));
    expect(JSON.stringify(v)).not.toContain('literal-not-a-secret');
  });
});
