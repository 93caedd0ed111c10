import { z } from 'zod';
import { LIMITS } from './constants.js';
import {
  byteCount,
  conditions,
  dnsSubdomainName,
  envList,
  hardwareRequirements,
  image,
  imagePullSecrets,
  listMap,
  metric,
  modelId,
  objectStatus,
  positiveQuantity,
  precision,
  sourceEnvList,
  sourceUri,
  templateType,
  caBundle,
  DNS_LABEL,
} from './common.js';
import { unknownKeyHints, withRules } from './rules.js';

/** One source of model weights (spec section 2, AIMModelSource). */
export const modelSource = z.strictObject(
  {
    modelId,
    sourceUri,
    size: positiveQuantity.optional(),
    env: sourceEnvList.optional(),
    caBundle: caBundle.optional(),
  },
  unknownKeyHints({ name: 'use modelId (org/name) instead of name' }),
);
export const modelSources = listMap(modelSource, 'modelId', LIMITS.sources);

export const templateProfile = z.strictObject({ metric: metric.optional(), precision: precision.optional() });

export const customTemplate = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(LIMITS.templateName)
    .regex(DNS_LABEL, 'must be a lower-case RFC 1123 label (a-z, 0-9, "-")')
    .optional(),
  // No default: an unset type inherits spec.type (spec section 5.1).
  type: templateType.optional(),
  env: envList.optional(),
  hardware: hardwareRequirements.optional(),
  profile: templateProfile.optional(),
});

type Named = { name?: string | undefined };
const duplicateTemplateName = (ts: Named[]) =>
  ts.findIndex((t, i) => t.name !== undefined && ts.findIndex((u) => u.name === t.name) !== i);

export const customTemplates = withRules(z.array(customTemplate).max(LIMITS.templates), [
  {
    id: 'custom-template-names-unique',
    message: 'custom template names must be unique',
    enforcedBy: 'both',
    cel: 'self.all(t, !has(t.name) || self.filter(u, has(u.name) && u.name == t.name).size() == 1)',
    check: (ts) => duplicateTemplateName(ts) < 0,
    path: (ts) => [duplicateTemplateName(ts), 'name'],
  },
]);

const nonEmpty = (list: unknown[] | undefined) => (list?.length ?? 0) > 0;

/** AIMModel / AIMClusterModel spec. */
export const modelSpec = withRules(
  z.strictObject({
    image,
    modelSources: modelSources.optional(),
    hardware: hardwareRequirements.optional(),
    type: templateType.optional(),
    customTemplates: customTemplates.optional(),
    env: envList.optional(),
    imagePullSecrets: imagePullSecrets.optional(),
    serviceAccountName: dnsSubdomainName.optional(),
  }),
  [
    {
      id: 'sources-need-hardware',
      message: 'when modelSources is set, hardware must be specified in spec.hardware or on every custom template',
      enforcedBy: 'both',
      cel:
        '!has(self.modelSources) || size(self.modelSources) == 0 || has(self.hardware) || ' +
        '(has(self.customTemplates) && size(self.customTemplates) > 0 && self.customTemplates.all(t, has(t.hardware)))',
      check: (s) =>
        !nonEmpty(s.modelSources) ||
        s.hardware !== undefined ||
        (nonEmpty(s.customTemplates) && s.customTemplates!.every((t) => t.hardware !== undefined)),
      path: () => ['hardware'],
    },
    {
      id: 'custom-templates-need-sources',
      message: 'customTemplates can only be specified when modelSources is set',
      enforcedBy: 'both',
      cel: '!has(self.customTemplates) || size(self.customTemplates) == 0 || (has(self.modelSources) && size(self.modelSources) > 0)',
      check: (s) => !nonEmpty(s.customTemplates) || nonEmpty(s.modelSources),
      path: () => ['customTemplates'],
    },
  ],
);

export const SOURCE_TYPES = ['Custom', 'Image'] as const;

export const sourceFacts = z.strictObject({
  totalBytes: byteCount,
  files: z.number().int().min(0),
  revision: z.string().max(LIMITS.shortString).optional(),
});

export const modelStatus = z.strictObject({
  status: objectStatus.optional(),
  sourceType: z.enum(SOURCE_TYPES).optional(),
  source: z
    .array(sourceFacts.extend({ modelId: z.string().max(LIMITS.shortString) }))
    .max(LIMITS.sources)
    .optional(),
  templates: z
    .array(z.strictObject({ name: z.string().max(LIMITS.name), status: objectStatus }))
    .max(LIMITS.templates)
    .optional(),
  conditions: conditions.optional(),
  observedGeneration: z.number().int().min(0).optional(),
});
