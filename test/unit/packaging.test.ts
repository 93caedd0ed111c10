import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { buildProgressRole } from '../../domain/jobs.js';
import { TEMPORAL_ENV_VARIABLES } from '../../client/temporalConnection.js';
import { CHART_CRD_DIR, CRD_DIR, staleCrdFiles } from '../../schemas/crd/generate.js';
import { KINDS } from '../../schemas/index.js';
import { IMAGE_ENV } from '../../bench/imageEnv.js';

/**
 * Packaging: the root Dockerfile (worker + bridge image), docker-compose.yml and the install artifacts of deploy/ (the
 * CRDs' own kustomization, the kustomize base and its example overlay, the Helm chart, the monitoring objects).
 * No Docker engine, cluster or helm is involved: the files are parsed and checked against each other and the code;
 * test/integration/install.test.ts renders them and validates every object against a real API server.
 */

type Json = Record<string, unknown>;
const ROOT = resolve(import.meta.dirname, '..', '..');
const DEPLOY = join(ROOT, 'deploy');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const asRecord = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const asArray = <T = unknown>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

type RbacRow = { group: string; resource: string; verbs: string[]; why: string };

/**
 * Every (apiGroup, resource, verb) the worker uses; deploy/base/rbac.yaml documents the same table. It lists and
 * watches what its read cache holds (activities/kube/readCacheSources.ts).
 */
const WORKER_RBAC_TABLE: RbacRow[] = [
  {
    group: 'aim.silogen.ai',
    resource: 'aimmodels',
    verbs: ['get', 'list', 'watch', 'create', 'patch'],
    why: 'read; list by image; apply auto-created models + owner entries',
  },
  { group: 'aim.silogen.ai', resource: 'aimmodels/status', verbs: ['patch'], why: 'status apply' },
  {
    group: 'aim.silogen.ai',
    resource: 'aimmodels/finalizers',
    verbs: ['update'],
    why: 'blockOwnerDeletion owner refs',
  },
  {
    group: 'aim.silogen.ai',
    resource: 'aimclustermodels',
    verbs: ['get', 'list', 'watch'],
    why: 'read; list by image; read cache',
  },
  { group: 'aim.silogen.ai', resource: 'aimclustermodels/status', verbs: ['patch'], why: 'status apply' },
  {
    group: 'aim.silogen.ai',
    resource: 'aimclustermodels/finalizers',
    verbs: ['update'],
    why: 'blockOwnerDeletion owner refs',
  },
  {
    group: 'aim.silogen.ai',
    resource: 'aimservicetemplates',
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
    why: 'generated templates; template selection; prune',
  },
  { group: 'aim.silogen.ai', resource: 'aimservicetemplates/status', verbs: ['patch'], why: 'status apply' },
  {
    group: 'aim.silogen.ai',
    resource: 'aimclusterservicetemplates',
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
    why: 'generated templates; template selection; prune',
  },
  { group: 'aim.silogen.ai', resource: 'aimclusterservicetemplates/status', verbs: ['patch'], why: 'status apply' },
  {
    group: 'aim.silogen.ai',
    resource: 'aimmodelcaches',
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
    why: 'caches applied and listed by services; expired Shared caches deleted by the TTL sweeper; metrics',
  },
  {
    group: 'aim.silogen.ai',
    resource: 'aimmodelcaches/status',
    verbs: ['get', 'patch'],
    why: 'status apply; held to grant the per-cache Role',
  },
  {
    group: 'aim.silogen.ai',
    resource: 'aimmodelcaches/finalizers',
    verbs: ['update'],
    why: 'blockOwnerDeletion owner refs',
  },
  {
    group: 'aim.silogen.ai',
    resource: 'aimservices',
    verbs: ['get', 'list', 'watch', 'create', 'patch'],
    why: "read; finalizer apply; submit workflow; a cache's users, the TTL sweeper, metrics",
  },
  { group: 'aim.silogen.ai', resource: 'aimservices/status', verbs: ['patch'], why: 'status apply' },
  {
    group: 'aim.silogen.ai',
    resource: 'aimservices/finalizers',
    verbs: ['update'],
    why: 'blockOwnerDeletion owner refs',
  },
  {
    group: 'serving.kserve.io',
    resource: 'inferenceservices',
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
    why: 'read cache; read before apply; apply; cleanup',
  },
  { group: '', resource: 'secrets', verbs: ['get'], why: 'secretKeyRef check by name (key names only)' },
  { group: '', resource: 'serviceaccounts', verbs: ['get', 'create'], why: 'aim-downloader ServiceAccount' },
  {
    group: '',
    resource: 'persistentvolumeclaims',
    verbs: ['get', 'list', 'watch', 'create'],
    why: 'read cache; cache PVC create-or-get',
  },
  { group: '', resource: 'pods', verbs: ['list', 'watch'], why: "read cache: our Jobs' pods" },
  { group: '', resource: 'nodes', verbs: ['list', 'watch'], why: 'read cache; GPU availability' },
  { group: '', resource: 'events', verbs: ['list', 'create'], why: 'condition transitions; VolumeNotBound' },
  { group: '', resource: 'namespaces', verbs: ['get'], why: 'pingCluster' },
  {
    group: 'batch',
    resource: 'jobs',
    verbs: ['get', 'list', 'watch', 'create', 'delete'],
    why: 'probe/download Jobs; read cache (Job waits woken by changes); Jobs in the way',
  },
  { group: 'rbac.authorization.k8s.io', resource: 'roles', verbs: ['create'], why: 'per-cache progress Role' },
  {
    group: 'rbac.authorization.k8s.io',
    resource: 'rolebindings',
    verbs: ['create'],
    why: 'per-cache progress RoleBinding',
  },
];

/**
 * What the bridge's source table (bridge/sources.ts) lists and then watches, and nothing else; deploy/base/rbac.yaml
 * documents the same table.
 */
