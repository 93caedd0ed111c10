import { z } from 'zod';
import { CREDENTIAL_ENV_NAMES, ENDPOINT_ENV_NAMES, LIMITS } from './constants.js';
import { crd } from './crd/registry.js';
import { QUANTITY_PATTERN, isPositiveQuantity, compareQuantities } from './quantity.js';
import { unknownKeyHints, withRules } from './rules.js';

/** Building blocks shared by the kinds. Every string and list has a size limit (they bound CEL cost too). */

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const MODEL_ID = new RegExp('^[a-zA-Z0-9_-]+/[a-zA-Z0-9._-]+$');
export const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
/** Printable ASCII without spaces: no unicode look-alikes, no whitespace in URIs. */
export const PRINTABLE_ASCII = /^[!-~]+$/;

export const dnsSubdomainName = z
  .string()
  .min(1)
  .max(253)
  .regex(DNS_SUBDOMAIN, 'must be a lower-case RFC 1123 subdomain');
export const shortString = z.string().max(LIMITS.shortString);

const quantityUnion = () =>
  z.union([
    z.string().regex(new RegExp(QUANTITY_PATTERN), 'must be a quantity such as 10Gi, 500m or 1e9'),
    z.number().int(),
  ]);

/** A Kubernetes Quantity: a string in the API server's own pattern, or an integer. */
export const quantity = crd(quantityUnion(), { quantity: true });

export const positiveQuantity = crd(
  withRules(quantityUnion(), [
    {
      id: 'quantity-positive',
      message: 'must be a positive quantity',
      enforcedBy: 'both',
      cel: "quantity(string(self)).isGreaterThan(quantity('0'))",
      check: (q) => safe(() => isPositiveQuantity(q)),
    },
  ]),
  { quantity: true },
);

function safe(fn: () => boolean): boolean {
  try {
    return fn();
  } catch {
    // An unparsable quantity already fails the pattern; do not report it twice.
    return true;
  }
}

export const modelId = withRules(z.string().min(3).max(LIMITS.shortString).regex(MODEL_ID, 'must match org/name'), [
  {
    id: 'model-id-no-dot-segment',
    message: 'must not end in /. or /..',
    enforcedBy: 'both',
    cel: "!self.endsWith('/.') && !self.endsWith('/..')",
    check: (v) => !v.endsWith('/.') && !v.endsWith('/..'),
  },
]);

/** `s3://bucket[/prefix]` or `hf://org/name[@revision]`. */
const SOURCE_URI_SHAPE = '^(s3://[^/]+(/.*)?|hf://[a-zA-Z0-9_-]+/[a-zA-Z0-9._-]+(@[!-~]+)?)$';
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export const sourceUri = withRules(
  z.string().min(1).max(LIMITS.uri).regex(PRINTABLE_ASCII, 'must be printable ASCII without spaces'),
  [
    {
      id: 'source-uri-shape',
      message: 'must be s3://bucket[/prefix] or hf://org/name[@revision]',
      enforcedBy: 'both',
      cel: `self.matches(r'${SOURCE_URI_SHAPE}')`,
      check: (v) => new RegExp(SOURCE_URI_SHAPE).test(v),
    },
    {
      // Kept out of the CRD on purpose: bucket naming differs across S3 implementations, so the API server takes
      // the URI and the orchestrator reports InvalidSpec naming the field.
      id: 's3-bucket-name',
      message:
        'S3 bucket names are 3-63 characters of a-z, 0-9, "." and "-", starting and ending with a letter or digit',
      enforcedBy: 'zod',
      check: (v) => !v.startsWith('s3://') || S3_BUCKET.test(v.slice(5).split('/')[0] ?? ''),
    },
  ],
);

const keyRef = z.strictObject({
  name: dnsSubdomainName,
  key: z
    .string()
    .min(1)
    .max(LIMITS.shortString)
    .regex(/^[-._a-zA-Z0-9]+$/, 'must be a valid Secret or ConfigMap key'),
  optional: z.boolean().optional(),
});

/** `{secretKeyRef | configMapKeyRef}`: exactly one. Used for env `valueFrom` and for `caBundle`. */
function keyRefChoice(what: string) {
  return withRules(
    z.strictObject(
      { secretKeyRef: keyRef.optional(), configMapKeyRef: keyRef.optional() },
      unknownKeyHints({
        fieldRef: `${what} allows secretKeyRef and configMapKeyRef only`,
        resourceFieldRef: `${what} allows secretKeyRef and configMapKeyRef only`,
      }),
    ),
    [
      {
        id: `${what}-one-ref`,
        message: `${what} must set exactly one of secretKeyRef or configMapKeyRef`,
        enforcedBy: 'both',
        cel: '(has(self.secretKeyRef) ? 1 : 0) + (has(self.configMapKeyRef) ? 1 : 0) == 1',
        check: (v) => (v.secretKeyRef ? 1 : 0) + (v.configMapKeyRef ? 1 : 0) === 1,
      },
    ],
  );
}

