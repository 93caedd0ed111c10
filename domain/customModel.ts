import type { V1OwnerReference } from '@kubernetes/client-node';
import {
  API_GROUP_VERSION,
  ENDPOINT_ENV_NAMES,
  LABELS,
  MANAGED_BY,
  NAMING_VERSION,
  ORIGIN_AUTO_GENERATED,
} from '../schemas/constants.js';
import type { AIMModelSource, AIMModelSpec, AIMServiceSpec, EnvVar } from '../schemas/types.js';
import { customModelIdentity, customModelName } from './naming.js';

/**
 * The AIMModel a service with `spec.model.custom` asks for (Path 2; spec sections 3, 4 and 5.3 step 2). Pure: the
 * same request gives the same manifest, so two services asking at the same moment apply the same object, and each
 * adds only its own owner entry under its own field manager (`FIELD_MANAGERS.owner(serviceUid)`).
 */

/** The parts of an AIMService this module reads. */
export interface CustomModelService {
  metadata: { name: string; namespace: string; uid: string };
  spec: AIMServiceSpec;
}

/** An auto-created model, ready for server-side apply. No owner references: see `customModelOwnerPatch`. */
export interface AutoCreatedModel {
  apiVersion: typeof API_GROUP_VERSION;
  kind: 'AIMModel';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: Pick<AIMModelSpec, 'image' | 'modelSources' | 'hardware'>;
}

/** The apply body that adds one service's owner entry to an auto-created model, and nothing else. */
export interface CustomModelOwnerPatch {
  apiVersion: typeof API_GROUP_VERSION;
  kind: 'AIMModel';
  metadata: { name: string; namespace: string; ownerReferences: V1OwnerReference[] };
}

const isEndpointEnv = (name: string) => (ENDPOINT_ENV_NAMES as readonly string[]).includes(name);
const byName = (a: EnvVar, b: EnvVar) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * A source as the shared model keeps it: `modelId`, `sourceUri`, `size` and the endpoint variables (literal values,
 * sorted by name so that equivalent requests give byte-identical manifests). Credentials, other variables and
 * `caBundle` stay on each service: every service probes and downloads with its own references.
 */
export function modelSourceWithoutCredentials(source: AIMModelSource): AIMModelSource {
  const env = (source.env ?? [])
    .filter((e) => isEndpointEnv(e.name) && e.value !== undefined && e.valueFrom === undefined)
    .map((e) => ({ name: e.name, value: e.value }))
    .sort(byName);
  return {
    modelId: source.modelId,
    sourceUri: source.sourceUri,
    ...(source.size !== undefined && { size: source.size }),
    ...(env.length > 0 && { env }),
  };
}

function customOf(service: CustomModelService) {
  const custom = service.spec.model.custom;
  if (!custom) {
    throw new Error(
      `AIMService ${service.metadata.namespace}/${service.metadata.name} does not ask for a custom model`,
    );
  }
  return custom;
}

/**
 * The auto-created AIMModel for `spec.model.custom`: named `{modelSources[0].modelId}-{hash}` in the service's
 * namespace, spec exactly `{image: baseImage, modelSources, hardware}`, labels marking it auto-generated with its
 * custom identity. Throws when the service does not ask for a custom model (a caller bug).
 */
export function buildCustomModel(service: CustomModelService): AutoCreatedModel {
  const custom = customOf(service);
  return {
    apiVersion: API_GROUP_VERSION,
    kind: 'AIMModel',
    metadata: {
      name: customModelName(custom),
      namespace: service.metadata.namespace,
      labels: {
        [LABELS.origin]: ORIGIN_AUTO_GENERATED,
        [LABELS.customModel]: 'true',
        [LABELS.customIdentity]: customModelIdentity(custom),
        [LABELS.naming]: NAMING_VERSION,
        [LABELS.managedBy]: MANAGED_BY,
      },
    },
    spec: {
      image: custom.baseImage,
      modelSources: custom.modelSources.map(modelSourceWithoutCredentials),
      hardware: structuredClone(custom.hardware),
    },
  };
}

/** The custom identity a service asks for (the value of `aim.silogen.ai/custom-identity`). */
export function customModelIdentityOf(service: CustomModelService): string {
  return customModelIdentity(customOf(service));
}

/**
 * The minimal apply body that adds this service's owner entry (never the controller, never blocking deletion). Apply
 * it under `FIELD_MANAGERS.owner(service uid)`: owner references are a list-map keyed by uid, so entries applied by
 * different services' managers accumulate, and the garbage collector deletes the model when the last one is gone.
 */
export function customModelOwnerPatch(
  modelName: string,
  namespace: string,
  service: { metadata: { name: string; uid: string } },
): CustomModelOwnerPatch {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: 'AIMModel',
    metadata: {
      name: modelName,
      namespace,
      ownerReferences: [
        {
          apiVersion: API_GROUP_VERSION,
          kind: 'AIMService',
          name: service.metadata.name,
          uid: service.metadata.uid,
          controller: false,
          blockOwnerDeletion: false,
        },
      ],
    },
  };
}

/** What is needed of an existing model read from the API server. */
export interface ExistingModel {
  metadata?: { labels?: Record<string, string> };
}

/**
 * Whether an existing model under the custom model's name is the one asked for: auto-generated with the same custom
 * identity. False means someone else holds the name (a user's model, or another request whose name collided): the
 * caller reports `ModelNameConflict` and never overwrites it.
 */
export function customModelMatches(existing: ExistingModel, identity: string): boolean {
  const labels = existing.metadata?.labels ?? {};
  return labels[LABELS.origin] === ORIGIN_AUTO_GENERATED && labels[LABELS.customIdentity] === identity;
}