const BRIDGE_RBAC_TABLE: RbacRow[] = [
  ...Object.values(KINDS).map((k) => ({
    group: 'aim.silogen.ai',
    resource: (k as { plural: string }).plural,
    verbs: ['list', 'watch'],
    why: 'each AIM kind',
  })),
  { group: 'serving.kserve.io', resource: 'inferenceservices', verbs: ['list', 'watch'], why: 'managed-by label' },
  { group: 'batch', resource: 'jobs', verbs: ['list', 'watch'], why: 'managed-by label' },
  { group: '', resource: 'persistentvolumeclaims', verbs: ['list', 'watch'], why: 'managed-by label' },
  { group: '', resource: 'resourcequotas', verbs: ['list', 'watch'], why: 'QuotaExceeded re-checked on change' },
  { group: '', resource: 'secrets', verbs: ['list', 'watch'], why: 'metadata only: credential waits retried' },
  { group: '', resource: 'nodes', verbs: ['list', 'watch'], why: 'hardware changes' },
];

const triple = (group: string, resource: string, verb: string) => `${group || 'core'} ${resource} ${verb}`;
const triplesOf = (table: RbacRow[]) =>
  new Set(table.flatMap((r) => r.verbs.map((v) => triple(r.group, r.resource, v))));

/** Each identity: its ServiceAccount, the ClusterRole of the same name bound to it, its Deployment and its table. */
const IDENTITIES = [
  {
    identity: 'worker',
    account: 'aim-orchestrator',
    deployment: 'aim-orchestrator-worker',
    table: triplesOf(WORKER_RBAC_TABLE),
  },
  {
    identity: 'bridge',
    account: 'aim-orchestrator-bridge',
    deployment: 'aim-orchestrator-bridge',
    table: triplesOf(BRIDGE_RBAC_TABLE),
  },
] as const;

/** All documents of a YAML file (every one must parse without errors). */
function docs(path: string): Json[] {
  const parsed = parseAllDocuments(readFileSync(path, 'utf8'));
  const all = Array.isArray(parsed) ? parsed : [parsed];
  for (const d of all) expect(d.errors, `${relative(ROOT, path)}: ${d.errors.join('; ')}`).toEqual([]);
  return all.map((d) => d.toJS() as unknown).filter((d): d is Json => !!d && typeof d === 'object');
}

const BASE = join(DEPLOY, 'base');
const CHART = join(DEPLOY, 'helm', 'aim-orchestrator');
const deployFiles = readdirSync(BASE).filter((f) => f.endsWith('.yaml'));
const deployDocs = deployFiles.flatMap((f) => docs(join(BASE, f)).map((d) => ({ file: f, doc: d })));
const byKind = (kind: string, file?: string) =>
  deployDocs.filter((d) => d.doc.kind === kind && (!file || d.file === file)).map((d) => d.doc);
const kustomization = parse(readFileSync(join(BASE, 'kustomization.yaml'), 'utf8')) as Json;
const namespace = String(kustomization.namespace ?? '');
/** The names of the search attributes the workflows set (workflows/signals.ts), in order. */
const WORKFLOW_SEARCH_ATTRIBUTES = [
  ...read('workflows/signals.ts').matchAll(/defineSearchAttributeKey\('(\w+)', SearchAttributeType\.KEYWORD\)/g),
].map((m) => m[1]!);
const SEARCH_ATTRIBUTE_SCRIPT = 'deploy/base/register-search-attributes.sh';
/**
 * The Temporal connection variables of @temporalio/envconfig, which the worker, the bridge and the Temporal CLI read
 * alike: every TEMPORAL_* name deploy/ and docker-compose.yml set must be one of them (a typo connects nowhere).
 */
const TEMPORAL_ENVCONFIG = new Set([
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_NAME',
]);

/** Every file under a directory, recursively, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)).map((f) => join(e.name, f)) : [e.name],
  );
}

// ---- The Dockerfile and the sources it compiles ----
const dockerfile = read('Dockerfile');
const stages = dockerfile.split(/^FROM\s/m).slice(1);
const finalStage = stages.at(-1) ?? '';
const ENTRY_POINTS = { worker: 'worker/main.ts', bridge: 'bridge/main.ts' } as const;
const compiledPath = (src: string) => `/app/dist/${src.replace(/\.ts$/, '.js')}`;

/** Top-level folders reached from an entry point through relative imports (what the image must COPY). */
function sourceFolders(entry: string, seen = new Set<string>()): Set<string> {
  const file = join(ROOT, entry);
  if (seen.has(file) || !existsSync(file)) return new Set([...seen].map((f) => relative(ROOT, f).split('/')[0]!));
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:^|\s)(?:import|export)\s+(?!type\s)[^'";]*?from\s+'(\.{1,2}\/[^']+)'/g)) {
    const target = join(dirname(file), m[1]!).replace(/\.js$/, '.ts');
    sourceFolders(relative(ROOT, target), seen);
  }
  return new Set([...seen].map((f) => relative(ROOT, f).split('/')[0]!));
}

