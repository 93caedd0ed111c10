/**
 * The failure vocabulary (spec section 7), defined once: every reason a lifecycle reports, and what happens next.
 * Workflows, activities, the downloader and the SDK take reasons and their retry classes from here, so a new reason
 * is added in one row and a reason's retryability cannot differ between the code that reports it and the code that
 * decides what to do about it. Pure (imported by workflow code).
 *
 * Retry classes:
 *  - `nextAttempt`: the cache's next download attempt can fix it (it resumes from what is on the volume).
 *  - `reprobe`: a person fixes it outside Kubernetes (a key, a licence); re-probed on the fix back-off.
 *  - `recheck`: the cluster or another system fixes it (a storage class, a node, an image, a quota, a Secret, space
 *    freed on a volume's disk); re-checked on the fix back-off and at once on a relevant change.
 *  - `reevaluate`: re-evaluated whenever what it depends on changes (nodes, templates, models).
 *  - `fix`: waits for a new generation of the object, or `retry`.
 *  - `transient`: the Kubernetes call itself is retried by the activity's retry policy.
 *  - `never`: ends the workflow (submit only).
 */
export type RetryClass = 'nextAttempt' | 'reprobe' | 'recheck' | 'reevaluate' | 'fix' | 'transient' | 'never';

export const FAILURE_REASONS = {
  InvalidSpec: 'fix',
  ModelNameConflict: 'fix',
  TemplateNameConflict: 'fix',
  ModelNotFound: 'reevaluate',
  TemplateNotFound: 'reevaluate',
  GPUNotAvailable: 'reevaluate',
  VRAMNotAvailable: 'reevaluate',
  SecretNotFound: 'recheck',
  AuthFailed: 'reprobe',
  GatedModel: 'reprobe',
  SourceNotFound: 'fix',
  SizeUnknown: 'fix',
  // Space freed on the volume's disk (another tenant's data removed, the volume expanded) fixes it without a new
  // generation: the next attempt's statfs sees it. A larger size is a new generation, handled at once.
  InsufficientStorage: 'recheck',
  VolumeNotBound: 'recheck',
  PodNotStarted: 'recheck',
  ImagePullFailed: 'recheck',
  Stalled: 'nextAttempt',
  EndpointUnreachable: 'nextAttempt',
  RateLimited: 'nextAttempt',
  OOMKilled: 'nextAttempt',
  Evicted: 'nextAttempt',
  IntegrityMismatch: 'nextAttempt',
  DownloadFailed: 'nextAttempt',
  JobDeleted: 'nextAttempt',
  OrchestratorForbidden: 'fix',
  ApplyRejected: 'fix',
  QuotaExceeded: 'recheck',
  InferenceServiceFailed: 'fix',
  TemplateGone: 'reevaluate',
  CacheRecreating: 'reevaluate',
  ObjectGone: 'fix',
  // Kubernetes errors no reason above describes (`Kubernetes{kind}`, activities/failures.ts): retried by the call.
  KubernetesUnavailable: 'transient',
  KubernetesConflict: 'transient',
  KubernetesNotFound: 'transient',
  KubernetesAlreadyExists: 'transient',
  KubernetesUnauthorized: 'transient',
  KubernetesOther: 'transient',
  SubmitNotAllowed: 'never',
} as const satisfies Record<string, RetryClass>;

export type FailureReason = keyof typeof FAILURE_REASONS;

/** The retry class of a reason; a reason outside the vocabulary (a bug, or a newer downloader) waits for a fix. */
export function retryClassOf(reason: string): RetryClass {
  return Object.hasOwn(FAILURE_REASONS, reason) ? FAILURE_REASONS[reason as FailureReason] : 'fix';
}

/** The cache's next download attempt can fix it. */
export const fixedByNextAttempt = (reason: string): boolean => retryClassOf(reason) === 'nextAttempt';

/** A person fixes it outside the cluster: the source is probed again on the fix back-off. */
export const needsReprobe = (reason: string): boolean => retryClassOf(reason) === 'reprobe';

/** Another system or a cluster change fixes it: looked at again on the fix back-off and on a relevant change. */
export const needsRecheck = (reason: string): boolean => retryClassOf(reason) === 'recheck';

/** A Secret created or edited can fix it: a missing Secret or key, or credentials the source refused. */
export const fixedBySecretChange = (reason: string): boolean =>
  reason === 'SecretNotFound' || reason === 'AuthFailed' || reason === 'GatedModel';

/**
 * The reasons an activity raises as non-retryable (`nonRetryableErrorTypes` of every activity proxy): retrying the
 * same call cannot help, the lifecycle reports them and waits.
 */
export const NON_RETRYABLE_ACTIVITY_FAILURES: readonly FailureReason[] = [
  'OrchestratorForbidden',
  'ApplyRejected',
  'QuotaExceeded',
  'ObjectGone',
];

/** The reasons a download or probe Job reports in its termination message (spec section 6). */
export const DOWNLOADER_REASONS = [
  'AuthFailed',
  'GatedModel',
  'SourceNotFound',
  'SizeUnknown',
  'InsufficientStorage',
  'Stalled',
  'EndpointUnreachable',
  'RateLimited',
  'IntegrityMismatch',
  'DownloadFailed',
] as const satisfies readonly FailureReason[];
export type DownloaderReason = (typeof DOWNLOADER_REASONS)[number];
