import { DEFAULT_HF_ENDPOINT, LIMITS } from '../schemas/constants.js';
import { canonicalQuantity } from '../schemas/quantity.js';
import type { AIMHardwareRequirements, AIMModelSource, EnvVar } from '../schemas/types.js';
import { shortHash } from './canonical.js';

/**
 * Deterministic names (spec section 3): lower-case RFC 1123 labels, the same for the same inputs on any worker.
 * Every function here is pure; hashes come from canonical identities built from objects as read back from the API
 * server (so CRD defaults are the same whatever the entry point).
 */

/** `Qwen/Qwen2-0.5B` → `qwen-qwen2-0-5b` */
export function labelPart(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
}

/**
 * Joins readable parts and fixed parts (hashes, suffixes) with `-` within `max` characters: when too long, the
 * longest readable part is shortened first, one character at a time, so every part keeps as much as it can.
 */
export function fitName(parts: Array<{ text: string; fixed?: boolean }>, max: number): string {
  const texts = parts.map((p) => p.text).filter((t) => t.length > 0);
  const fixed = parts.filter((p) => p.text.length > 0).map((p) => Boolean(p.fixed));
  const length = () => texts.join('-').length;
  while (length() > max) {
    let longest = -1;
    for (let i = 0; i < texts.length; i++) {
      if (!fixed[i] && texts[i]!.length > 1 && (longest < 0 || texts[i]!.length > texts[longest]!.length)) longest = i;
    }
    if (longest < 0) throw new Error(`cannot fit ${texts.join('-')} into ${max} characters`);
    texts[longest] = texts[longest]!.slice(0, -1).replace(/-+$/, '');
  }
  return texts.join('-');
}

/** Lower-cases only the scheme and host of a URL; the path is kept byte for byte. */
export function normaliseEndpoint(url: string): string {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/]*)(.*)$/.exec(url);
  return m ? `${m[1]!.toLowerCase()}${m[2]!.toLowerCase()}${m[3]}` : url;
}

/** `sourceUri` byte for byte after removing one trailing `/` (S3 keys are case-sensitive). */
export function normaliseSourceUri(uri: string): string {
  return uri.endsWith('/') ? uri.slice(0, -1) : uri;
}

const envValue = (env: EnvVar[] | undefined, name: string) => env?.find((e) => e.name === name)?.value;

/** Where the bytes really come from: `AWS_ENDPOINT_URL` for S3, `HF_ENDPOINT` (default the Hub) for Hugging Face. */
export function effectiveEndpoint(source: Pick<AIMModelSource, 'sourceUri' | 'env'>): string | undefined {
  if (source.sourceUri.startsWith('hf://'))
    return normaliseEndpoint(envValue(source.env, 'HF_ENDPOINT') ?? DEFAULT_HF_ENDPOINT);
  const s3 = envValue(source.env, 'AWS_ENDPOINT_URL');
  return s3 ? normaliseEndpoint(s3) : undefined;
}

/** Hardware with quantities canonicalised (the API server stores `1Gi` and `1073741824` verbatim). */
export function canonicalHardware(hw: AIMHardwareRequirements | undefined): unknown {
  if (!hw) return undefined;
  return {
    gpu: hw.gpu && {
      ...hw.gpu,
      minVram: hw.gpu.minVram === undefined ? undefined : canonicalQuantity(hw.gpu.minVram),
    },
    cpu: hw.cpu && {
      requests: hw.cpu.requests === undefined ? undefined : canonicalQuantity(hw.cpu.requests),
      limits: hw.cpu.limits === undefined ? undefined : canonicalQuantity(hw.cpu.limits),
    },
  };
}

export interface CustomModelRequest {
  baseImage: string;
  modelSources: AIMModelSource[];
  hardware: AIMHardwareRequirements;
}

/** The canonical identity of an auto-created model: what makes two services ask for "the same" model. */
export function customModelIdentity(req: CustomModelRequest): string {
  return shortHash({
    baseImage: req.baseImage,
    sources: req.modelSources.map((s) => ({
      modelId: s.modelId,
      sourceUri: normaliseSourceUri(s.sourceUri),
      endpoint: effectiveEndpoint(s),
    })),
    hardware: canonicalHardware(req.hardware),
  });
}

/** `{modelSources[0].modelId}-{hash}` */
export function customModelName(req: CustomModelRequest): string {
  const first = req.modelSources[0];
  if (!first) throw new Error('a custom model needs at least one source');
  return fitName([{ text: labelPart(first.modelId) }, { text: customModelIdentity(req), fixed: true }], LIMITS.name);
}