describe('Dockerfile (worker and bridge image)', () => {
  it('builds on Node 22 LTS in stages and runs as uid 1000', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22[-\w.]*$/m);
    // The probe and download Job image runs the same compiled code on the same Node.
    expect(read('images/downloader/Dockerfile')).toMatch(/^ARG NODE_IMAGE=node:22[-\w.]*$/m);
    expect(finalStage).toMatch(/^\$\{NODE_IMAGE\}\s*$/m);
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.at(-1)).toMatch(/^1000(:1000)?$/);
    expect(finalStage).toMatch(/^USER 1000(:1000)?$/m);
  });

  it('compiles the worker and the bridge with tsc and ships production dependencies only', () => {
    expect(dockerfile).toMatch(/npx tsc\b/);
    for (const src of Object.values(ENTRY_POINTS)) expect(dockerfile).toContain(src);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(finalStage).not.toMatch(/npm (ci|install)\b/);
    expect(finalStage).toMatch(/COPY --from=build \/app \/app/);
    expect(finalStage).toMatch(/^ENTRYPOINT \["node"\]$/m);
    expect(finalStage).toContain(`CMD ["${compiledPath(ENTRY_POINTS.worker)}"]`);
  });

  it('ships the prebuilt workflow bundle where the compiled worker loads it, and no workflow sources', () => {
    // worker/workflowBundle.ts: the default bundle is `../workflow-bundle.js` relative to the compiled module.
    expect(read('worker/workflowBundle.ts')).toContain('new URL(`../${BUNDLE_FILE}`, import.meta.url)');
    expect(read('worker/workflowBundle.ts')).toContain("BUNDLE_FILE = 'workflow-bundle.js'");
    expect(dockerfile).toContain('worker/buildWorkflowBundle.ts');
    expect(dockerfile).toMatch(/^\s*&& node \/app\/dist\/worker\/buildWorkflowBundle\.js \/app\/dist\b/m);
    expect(dockerfile).not.toMatch(/\bcp\b[^\n]*workflows/);
    expect(finalStage).not.toMatch(/COPY (?!--from=build \/app \/app)/);
  });

  it('sets the environment the benches measure the worker with (production mode, two malloc arenas)', () => {
    // The final stage's ENV instructions, lines continued by a trailing backslash joined: `ENV A=1 B=2` → {A, B}.
    const env = Object.fromEntries(
      [...finalStage.replace(/\\\n/g, ' ').matchAll(/^ENV\s+(.+)$/gm)].flatMap((m) =>
        m[1]!
          .trim()
          .split(/\s+/)
          .map((kv) => kv.split('=') as [string, string]),
      ),
    );
    expect(env).toMatchObject(IMAGE_ENV);
    expect(env).toMatchObject({ HOME: '/tmp', TMPDIR: '/tmp' });
  });

  it('compiles aimctl and its kubectl plugin entry into the image', () => {
    for (const src of ['client/bin/aimctl.ts', 'client/bin/kubectl-aim.ts']) expect(dockerfile).toContain(src);
  });

  it('copies every source folder the entry points import', () => {
    const copied = new Set([...dockerfile.matchAll(/^COPY (?!--from)(\S+) \1$/gm)].map((m) => m[1]));
    expect(existsSync(join(ROOT, ENTRY_POINTS.worker))).toBe(true);
    for (const entry of Object.values(ENTRY_POINTS)) {
      if (!existsSync(join(ROOT, entry))) continue; // the bridge lands separately; the image needs it to build
      for (const folder of sourceFolders(entry)) expect(copied, `${entry} imports from ${folder}/`).toContain(folder);
    }
    for (const folder of copied) expect(existsSync(join(ROOT, folder!)), `COPY ${folder}`).toBe(true);
  });
});

// ---- docker-compose.yml ----
const composeText = read('docker-compose.yml');
const compose = parse(composeText, { merge: true }) as Json;
const services = asRecord(compose.services);
const serviceNames = Object.keys(services);
/** Host variables the compose file may interpolate (each has a default except KUBECONFIG's own fallback). */
const HOST_VARIABLES = new Set([
  'KUBECONFIG',
  'AIM_DOWNLOADER_IMAGE',
  'TEMPORAL_VERSION',
  'TEMPORAL_UI_VERSION',
  'TEMPORAL_ADMIN_TOOLS_VERSION',
]);
const SEARCH_ATTRIBUTES = ['AimKind', 'AimNamespace', 'AimName', 'AimModelId', 'AimStatus'];

/** Env variables the worker and the bridge read (`process.env.X` or `env.X` in their entry points and settings). */
function envReadBy(files: string[]): Set<string> {
  // Both connect through client/temporalConnection.ts, whose variables @temporalio/envconfig reads.
  const names = new Set<string>(TEMPORAL_ENV_VARIABLES);
  for (const f of files.filter((x) => existsSync(join(ROOT, x))))
    for (const m of read(f).matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b|_ENV = '([A-Z][A-Z0-9_]*)'/g))
      names.add((m[1] ?? m[2])!);
  return names;
}
const RUNTIME_ENV_FILES = ['activities/kube/config.ts', 'client/dataConverter.ts', 'worker/logging.ts'];
const WORKER_ENV = envReadBy([
  'worker/main.ts',
  'worker/metrics.ts',
  'worker/sweeper.ts',
  'activities/context.ts',
  'domain/cacheTtl.ts',
  ...RUNTIME_ENV_FILES,
]);
const BRIDGE_ENV = envReadBy(['bridge/main.ts', 'bridge/bridge.ts', ...RUNTIME_ENV_FILES]);

function envOf(service: string): Record<string, string> {
  const env = asRecord(services[service]).environment;
  if (Array.isArray(env))
    return Object.fromEntries(env.map((e) => String(e).split(/=(.*)/s).slice(0, 2) as [string, string]));
  return Object.fromEntries(Object.entries(asRecord(env)).map(([k, v]) => [k, String(v)]));
}

