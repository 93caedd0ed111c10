import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { EXIT, parseArgv, run, VERBS } from '../../client/aimctl.js';
import { parseDuration, progressBar, table } from '../../client/aimctl/format.js';
import { resolveKind } from '../../client/kinds.js';
import { example, EXAMPLES_DIR } from '../cases/examples.js';

/** aimctl without a cluster: parsing, help, kind aliases, validation (exit 65) and plan. */
const work = mkdtempSync(join(tmpdir(), 'aimctl-unit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function aimctl(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    // No cluster: a kubeconfig that does not exist makes any accidental API call fail loudly.
    env: { KUBECONFIG: join(work, 'no-such-kubeconfig') },
  });
  return { code, stdout, stderr };
}

function writeYaml(name: string, docs: unknown[]): string {
  const path = join(work, name);
  writeFileSync(path, docs.map((d) => stringify(d)).join('---\n'));
  return path;
}

describe('argument parsing', () => {
  it('takes global flags before or after the verb', () => {
    expect(parseArgv(['-n', 'team', 'get', 'aimsvc', 'x'])).toMatchObject({
      verb: 'get',
      positionals: ['aimsvc', 'x'],
      flags: { namespace: 'team' },
    });
    expect(parseArgv(['wait', 'aimmdl', 'm', '--for=Ready', '--timeout', '30s', '--namespace=ns'])).toMatchObject({
      verb: 'wait',
      positionals: ['aimmdl', 'm'],
      flags: { for: 'Ready', timeout: '30s', namespace: 'ns' },
    });
    expect(parseArgv(['apply', '-f', 'a.yaml', '-f', 'b.yaml']).flags.filename).toEqual(['a.yaml', 'b.yaml']);
    expect(parseArgv(['delete', 'aimsvc', 'x', '--force']).flags.force).toBe(true);
    expect(parseArgv(['get', 'caches', '--unused', '-o', 'json']).flags).toMatchObject({
      unused: true,
      output: 'json',
    });
  });

  it('usage errors exit 64: unknown verb, unknown flag, a flag of another verb, missing arguments', async () => {
    for (const argv of [
      ['frobnicate'],
      ['get', 'aimsvc', '--bogus'],
      ['get', 'aimsvc', '--force'],
      ['apply'],
      ['get'],
      ['get', 'pods'],
      ['wait', 'aimsvc', 'x'],
      ['wait', 'aimsvc', 'x', '--for=Running', '--timeout', 'soon'],
      ['describe', 'aimsvc'],
      ['get', 'aimsvc', '-o', 'xml'],
      ['get', 'aimsvc', '--unused'],
      [],
    ]) {
      const r = await aimctl(...argv);
      expect(r.code, argv.join(' ')).toBe(EXIT.usage);
      expect(r.stderr, argv.join(' ')).toMatch(/error: /);
    }
  });

  it('reads durations', () => {
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('45')).toBe(45_000);
    expect(parseDuration('soon')).toBeUndefined();
  });

  it('formats tables and progress bars', () => {
    expect(
      table(
        ['NAME', 'STATUS'],
        [
          ['a', 'Ready'],
          ['longer', ''],
        ],
      ),
    ).toBe('NAME     STATUS\na        Ready\nlonger');
    expect(progressBar(50, 10)).toBe('[#####-----]  50%');
    expect(progressBar(150, 4)).toBe('[####] 100%');
  });
});

describe('--help', () => {
  it('prints the overview with every verb and kind', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const r = await aimctl(...argv);
      expect(r.code).toBe(EXIT.ok);
      for (const v of VERBS) expect(r.stdout).toContain(v);
      expect(r.stdout).toContain('aimsvc');
      expect(r.stdout).toContain('65 invalid manifest');
    }
  });

  it.each(VERBS)('aimctl %s --help prints usage and examples', async (verb) => {
    const r = await aimctl(verb, '--help');
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toContain(`Usage: aimctl ${verb}`);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain(`aimctl ${verb}`);
    expect((await aimctl('help', verb)).stdout).toBe(r.stdout);
  });
});

describe('kind aliases', () => {
  it.each([
    ['aimsvc', 'AIMService'],
    ['aimservices', 'AIMService'],
    ['aimservice', 'AIMService'],
    ['AIMService', 'AIMService'],
    ['aimmdl', 'AIMModel'],
    ['aimmodels', 'AIMModel'],
    ['aimclmdl', 'AIMClusterModel'],
    ['aimclustermodel', 'AIMClusterModel'],
    ['aimtpl', 'AIMServiceTemplate'],
    ['aimcltpl', 'AIMClusterServiceTemplate'],
    ['aimmc', 'AIMModelCache'],
    ['aimmodelcaches', 'AIMModelCache'],
    ['caches', 'AIMModelCache'],
    ['aimservices.aim.silogen.ai', 'AIMService'],
  ])('%s → %s', (word, kind) => {
    expect(resolveKind(word)).toBe(kind);
  });

  it('refuses other kinds', () => {
    expect(resolveKind('pods')).toBeUndefined();
  });
});

