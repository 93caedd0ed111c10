import { describe, expect, it } from 'vitest';
import { KINDS, validateObject, type KindName } from '../../schemas/index.js';
import { loadExamples } from '../cases/examples.js';
import { INVALID_CASES, invalidManifest, literalCredentials } from '../cases/invalidManifests.js';

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

describe('invalid manifests (the corpus, test/corpus: every file is checked by test/corpus/corpus.test.ts)', () => {
  const withLiterals = INVALID_CASES.filter((c) => literalCredentials(invalidManifest(c)).length > 0);
  it.each(withLiterals.map((c) => [c.name, c] as const))(
    'never echoes a field value in a message (values may be secrets): %s',
    (_name, c) => {
      const m = invalidManifest(c);
      const v = validateObject(m.kind as KindName, m);
      expect(v.ok).toBe(false);
      expect(literalCredentials(m).length).toBeGreaterThan(0);
      for (const secret of literalCredentials(m)) expect(JSON.stringify(v)).not.toContain(secret);
    },
  );
});