describe('docker-compose.yml', () => {
  it('has Temporal on PostgreSQL, its UI, a search-attribute init, the worker and the bridge', () => {
    expect(serviceNames).toEqual(
      expect.arrayContaining([
        'postgresql',
        'temporal',
        'temporal-ui',
        'temporal-search-attributes',
        'worker',
        'bridge',
      ]),
    );
    expect(String(asRecord(services.temporal).image)).toMatch(/^temporalio\/auto-setup:/);
    expect(String(asRecord(services.postgresql).image)).toMatch(/^postgres:/);
    expect(envOf('temporal')).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(String(asRecord(services['temporal-ui']).image)).toMatch(/^temporalio\/ui:/);
  });

  it('gives every service an image or a build whose Dockerfile exists', () => {
    for (const [name, raw] of Object.entries(services)) {
      const s = asRecord(raw);
      expect(s.image !== undefined || s.build !== undefined, `${name} has neither image nor build`).toBe(true);
      if (s.build !== undefined) {
        const build = typeof s.build === 'string' ? { context: s.build } : asRecord(s.build);
        const context = join(ROOT, String(build.context ?? '.'));
        expect(statSync(context).isDirectory()).toBe(true);
        expect(existsSync(join(context, String(build.dockerfile ?? 'Dockerfile'))), `${name} Dockerfile`).toBe(true);
      }
    }
  });

  it('runs the worker and the bridge from the image with the settings their code reads', () => {
    for (const [name, entry, reads] of [
      ['worker', ENTRY_POINTS.worker, WORKER_ENV],
      ['bridge', ENTRY_POINTS.bridge, BRIDGE_ENV],
    ] as const) {
      const s = asRecord(services[name]);
      expect(asRecord(s.build).dockerfile ?? 'Dockerfile').toBe('Dockerfile');
      expect(asArray(s.command)).toEqual([compiledPath(entry)]);
      const env = envOf(name);
      for (const key of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'AIM_TASK_QUEUE', 'KUBECONFIG'])
        expect(env, `${name} env`).toHaveProperty(key);
      // No dead settings: everything set for our programs is read by them (checked once the source exists).
      if (existsSync(join(ROOT, entry)))
        for (const key of Object.keys(env)) expect(reads, `${name} never reads ${key}`).toContain(key);
      // TEMPORAL_ADDRESS names the compose service that runs the frontend.
      const [host, port] = env.TEMPORAL_ADDRESS!.split(':');
      expect(serviceNames).toContain(host);
      expect(port).toBe('7233');
      // The kubeconfig from the host is mounted where KUBECONFIG points, read-only.
      const mounts = asArray<string>(s.volumes).map(String);
      expect(mounts).toContain(`\${KUBECONFIG:-~/.kube/config}:${env.KUBECONFIG}:ro`);
    }
    expect(envOf('bridge')).toHaveProperty('AIM_BRIDGE_HEALTH_PORT');
  });

  it('interpolates only known host variables, each with a default', () => {
    const refs = [...composeText.matchAll(/(?<!\$)\$\{([^}]+)\}/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      const m = /^([A-Z_][A-Z0-9_]*)(:?-.+)?$/.exec(ref);
      expect(m, `\${${ref}}`).not.toBeNull();
      expect(HOST_VARIABLES, ref).toContain(m![1]);
      expect(m![2], `\${${ref}} needs a default`).toBeDefined();
    }
  });

  it('mounts only declared named volumes or bind mounts from interpolated or existing paths', () => {
    const named = new Set(Object.keys(asRecord(compose.volumes)));
    for (const [name, raw] of Object.entries(services)) {
      for (const v of asArray(asRecord(raw).volumes)) {
        const source = typeof v === 'string' ? v.split(':')[0]! : String(asRecord(v).source);
        if (source.startsWith('${')) continue;
        if (source.startsWith('.') || source.startsWith('/'))
          expect(existsSync(join(ROOT, source)), `${name}: ${source}`).toBe(true);
        else expect(named, `${name}: volume ${source}`).toContain(source);
      }
    }
  });

  it('depends only on services that exist, with conditions they can meet', () => {
    for (const [name, raw] of Object.entries(services)) {
      const deps = asRecord(raw).depends_on;
      const entries: Array<[string, string]> = Array.isArray(deps)
        ? deps.map((d) => [String(d), 'service_started'])
        : Object.entries(asRecord(deps)).map(([d, c]) => [d, String(asRecord(c).condition ?? 'service_started')]);
      for (const [dep, condition] of entries) {
        expect(serviceNames, `${name} depends on ${dep}`).toContain(dep);
        expect(dep).not.toBe(name);
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        if (condition === 'service_healthy')
          expect(asRecord(services[dep]).healthcheck, `${dep} healthcheck`).toBeDefined();
      }
    }
    for (const name of ['worker', 'bridge'])
      expect(asRecord(asRecord(services[name]).depends_on)['temporal-search-attributes']).toEqual({
        condition: 'service_completed_successfully',
      });
  });

  it('publishes sane, distinct ports', () => {
    const hostPorts: number[] = [];
    for (const [name, raw] of Object.entries(services)) {
      for (const p of asArray(asRecord(raw).ports)) {
        const m = /^(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(String(p));
        expect(m, `${name}: ${String(p)}`).not.toBeNull();
        for (const n of [m![1], m![2]].filter(Boolean).map(Number)) expect(n > 0 && n < 65536).toBe(true);
        hostPorts.push(Number(m![1] ?? m![2]));
      }
    }
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    expect(asArray(asRecord(services.temporal).ports)).toContain('7233:7233');
  });

  it('registers the search attributes of spec section 9 with the script of the Kubernetes Job', () => {
    const init = asRecord(services['temporal-search-attributes']);
    expect(String(init.image)).toMatch(/^temporalio\/admin-tools:/);
    const mounts = asArray(init.volumes).map(String);
    expect(mounts).toContain(`./${SEARCH_ATTRIBUTE_SCRIPT}:/register-search-attributes.sh:ro`);
    expect(asArray(init.entrypoint)).toEqual(['/bin/sh', '/register-search-attributes.sh']);
    expect(envOf('temporal-search-attributes')).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233' });
  });
});

