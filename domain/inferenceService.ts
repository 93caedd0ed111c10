import type {
  V1Affinity,
  V1Container,
  V1EnvVar,
  V1LocalObjectReference,
  V1OwnerReference,
  V1ResourceRequirements,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import {
  API_GROUP_VERSION,
  KSERVE_GROUP_VERSION,
  KSERVE_RAW_DEPLOYMENT_MODE,
  LABELS,
  LIMITS,
  MANAGED_BY,
  MODEL_CACHE_MOUNT_ROOT,
  NAMING_VERSION,
} from '../schemas/constants.js';
import { compareQuantities } from '../schemas/quantity.js';
import type {
  AIMHardwareRequirements,
  AIMModelSpec,
  AIMServiceSpec,
  AIMServiceTemplateSpec,
  AIMServiceTemplateStatus,
  EnvVar,
  Quantity,
  ResourceRequirements,
} from '../schemas/types.js';
import { shortHash } from './canonical.js';
import { overlayEnv, withoutCredentials } from './env.js';
import { GPU_RESOURCE } from './hardware.js';
import { fitName, inferenceServiceName, labelPart } from './naming.js';

/**
 * The KServe InferenceService that serves a service's model (spec section 5.5), in KServe v0.15's field names, and
 * its readiness. Pure: the same inputs give the same manifest (caches sorted by modelId, resource keys sorted), so a
 * re-apply that changes nothing changes nothing.
 */

/** The label KServe puts on an InferenceService's predictor pods (its name). */
export const KSERVE_ISVC_LABEL = 'serving.kserve.io/inferenceservice';

export const KSERVE_ANNOTATIONS = {
  deploymentMode: 'serving.kserve.io/deploymentMode',
  autoscalerClass: 'serving.kserve.io/autoscalerClass',
} as const;
export const SERVING_CONTAINER = 'kserve-container';
export const SERVING_PORT = 8000;
export const SHM_SIZE = '8Gi';
const GiB_PER_GPU = { requests: 32, limits: 48 } as const;
const CPU_PER_GPU = 4;

/** The predictor fields this builder writes (a subset of KServe's PredictorSpec, which inlines a PodSpec). */
export interface PredictorSpec {
  minReplicas: number;
  maxReplicas: number;
  serviceAccountName?: string;
  imagePullSecrets?: V1LocalObjectReference[];
  affinity?: V1Affinity;
  tolerations?: V1Toleration[];
  containers: V1Container[];
  volumes: V1Volume[];
}

export interface InferenceServiceManifest {
  apiVersion: typeof KSERVE_GROUP_VERSION;
  kind: 'InferenceService';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: V1OwnerReference[];
  };
  spec: { predictor: PredictorSpec };
}

export interface InferenceServiceInput {
  service: { metadata: { name: string; namespace: string; uid: string }; spec: AIMServiceSpec };
  model: { metadata: { name: string }; spec: AIMModelSpec };
  template: {
    metadata: { name: string };
    spec: AIMServiceTemplateSpec;
    status?: Pick<AIMServiceTemplateStatus, 'resolvedHardware' | 'resolvedNodeAffinity'>;
  };
  /** One Ready cache per source: its modelId and PVC name. */
  caches: ReadonlyArray<{ modelId: string; pvcName: string }>;
}

const q = (value: Quantity): string => (typeof value === 'number' ? String(value) : value);
const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function toV1Env(env: EnvVar[]): V1EnvVar[] {
  return env.map((e): V1EnvVar => {
    if (!e.valueFrom) return { name: e.name, value: e.value ?? '' };
    const ref = e.valueFrom.secretKeyRef ?? e.valueFrom.configMapKeyRef!;
    const keyRef = { name: ref.name, key: ref.key, ...(ref.optional !== undefined && { optional: ref.optional }) };
    return {
      name: e.name,
      valueFrom: e.valueFrom.secretKeyRef ? { secretKeyRef: keyRef } : { configMapKeyRef: keyRef },
    };
  });
}

/** The volume of one cache: a readable name, unique per exact modelId (case kept) by its hash. */
export function cacheVolumeName(modelId: string): string {
  return fitName(
    [{ text: 'cache', fixed: true }, { text: labelPart(modelId) }, { text: shortHash(modelId), fixed: true }],
    LIMITS.name,
  );
}

/** The GPU resource: as the template resolved it on the cluster, else as written, else AMD's. */
export function servingGpuResource(template: InferenceServiceInput['template']): string {
  return (
    template.status?.resolvedHardware?.gpu?.resourceName ??
    template.spec.hardware?.gpu?.resourceName ??
    GPU_RESOURCE.amd
  );
}

