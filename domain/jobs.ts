import type {
  V1Job,
  V1OwnerReference,
  V1Role,
  V1RoleBinding,
  V1Container,
  V1Volume,
  V1VolumeMount,
  V1EnvVar,
} from '@kubernetes/client-node';
import { API_GROUP, LABELS, MANAGED_BY } from '../schemas/constants.js';
import type { EnvVar, NodeAffinity, Toleration } from '../schemas/types.js';
import { overlayEnv } from './env.js';
import { DEFAULT_DOWNLOAD_MEMORY_LIMIT, downloaderMemory, PROBE_MEMORY_LIMIT } from './downloaderMemory.js';

/**
 * Probe and download Job manifests (spec section 6). Pure: the same inputs give the same manifest, so a retried
 * activity creates the same object and create-or-get can recognise it.
 */

export const DOWNLOADER_SERVICE_ACCOUNT = 'aim-downloader';
export const DEFAULT_MOUNT_PATH = '/cache';
export const TERMINATION_MESSAGE_PATH = '/dev/termination-log';
export const CA_MOUNT_DIR = '/etc/aim/ca';
export const CA_FILE = `${CA_MOUNT_DIR}/ca.crt`;
export const JOB_KIND_LABEL = `${API_GROUP}/job-kind`;
export const CACHE_LABEL = `${API_GROUP}/cache`;

export type DownloaderMode = 'probe' | 'download';

export interface KeyRefChoice {
  secretKeyRef?: { name: string; key: string };
  configMapKeyRef?: { name: string; key: string };
}

export interface JobSource {
  modelId: string;
  sourceUri: string;
  /** Already overlaid: downloader defaults < model env < service env < source env. */
  env: EnvVar[];
  expectedSizeBytes?: number;
  caBundle?: KeyRefChoice;
}

export interface DownloaderJobInput {
  mode: DownloaderMode;
  name: string;
  namespace: string;
  owner: V1OwnerReference;
  image: string;
  imagePullSecrets?: Array<{ name: string }>;
  serviceAccountName: string;
  /** One source per container: a model probe checks all its sources in one Job; caches have exactly one. */
  sources: JobSource[];
  /** Set for cache Jobs: progress goes to this AIMModelCache, files land on its volume (download only). */
  cache?: {
    name: string;
    pvcName?: string;
    stallTimeoutSeconds: number;
    attempt: number;
    /** `1` after a stall: switch Hugging Face downloads from Xet to plain HTTP. */
    hfDisableXet?: boolean;
    volumeCapacityBytes?: number;
  };
  nodeAffinity?: NodeAffinity;
  tolerations?: Toleration[];
  labels?: Record<string, string>;
  /** The download container's memory limit (AIM_DOWNLOADER_MEMORY_LIMIT; default 4Gi). Probes keep 512Mi. */
  downloadMemoryLimit?: string;
}

const DOWNLOADER_DEFAULT_ENV: EnvVar[] = [
  { name: 'HF_HUB_DISABLE_TELEMETRY', value: '1' },
  { name: 'HF_HUB_ENABLE_HF_TRANSFER', value: '0' },
  { name: 'HF_HUB_DISABLE_UPDATE_CHECK', value: '1' },
];

/** Contract variables that nothing overrides (spec section 6). */
function contractEnv(input: DownloaderJobInput, source: JobSource): EnvVar[] {
  const c = input.cache;
  const env: Array<[string, string | undefined]> = [
    ['MODE', input.mode],
    ['SOURCE_URI', source.sourceUri],
    ['MODEL_ID', source.modelId],
    ['MOUNT_PATH', DEFAULT_MOUNT_PATH],
    ['EXPECTED_SIZE_BYTES', source.expectedSizeBytes === undefined ? undefined : String(source.expectedSizeBytes)],
    ['STALL_TIMEOUT', c ? String(c.stallTimeoutSeconds) : undefined],
    ['ATTEMPT', c ? String(c.attempt) : '1'],
    ['HF_HUB_DISABLE_XET', c?.hfDisableXet ? '1' : undefined],
    ['VOLUME_CAPACITY_BYTES', c?.volumeCapacityBytes === undefined ? undefined : String(c.volumeCapacityBytes)],
    ['TERMINATION_MESSAGE_PATH', TERMINATION_MESSAGE_PATH],
    ['TMPDIR', '/tmp'],
    ['HF_HOME', '/tmp/hf-home'],
    // Only the download reports progress, so only it learns which cache to patch (and gets a token to do so).
    ['CACHE_NAME', c && input.mode === 'download' ? c.name : undefined],
    ['CACHE_NAMESPACE', c && input.mode === 'download' ? input.namespace : undefined],
    ...(source.caBundle
      ? ([
          ['NODE_EXTRA_CA_CERTS', CA_FILE],
          ['AWS_CA_BUNDLE', CA_FILE],
          ['REQUESTS_CA_BUNDLE', CA_FILE],
          ['SSL_CERT_FILE', CA_FILE],
        ] as Array<[string, string]>)
      : []),
  ];
  return env.filter((e): e is [string, string] => e[1] !== undefined).map(([name, value]) => ({ name, value }));
}

function toV1Env(env: EnvVar[]): V1EnvVar[] {
  return env.map((e) =>
    e.valueFrom
      ? {
          name: e.name,
          valueFrom: e.valueFrom.secretKeyRef
            ? { secretKeyRef: { name: e.valueFrom.secretKeyRef.name, key: e.valueFrom.secretKeyRef.key } }
            : { configMapKeyRef: { name: e.valueFrom.configMapKeyRef!.name, key: e.valueFrom.configMapKeyRef!.key } },
        }
      : { name: e.name, value: e.value ?? '' },
  );
}