// ---- deploy/ ----
describe('deploy/crds: the CRDs as their own kustomization', () => {
  const crdFiles = readdirSync(CRD_DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  const crdKustomization = parse(readFileSync(join(CRD_DIR, 'kustomization.yaml'), 'utf8')) as Json;

  it('parses every CRD and lists each in its kustomization, nothing else', () => {
    for (const f of crdFiles) expect(docs(join(CRD_DIR, f)).map((d) => d.kind)).toEqual(['CustomResourceDefinition']);
    expect(crdFiles).toHaveLength(Object.keys(KINDS).length);
    expect(asArray<string>(crdKustomization.resources).sort()).toEqual([...crdFiles].sort());
    // No namespace or other transformer: the CRDs are cluster-scoped and applied as generated.
    expect(Object.keys(crdKustomization).sort()).toEqual(['apiVersion', 'kind', 'resources']);
  });

  it("puts the same generated files in the Helm chart's crds/ directory (npm run crds writes both)", () => {
    expect(staleCrdFiles(CRD_DIR)).toEqual([]);
    expect(staleCrdFiles(CHART_CRD_DIR)).toEqual([]);
    for (const f of crdFiles) expect(readFileSync(join(CHART_CRD_DIR, f), 'utf8')).toBe(read(`deploy/crds/${f}`));
  });

  it('is referenced by no other kustomization, so `kubectl delete -k` of the rest keeps every CRD', () => {
    for (const dir of ['base', 'overlays/example', 'monitoring']) {
      const k = parse(read(`deploy/${dir}/kustomization.yaml`)) as Json;
      for (const r of asArray<string>(k.resources)) expect(r, `deploy/${dir}`).not.toMatch(/crds/);
    }
    expect(deployDocs.filter((d) => d.doc.kind === 'CustomResourceDefinition')).toEqual([]);
  });
});

describe('deploy/base kustomize base', () => {
  const resources = asArray<string>(kustomization.resources);

  it('parses every YAML file', () => {
    expect(deployDocs.length).toBeGreaterThan(0);
  });

  it('lists resources that exist and every manifest of deploy/base', () => {
    for (const r of resources) expect(existsSync(join(BASE, r)), r).toBe(true);
    expect(new Set(resources).size).toBe(resources.length);
    for (const f of deployFiles.filter((x) => x !== 'kustomization.yaml')) expect(resources).toContain(f);
  });

  it('installs into the namespace it creates', () => {
    expect(byKind('Namespace').map((n) => asRecord(n.metadata).name)).toEqual([namespace]);
  });

  it('has one ServiceAccount per identity, each bound to the ClusterRole of its name and to nothing else', () => {
    expect(byKind('ServiceAccount').map((s) => asRecord(s.metadata).name)).toEqual(IDENTITIES.map((i) => i.account));
    expect(byKind('ClusterRole', 'rbac.yaml').map((r) => asRecord(r.metadata).name)).toEqual(
      IDENTITIES.map((i) => i.account),
    );
    // The other ClusterRoles are the tenants' (tenant-rbac.yaml), bound by Kubernetes' aggregation, never here.
    expect(byKind('ClusterRole', 'tenant-rbac.yaml').map((r) => asRecord(r.metadata).name)).toEqual([
      'aim-edit',
      'aim-view',
    ]);
    const bindings = byKind('ClusterRoleBinding');
    expect(bindings.map((b) => asRecord(b.metadata).name)).toEqual(IDENTITIES.map((i) => i.account));
    for (const { account } of IDENTITIES) {
      const binding = bindings.find((b) => asRecord(b.metadata).name === account);
      expect(binding?.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: account });
      expect(binding?.subjects).toEqual([{ kind: 'ServiceAccount', name: account, namespace }]);
    }
    expect(byKind('Role')).toEqual([]);
    expect(byKind('RoleBinding')).toEqual([]);
  });

  /** The rows of each `# ClusterRole <name>` table of rbac.yaml: `# | apiGroup | resource | verbs | who and why`. */
  const documentedTables = (): Map<string, Set<string>> => {
    const tables = new Map<string, Set<string>>();
    let current: string | undefined;
    for (const line of readFileSync(join(BASE, 'rbac.yaml'), 'utf8').split('\n')) {
      const heading = /^#\s*ClusterRole\s+([a-z0-9-]+)\b/.exec(line);
      if (heading) {
        current = heading[1]!;
        tables.set(current, new Set());
        continue;
      }
      const m = /^#\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*([a-z ]+?)\s*\|/.exec(line);
      if (!m || m[1] === 'apiGroup' || m[1]!.startsWith('-')) continue;
      expect(current, `a table row before any "# ClusterRole <name>" heading: ${line}`).toBeDefined();
      for (const v of m[3]!.split(/\s+/)) tables.get(current!)!.add(triple(m[1] === '""' ? '' : m[1]!, m[2]!, v));
    }
    return tables;
  };

  describe.each(IDENTITIES)('ClusterRole $account (the $identity)', ({ identity, account, table }) => {
    const role = byKind('ClusterRole').find((r) => asRecord(r.metadata).name === account);
    const rules = asArray<Json>(role?.rules);
    const granted = new Set(
      rules.flatMap((r) =>
        asArray<string>(r.apiGroups).flatMap((g) =>
          asArray<string>(r.resources).flatMap((res) => asArray<string>(r.verbs).map((v) => triple(g, res, v))),
        ),
      ),
    );

    it('has no wildcards, resource names or non-resource URLs', () => {
      expect(role).toBeDefined();
      expect(rules.length).toBeGreaterThan(0);
      for (const r of rules) {
        for (const key of ['apiGroups', 'resources', 'verbs'] as const)
          for (const v of asArray<string>(r[key])) expect(v, key).not.toContain('*');
        expect(r.resourceNames).toBeUndefined();
        expect(r.nonResourceURLs).toBeUndefined();
        expect(r.aggregationRule).toBeUndefined();
      }
    });

    it('grants exactly its table: every (apiGroup, resource, verb) its code uses and nothing more', () => {
      expect(
        [...table].filter((t) => !granted.has(t)),
        'missing',
      ).toEqual([]);
      expect(
        [...granted].filter((t) => !table.has(t)),
        'not in the table',
      ).toEqual([]);
    });

    it('documents the same table in rbac.yaml', () => {
      expect([...(documentedTables().get(account) ?? [])].sort()).toEqual([...table].sort());
    });

    it('covers every AIM kind', () => {
      const plurals = Object.values(KINDS).map((k) => (k as { plural: string }).plural);
      expect(plurals).toHaveLength(6);
      for (const p of plurals) {
        for (const v of identity === 'worker' ? ['get', 'list'] : ['list', 'watch'])
          expect(granted).toContain(triple('aim.silogen.ai', p, v));
        if (identity === 'worker') expect(granted).toContain(triple('aim.silogen.ai', `${p}/status`, 'patch'));
      }
    });

    if (identity === 'bridge') {
      it('only lists and watches, subresources none: the bridge writes nothing and reads nothing by name', () => {
        for (const r of rules) expect(asArray<string>(r.verbs).sort()).toEqual(['list', 'watch']);
        for (const t of granted) expect(t.split(' ')[1]).not.toContain('/');
      });

      it('lists and watches every source of the bridge (bridge/sources.ts)', () => {
        if (!existsSync(join(ROOT, 'bridge/sources.ts'))) return;
        const src = read('bridge/sources.ts');
        for (const kind of ['Job', 'PersistentVolumeClaim', 'ResourceQuota', 'Secret', 'Node'])
          expect(src).toContain(`kind: '${kind}'`);
        // Secrets as metadata only: an Accept header for PartialObjectMetadata on the list and the watch.
        expect(read('bridge/metadataOnly.ts')).toContain('as=PartialObjectMetadata');
        expect(src).toContain('METADATA_ONLY_LIST');
        expect(src).toContain('metadataOnlyConfig(kc)');
      });
    } else {
      it('watches only what its read cache holds and may not list or watch Secrets', () => {
        // activities/kube/readCacheSources.ts: the AIM kinds, InferenceServices, Jobs, PVCs, Nodes, our Jobs' pods.
        expect([...granted].filter((t) => t.endsWith(' watch')).sort()).toEqual(
          [
            ...['aimmodels', 'aimclustermodels', 'aimservicetemplates', 'aimclusterservicetemplates'].map((r) =>
              triple('aim.silogen.ai', r, 'watch'),
            ),
            ...['aimmodelcaches', 'aimservices'].map((r) => triple('aim.silogen.ai', r, 'watch')),
            triple('serving.kserve.io', 'inferenceservices', 'watch'),
            triple('batch', 'jobs', 'watch'),
            ...['persistentvolumeclaims', 'pods', 'nodes'].map((r) => triple('', r, 'watch')),
          ].sort(),
        );
        expect(granted).not.toContain(triple('', 'secrets', 'watch'));
        expect(granted).not.toContain(triple('', 'secrets', 'list'));
        expect(granted).toContain(triple('', 'secrets', 'get'));
      });

      it('holds everything the per-cache progress Role grants (RBAC escalation check, no escalate/bind)', () => {
        const progress = buildProgressRole('c', 'ns', {
          apiVersion: 'aim.silogen.ai/v1alpha1',
          kind: 'AIMModelCache',
          name: 'c',
          uid: 'u',
        });
        const needed = (progress.rules ?? []).flatMap((r) =>
          (r.apiGroups ?? []).flatMap((g) =>
            (r.resources ?? []).flatMap((res) => r.verbs.map((v) => triple(g, res, v))),
          ),
        );
        expect(needed.length).toBeGreaterThan(0);
        for (const t of needed) expect(granted).toContain(t);
        for (const v of ['escalate', 'bind']) expect([...granted].some((t) => t.endsWith(` ${v}`))).toBe(false);
      });
    }
  });

  describe('Deployments', () => {
    const deployments = byKind('Deployment');
    const configMaps = byKind('ConfigMap');
    const config = asRecord(configMaps[0]?.data);

    it('run the worker and the bridge from the released image, each as its own ServiceAccount', () => {
      expect(deployments.map((d) => asRecord(d.metadata).name).sort()).toEqual([
        'aim-orchestrator-bridge',
        'aim-orchestrator-worker',
      ]);
      for (const d of deployments) {
        const pod = asRecord(asRecord(asRecord(d.spec).template).spec);
        const own = IDENTITIES.find((i) => i.deployment === asRecord(d.metadata).name)!;
        expect(pod.serviceAccountName).toBe(own.account);
        expect(asRecord(asRecord(d.metadata).labels)['app.kubernetes.io/component']).toBe(own.identity);
        const [c, ...more] = asArray<Json>(pod.containers);
        expect(more).toEqual([]);
        expect(c?.image).toBe('ghcr.io/silogen/aim-orchestrator:0.1.0');
        const component = asRecord(asRecord(d.metadata).labels)['app.kubernetes.io/component'] as 'worker' | 'bridge';
        expect(c?.args).toEqual([compiledPath(ENTRY_POINTS[component])]);
        const sel = asRecord(asRecord(d.spec).selector).matchLabels;
        expect(asRecord(asRecord(asRecord(d.spec).template).metadata).labels).toMatchObject(asRecord(sel));
      }
    });

    it('run as non-root uid 1000 under the restricted Pod Security Standard', () => {
      for (const d of deployments) {
        const pod = asRecord(asRecord(asRecord(d.spec).template).spec);
        const psc = asRecord(pod.securityContext);
        expect(psc).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 1000,
          runAsGroup: 1000,
          seccompProfile: { type: 'RuntimeDefault' },
        });
        const tmpVolumes = new Set(
          asArray<Json>(pod.volumes)
            .filter((v) => v.emptyDir)
            .map((v) => v.name),
        );
        for (const c of asArray<Json>(pod.containers)) {
          expect(c.securityContext).toMatchObject({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ['ALL'] },
          });
          expect(
            asArray<Json>(c.volumeMounts).find((m) => m.mountPath === '/tmp' && tmpVolumes.has(m.name)),
          ).toBeDefined();
          const res = asRecord(c.resources);
          expect(asRecord(res.requests)).toHaveProperty('cpu');
          expect(asRecord(res.requests)).toHaveProperty('memory');
          expect(asRecord(res.limits)).toHaveProperty('memory');
        }
      }
    });

    it('take their settings from the ConfigMap, which sets only what the code reads', () => {
      expect(configMaps).toHaveLength(1);
      const name = asRecord(configMaps[0]!.metadata).name;
      for (const d of deployments) {
        const [c] = asArray<Json>(asRecord(asRecord(asRecord(d.spec).template).spec).containers);
        expect(asArray<Json>(c?.envFrom).map((e) => asRecord(e.configMapRef).name)).toContain(name);
      }
      for (const key of [
        'TEMPORAL_ADDRESS',
        'TEMPORAL_NAMESPACE',
        'AIM_TASK_QUEUE',
        'AIM_DOWNLOADER_IMAGE',
        'AIM_BRIDGE_HEALTH_PORT',
      ])
        expect(config).toHaveProperty(key);
      expect(config).not.toHaveProperty('KUBECONFIG'); // in-cluster: the pod's ServiceAccount
      const read = new Set([...WORKER_ENV, ...BRIDGE_ENV]);
      if (existsSync(join(ROOT, ENTRY_POINTS.bridge)))
        for (const key of Object.keys(config)) expect(read, key).toContain(key);
    });

    it('probe the bridge on its health port', () => {
      const bridge = deployments.find((d) => asRecord(d.metadata).name === 'aim-orchestrator-bridge')!;
      const [c] = asArray<Json>(asRecord(asRecord(asRecord(bridge.spec).template).spec).containers);
      const port = String(config.AIM_BRIDGE_HEALTH_PORT);
      expect(asArray<Json>(c?.ports).map((p) => String(p.containerPort))).toContain(port);
      for (const [probe, path] of [
        ['readinessProbe', '/readyz'],
        ['livenessProbe', '/healthz'],
      ] as const) {
        const text = JSON.stringify(c?.[probe] ?? null);
        expect(text, probe).toContain(path);
        expect(text, probe).toMatch(/AIM_BRIDGE_HEALTH_PORT|8081/);
      }
      if (existsSync(join(ROOT, 'bridge/health.ts'))) {
        const src = read('bridge/health.ts');
        expect(src).toContain("'/healthz'");
        expect(src).toContain("'/readyz'");
      }
    });
  });
});