/**
 * Container resources (spec 5.5), with `g = max(1, gpu.requests)`: requests memory `32Gi × g`, cpu
 * `hardware.cpu.requests` else `4 × g`; limits memory `48Gi × g`, cpu `hardware.cpu.limits` when set; the GPU in both
 * when there is one; then template and service `resources` override key by key. A limit that no `resources` override
 * wrote (a default, or `hardware.cpu.limits`) is raised to a request above it, so raising a request alone never
 * yields a pod the API server refuses; limits written in `resources` are kept as written.
 */
export function servingResources(
  hardware: AIMHardwareRequirements | undefined,
  gpuResource: string,
  overrides: ReadonlyArray<ResourceRequirements | undefined>,
): V1ResourceRequirements {
  const gpu = hardware?.gpu;
  const g = Math.max(1, gpu?.requests ?? 0);
  const requests: Record<string, string> = {
    cpu: hardware?.cpu?.requests !== undefined ? q(hardware.cpu.requests) : String(CPU_PER_GPU * g),
    memory: `${GiB_PER_GPU.requests * g}Gi`,
  };
  const limits: Record<string, string> = { memory: `${GiB_PER_GPU.limits * g}Gi` };
  if (hardware?.cpu?.limits !== undefined) limits.cpu = q(hardware.cpu.limits);
  if (gpu) {
    requests[gpuResource] = String(gpu.requests);
    limits[gpuResource] = String(gpu.requests);
  }
  const overriddenLimits = new Set<string>();
  for (const o of overrides) {
    for (const [k, v] of Object.entries(o?.requests ?? {})) requests[k] = q(v);
    for (const [k, v] of Object.entries(o?.limits ?? {})) {
      limits[k] = q(v);
      overriddenLimits.add(k);
    }
  }
  for (const [k, request] of Object.entries(requests)) {
    const limit = limits[k];
    if (limit !== undefined && !overriddenLimits.has(k) && compareQuantities(request, limit) > 0) limits[k] = request;
  }
  const sorted = (r: Record<string, string>) =>
    Object.fromEntries(Object.entries(r).sort(([a], [b]) => compareText(a, b)));
  return { requests: sorted(requests), limits: sorted(limits) };
}

/** Union by name, first occurrence kept. */
function pullSecrets(...lists: Array<Array<{ name: string }> | undefined>): V1LocalObjectReference[] {
  const seen = new Set<string>();
  const out: V1LocalObjectReference[] = [];
  for (const s of lists.flatMap((l) => l ?? [])) {
    if (seen.has(s.name)) continue;
    seen.add(s.name);
    out.push({ name: s.name });
  }
  return out;
}

/**
 * The serving env, lowest to highest: `AIM_CACHE_PATH`, `AIM_MODEL_ID`, `AIM_METRIC`, `AIM_PRECISION`, model and
 * template env without credentials (the serving container never sees download credentials), then the service env
 * as written.
 */
export function servingEnv(input: Pick<InferenceServiceInput, 'service' | 'model' | 'template'>): EnvVar[] {
  const { model, template, service } = input;
  const firstSource = model.spec.modelSources?.[0] ?? template.spec.modelSources?.[0];
  const aim: EnvVar[] = [
    { name: 'AIM_CACHE_PATH', value: MODEL_CACHE_MOUNT_ROOT },
    ...(firstSource ? [{ name: 'AIM_MODEL_ID', value: firstSource.modelId }] : []),
    ...(template.spec.metric !== undefined ? [{ name: 'AIM_METRIC', value: template.spec.metric }] : []),
    ...(template.spec.precision !== undefined ? [{ name: 'AIM_PRECISION', value: template.spec.precision }] : []),
  ];
  // A generated template's env already includes the model's; a hand-made template's may not.
  const templateEnv = withoutCredentials(overlayEnv(model.spec.env, template.spec.env));
  return structuredClone(overlayEnv(aim, templateEnv, service.spec.env));
}

