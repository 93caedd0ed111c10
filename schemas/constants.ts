/**
 * API identity and well-known keys. One place, so that a rename is one edit (spec section 1).
 * Plain constants only: workflow code may import this module.
 */
export const API_GROUP = 'aim.silogen.ai';
export const API_VERSION = 'v1alpha1';
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}` as const;

/** The KServe release whose InferenceService CRD the tests install and whose field names the builders use. */
export const KSERVE_VERSION = 'v0.15.2';
export const KSERVE_GROUP_VERSION = 'serving.kserve.io/v1beta1';
/** The raw (non-Knative) deployment mode as KServe v0.15 names it; newer releases alias it as `Standard`. */
export const KSERVE_RAW_DEPLOYMENT_MODE = 'RawDeployment';

export const LABEL_PREFIX = `${API_GROUP}/`;
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  naming: `${LABEL_PREFIX}naming`,
  origin: `${LABEL_PREFIX}origin`,
  customModel: `${LABEL_PREFIX}custom-model`,
  customIdentity: `${LABEL_PREFIX}custom-identity`,
  model: `${LABEL_PREFIX}model`,
  template: `${LABEL_PREFIX}template`,
  templateAlias: `${LABEL_PREFIX}template-alias`,
  service: `${LABEL_PREFIX}service`,
  cacheMode: `${LABEL_PREFIX}cache-mode`,
} as const;

export const ANNOTATIONS = {
  retry: `${LABEL_PREFIX}retry`,
  /** Hash of the desired object we last applied (activities/kube/applyIfChanged.ts). */
  appliedHash: `${LABEL_PREFIX}applied-hash`,
} as const;

export const MANAGED_BY = 'aim-orchestrator';
export const NAMING_VERSION = 'v1';
export const ORIGIN_AUTO_GENERATED = 'auto-generated';
export const FINALIZER_CLEANUP = `${LABEL_PREFIX}cleanup`;

export const FIELD_MANAGERS = {
  orchestrator: 'aim-orchestrator',
  finalizer: 'aim-orchestrator/finalizer',
  downloader: 'aim-downloader',
  /** A Shared cache's `status.lastUsed`, written by the services that list it (activities/cacheUsage.ts). */
  usage: 'aim-orchestrator/usage',
  owner: (serviceUid: string) => `aim-orchestrator/owner-${serviceUid}`,
} as const;

/** Variables that carry credentials: in every env list they must come from a Secret (spec section 2). */
export const CREDENTIAL_ENV_NAMES = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'HF_TOKEN',
  'HUGGING_FACE_HUB_TOKEN',
] as const;

/** Endpoint variables of a model source: literal values only, so that they can enter the canonical identity. */
export const ENDPOINT_ENV_NAMES = [
  'AWS_ENDPOINT_URL',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'S3_ADDRESSING_STYLE',
  'HF_ENDPOINT',
] as const;

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_AWS_REGION = 'us-east-1';
export const MODEL_CACHE_MOUNT_ROOT = '/workspace/model-cache';

/** Size limits (spec section 2); they also bound the cost of CEL rules. */
export const LIMITS = {
  name: 63,
  templateName: 40,
  uri: 2048,
  envValue: 32768,
  envList: 64,
  sources: 8,
  templates: 16,
  gpuModels: 16,
  imagePullSecrets: 16,
  image: 512,
  shortString: 253,
  conditions: 16,
  message: 32768,
  tolerations: 32,
  nodeSelectorTerms: 8,
  matchExpressions: 16,
  values: 64,
  resources: 16,
} as const;
