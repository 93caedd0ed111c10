import { describe, expect, it } from 'vitest';
import {
  buildDownloaderJob,
  buildProgressRole,
  buildProgressRoleBinding,
  downloaderServiceAccount,
  type DownloaderJobInput,
} from '../../domain/jobs.js';
import { overlayEnv, secretRefs, withoutCredentials } from '../../domain/env.js';

const owner = { apiVersion: 'aim.silogen.ai/v1alpha1', kind: 'AIMModelCache', name: 'c', uid: 'u-1' };
const base = (over: Partial<DownloaderJobInput> = {}): DownloaderJobInput => ({
  mode: 'download',
  name: 'c-dl-1',
  namespace: 'team',
  owner,
  image: 'ghcr.io/silogen/aim-downloader:0.1.0',
  serviceAccountName: 'aim-downloader',
  sources: [
    {
      modelId: 'Qwen/Qwen2-0.5B',
      sourceUri: 's3://models/qwen',
      expectedSizeBytes: 1024,
      env: [
        { name: 'AWS_ENDPOINT_URL', value: 'http://minio:9000' },
        { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3', key: 'id' } } },
        { name: 'MOUNT_PATH', value: '/elsewhere' },
      ],
    },
  ],
  cache: { name: 'c', pvcName: 'c-0a1b2c3d', stallTimeoutSeconds: 30, attempt: 2 },
  ...over,
});

const envOf = (job: ReturnType<typeof buildDownloaderJob>, i = 0) =>
  Object.fromEntries((job.spec!.template.spec!.containers[i]!.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

describe('downloader Jobs', () => {
  it('meet the restricted Pod Security Standard', () => {
    const pod = buildDownloaderJob(base()).spec!.template.spec!;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      fsGroupChangePolicy: 'OnRootMismatch',
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers[0]!.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
    });
    expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '1Gi' } });
    expect(pod.restartPolicy).toBe('Never');
  });

  it('leave retries to the workflow and are owned by the cache', () => {
    const job = buildDownloaderJob(base());
    expect(job.spec!.backoffLimit).toBe(0);
    expect(job.metadata!.ownerReferences).toEqual([{ ...owner, controller: true, blockOwnerDeletion: true }]);
    expect(job.metadata!.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'aim-orchestrator',
      'aim.silogen.ai/cache': 'c',
    });
  });

  it('set the contract variables last, so no user env overrides them', () => {
    const env = envOf(buildDownloaderJob(base()));
    expect(env).toMatchObject({
      MODE: 'download',
      SOURCE_URI: 's3://models/qwen',
      MODEL_ID: 'Qwen/Qwen2-0.5B',
      MOUNT_PATH: '/cache',
      EXPECTED_SIZE_BYTES: '1024',
      STALL_TIMEOUT: '30',
      ATTEMPT: '2',
      TERMINATION_MESSAGE_PATH: '/dev/termination-log',
      CACHE_NAME: 'c',
      CACHE_NAMESPACE: 'team',
      AWS_ENDPOINT_URL: 'http://minio:9000',
    });
    expect(env.AWS_ACCESS_KEY_ID).toEqual({ secretKeyRef: { name: 's3', key: 'id' } });
    expect(env.HF_HUB_DISABLE_XET).toBeUndefined();
  });

  it('switch Hugging Face to plain HTTP after a stall', () => {
    const env = envOf(
      buildDownloaderJob(
        base({ cache: { name: 'c', pvcName: 'p', stallTimeoutSeconds: 30, attempt: 3, hfDisableXet: true } }),
      ),
    );
    expect(env.HF_HUB_DISABLE_XET).toBe('1');
  });

  it('mount the cache volume for downloads and nothing for probes', () => {
    const dl = buildDownloaderJob(base()).spec!.template.spec!;
    expect(dl.volumes).toContainEqual({ name: 'cache', persistentVolumeClaim: { claimName: 'c-0a1b2c3d' } });
    expect(dl.containers[0]!.volumeMounts).toContainEqual({ name: 'cache', mountPath: '/cache' });
    const probe = buildDownloaderJob(base({ mode: 'probe', name: 'c-probe-1' })).spec!.template.spec!;
    expect(probe.volumes!.map((v) => v.name)).toEqual(['tmp']);
    expect(probe.automountServiceAccountToken).toBe(false);
    expect(envOf(buildDownloaderJob(base({ mode: 'probe' }))).CACHE_NAME).toBeUndefined();
  });

  it('mount a caBundle and point every TLS stack at it', () => {
    const job = buildDownloaderJob(
      base({
        sources: [{ ...base().sources[0]!, caBundle: { configMapKeyRef: { name: 'corp-ca', key: 'root.pem' } } }],
      }),
    );
    const pod = job.spec!.template.spec!;
    expect(pod.volumes).toContainEqual({
      name: 'ca-0',
      configMap: { name: 'corp-ca', items: [{ key: 'root.pem', path: 'ca.crt' }] },
    });
    expect(pod.containers[0]!.volumeMounts).toContainEqual({ name: 'ca-0', mountPath: '/etc/aim/ca', readOnly: true });
    const env = envOf(job);
    for (const v of ['NODE_EXTRA_CA_CERTS', 'AWS_CA_BUNDLE', 'REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE'])
      expect(env[v]).toBe('/etc/aim/ca/ca.crt');
  });

  it('carry the template node affinity and tolerations', () => {
    const nodeAffinity = {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: 'amd.com/gpu.product-name', operator: 'In' as const, values: ['MI300X'] }] },
        ],
      },
    };
    const tolerations = [{ key: 'amd.com/gpu', operator: 'Exists' as const }];
    const pod = buildDownloaderJob(base({ nodeAffinity, tolerations })).spec!.template.spec!;
    expect(pod.affinity).toEqual({ nodeAffinity });
    expect(pod.tolerations).toEqual(tolerations);
    expect(pod.containers[0]!.resources!.limits).not.toHaveProperty('amd.com/gpu');
  });

  it('probe several sources of a model in one Job, one container each', () => {
    const s = base().sources[0]!;
    const job = buildDownloaderJob(
      base({ mode: 'probe', cache: undefined, sources: [s, { ...s, modelId: 'org/b', sourceUri: 'hf://org/b' }] }),
    );
    expect(job.spec!.template.spec!.containers.map((c) => c.name)).toEqual(['probe-0', 'probe-1']);
    expect(envOf(job, 1).SOURCE_URI).toBe('hf://org/b');
  });

  it('refuse a download without its volume', () => {
    expect(() => buildDownloaderJob(base({ cache: { name: 'c', stallTimeoutSeconds: 30, attempt: 1 } }))).toThrow(
      /volume/,
    );
  });
});