/** `{model}-{name}`; over 63 → `{model shortened}-{hash of the model name}-{name}`. */
export function namedTemplateName(modelName: string, templateName: string): string {
  const plain = `${modelName}-${templateName}`;
  if (plain.length <= LIMITS.name) return plain;
  return fitName(
    [{ text: modelName }, { text: shortHash(modelName), fixed: true }, { text: templateName, fixed: true }],
    LIMITS.name,
  );
}

/** `{model}-custom[-{precision}][-{gpu.models[0]}]-{hash of the merged template spec}` */
export function unnamedTemplateName(
  modelName: string,
  mergedSpec: { precision?: string; hardware?: AIMHardwareRequirements },
): string {
  return fitName(
    [
      { text: modelName },
      { text: 'custom', fixed: true },
      { text: labelPart(mergedSpec.precision ?? '') },
      { text: labelPart(mergedSpec.hardware?.gpu?.models?.[0] ?? '') },
      { text: shortHash({ ...mergedSpec, hardware: canonicalHardware(mergedSpec.hardware) }), fixed: true },
    ],
    LIMITS.name,
  );
}

export const CACHE_NAME_MAX = 53;

export interface CacheIdentityInput {
  source: Pick<AIMModelSource, 'modelId' | 'sourceUri' | 'env'>;
  storageClassName?: string;
  /** Set for Dedicated caches: the owning service's UID makes the cache its own. */
  serviceUid?: string;
}

export function cacheIdentity(input: CacheIdentityInput): string {
  return shortHash({
    modelId: input.source.modelId,
    sourceUri: normaliseSourceUri(input.source.sourceUri),
    endpoint: effectiveEndpoint(input.source),
    storageClassName: input.storageClassName,
    serviceUid: input.serviceUid,
  });
}

/** Dedicated `{service}-{modelId}-{hash}`, Shared `{modelId}-{hash}`, at most 53 characters. */
export function cacheName(input: CacheIdentityInput & { serviceName?: string }): string {
  const dedicated = input.serviceUid !== undefined;
  if (dedicated && !input.serviceName) throw new Error('a Dedicated cache name needs the service name');
  return fitName(
    [
      ...(dedicated ? [{ text: input.serviceName! }] : []),
      { text: labelPart(input.source.modelId) },
      { text: cacheIdentity(input), fixed: true },
    ],
    CACHE_NAME_MAX,
  );
}

/** `{cache}-{first 8 hex of the cache UID}`: a recreated cache never waits for a terminating PVC. */
export function pvcName(cache: string, cacheUid: string): string {
  return `${cache}-${cacheUid.replace(/-/g, '').slice(0, 8)}`;
}

export function downloadJobName(cache: string, attempt: number): string {
  return `${cache}-dl-${attempt}`;
}

export function probeJobName(owner: string, attempt: number): string {
  return `${fitName([{ text: owner }], CACHE_NAME_MAX)}-probe-${attempt}`;
}

export class NameTooShortError extends Error {}

const INFERENCE_SERVICE_NAME_MIN = 10;
const inferenceServiceNameMax = (namespace: string) => LIMITS.name - '-predictor-'.length - namespace.length;

/**
 * Why no InferenceService name fits in this namespace (spec 3: fewer than 10 characters left → `InvalidSpec`, refused
 * before anything is created), or undefined. KServe derives `{name}-predictor-{namespace}` labels from it.
 */
export function inferenceServiceNameProblem(namespace: string): string | undefined {
  const max = inferenceServiceNameMax(namespace);
  if (max >= INFERENCE_SERVICE_NAME_MIN) return undefined;
  return (
    `namespace ${namespace} (${namespace.length} characters) leaves ${Math.max(0, max)} characters for the ` +
    `InferenceService name (KServe names {name}-predictor-{namespace}, at most 63); at least ` +
    `${INFERENCE_SERVICE_NAME_MIN} are needed: use a namespace of at most ` +
    `${LIMITS.name - '-predictor-'.length - INFERENCE_SERVICE_NAME_MIN} characters`
  );
}

/**
 * The InferenceService name where one can exist, else undefined: for cleanup and deletion, which must never fail on
 * a name (no InferenceService was ever created in a namespace that leaves no room for one).
 */
export function inferenceServiceNameIfAny(namespace: string, service: string): string | undefined {
  return inferenceServiceNameProblem(namespace) ? undefined : inferenceServiceName(namespace, service);
}

/** `{service}`, shortened with a hash to fit `63 − len("-predictor-") − len(namespace)`. */
export function inferenceServiceName(namespace: string, service: string): string {
  const max = inferenceServiceNameMax(namespace);
  const problem = inferenceServiceNameProblem(namespace);
  if (problem) throw new NameTooShortError(problem);
  if (service.length <= max) return service;
  return fitName([{ text: service }, { text: shortHash(`${namespace}/${service}`), fixed: true }], max);
}
