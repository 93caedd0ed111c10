import { z } from 'zod';
import { API_GROUP, API_GROUP_VERSION, LIMITS } from './constants.js';
import { cacheSpec, cacheStatus } from './cache.js';
import { DNS_SUBDOMAIN } from './common.js';
import { modelSpec, modelStatus } from './model.js';
import { serviceSpec, serviceStatus } from './service.js';
import { templateSpec, templateStatus } from './template.js';
import { withRules } from './rules.js';

export interface PrintColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  priority?: number;
}

const age: PrintColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
const modelColumns: PrintColumn[] = [
  { name: 'Status', type: 'string', jsonPath: '.status.status' },
  { name: 'Source', type: 'string', jsonPath: '.status.sourceType' },
  { name: 'Image', type: 'string', jsonPath: '.spec.image' },
  age,
];
const templateColumns: PrintColumn[] = [
  { name: 'Model', type: 'string', jsonPath: '.spec.modelName' },
  { name: 'Status', type: 'string', jsonPath: '.status.status' },
  { name: 'Hardware', type: 'string', jsonPath: '.status.hardwareSummary' },
  { name: 'Type', type: 'string', jsonPath: '.spec.type' },
  { name: 'Metric', type: 'string', jsonPath: '.spec.metric' },
  { name: 'Precision', type: 'string', jsonPath: '.spec.precision' },
];

/** Metadata as zod sees it: the API server owns it, we only check what our names rely on. */
const objectMeta = z.looseObject({
  name: withRules(z.string().min(1).max(253).regex(DNS_SUBDOMAIN, 'must be a lower-case RFC 1123 subdomain'), [
    {
      // Generated names (templates, caches, InferenceServices) are built from this one and must stay labels.
      id: 'metadata-name-length',
      message: `must be at most ${LIMITS.name} characters`,
      enforcedBy: 'zod',
      check: (n) => n.length <= LIMITS.name,
    },
  ]),
  namespace: z.string().max(LIMITS.name).optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

function kind<K extends string, Spec extends z.ZodType, Status extends z.ZodType>(def: {
  kind: K;
  plural: string;
  shortName: string;
  scope: 'Namespaced' | 'Cluster';
  spec: Spec;
  status: Status;
  printColumns: PrintColumn[];
}) {
  const schema = z.strictObject({
    apiVersion: z.literal(API_GROUP_VERSION),
    kind: z.literal(def.kind),
    metadata: objectMeta,
    spec: def.spec,
    status: def.status.optional(),
  });
  return {
    ...def,
    singular: def.kind.toLowerCase(),
    group: API_GROUP,
    crdName: `${def.plural}.${API_GROUP}`,
    schema,
  };
}

export const AIMModel = kind({
  kind: 'AIMModel',
  plural: 'aimmodels',
  shortName: 'aimmdl',
  scope: 'Namespaced',
  spec: modelSpec,
  status: modelStatus,
  printColumns: modelColumns,
});
export const AIMClusterModel = kind({
  kind: 'AIMClusterModel',
  plural: 'aimclustermodels',
  shortName: 'aimclmdl',
  scope: 'Cluster',
  spec: modelSpec,
  status: modelStatus,
  printColumns: modelColumns,
});
export const AIMServiceTemplate = kind({
  kind: 'AIMServiceTemplate',
  plural: 'aimservicetemplates',
  shortName: 'aimtpl',
  scope: 'Namespaced',
  spec: templateSpec,
  status: templateStatus,
  printColumns: templateColumns,
});
export const AIMClusterServiceTemplate = kind({
  kind: 'AIMClusterServiceTemplate',
  plural: 'aimclusterservicetemplates',
  shortName: 'aimcltpl',
  scope: 'Cluster',
  spec: templateSpec,
  status: templateStatus,
  printColumns: templateColumns,
});
export const AIMModelCache = kind({
  kind: 'AIMModelCache',
  plural: 'aimmodelcaches',
  shortName: 'aimmc',
  scope: 'Namespaced',
  spec: cacheSpec,
  status: cacheStatus,
  printColumns: [
    { name: 'Status', type: 'string', jsonPath: '.status.status' },
    { name: 'Model', type: 'string', jsonPath: '.spec.modelId' },
    { name: 'Size', type: 'string', jsonPath: '.status.displaySize' },
    { name: 'Progress', type: 'string', jsonPath: '.status.progress.display' },
    { name: 'Mode', type: 'string', jsonPath: '.status.mode' },
    age,
  ],
});
export const AIMService = kind({
  kind: 'AIMService',
  plural: 'aimservices',
  shortName: 'aimsvc',
  scope: 'Namespaced',
  spec: serviceSpec,
  status: serviceStatus,
  printColumns: [
    { name: 'Status', type: 'string', jsonPath: '.status.status' },
    { name: 'Model', type: 'string', jsonPath: '.status.resolvedModel.name' },
    { name: 'Template', type: 'string', jsonPath: '.status.resolvedTemplate.name' },
    { name: 'Progress', type: 'string', jsonPath: '.status.progressDisplay' },
    { name: 'Endpoint', type: 'string', jsonPath: '.status.endpoint.url' },
    age,
    { name: 'Internal-URL', type: 'string', jsonPath: '.status.endpoint.internalUrl', priority: 1 },
  ],
});

export const KINDS = {
  AIMModel,
  AIMClusterModel,
  AIMServiceTemplate,
  AIMClusterServiceTemplate,
  AIMModelCache,
  AIMService,
} as const;
export type KindName = keyof typeof KINDS;
export const KIND_NAMES = Object.keys(KINDS) as KindName[];
export type KindDef = (typeof KINDS)[KindName];