describe('tenant roles (deploy/base/tenant-rbac.yaml)', () => {
  const role = (name: string) =>
    byKind('ClusterRole', 'tenant-rbac.yaml').find((r) => asRecord(r.metadata).name === name);
  const grants = (r: Json | undefined) =>
    new Set(
      asArray<Json>(r?.rules).flatMap((rule) =>
        asArray<string>(rule.apiGroups).flatMap((g) =>
          asArray<string>(rule.resources).flatMap((res) => asArray<string>(rule.verbs).map((v) => triple(g, res, v))),
        ),
      ),
    );
  const kinds = Object.values(KINDS) as Array<{ plural: string; scope: string }>;

  it('aggregate into the built-in roles: aim-edit into edit and admin, aim-view into view', () => {
    expect(asRecord(role('aim-edit')?.metadata).labels).toMatchObject({
      'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
      'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
    });
    expect(asRecord(role('aim-view')?.metadata).labels).toMatchObject({
      'rbac.authorization.k8s.io/aggregate-to-view': 'true',
    });
    expect(asRecord(asRecord(role('aim-view')?.metadata).labels)).not.toHaveProperty(
      'rbac.authorization.k8s.io/aggregate-to-edit',
    );
  });

  it('aim-edit writes every namespaced AIM kind and nothing cluster-scoped, no status, nothing outside AIM', () => {
    const granted = grants(role('aim-edit'));
    for (const k of kinds.filter((x) => x.scope === 'Namespaced'))
      for (const v of ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'])
        expect(granted).toContain(triple('aim.silogen.ai', k.plural, v));
    for (const t of granted) {
      expect(t.startsWith('aim.silogen.ai ')).toBe(true);
      expect(t.split(' ')[1]).not.toContain('/');
    }
    for (const k of kinds.filter((x) => x.scope === 'Cluster'))
      expect([...granted].filter((t) => t.split(' ')[1] === k.plural)).toEqual([]);
  });

  it('aim-view reads every AIM kind and its status and writes nothing', () => {
    const granted = grants(role('aim-view'));
    const want = kinds.flatMap((k) =>
      [k.plural, `${k.plural}/status`].flatMap((res) =>
        ['get', 'list', 'watch'].map((v) => triple('aim.silogen.ai', res, v)),
      ),
    );
    expect([...granted].sort()).toEqual(want.sort());
  });
});

describe('the search-attribute Job', () => {
  const script = read(SEARCH_ATTRIBUTE_SCRIPT);

  it('registers exactly the Keyword attributes the workflows set, idempotently', () => {
    expect(WORKFLOW_SEARCH_ATTRIBUTES).toEqual(SEARCH_ATTRIBUTES);
    const loop = /for name in ([\w ]+); do/.exec(script);
    expect(loop?.[1]!.split(' ')).toEqual(WORKFLOW_SEARCH_ATTRIBUTES);
    expect(script).toContain('temporal operator search-attribute create');
    expect(script).toContain('--type Keyword');
    expect(script).toContain('temporal operator search-attribute list');
    expect(script).toMatch(/^set -eu$/m);
  });

  it('is the same script in the base, the chart and docker-compose.yml', () => {
    // The chart's files/ links to the base's script (Helm follows the link; kustomize reads only below base/).
    expect(readlinkSync(join(CHART, 'files', 'register-search-attributes.sh'))).toBe(
      '../../../base/register-search-attributes.sh',
    );
    expect(read('deploy/helm/aim-orchestrator/files/register-search-attributes.sh')).toBe(script);
    const generator = asArray<Json>(kustomization.configMapGenerator).find(
      (g) => g.name === 'aim-orchestrator-search-attributes',
    );
    expect(asArray(generator?.files)).toEqual(['register-search-attributes.sh']);
  });

  it('runs it from the mounted ConfigMap with the Temporal settings of the worker, one-shot and restricted', () => {
    const [job, ...more] = byKind('Job');
    expect(more).toEqual([]);
    const spec = asRecord(job!.spec);
    expect(spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(spec.backoffLimit).toBeGreaterThan(0);
    const pod = asRecord(asRecord(spec.template).spec);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.restartPolicy).toBe('OnFailure');
    const [c] = asArray<Json>(pod.containers);
    expect(String(c?.image)).toMatch(/^temporalio\/admin-tools:/);
    expect(asArray(c?.command)).toEqual(['/bin/sh', '/scripts/register-search-attributes.sh']);
    expect(asArray<Json>(c?.envFrom).map((e) => asRecord(e.configMapRef).name)).toEqual(['aim-orchestrator-config']);
    const scripts = asArray<Json>(pod.volumes).find((v) => v.name === 'scripts');
    expect(asRecord(scripts?.configMap).name).toBe('aim-orchestrator-search-attributes');
    expect(asArray<Json>(c?.volumeMounts)).toContainEqual({ name: 'scripts', mountPath: '/scripts', readOnly: true });
    expect(c?.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
  });
});

describe('Temporal connection settings in deploy/ and docker-compose.yml', () => {
  const texts = [
    ...filesUnder(DEPLOY)
      .filter((f) => /\.(ya?ml|tpl|sh)$/.test(f) && !f.includes('crds/'))
      .map((f) => [`deploy/${f}`, read(`deploy/${f}`)] as const),
    ['docker-compose.yml', composeText] as const,
  ];

  it('use only the envconfig variable names the worker, the bridge and the Temporal CLI read', () => {
    const used = new Set<string>();
    for (const [file, text] of texts)
      for (const m of text.matchAll(/\bTEMPORAL_[A-Z_]+\b/g)) {
        if (file === 'docker-compose.yml' && HOST_VARIABLES.has(m[0])) continue;
        used.add(m[0]);
        expect(TEMPORAL_ENVCONFIG, `${file}: ${m[0]}`).toContain(m[0]);
      }
    for (const name of ['TEMPORAL_ADDRESS', 'TEMPORAL_API_KEY', 'TEMPORAL_TLS_CLIENT_CERT_PATH'])
      expect(used).toContain(name);
  });

  it('never put a credential in a ConfigMap or a values default', () => {
    const config = asRecord(byKind('ConfigMap')[0]?.data);
    for (const key of Object.keys(config)) expect(key).not.toMatch(/API_KEY|_CERT|_KEY_PATH|PASSWORD|SECRET/);
    const values = parse(read('deploy/helm/aim-orchestrator/values.yaml')) as Json;
    const temporal = asRecord(values.temporal);
    expect(asRecord(temporal.apiKey).secretName).toBe('');
    expect(asRecord(temporal.tls).secretName).toBe('');
    expect(Object.keys(asRecord(temporal.apiKey)).sort()).toEqual(['key', 'secretName']);
  });
});

describe('the Helm chart', () => {
  const chart = parse(read('deploy/helm/aim-orchestrator/Chart.yaml')) as Json;
  const values = parse(read('deploy/helm/aim-orchestrator/values.yaml')) as Json;

  it('is a v2 application chart whose appVersion is the release of the package and the base image tag', () => {
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'aim-orchestrator', type: 'application' });
    const pkg = JSON.parse(read('package.json')) as { version: string };
    expect(chart.appVersion).toBe(pkg.version);
    const image = asArray<Json>(kustomization.images).find((i) => i.name === 'ghcr.io/silogen/aim-orchestrator');
    expect(image?.newTag).toBe(pkg.version);
    expect(asRecord(values.image).repository).toBe('ghcr.io/silogen/aim-orchestrator');
    expect(asRecord(values.downloaderImage).repository).toBe('ghcr.io/silogen/aim-downloader');
  });

  it('has values for Temporal, TLS, the API key, images, namespaces to watch, resources and metrics', () => {
    expect(asRecord(values.temporal)).toMatchObject({
      address: expect.any(String),
      namespace: expect.any(String),
      tls: expect.objectContaining({ secretName: '', serverCAKey: '', serverName: '' }),
      apiKey: expect.objectContaining({ secretName: '' }),
    });
    expect(values.watchNamespaces).toEqual([]);
    for (const part of ['worker', 'bridge'])
      expect(asRecord(asRecord(values[part]).resources)).toHaveProperty('limits');
    expect(asRecord(values.metrics)).toMatchObject({ enabled: true, serviceMonitor: { enabled: false } });
    // The example values parse and set what a production install changes.
    const example = parse(read('deploy/helm/aim-orchestrator/values-example.yaml')) as Json;
    expect(asRecord(asRecord(example.temporal).apiKey).secretName).toBeTruthy();
    expect(asRecord(asRecord(example.temporal).tls).secretName).toBeTruthy();
  });

  it('keeps its templates free of CRDs (crds/ only: Helm installs them first and never deletes them)', () => {
    for (const f of readdirSync(join(CHART, 'templates')))
      expect(read(`deploy/helm/aim-orchestrator/templates/${f}`), f).not.toContain('CustomResourceDefinition');
  });
});