describe('progress RBAC', () => {
  it('lets the downloader patch only its own cache status', () => {
    const role = buildProgressRole('c', 'team', owner);
    expect(role.metadata!.name).toBe('c-progress');
    expect(role.rules).toEqual([
      {
        apiGroups: ['aim.silogen.ai'],
        resources: ['aimmodelcaches/status'],
        resourceNames: ['c'],
        verbs: ['get', 'patch'],
      },
    ]);
    const binding = buildProgressRoleBinding('c', 'team', 'sa', owner);
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'sa', namespace: 'team' }]);
    expect(binding.roleRef.name).toBe('c-progress');
  });

  it('picks the service account cache → service → model → aim-downloader', () => {
    expect(downloaderServiceAccount(undefined, 'svc', 'model')).toBe('svc');
    expect(downloaderServiceAccount(undefined, undefined, undefined)).toBe('aim-downloader');
  });
});

describe('env precedence', () => {
  it('overlays by name, highest last', () => {
    expect(
      overlayEnv(
        [
          { name: 'A', value: '1' },
          { name: 'B', value: '1' },
        ],
        [{ name: 'A', value: '2' }],
      ),
    ).toEqual([
      { name: 'A', value: '2' },
      { name: 'B', value: '1' },
    ]);
  });

  it('keeps credentials out of serving env and lists secret references', () => {
    const env = [
      { name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hf', key: 'token' } } },
      { name: 'X', value: '1' },
    ];
    expect(withoutCredentials(env)).toEqual([{ name: 'X', value: '1' }]);
    expect(secretRefs(env)).toEqual([{ name: 'hf', key: 'token', env: 'HF_TOKEN' }]);
  });
});

describe('Job watch helpers', () => {
  it('names the claims of a pod that are not Bound', async () => {
    const { unboundClaims } = await import('../../activities/jobs.js');
    const pod = {
      spec: {
        containers: [],
        volumes: [
          { name: 'tmp', emptyDir: {} },
          { name: 'cache', persistentVolumeClaim: { claimName: 'c-1' } },
        ],
      },
    };
    expect(unboundClaims(pod, { 'c-1': 'Pending' })).toEqual(['c-1']);
    expect(unboundClaims(pod, { 'c-1': 'Bound' })).toEqual([]);
    expect(unboundClaims(undefined, {})).toEqual([]);
  });

  it('reads a finished Job from its pod: the downloader result, or why it never ran', async () => {
    const { jobOutcome } = await import('../../activities/jobs.js');
    const done = jobOutcome(
      { status: { conditions: [{ type: 'Failed', status: 'True' }] } } as never,
      [
        {
          metadata: { creationTimestamp: new Date() },
          status: {
            phase: 'Failed',
            containerStatuses: [
              {
                name: 'download',
                state: { terminated: { exitCode: 1, message: '{"reason":"Stalled","message":"m"}' } },
              },
            ],
          },
        },
      ] as never,
      0,
      900,
    );
    expect(done).toMatchObject({ phase: 'Failed', containers: [{ exitCode: 1, result: { reason: 'Stalled' } }] });
    const pulling = (reason: string) =>
      [
        {
          status: {
            phase: 'Pending',
            containerStatuses: [{ name: 'download', state: { waiting: { reason, message: 'no' } } }],
          },
        },
      ] as never;
    // The kubelet retries pulls with a back-off: the first ErrImagePull is not a failure yet, a persisting one is.
    expect(jobOutcome({} as never, pulling('ErrImagePull'), 0, 900)).toBeUndefined();
    expect(jobOutcome({} as never, pulling('ImagePullBackOff'), 119, 900)).toBeUndefined();
    expect(jobOutcome({} as never, pulling('ImagePullBackOff'), 120, 900)).toMatchObject({
      phase: 'NotStarted',
      problem: { reason: 'ImagePullFailed', message: 'container download cannot pull image: ImagePullBackOff: no' },
    });
    // No retry fixes an invalid name.
    expect(jobOutcome({} as never, pulling('InvalidImageName'), 0, 900)).toMatchObject({
      problem: { reason: 'ImagePullFailed' },
    });
    expect(jobOutcome({} as never, [{ status: { phase: 'Pending' } }] as never, 901, 900)).toMatchObject({
      problem: { reason: 'PodNotStarted' },
    });
    expect(jobOutcome({} as never, [{ status: { phase: 'Pending' } }] as never, 10, 900)).toBeUndefined();
  });

  it('names the pod, the container and the image or limit in pod-level reasons; the pull deadline is the worker clock', async () => {
    const { jobOutcome } = await import('../../activities/jobs.js');
    const spec = {
      nodeName: 'n1',
      containers: [{ name: 'download', image: 'reg/dl:bad', resources: { limits: { memory: '48Mi' } } }],
    };
    const failed = { status: { conditions: [{ type: 'Failed', status: 'True' }] } } as never;
    const oom = jobOutcome(
      failed,
      [
        {
          metadata: { name: 'c-dl-1-x' },
          spec,
          status: {
            phase: 'Failed',
            containerStatuses: [{ name: 'download', state: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }],
          },
        },
      ] as never,
      5,
      900,
    );
    expect(oom?.problem).toEqual({
      reason: 'OOMKilled',
      message: 'container download of pod c-dl-1-x was OOMKilled (exit code 137) above its memory limit 48Mi',
    });
    const evicted = jobOutcome(
      failed,
      [
        {
          metadata: { name: 'c-dl-2-y' },
          spec,
          status: { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' },
        },
      ] as never,
      5,
      900,
    );
    expect(evicted?.problem).toEqual({
      reason: 'Evicted',
      message: 'pod c-dl-2-y was evicted from node n1: The node was low on resource: memory.',
    });
    const pulling = [
      {
        metadata: { name: 'c-probe-1-z' },
        spec,
        status: {
          phase: 'Pending',
          containerStatuses: [
            {
              name: 'download',
              state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "reg/dl:bad"' } },
            },
          ],
        },
      },
    ] as never;
    // A compressed clock (AIM_TIME_SCALE) shortens the pull deadline with the others.
    expect(jobOutcome({} as never, pulling, 5, 900, 6)).toBeUndefined();
    expect(jobOutcome({} as never, pulling, 6, 900, 6)?.problem).toEqual({
      reason: 'ImagePullFailed',
      message:
        'container download of pod c-probe-1-z cannot pull image reg/dl:bad: ImagePullBackOff: Back-off pulling image "reg/dl:bad"',
    });
  });

  it('PodNotStarted names the newest Warning Event of the pod, or of the Job when no pod was created', async () => {
    const { lastWarningNote } = await import('../../activities/jobs.js');
    const ev = (type: string, reason: string, at: string, message: string) =>
      ({ type, reason, message, lastTimestamp: new Date(at) }) as never;
    expect(
      lastWarningNote({ kind: 'job', name: 'c-dl-1' }, [
        ev(
          'Warning',
          'FailedCreate',
          '2026-01-01T00:00:02Z',
          'maximum memory usage per Container is 1Gi, but limit is 4Gi',
        ),
        ev('Normal', 'SuccessfulCreate', '2026-01-01T00:00:03Z', 'created'),
        ev('Warning', 'Old', '2026-01-01T00:00:01Z', 'older'),
      ]),
    ).toBe('; last event on job c-dl-1: FailedCreate: maximum memory usage per Container is 1Gi, but limit is 4Gi');
    expect(lastWarningNote({ kind: 'pod', name: 'p' }, [ev('Normal', 'Scheduled', '2026-01-01T00:00:00Z', 'ok')])).toBe(
      '',
    );
  });
});
