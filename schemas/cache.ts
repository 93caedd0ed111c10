import { z } from 'zod';
import { LIMITS } from './constants.js';
import {
  accessMode,
  byteCount,
  caBundle,
  conditions,
  dnsSubdomainName,
  modelId,
  nodeAffinity,
  objectStatus,
  positiveQuantity,
  sourceEnvList,
  sourceUri,
  tolerations,
} from './common.js';
import { sourceFacts } from './model.js';
import { withRules } from './rules.js';

export const CACHE_MODES = ['Dedicated', 'Shared'] as const;
export const cacheMode = z.enum(CACHE_MODES);

/** AIMModelCache spec: one source, one volume, one download (spec sections 2 and 5.4). */
export const cacheSpec = withRules(
  z.strictObject({
    modelId,
    sourceUri: withRules(sourceUri, [
      {
        id: 'cache-source-uri-immutable',
        message: 'sourceUri is immutable',
        enforcedBy: 'api',
        cel: 'self == oldSelf',
      },
    ]),
    size: positiveQuantity.optional(),
    env: sourceEnvList.optional(),
    caBundle: caBundle.optional(),
    storageClassName: dnsSubdomainName.optional(),
    accessMode: accessMode.optional(),
    headroomPercent: z.number().int().min(0).max(100).default(10),
    stallTimeoutSeconds: z.number().int().min(5).max(86400).default(120),
    maxAttempts: z.number().int().min(1).max(20).default(5),
    serviceAccountName: dnsSubdomainName.optional(),
    nodeAffinity: nodeAffinity.optional(),
    tolerations: tolerations.optional(),
  }),
  [
    {
      // Chosen once at creation (spec section 5.4); a later change would orphan the volume.
      id: 'cache-access-mode-immutable',
      message: 'accessMode is immutable',
      enforcedBy: 'api',
      cel: '!has(oldSelf.accessMode) || (has(self.accessMode) && self.accessMode == oldSelf.accessMode)',
      fieldPath: '.accessMode',
    },
  ],
);

export const cacheProgress = z.strictObject({
  downloadedBytes: byteCount,
  totalBytes: byteCount.optional(),
  percent: z.number().min(0).max(100).optional(),
  bytesPerSecond: z.number().min(0).optional(),
  etaSeconds: z.number().int().min(0).optional(),
  display: z.string().max(LIMITS.shortString).optional(),
});

export const cacheStatus = z.strictObject({
  status: objectStatus.optional(),
  mode: cacheMode.optional(),
  source: sourceFacts.optional(),
  progress: cacheProgress.optional(),
  probeAttempt: z.number().int().min(0).optional(),
  attempt: z.number().int().min(0).optional(),
  persistentVolumeClaim: z.string().max(LIMITS.shortString).optional(),
  allocatedSize: z.string().max(64).optional(),
  displaySize: z.string().max(64).optional(),
  verified: z.boolean().optional(),
  lastUsed: z.iso.datetime().optional(),
  conditions: conditions.optional(),
  observedGeneration: z.number().int().min(0).optional(),
});
