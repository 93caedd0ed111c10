import { z } from 'zod';
import { LIMITS } from './constants.js';
import {
  accessMode,
  conditions,
  dnsSubdomainName,
  envList,
  hardwareRequirements,
  image,
  imagePullSecrets,
  listMap,
  resourceRequirements,
  DNS_LABEL,
} from './common.js';
import { cacheMode } from './cache.js';
import { modelSource } from './model.js';
import { unknownKeyHints, withRules } from './rules.js';

/** `spec.model.custom`: an ad-hoc model (Path 2); the orchestrator finds or creates the AIMModel. */
export const customModel = z.strictObject(
  {
    baseImage: image,
    modelSources: listMap(modelSource, 'modelId', LIMITS.sources, 1),
    hardware: hardwareRequirements,
  },
  unknownKeyHints({ gpuSelector: 'use custom.hardware.gpu' }),
);

export const serviceModel = withRules(
  z.strictObject({
    name: dnsSubdomainName.optional(),
    image: image.optional(),
    custom: customModel.optional(),
  }),
  [
    {
      id: 'service-model-exactly-one',
      message: 'exactly one of name, image, or custom must be specified',
      enforcedBy: 'both',
      cel: '(has(self.name) ? 1 : 0) + (has(self.image) ? 1 : 0) + (has(self.custom) ? 1 : 0) == 1',
      check: (m) => [m.name, m.image, m.custom].filter((x) => x !== undefined).length === 1,
    },
    {
      id: 'service-model-immutable',
      message: 'model selection is immutable',
      enforcedBy: 'api',
      cel: 'self == oldSelf',
    },
  ],
);

export const serviceCaching = withRules(z.strictObject({ mode: cacheMode.default('Dedicated') }), [
  {
    id: 'service-caching-immutable',
    message: 'caching mode is immutable',
    enforcedBy: 'api',
    cel: 'self.mode == oldSelf.mode',
  },
]);

/** AIMService spec (spec section 2). */
export const serviceSpec = z.strictObject({
  model: serviceModel,
  template: z
    .strictObject({
      name: z.string().min(1).max(LIMITS.name).regex(DNS_LABEL, 'must be a lower-case RFC 1123 label').optional(),
      allowUnoptimized: z.boolean().optional(),
    })
    .optional(),
  caching: serviceCaching.prefault({}),
  storage: z
    .strictObject({
      storageClassName: dnsSubdomainName.optional(),
      accessMode: accessMode.optional(),
      headroomPercent: z.number().int().min(0).max(100).optional(),
    })
    .optional(),
  download: z
    .strictObject({
      stallTimeoutSeconds: z.number().int().min(5).max(86400).optional(),
      maxAttempts: z.number().int().min(1).max(20).optional(),
    })
    .optional(),
  replicas: z.number().int().min(1).max(1000).default(1),
  env: envList.optional(),
  resources: resourceRequirements.optional(),
  imagePullSecrets: imagePullSecrets.optional(),
  serviceAccountName: dnsSubdomainName.optional(),
});

export const SERVICE_STATUSES = ['Pending', 'Starting', 'Running', 'Degraded', 'Failed'] as const;

const objectRef = z.strictObject({
  name: z.string().max(LIMITS.shortString),
  kind: z.string().max(64).optional(),
  namespace: z.string().max(LIMITS.name).optional(),
  uid: z.string().max(64).optional(),
});

export const serviceStatus = z.strictObject({
  status: z.enum(SERVICE_STATUSES).optional(),
  conditions: conditions.optional(),
  resolvedModel: objectRef.optional(),
  resolvedTemplate: objectRef.optional(),
  caches: z
    .array(
      z.strictObject({
        name: z.string().max(LIMITS.shortString),
        modelId: z.string().max(LIMITS.shortString),
        status: z.string().max(64),
        percent: z.number().min(0).max(100).optional(),
      }),
    )
    .max(LIMITS.sources)
    .optional(),
  progressDisplay: z.string().max(LIMITS.shortString).optional(),
  /** Where the model is served (spec 8): the InferenceService and the URLs KServe reports for it. */
  endpoint: z
    .strictObject({
      inferenceService: z.string().max(LIMITS.name),
      url: z.string().max(2048).optional(),
      internalUrl: z.string().max(2048).optional(),
    })
    .optional(),
  workflow: z.strictObject({ id: z.string().max(LIMITS.shortString), runId: z.string().max(64).optional() }).optional(),
  observedGeneration: z.number().int().min(0).optional(),
});
