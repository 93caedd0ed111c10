import { API_GROUP, API_VERSION, KSERVE_GROUP_VERSION } from '../../schemas/constants.js';
import { KINDS, type KindName } from '../../schemas/kinds.js';

/** Where a custom resource lives in the REST API. */
export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

const ours = (k: KindName): ResourceRef => ({
  group: API_GROUP,
  version: API_VERSION,
  plural: KINDS[k].plural,
  namespaced: KINDS[k].scope === 'Namespaced',
});

const [kserveGroup = '', kserveVersion = ''] = KSERVE_GROUP_VERSION.split('/');

export const RESOURCES = {
  AIMModel: ours('AIMModel'),
  AIMClusterModel: ours('AIMClusterModel'),
  AIMServiceTemplate: ours('AIMServiceTemplate'),
  AIMClusterServiceTemplate: ours('AIMClusterServiceTemplate'),
  AIMModelCache: ours('AIMModelCache'),
  AIMService: ours('AIMService'),
  InferenceService: { group: kserveGroup, version: kserveVersion, plural: 'inferenceservices', namespaced: true },
} as const satisfies Record<string, ResourceRef>;

export type ResourceKind = keyof typeof RESOURCES;