describe('deploy/monitoring (prometheus-operator objects, not in the base)', () => {
  const monitoring = join(DEPLOY, 'monitoring');
  const objects = readdirSync(monitoring)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) => docs(join(monitoring, f)));
  const rule = objects.find((o) => o.kind === 'PrometheusRule');
  const exprs = asArray<Json>(asRecord(rule?.spec).groups).flatMap((g) =>
    asArray<Json>(g.rules).map((r) => String(r.expr)),
  );

  it('holds the chart the same alert groups', () => {
    const chartRules = parse(read('deploy/helm/aim-orchestrator/files/prometheus-rules.yaml')) as Json;
    expect(chartRules.groups).toEqual(asRecord(rule?.spec).groups);
    expect(exprs.length).toBeGreaterThan(0);
  });

  it("queries Temporal's metrics by their Prometheus names: counters with _total, durations in seconds", () => {
    for (const name of exprs.flatMap((e) => [...e.matchAll(/\btemporal_\w+/g)].map((m) => m[0]))) {
      if (/latency/.test(name)) expect(name).toMatch(/_seconds_(bucket|sum|count)$/);
      else expect(name).toMatch(/_total$/);
    }
  });

  it('scrapes the ports the Deployments declare, through Services that select their pods', () => {
    const deployments = byKind('Deployment');
    for (const monitor of objects.filter((o) => o.kind === 'ServiceMonitor')) {
      const selector = asRecord(asRecord(monitor.spec).selector).matchLabels;
      const service = objects.find(
        (o) =>
          o.kind === 'Service' &&
          JSON.stringify(asRecord(asRecord(o.metadata).labels)).includes(
            `"app.kubernetes.io/component":"${asRecord(selector)['app.kubernetes.io/component']}"`,
          ),
      );
      expect(service, String(asRecord(monitor.metadata).name)).toBeDefined();
      const [endpoint] = asArray<Json>(asRecord(monitor.spec).endpoints);
      const port = asArray<Json>(asRecord(service!.spec).ports).find((p) => p.name === endpoint?.port);
      expect(port).toBeDefined();
      const pods = deployments.filter((d) =>
        Object.entries(asRecord(asRecord(service!.spec).selector)).every(
          ([k, v]) => asRecord(asRecord(asRecord(asRecord(d.spec).template).metadata).labels)[k] === v,
        ),
      );
      expect(pods).toHaveLength(1);
      const containerPorts = asArray<Json>(
        asArray<Json>(asRecord(asRecord(asRecord(pods[0]!.spec).template).spec).containers)[0]?.ports,
      );
      expect(containerPorts.map((p) => p.name)).toContain(port!.targetPort);
    }
  });
});
