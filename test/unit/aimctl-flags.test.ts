/* eslint-disable @typescript-eslint/no-explicit-any -- statuses are written loosely */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { RESOURCES } from '../../activities/kube/resources.js';
import { EXIT, run } from '../../client/aimctl.js';
import { compileJsonPath, JsonPathError } from '../../client/aimctl/jsonpath.js';
import { expandFilenames } from '../../client/aimctl/manifestFiles.js';
import { VERB_TABLE } from '../../client/aimctl/verbs.js';
import { example } from '../cases/examples.js';
import { aimctlInMemory } from '../harness/aimctlInMemory.js';

/** kubectl's flags in aimctl: -f - and -f DIR, -o name|jsonpath, --dry-run; the verb table itself. */
const work = mkdtempSync(join(tmpdir(), 'aimctl-flags-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const setup = (stdin?: string) => aimctlInMemory({ workDir: work, ...(stdin !== undefined ? { stdin } : {}) });

const model = example('aimmodel-s3-custom-templates.yaml');
const service = example('aimservice-custom-s3.yaml');

describe('jsonpath templates', () => {
  const svc = {
    metadata: { name: 'qwen-chat', labels: { 'aim.silogen.ai/model': 'qwen' } },
    status: {
      status: 'Running',
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'CacheReady', status: 'False' },
      ],
    },
  };
  const list = { kind: 'List', items: [svc, { metadata: { name: 'other' }, status: { status: 'Pending' } }] };
  it.each([
    ['{.metadata.name}', svc, 'qwen-chat'],
    ['name={.metadata.name} status={.status.status}', svc, 'name=qwen-chat status=Running'],
    ["{.metadata.labels['aim.silogen.ai/model']}", svc, 'qwen'],
    ['{.status.conditions[?(@.type=="Ready")].status}', svc, 'True'],
    ['{.status.conditions[?(@.status!="True")].type}', svc, 'CacheReady'],
    ['{.status.conditions[0].type}', svc, 'Ready'],
    ['{.status.conditions[-1].type}', svc, 'CacheReady'],
    ['{.status.conditions[*].type}', svc, 'Ready CacheReady'],
    ['{.items[*].metadata.name}', list, 'qwen-chat other'],
    [
      '{range .items[*]}{.metadata.name}{"\\t"}{.status.status}{"\\n"}{end}',
      list,
      'qwen-chat\tRunning\nother\tPending\n',
    ],
    ['{.status.conditions[0]}', svc, '{"type":"Ready","status":"True"}'],
    ['{.metadata.missing}', svc, ''],
    ['{$.metadata.name}', svc, 'qwen-chat'],
  ])('%s', (template, data, expected) => {
    expect(compileJsonPath(template)(data)).toBe(expected);
  });

  it.each(['{.metadata.name', '{range .items[*]}{.x}', '{end}', '{..name}', '{.a[?(@.x ~ 1)]}'])(
    'rejects %s',
    (template) => {
      expect(() => compileJsonPath(template)).toThrow(JsonPathError);
    },
  );
});

describe('-f: files, directories and standard input', () => {
  it('expands a directory to its *.yaml, *.yml and *.json files in name order', () => {
    const dir = join(work, 'manifests');
    mkdirSync(join(dir, 'nested'), { recursive: true });
    for (const f of ['b.yaml', 'a.json', 'c.yml', 'notes.txt', 'nested/d.yaml']) writeFileSync(join(dir, f), '');
    expect(expandFilenames(['manifests', '-'], work)).toEqual([
      join(dir, 'a.json'),
      join(dir, 'b.yaml'),
      join(dir, 'c.yml'),
      '-',
    ]);
    expect(() => expandFilenames(['missing.yaml'], work)).toThrow(/cannot read missing\.yaml/);
    expect(() => expandFilenames(['manifests/nested/..', 'empty'], work)).toThrow(/no such file/);
  });

  it('applies every manifest of a directory', async () => {
    const dir = join(work, 'apply-dir');
    mkdirSync(dir);
    writeFileSync(join(dir, '1-model.yaml'), stringify(model));
    writeFileSync(join(dir, '2-service.json'), JSON.stringify(service));
    const { aimctl, store } = setup();
    const r = await aimctl('apply', '-f', 'apply-dir');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('aimmodel.aim.silogen.ai/qwen-small applied\naimservice.aim.silogen.ai/qwen-chat applied\n');
    expect(store.peek(RESOURCES.AIMService, 'qwen-chat', 'team-a')).toBeDefined();
  });

  it('reads -f - from standard input, and names it <stdin> in validation errors', async () => {
    const ok = setup(`${stringify(model)}---\n${stringify(service)}`);
    const r = await ok.aimctl('apply', '-f', '-');
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout.trim().split('\n')).toHaveLength(2);

    const bad = setup(stringify({ ...model, spec: { ...(model as any).spec, sources: 'nope' } }));
    const invalid = await bad.aimctl('apply', '-f', '-');
    expect(invalid.code).toBe(EXIT.invalid);
    expect(invalid.stderr).toMatch(/^<stdin>: document 1 \(AIMModel qwen-small\) is invalid:/);
    expect(bad.store.objects.size).toBe(0);

    expect((await setup('').aimctl('plan', '-f', '-', '-f', '-')).code).toBe(EXIT.usage);
  });
});

