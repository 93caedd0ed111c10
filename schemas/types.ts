import type { z } from 'zod';
import type * as kinds from './kinds.js';
import type * as common from './common.js';
import type * as model from './model.js';
import type * as cache from './cache.js';
import type * as service from './service.js';
import type * as template from './template.js';

/** Types inferred from the schemas: nothing else defines a field. */
export type AIMModel = z.output<typeof kinds.AIMModel.schema>;
export type AIMClusterModel = z.output<typeof kinds.AIMClusterModel.schema>;
export type AIMServiceTemplate = z.output<typeof kinds.AIMServiceTemplate.schema>;
export type AIMClusterServiceTemplate = z.output<typeof kinds.AIMClusterServiceTemplate.schema>;
export type AIMModelCache = z.output<typeof kinds.AIMModelCache.schema>;
export type AIMService = z.output<typeof kinds.AIMService.schema>;

export type AIMModelSpec = z.output<typeof model.modelSpec>;
export type AIMModelStatus = z.output<typeof model.modelStatus>;
export type AIMModelSource = z.output<typeof model.modelSource>;
export type AIMCustomTemplate = z.output<typeof model.customTemplate>;
export type AIMTemplateProfile = z.output<typeof model.templateProfile>;
export type AIMServiceTemplateSpec = z.output<typeof template.templateSpec>;
export type AIMServiceTemplateStatus = z.output<typeof template.templateStatus>;
export type AIMModelCacheSpec = z.output<typeof cache.cacheSpec>;
export type AIMModelCacheStatus = z.output<typeof cache.cacheStatus>;
export type AIMModelCacheProgress = z.output<typeof cache.cacheProgress>;
export type AIMServiceSpec = z.output<typeof service.serviceSpec>;
export type AIMServiceStatus = z.output<typeof service.serviceStatus>;
export type AIMServiceModelCustom = z.output<typeof service.customModel>;

export type AIMHardwareRequirements = z.output<typeof common.hardwareRequirements>;
export type AIMGpuRequirements = z.output<typeof common.gpuRequirements>;
export type AIMCpuRequirements = z.output<typeof common.cpuRequirements>;
export type EnvVar = z.output<typeof common.envVar>;
export type Condition = z.output<typeof common.condition>;
export type NodeAffinity = z.output<typeof common.nodeAffinity>;
export type Toleration = z.output<typeof common.toleration>;
export type ResourceRequirements = z.output<typeof common.resourceRequirements>;
export type Quantity = z.output<typeof common.quantity>;
export type TemplateType = z.output<typeof common.templateType>;
export type Metric = z.output<typeof common.metric>;
export type Precision = z.output<typeof common.precision>;
export type ObjectStatus = z.output<typeof common.objectStatus>;
export type CacheMode = z.output<typeof cache.cacheMode>;