/** The InferenceService of a service (spec 5.5). Throws `NameTooShortError` when the namespace leaves no room. */
export function buildInferenceService(input: InferenceServiceInput): InferenceServiceManifest {
  const { service, model, template } = input;
  const { namespace } = service.metadata;
  const hardware: AIMHardwareRequirements | undefined = template.status?.resolvedHardware ?? template.spec.hardware;
  const gpuResource = servingGpuResource(template);

  const caches = [...input.caches].sort((a, b) => compareText(a.modelId, b.modelId));
  const duplicate = caches.find((c, i) => i > 0 && caches[i - 1]!.modelId === c.modelId);
  if (duplicate) throw new Error(`two caches for ${duplicate.modelId}: one cache per source`);
  const cacheMounts: V1VolumeMount[] = caches.map((c) => ({
    name: cacheVolumeName(c.modelId),
    mountPath: `${MODEL_CACHE_MOUNT_ROOT}/${c.modelId}`,
    subPath: c.modelId,
    readOnly: true,
  }));
  const volumes: V1Volume[] = [
    ...caches.map((c) => ({
      name: cacheVolumeName(c.modelId),
      persistentVolumeClaim: { claimName: c.pvcName, readOnly: true },
    })),
    { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: SHM_SIZE } },
  ];

  const container: V1Container = {
    name: SERVING_CONTAINER,
    image: model.spec.image,
    ports: [{ name: 'http', containerPort: SERVING_PORT, protocol: 'TCP' }],
    env: toV1Env(servingEnv(input)),
    resources: servingResources(hardware, gpuResource, [template.spec.resources, service.spec.resources]),
    volumeMounts: [...cacheMounts, { name: 'dshm', mountPath: '/dev/shm' }],
  };

  const imagePullSecrets = pullSecrets(
    model.spec.imagePullSecrets,
    template.spec.imagePullSecrets,
    service.spec.imagePullSecrets,
  );
  const serviceAccountName =
    service.spec.serviceAccountName ?? template.spec.serviceAccountName ?? model.spec.serviceAccountName;
  const nodeAffinity = template.status?.resolvedNodeAffinity;
  const predictor: PredictorSpec = {
    minReplicas: service.spec.replicas,
    maxReplicas: service.spec.replicas,
    ...(serviceAccountName !== undefined && { serviceAccountName }),
    ...(imagePullSecrets.length > 0 && { imagePullSecrets }),
    ...(nodeAffinity && { affinity: { nodeAffinity: structuredClone(nodeAffinity) } }),
    ...(hardware?.gpu && { tolerations: [{ key: gpuResource, operator: 'Exists' }] }),
    containers: [container],
    volumes,
  };

  return {
    apiVersion: KSERVE_GROUP_VERSION,
    kind: 'InferenceService',
    metadata: {
      name: inferenceServiceName(namespace, service.metadata.name),
      namespace,
      labels: {
        [LABELS.service]: service.metadata.name,
        [LABELS.model]: model.metadata.name,
        [LABELS.template]: template.metadata.name,
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.naming]: NAMING_VERSION,
      },
      annotations: {
        [KSERVE_ANNOTATIONS.deploymentMode]: KSERVE_RAW_DEPLOYMENT_MODE,
        // Knative refuses PVC volumes by default; raw deployments with fixed replicas need no autoscaler.
        [KSERVE_ANNOTATIONS.autoscalerClass]: 'none',
      },
      ownerReferences: [
        {
          apiVersion: API_GROUP_VERSION,
          kind: 'AIMService',
          name: service.metadata.name,
          uid: service.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: { predictor },
  };
}

// --- readiness ----------------------------------------------------------------------------------------------------

/** What is read of an InferenceService's status (loosely typed: it comes from the API server). */
export interface InferenceServiceStatusView {
  status?: {
    /** Where KServe serves it: the external URL and the in-cluster address. */
    url?: string;
    address?: { url?: string };
    conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }>;
    modelStatus?: {
      transitionStatus?: string;
      states?: { activeModelState?: string; targetModelState?: string };
      lastFailureInfo?: { reason?: string; message?: string; exitCode?: number };
    };
  };
}

/** The URLs KServe reports for an InferenceService (either may be missing until its controller has reconciled). */
export function inferenceServiceUrls(isvc: InferenceServiceStatusView): { url?: string; internalUrl?: string } {
  const url = isvc.status?.url;
  const internalUrl = isvc.status?.address?.url;
  return { ...(url ? { url } : {}), ...(internalUrl ? { internalUrl } : {}) };
}

export interface InferenceServiceReadiness {
  ready: boolean;
  /** KServe reports a failure (the service is `Failed` / `InferenceServiceFailed` until it changes). */
  failed: boolean;
  reason?: 'InferenceServiceFailed';
  /** KServe's own words: the failure, or what it is waiting for. */
  message?: string;
}

/** `ModelLoadFailed: <termination message> (exit code 1)`, from the parts KServe recorded. */
function failureInfoMessage(info: { reason?: string; message?: string; exitCode?: number } | undefined) {
  if (!info?.reason && !info?.message) return undefined;
  const text = [info.reason, info.message].filter((t) => t).join(': ');
  return info.exitCode ? `${text} (exit code ${info.exitCode})` : text;
}