describe('apply --dry-run', () => {
  it('server: the apply asks the API server for a dry run and nudges nothing; client: validates only', async () => {
    const { aimctl, store } = setup(stringify(model));
    const r = await aimctl('apply', '-f', '-', '--dry-run=server');
    expect(r.stdout).toBe('aimmodel.aim.silogen.ai/qwen-small applied (server dry run)\n');
    expect(store.calls.find((c) => c.op === 'apply')?.opts).toMatchObject({ dryRun: true });

    const client = setup(stringify(model));
    const c = await client.aimctl('apply', '-f', '-', '--dry-run=client');
    expect(c.stdout).toBe('aimmodel.aim.silogen.ai/qwen-small valid (client dry run)\n');
    expect(client.store.calls).toEqual([]);

    expect((await setup(stringify(model)).aimctl('apply', '-f', '-', '--dry-run=maybe')).code).toBe(EXIT.usage);
  });
});

describe('get -o name and jsonpath', () => {
  it('prints kind/name lines and JSONPath over the List (or the object by name)', async () => {
    const { aimctl, store } = setup();
    for (const name of ['b-svc', 'a-svc'])
      store.put(RESOURCES.AIMService, {
        ...service,
        metadata: { name, namespace: 'team-a', creationTimestamp: new Date().toISOString() },
        status: { status: name === 'a-svc' ? 'Running' : 'Pending' },
      });
    expect((await aimctl('get', 'aimsvc', '-o', 'name')).stdout).toBe(
      'aimservice.aim.silogen.ai/a-svc\naimservice.aim.silogen.ai/b-svc\n',
    );
    const template = '{range .items[*]}{.metadata.name}={.status.status};{end}';
    expect((await aimctl('get', 'aimsvc', '-o', `jsonpath=${template}`)).stdout).toBe('a-svc=Running;b-svc=Pending;\n');
    expect((await aimctl('get', 'aimsvc', 'b-svc', '-o', 'jsonpath={.status.status}')).stdout).toBe('Pending\n');
    const bad = await aimctl('get', 'aimsvc', '-o', 'jsonpath={.x');
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toMatch(/-o jsonpath: unclosed/);
    expect((await aimctl('plan', '-f', '-', '-o', 'name')).code).toBe(EXIT.usage);
  });
});

describe('the verb table', () => {
  it('gives every verb help that starts with its usage, and one meaning per flag name and letter', () => {
    const byName = new Map<string, string>();
    const byShort = new Map<string, string>();
    for (const verb of VERB_TABLE) {
      expect(verb.help.startsWith(`Usage: aimctl ${verb.name}`), verb.name).toBe(true);
      expect(verb.synopsis.length).toBeGreaterThan(0);
      for (const [name, def] of Object.entries(verb.flags)) {
        const seen = byName.get(name);
        expect(seen === undefined || seen === JSON.stringify(def), `--${name}`).toBe(true);
        byName.set(name, JSON.stringify(def));
        if (!def.short) continue;
        const other = byShort.get(def.short);
        // The same letter may name different flags of different verbs only when both are switches.
        expect(other === undefined || other === def.type, `-${def.short}`).toBe(true);
        byShort.set(def.short, def.type);
      }
    }
    expect(new Set(VERB_TABLE.map((v) => v.name)).size).toBe(VERB_TABLE.length);
  });

  it('names itself "kubectl aim" when run as the kubectl plugin', async () => {
    let stdout = '';
    await run(['get', '--help'], {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: () => 0 },
      env: {},
      program: 'kubectl aim',
    });
    expect(stdout).toMatch(/^Usage: kubectl aim get KIND/);
    expect(stdout).not.toMatch(/\baimctl\b/);
  });
});