export const caBundle = keyRefChoice('caBundle');

const envVarShape = {
  name: z.string().min(1).max(LIMITS.shortString).regex(ENV_NAME, 'must be a valid environment variable name'),
  value: z.string().max(LIMITS.envValue).optional(),
  valueFrom: keyRefChoice('valueFrom').optional(),
};
type EnvVarShape = { name: string; value?: string | undefined; valueFrom?: { secretKeyRef?: unknown } | undefined };

const celList = (names: readonly string[]) => `[${names.map((n) => `'${n}'`).join(', ')}]`;

const commonEnvRules = [
  {
    id: 'env-value-xor-value-from',
    message: 'value and valueFrom are mutually exclusive',
    enforcedBy: 'both' as const,
    cel: '!(has(self.value) && has(self.valueFrom))',
    check: (v: EnvVarShape) => !(v.value !== undefined && v.valueFrom !== undefined),
  },
  {
    id: 'env-credentials-from-secret',
    message: 'credentials must come from a Secret',
    enforcedBy: 'both' as const,
    cel: `!(self.name in ${celList(CREDENTIAL_ENV_NAMES)}) || (has(self.valueFrom) && has(self.valueFrom.secretKeyRef))`,
    check: (v: EnvVarShape) =>
      !(CREDENTIAL_ENV_NAMES as readonly string[]).includes(v.name) || Boolean(v.valueFrom?.secretKeyRef),
  },
];

/** An env var of a model, template or service. */
export const envVar = withRules(z.strictObject(envVarShape), commonEnvRules);

const ENDPOINT_URL = '^https?://[^/@?#\\s]+(/[^?#\\s]*)?$';

/** An env var of a model source: credentials from Secrets, endpoints as literals (they enter the identity). */
export const sourceEnvVar = withRules(z.strictObject(envVarShape), [
  ...commonEnvRules,
  {
    id: 'env-endpoint-literal',
    message: 'endpoint variables must be literal values',
    enforcedBy: 'both',
    cel: `!(self.name in ${celList(ENDPOINT_ENV_NAMES)}) || !has(self.valueFrom)`,
    check: (v) => !(ENDPOINT_ENV_NAMES as readonly string[]).includes(v.name) || v.valueFrom === undefined,
  },
  {
    id: 'env-addressing-style',
    message: 'S3_ADDRESSING_STYLE must be path or virtual',
    enforcedBy: 'both',
    cel: "self.name != 'S3_ADDRESSING_STYLE' || (has(self.value) && self.value in ['path', 'virtual'])",
    check: (v) => v.name !== 'S3_ADDRESSING_STYLE' || v.value === 'path' || v.value === 'virtual',
  },
  {
    id: 'env-endpoint-url',
    message: 'endpoint URLs must be http(s)://host[:port][/path], without user info, query or fragment',
    // zod only: over 8 sources × 64 env values of up to 32 KiB, any scan of the value (even startsWith/contains,
    // without a regex) exceeds the CRD's CEL cost budget (2.7×). The workflow refuses it with InvalidSpec naming the field.
    enforcedBy: 'zod',
    check: (v) => !['AWS_ENDPOINT_URL', 'HF_ENDPOINT'].includes(v.name) || new RegExp(ENDPOINT_URL).test(v.value ?? ''),
  },
]);

/** A list-map keyed by `key`: the API server refuses duplicates itself; zod names the duplicate. */
export function listMap<T extends z.ZodType>(item: T, key: string, max: number, min = 0) {
  return crd(
    withRules(z.array(item).min(min).max(max), [
      {
        id: `unique-${key}`,
        message: `${key} must be unique`,
        enforcedBy: 'zod',
        check: (items) => firstDuplicate(items as Array<Record<string, unknown>>, key) < 0,
        path: (items) => [firstDuplicate(items as Array<Record<string, unknown>>, key), key],
      },
    ]),
    { listMapKeys: [key] },
  );
}

function firstDuplicate(items: Array<Record<string, unknown>>, key: string): number {
  const seen = new Set<unknown>();
  for (const [i, item] of items.entries()) {
    if (seen.has(item[key])) return i;
    seen.add(item[key]);
  }
  return -1;
}

export const envList = listMap(envVar, 'name', LIMITS.envList);
export const sourceEnvList = listMap(sourceEnvVar, 'name', LIMITS.envList);

export const localObjectReference = z.strictObject({ name: dnsSubdomainName });
export const imagePullSecrets = z.array(localObjectReference).max(LIMITS.imagePullSecrets);

export const image = z
  .string()
  .min(1)
  .max(LIMITS.image)
  .regex(PRINTABLE_ASCII, 'must be an image reference without spaces');

export const resourceList = z.record(
  z
    .string()
    .max(LIMITS.shortString)
    .regex(/^([a-z0-9.-]+\/)?[a-zA-Z0-9._-]+$/, 'must be a resource name'),
  quantity,
);