describe('invalid manifests exit 65 with field paths, before any API call', () => {
  it('apply lists every path: message of every document', async () => {
    const svc = example('aimservice-custom-s3.yaml');
    (svc.spec.model as Record<string, unknown>).name = 'also-a-name';
    svc.spec.replicas = 0;
    const model = example('aimmodel-s3-custom-templates.yaml');
    (model.spec.modelSources as Array<Record<string, unknown>>)[0]!.env = [
      { name: 'AWS_ACCESS_KEY_ID', value: 'AKIA' },
    ];
    const file = writeYaml('bad.yaml', [svc, model, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }]);
    const r = await aimctl('apply', '-f', file);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.stderr).toContain('spec.model: exactly one of name, image, or custom must be specified');
    expect(r.stderr).toContain('spec.replicas: ');
    expect(r.stderr).toMatch(/spec\.modelSources\[0\]\.env\[0\][.a-zA-Z]*: .*credentials must come from a Secret/);
    expect(r.stderr).toContain('kind: unknown kind "Pod"');
    expect(r.stderr).toContain('nothing was applied');
    expect(r.stderr).not.toContain('AKIA');
    expect(r.stdout).toBe('');
  });

  it('plan refuses an invalid manifest the same way', async () => {
    const file = writeYaml('bad-plan.yaml', [
      { apiVersion: 'aim.silogen.ai/v1alpha1', kind: 'AIMModel', metadata: { name: 'm' }, spec: {} },
    ]);
    const r = await aimctl('plan', '-f', file);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.stderr).toContain('spec.image: Required value');
  });

  it('a YAML syntax error is a data error', async () => {
    const path = join(work, 'syntax.yaml');
    writeFileSync(path, 'kind: [unclosed\n');
    expect((await aimctl('apply', '-f', path)).code).toBe(EXIT.invalid);
  });

  it('an unreadable file is a usage error', async () => {
    expect((await aimctl('apply', '-f', join(work, 'missing.yaml'))).code).toBe(EXIT.usage);
  });
});

describe('plan', () => {
  it('AIMService with custom: model name and identity, template, cache, PVC measured by the probe, InferenceService', async () => {
    const r = await aimctl('plan', '-f', join(EXAMPLES_DIR, 'aimservice-custom-s3.yaml'), '-n', 'team-a');
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/\+ AIMModel qwen-qwen2-0-5b-([0-9a-f]{8}) {2}\(auto-created, identity \1\)/);
    expect(r.stdout).toMatch(
      /\+ AIMServiceTemplate qwen-qwen2-0-5b-[0-9a-f]{8}-custom-[0-9a-f]{8} {2}hardware: 1x GPU {2}type: unoptimized/,
    );
    expect(r.stdout).toMatch(
      /\+ AIMModelCache qwen-chat-qwen-qwen2-0-5b-<uid-hash> .*mode: Dedicated {2}access: ReadWriteOnce/,
    );
    expect(r.stdout).toContain('PVC size: measured by the probe');
    expect(r.stdout).toContain('+ InferenceService qwen-chat');
    expect(r.stdout).toContain('(namespace team-a)');
  });

  it('PVC size with headroom when the source gives a size; Shared caches have their final name', async () => {
    const svc = example('aimservice-custom-s3.yaml');
    const custom = (svc.spec.model as { custom: { modelSources: Array<Record<string, unknown>> } }).custom;
    custom.modelSources[0]!.size = '10Gi';
    svc.spec.caching = { mode: 'Shared' };
    svc.spec.storage = { headroomPercent: 25 };
    const file = writeYaml('sized.yaml', [svc]);
    const r = await aimctl('plan', '-f', file, '-o', 'json');
    expect(r.code).toBe(EXIT.ok);
    const plan = JSON.parse(r.stdout) as {
      model: { name: string; identity: string };
      caches: Array<{ name: string; mode: string; accessMode: string; pvcSize: string }>;
      inferenceService: string;
    };
    expect(plan.caches).toEqual([
      {
        name: expect.stringMatching(/^qwen-qwen2-0-5b-[0-9a-f]{8}$/),
        modelId: 'Qwen/Qwen2-0.5B',
        sourceUri: 's3://models/qwen2-0.5b',
        mode: 'Shared',
        accessMode: 'ReadWriteMany',
        pvcSize: '13Gi',
      },
    ]);
    expect(plan.model.name).toBe(`qwen-qwen2-0-5b-${plan.model.identity}`);
    expect(plan.inferenceService).toBe('qwen-chat');

    custom.modelSources[0]!.size = '10Gi';
    delete svc.spec.storage;
    const r2 = await aimctl('plan', '-f', writeYaml('sized-default.yaml', [svc]));
    expect(r2.stdout).toContain('PVC size: 11Gi');
  });

  it('AIMModel: its templates with names, hardware and type', async () => {
    const r = await aimctl('plan', '-f', join(EXAMPLES_DIR, 'aimmodel-s3-custom-templates.yaml'), '-o', 'yaml');
    expect(r.code).toBe(EXIT.ok);
    const text = await aimctl('plan', '-f', join(EXAMPLES_DIR, 'aimmodel-s3-custom-templates.yaml'));
    expect(text.stdout).toContain(
      '+ AIMServiceTemplate qwen-small-default  hardware: 1x GPU MI300X  type: unoptimized',
    );
    expect(text.stdout).toContain('+ AIMServiceTemplate qwen-small-multi  hardware: 2x GPU MI300X  type: unoptimized');
    expect(text.stdout).toContain(
      '+ AIMServiceTemplate qwen-small-fast  hardware: 1x GPU MI300X  type: optimized  profile: latency/fp16',
    );
    expect(text.stdout).toContain('+ AIMServiceTemplate qwen-small-old  hardware: 1x GPU MI250X  type: unoptimized');
    expect(r.stdout).toContain('name: qwen-small-multi');
  });

  it('several documents give several plans', async () => {
    const file = writeYaml('two.yaml', [
      example('aimmodel-s3-custom-templates.yaml'),
      example('aimservice-by-name.yaml'),
    ]);
    const r = await aimctl('plan', '-f', file);
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toContain('AIMModel qwen-small');
    expect(r.stdout).toContain('AIMService qwen-fast');
    expect(r.stdout).toContain('resolved at run time by name qwen-small');
  });
});
