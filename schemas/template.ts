import { z } from 'zod';
import { LIMITS } from './constants.js';
import {
  conditions,
  dnsSubdomainName,
  envList,
  gpuRequirements,
  hardwareRequirements,
  imagePullSecrets,
  metric,
  nodeAffinity,
  objectStatus,
  precision,
  resourceRequirements,
  templateType,
  cpuRequirements,
} from './common.js';
import { modelSources } from './model.js';
import { withRules } from './rules.js';

/** AIMServiceTemplate / AIMClusterServiceTemplate spec: generated from a model, or written by hand for image models. */
export const templateSpec = withRules(
  z.strictObject({
    modelName: withRules(dnsSubdomainName, [
      {
        id: 'template-model-name-immutable',
        message: 'modelName is immutable',
        enforcedBy: 'api',
        cel: 'self == oldSelf',
      },
    ]),
    modelSources: modelSources.optional(),
    hardware: hardwareRequirements.optional(),
    type: templateType.optional(),
    metric: metric.optional(),
    precision: precision.optional(),
    env: envList.optional(),
    resources: resourceRequirements.optional(),
    imagePullSecrets: imagePullSecrets.optional(),
    serviceAccountName: dnsSubdomainName.optional(),
  }),
  [
    {
      id: 'template-sources-need-hardware',
      message: 'when modelSources is set, hardware must be specified',
      enforcedBy: 'both',
      cel: '!has(self.modelSources) || size(self.modelSources) == 0 || has(self.hardware)',
      check: (s) => (s.modelSources?.length ?? 0) === 0 || s.hardware !== undefined,
      path: () => ['hardware'],
    },
  ],
);

/** The hardware a template resolved to after merging and matching nodes (resourceName always set). */
export const resolvedHardware = z.strictObject({
  gpu: gpuRequirements.optional(),
  cpu: cpuRequirements.optional(),
});

export const templateStatus = z.strictObject({
  status: objectStatus.optional(),
  resolvedHardware: resolvedHardware.optional(),
  hardwareSummary: z.string().max(LIMITS.shortString).optional(),
  resolvedNodeAffinity: nodeAffinity.optional(),
  conditions: conditions.optional(),
  observedGeneration: z.number().int().min(0).optional(),
});