export const resourceRequirements = z.strictObject({
  limits: resourceList.optional(),
  requests: resourceList.optional(),
});

export const TEMPLATE_TYPES = ['optimized', 'preview', 'unoptimized'] as const;
export const METRICS = ['latency', 'throughput'] as const;
export const PRECISIONS = ['auto', 'fp4', 'fp8', 'fp16', 'bf16', 'fp32', 'int4', 'int8'] as const;
export const templateType = z.enum(TEMPLATE_TYPES);
export const metric = z.enum(METRICS);
export const precision = z.enum(PRECISIONS);

export const ACCESS_MODES = ['ReadWriteOnce', 'ReadWriteMany', 'ReadWriteOncePod'] as const;
export const accessMode = z.enum(ACCESS_MODES);

// --- scheduling -------------------------------------------------------------------------------------------------
const nodeSelectorRequirement = z.strictObject({
  key: z.string().min(1).max(316),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']),
  values: z.array(z.string().max(LIMITS.name)).max(LIMITS.values).optional(),
});
const nodeSelectorTerm = z.strictObject({
  matchExpressions: z.array(nodeSelectorRequirement).max(LIMITS.matchExpressions).optional(),
  matchFields: z.array(nodeSelectorRequirement).max(LIMITS.matchExpressions).optional(),
});
export const nodeAffinity = z.strictObject({
  requiredDuringSchedulingIgnoredDuringExecution: z
    .strictObject({ nodeSelectorTerms: z.array(nodeSelectorTerm).min(1).max(LIMITS.nodeSelectorTerms) })
    .optional(),
  preferredDuringSchedulingIgnoredDuringExecution: z
    .array(z.strictObject({ weight: z.number().int().min(1).max(100), preference: nodeSelectorTerm }))
    .max(LIMITS.nodeSelectorTerms)
    .optional(),
});
export const toleration = z.strictObject({
  key: z.string().max(316).optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().max(LIMITS.name).optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.number().int().optional(),
});
export const tolerations = z.array(toleration).max(LIMITS.tolerations);

// --- hardware -----------------------------------------------------------------------------------------------------
export const gpuRequirements = z.strictObject(
  {
    requests: z.number().int().min(1).max(64),
    models: z
      .array(
        z
          .string()
          .min(1)
          .max(LIMITS.name)
          .regex(/^[A-Za-z0-9._-]+$/, 'must be a GPU model name such as MI300X'),
      )
      .max(LIMITS.gpuModels)
      .optional(),
    minVram: positiveQuantity.optional(),
    resourceName: z
      .string()
      .max(LIMITS.shortString)
      .regex(/^[a-z0-9.-]+\/[a-zA-Z0-9._-]+$/, 'must be an extended resource name such as amd.com/gpu')
      .optional(),
  },
  unknownKeyHints({ model: 'use gpu.models (a list)' }),
);

export const cpuRequirements = withRules(
  z.strictObject({ requests: positiveQuantity.optional(), limits: positiveQuantity.optional() }),
  [
    {
      id: 'cpu-requests-or-limits',
      message: 'cpu must set requests or limits',
      enforcedBy: 'both',
      cel: 'has(self.requests) || has(self.limits)',
      check: (v) => v.requests !== undefined || v.limits !== undefined,
    },
    {
      id: 'cpu-limits-gte-requests',
      message: 'cpu.limits must be greater than or equal to cpu.requests',
      enforcedBy: 'both',
      cel: '!has(self.requests) || !has(self.limits) || !quantity(string(self.limits)).isLessThan(quantity(string(self.requests)))',
      check: (v) =>
        v.requests === undefined ||
        v.limits === undefined ||
        safe(() => compareQuantities(v.limits!, v.requests!) >= 0),
      path: () => ['limits'],
    },
  ],
);

export const hardwareRequirements = withRules(
  z.strictObject({ gpu: gpuRequirements.optional(), cpu: cpuRequirements.optional() }),
  [
    {
      id: 'hardware-gpu-or-cpu',
      message: 'hardware must specify gpu or cpu',
      enforcedBy: 'both',
      cel: 'has(self.gpu) || has(self.cpu)',
      check: (v) => v.gpu !== undefined || v.cpu !== undefined,
    },
  ],
);

// --- status -------------------------------------------------------------------------------------------------------
export const condition = z.strictObject({
  type: z.string().min(1).max(316),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().min(1).max(1024),
  message: z.string().max(LIMITS.message),
  lastTransitionTime: z.iso.datetime(),
  observedGeneration: z.number().int().min(0).optional(),
});
export const conditions = crd(z.array(condition).max(LIMITS.conditions), { listMapKeys: ['type'] });

export const OBJECT_STATUSES = ['Pending', 'Progressing', 'Ready', 'Degraded', 'Failed', 'NotAvailable'] as const;
export const objectStatus = z.enum(OBJECT_STATUSES);
export const byteCount = z.number().int().min(0);