function caVolume(index: number, ca: KeyRefChoice): V1Volume {
  const items = [{ key: (ca.secretKeyRef ?? ca.configMapKeyRef)!.key, path: 'ca.crt' }];
  return ca.secretKeyRef
    ? { name: `ca-${index}`, secret: { secretName: ca.secretKeyRef.name, items } }
    : { name: `ca-${index}`, configMap: { name: ca.configMapKeyRef!.name, items } };
}

function container(input: DownloaderJobInput, source: JobSource, index: number): V1Container {
  const mounts: V1VolumeMount[] = [{ name: 'tmp', mountPath: '/tmp' }];
  if (input.mode === 'download' && input.cache?.pvcName) mounts.push({ name: 'cache', mountPath: DEFAULT_MOUNT_PATH });
  if (source.caBundle) mounts.push({ name: `ca-${index}`, mountPath: CA_MOUNT_DIR, readOnly: true });
  const memory = downloaderMemory(
    input.mode === 'download' ? (input.downloadMemoryLimit ?? DEFAULT_DOWNLOAD_MEMORY_LIMIT) : PROBE_MEMORY_LIMIT,
  );
  return {
    name: input.sources.length > 1 ? `${input.mode}-${index}` : input.mode,
    image: input.image,
    imagePullPolicy: 'IfNotPresent',
    env: toV1Env(overlayEnv(DOWNLOADER_DEFAULT_ENV, source.env, contractEnv(input, source))),
    volumeMounts: mounts,
    terminationMessagePath: TERMINATION_MESSAGE_PATH,
    terminationMessagePolicy: 'FallbackToLogsOnError',
    resources: {
      requests: { cpu: '250m', memory: memory.request },
      limits: { memory: memory.limit },
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

export function downloaderLabels(input: Pick<DownloaderJobInput, 'mode' | 'cache' | 'labels'>): Record<string, string> {
  return {
    [LABELS.managedBy]: MANAGED_BY,
    [JOB_KIND_LABEL]: input.mode,
    ...(input.cache ? { [CACHE_LABEL]: input.cache.name } : {}),
    ...input.labels,
  };
}

/** A probe lists metadata (minutes at most); a download of hundreds of GB on a slow link may take days. */
export const JOB_DEADLINE_SECONDS = { probe: 3600, download: 7 * 24 * 3600 } as const;

/** A probe or download Job: restricted Pod Security Standard, no retries of its own (the workflow owns retries). */

export function buildDownloaderJob(input: DownloaderJobInput): V1Job {
  if (input.sources.length === 0) throw new Error('a downloader Job needs at least one source');
  if (input.mode === 'download' && (!input.cache?.pvcName || input.sources.length !== 1)) {
    throw new Error('a download Job needs exactly one source and its cache volume');
  }
  const labels = downloaderLabels(input);
  const volumes: V1Volume[] = [{ name: 'tmp', emptyDir: { sizeLimit: '1Gi' } }];
  if (input.mode === 'download')
    volumes.push({ name: 'cache', persistentVolumeClaim: { claimName: input.cache!.pvcName! } });
  input.sources.forEach((s, i) => s.caBundle && volumes.push(caVolume(i, s.caBundle)));
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: input.name,
      namespace: input.namespace,
      labels,
      ownerReferences: [{ ...input.owner, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      backoffLimit: 0,
      // Kubernetes ends a Job that outlives any sensible run (a pod that never started included); the workflow's
      // own watchdogs (PodNotStarted, VolumeNotBound) act long before.
      activeDeadlineSeconds: JOB_DEADLINE_SECONDS[input.mode],
      completions: 1,
      parallelism: 1,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: input.serviceAccountName,
          automountServiceAccountToken: input.mode === 'download',
          ...(input.imagePullSecrets?.length ? { imagePullSecrets: input.imagePullSecrets } : {}),
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            fsGroup: 1000,
            fsGroupChangePolicy: 'OnRootMismatch',
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: input.sources.map((s, i) => container(input, s, i)),
          volumes,
          ...(input.nodeAffinity ? { affinity: { nodeAffinity: input.nodeAffinity } } : {}),
          ...(input.tolerations?.length ? { tolerations: input.tolerations } : {}),
        },
      },
    },
  } as V1Job;
}

/** `{cache}-progress`: lets the downloader patch `status.progress` of its own cache and nothing else. */
export function buildProgressRole(cache: string, namespace: string, owner: V1OwnerReference): V1Role {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: {
      name: `${cache}-progress`,
      namespace,
      labels: { [LABELS.managedBy]: MANAGED_BY },
      ownerReferences: [{ ...owner, controller: true }],
    },
    rules: [
      { apiGroups: [API_GROUP], resources: ['aimmodelcaches/status'], resourceNames: [cache], verbs: ['get', 'patch'] },
    ],
  };
}

export function buildProgressRoleBinding(
  cache: string,
  namespace: string,
  serviceAccountName: string,
  owner: V1OwnerReference,
): V1RoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: {
      name: `${cache}-progress`,
      namespace,
      labels: { [LABELS.managedBy]: MANAGED_BY },
      ownerReferences: [{ ...owner, controller: true }],
    },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${cache}-progress` },
    subjects: [{ kind: 'ServiceAccount', name: serviceAccountName, namespace }],
  };
}

/** Service account for downloader pods: cache spec → service → model → `aim-downloader` (spec section 6). */
export function downloaderServiceAccount(...candidates: Array<string | undefined>): string {
  return candidates.find((c) => c !== undefined && c !== '') ?? DOWNLOADER_SERVICE_ACCOUNT;
}