/** Transition states KServe sets when the predictor cannot run (crash loop, invalid spec). */
const FAILED_TRANSITIONS = new Set(['BlockedByFailedLoad', 'InvalidSpec']);
/** Predictor condition reasons KServe sets for a spec it refuses to deploy. */
const FAILED_REASONS = new Set(['InvalidGPUAllocation', 'InvalidWorkerSpecNotSet']);

/**
 * Readiness from KServe's status (spec 5.5): ready when `Ready=True`. Failed when KServe says the model cannot load
 * (`modelStatus.transitionStatus` BlockedByFailedLoad / InvalidSpec, target state FailedToLoad: a crash loop or an
 * invalid spec) or refuses the predictor (InvalidGPUAllocation, InvalidWorkerSpecNotSet), with KServe's message. A
 * plain `Ready=False` is not a failure: in raw mode it mirrors the Deployment's `Available=False` while pods start
 * (`status.observedGeneration` is the Deployment's there, so it is not compared). Failure is not final: KServe
 * clears it when the pods recover.
 */
export function inferenceServiceReady(
  isvc: InferenceServiceStatusView,
  predictorPods: readonly PredictorPodView[] = [],
): InferenceServiceReadiness {
  const conditions = isvc.status?.conditions ?? [];
  const ready = conditions.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return { ready: true, failed: false };

  const modelStatus = isvc.status?.modelStatus;
  const modelFailed =
    FAILED_TRANSITIONS.has(modelStatus?.transitionStatus ?? '') ||
    modelStatus?.states?.targetModelState === 'FailedToLoad';
  const refused = conditions.find((c) => c.status === 'False' && FAILED_REASONS.has(c.reason ?? ''));
  // KServe's aggregate Ready carries the first failing component's reason; the component condition has the message.
  const notReady = [ready, ...conditions.filter((c) => c.status === 'False')];
  const conditionMessage = notReady.find((c) => c?.message)?.message;
  const conditionReason = notReady.find((c) => c?.reason)?.reason;

  if (modelFailed || refused) {
    const message =
      (modelFailed ? failureInfoMessage(modelStatus?.lastFailureInfo) : undefined) ??
      refused?.message ??
      conditionMessage ??
      `KServe reports the predictor failed${refused?.reason ? `: ${refused.reason}` : ''}`;
    return { ready: false, failed: true, reason: 'InferenceServiceFailed', message };
  }
  // KServe has not noticed yet what the predictor's pods already show (see predictorPodFailure).
  const podFailure = predictorPodFailure(predictorPods);
  if (podFailure) return { ready: false, failed: true, reason: 'InferenceServiceFailed', message: podFailure };
  const message = conditionMessage ?? conditionReason;
  return { ready: false, failed: false, ...(message && { message }) };
}

/** The predictor pod fields read here (label `serving.kserve.io/inferenceservice=<name>`). */
export interface PredictorPodView {
  metadata?: { name?: string };
  status?: {
    containerStatuses?: Array<{
      name?: string;
      restartCount?: number;
      state?: { waiting?: { reason?: string; message?: string } };
      lastState?: { terminated?: { exitCode?: number; reason?: string; message?: string } };
    }>;
  };
}

/** Waiting reasons of a container that will not serve without a fix. */
const STUCK_WAITING = new Set(['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'CreateContainerConfigError']);

/**
 * Why a predictor pod cannot serve, in KServe's words where it has them: a container in CrashLoopBackOff (with the
 * exit code and termination message of its last run), an image that cannot be pulled, or an env it cannot build.
 * KServe v0.15 in RawDeployment mode reads pod states only when its Deployment or Service changes, and a crash loop
 * changes neither until the Deployment's progress deadline (10 minutes): reading the pods reports it at once.
 */
export function predictorPodFailure(pods: readonly PredictorPodView[]): string | undefined {
  for (const pod of pods) {
    for (const c of pod.status?.containerStatuses ?? []) {
      const waiting = c.state?.waiting;
      if (!waiting?.reason || !STUCK_WAITING.has(waiting.reason)) continue;
      const last = c.lastState?.terminated;
      const lastRun =
        waiting.reason === 'CrashLoopBackOff' && last
          ? failureInfoMessage({
              reason: 'ModelLoadFailed',
              ...(last.message?.trim() ? { message: last.message.trim() } : { message: last.reason ?? 'exited' }),
              ...(last.exitCode !== undefined ? { exitCode: last.exitCode } : {}),
            })
          : waiting.message;
      const restarts = c.restartCount ? `, ${c.restartCount} restart(s)` : '';
      return `predictor pod ${pod.metadata?.name ?? '?'} container ${c.name ?? '?'}: ${waiting.reason}${restarts}${lastRun ? `: ${lastRun}` : ''}`;
    }
  }
  return undefined;
}
