import type { EnforcedBy } from '../../schemas/rules.js';
import { example, type Manifest } from './examples.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- mutations poke at arbitrary manifest paths on purpose */

/**
 * One invalid manifest and the layers that must refuse it (spec section 2: "each rule is marked ... as enforced by zod,
 * by the API server, or both"). `zod` gives the expected field path and message; `api` the field path the API server
 * names and a substring of its message (our own message for CEL rules, the server's wording for the rest).
 * `update: true` creates the valid example first and refuses the change (transition rules).
 */
export interface InvalidCase {
  name: string;
  example: string;
  mutate: (m: any) => void;
  enforcedBy: EnforcedBy;
  zod?: { path: string; message: string };
  api?: { path: string; message: string };
  update?: boolean;
}

const SVC_S3 = 'aimservice-custom-s3.yaml';
const SVC_NAME = 'aimservice-by-name.yaml';
const MODEL = 'aimmodel-s3-custom-templates.yaml';
const MODEL_PLAIN = 'aimmodel-s3-default-template.yaml';
const CACHE = 'aimmodelcache.yaml';
const TPL = 'aimservicetemplate-image.yaml';

const src = (m: any) => m.spec.modelSources[0];
const svcSrc = (m: any) => m.spec.model.custom.modelSources[0];
const CEL = {
  exactlyOne: 'exactly one of name, image, or custom must be specified',
  creds: 'credentials must come from a Secret',
  endpointLiteral: 'endpoint variables must be literal values',
  sourcesHardware: 'when modelSources is set, hardware must be specified in spec.hardware or on every custom template',
  templatesNeedSources: 'customTemplates can only be specified when modelSources is set',
  positive: 'must be a positive quantity',
  uriShape: 'must be s3://bucket[/prefix] or hf://org/name[@revision]',
};

export const INVALID_CASES: InvalidCase[] = [
  // --- spec.model: exactly one of name / image / custom -------------------------------------------------------
  {
    name: 'service model with none of name, image, custom',
    example: SVC_NAME,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.model = {};
    },
    zod: { path: 'spec.model', message: CEL.exactlyOne },
    api: { path: 'spec.model', message: CEL.exactlyOne },
  },
  {
    name: 'service model with both name and image',
    example: SVC_NAME,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.model.image = 'ghcr.io/x/y:1';
    },
    zod: { path: 'spec.model', message: CEL.exactlyOne },
    api: { path: 'spec.model', message: CEL.exactlyOne },
  },
  {
    name: 'custom model without hardware',
    example: SVC_S3,
    enforcedBy: 'both',
    mutate: (m) => {
      delete m.spec.model.custom.hardware;
    },
    zod: { path: 'spec.model.custom.hardware', message: 'Required value' },
    api: { path: 'spec.model.custom.hardware', message: 'Required value' },
  },
  {
    name: 'plan field custom.gpuSelector',
    example: SVC_S3,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.model.custom.gpuSelector = { count: 1, model: 'MI300X' };
    },
    zod: { path: 'spec.model.custom', message: 'use custom.hardware.gpu' },
    api: { path: 'spec.model.custom.gpuSelector', message: 'unknown field' },
  },
  {
    name: 'custom model with no sources',
    example: SVC_S3,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.model.custom.modelSources = [];
    },
    zod: { path: 'spec.model.custom.modelSources', message: 'must have at least 1 items' },
    api: { path: 'spec.model.custom.modelSources', message: 'should have at least 1 items' },
  },
  {
    name: 'model selection changed after creation',
    example: SVC_NAME,
    enforcedBy: 'api',
    update: true,
    mutate: (m) => {
      m.spec.model.name = 'other-model';
    },
    api: { path: 'spec.model', message: 'model selection is immutable' },
  },
  {
    name: 'caching mode changed after creation',
    example: SVC_NAME,
    enforcedBy: 'api',
    update: true,
    mutate: (m) => {
      m.spec.caching = { mode: 'Shared' };
    },
    api: { path: 'spec.caching', message: 'caching mode is immutable' },
  },
  {
    name: 'unknown caching mode',
    example: SVC_NAME,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.caching = { mode: 'Private' };
    },
    zod: { path: 'spec.caching.mode', message: 'must be one of "Dedicated", "Shared"' },
    api: { path: 'spec.caching.mode', message: 'Unsupported value' },
  },
  {
    name: 'zero replicas',
    example: SVC_NAME,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.replicas = 0;
    },
    zod: { path: 'spec.replicas', message: 'must be greater than or equal to 1' },
    api: { path: 'spec.replicas', message: 'should be greater than or equal to 1' },
  },
  {
    name: 'replicas as a string',
    example: SVC_NAME,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.replicas = '2';
    },
    zod: { path: 'spec.replicas', message: 'must be number' },
    api: { path: 'spec.replicas', message: 'must be of type integer' },
  },
  {
    name: 'unknown spec field',
    example: SVC_NAME,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.gpus = 2;
    },
    zod: { path: 'spec', message: 'unknown field "gpus"' },
    api: { path: 'spec.gpus', message: 'unknown field' },
  },

  // --- model sources ---------------------------------------------------------------------------------------------
  {
    name: 'plan field modelSources[].name',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).name = 'qwen';
    },
    zod: { path: 'spec.modelSources[0]', message: 'use modelId (org/name) instead of name' },
    api: { path: 'spec.modelSources[0].name', message: 'unknown field' },
  },
  {
    name: 'modelId without org/',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).modelId = 'qwen2';
    },
    zod: { path: 'spec.modelSources[0].modelId', message: 'must match org/name' },
    api: { path: 'spec.modelSources[0].modelId', message: 'should match' },
  },
  {
    name: 'modelId ending in /..',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).modelId = 'Qwen/..';
    },
    zod: { path: 'spec.modelSources[0].modelId', message: 'must not end in /. or /..' },
    api: { path: 'spec.modelSources[0].modelId', message: 'must not end in /. or /..' },
  },
  {
    name: 'sourceUri with a space',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).sourceUri = 's3://models/qwen 2';
    },
    zod: { path: 'spec.modelSources[0].sourceUri', message: 'must be printable ASCII without spaces' },
    api: { path: 'spec.modelSources[0].sourceUri', message: 'should match' },
  },
  {
    name: 'sourceUri with unicode',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).sourceUri = 's3://modèls/qwen';
    },
    zod: { path: 'spec.modelSources[0].sourceUri', message: 'must be printable ASCII without spaces' },
    api: { path: 'spec.modelSources[0].sourceUri', message: 'should match' },
  },
  {
    name: 'sourceUri with another scheme',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).sourceUri = 'gs://models/qwen';
    },
    zod: { path: 'spec.modelSources[0].sourceUri', message: CEL.uriShape },
    api: { path: 'spec.modelSources[0].sourceUri', message: CEL.uriShape },
  },
  {
    name: 'hf sourceUri without org',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).sourceUri = 'hf://gpt2';
    },
    zod: { path: 'spec.modelSources[0].sourceUri', message: CEL.uriShape },
    api: { path: 'spec.modelSources[0].sourceUri', message: CEL.uriShape },
  },
  {
    name: 'S3 bucket name with capitals (zod only)',
    example: MODEL,
    enforcedBy: 'zod',
    mutate: (m) => {
      src(m).sourceUri = 's3://My_Bucket/qwen';
    },
    zod: { path: 'spec.modelSources[0].sourceUri', message: 'S3 bucket names are 3-63 characters' },
  },
  {
    name: 'negative size',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).size = '-1Gi';
    },
    zod: { path: 'spec.modelSources[0].size', message: CEL.positive },
    api: { path: 'spec.modelSources[0].size', message: CEL.positive },
  },
  {
    name: 'zero size',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).size = 0;
    },
    zod: { path: 'spec.modelSources[0].size', message: CEL.positive },
    api: { path: 'spec.modelSources[0].size', message: CEL.positive },
  },
  {
    name: 'size that is not a quantity',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).size = '10 gigabytes';
    },
    zod: { path: 'spec.modelSources[0].size', message: 'must be a quantity' },
    api: { path: 'spec.modelSources[0].size', message: 'should match' },
  },
  {
    name: 'nine sources',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.modelSources = Array.from({ length: 9 }, (_, i) => ({
        modelId: `org/m${i}`,
        sourceUri: `s3://models/m${i}`,
      }));
    },
    zod: { path: 'spec.modelSources', message: 'must have at most 8 items' },
    api: { path: 'spec.modelSources', message: 'must have at most 8 items' },
  },
  {
    name: 'duplicate source modelId',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.modelSources.push({ ...src(m), sourceUri: 's3://models/other' });
    },
    zod: { path: 'spec.modelSources[1].modelId', message: 'modelId must be unique' },
    api: { path: 'spec.modelSources[1]', message: 'Duplicate value' },
  },

  // --- env ---------------------------------------------------------------------------------------------------------
  {
    name: 'literal AWS secret key in a source',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).env[2] = { name: 'AWS_SECRET_ACCESS_KEY', value: 'literal-not-a-secret' };
    },
    zod: { path: 'spec.modelSources[0].env[2]', message: CEL.creds },
    api: { path: 'spec.modelSources[0].env[2]', message: CEL.creds },
  },
  {
    name: 'literal HF_TOKEN in service env',
    example: SVC_NAME,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.env.push({ name: 'HF_TOKEN', value: 'hf_literal' });
    },
    zod: { path: 'spec.env[1]', message: CEL.creds },
    api: { path: 'spec.env[1]', message: CEL.creds },
  },
  {
    name: 'credential from a ConfigMap',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).env[1] = { name: 'AWS_ACCESS_KEY_ID', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } };
    },
    zod: { path: 'spec.modelSources[0].env[1]', message: CEL.creds },
    api: { path: 'spec.modelSources[0].env[1]', message: CEL.creds },
  },
  {
    name: 'endpoint from a Secret',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).env[0] = { name: 'AWS_ENDPOINT_URL', valueFrom: { secretKeyRef: { name: 's', key: 'url' } } };
    },
    zod: { path: 'spec.modelSources[0].env[0]', message: CEL.endpointLiteral },
    api: { path: 'spec.modelSources[0].env[0]', message: CEL.endpointLiteral },
  },
  {
    name: 'unknown S3 addressing style',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).env.push({ name: 'S3_ADDRESSING_STYLE', value: 'dns' });
    },
    zod: { path: 'spec.modelSources[0].env[3]', message: 'S3_ADDRESSING_STYLE must be path or virtual' },
    api: { path: 'spec.modelSources[0].env[3]', message: 'S3_ADDRESSING_STYLE must be path or virtual' },
  },
  {
    name: 'endpoint URL with user info (zod only: CEL cost)',
    example: MODEL,
    enforcedBy: 'zod',
    mutate: (m) => {
      src(m).env[0].value = 'http://user:pass@minio:9000';
    },
    zod: { path: 'spec.modelSources[0].env[0]', message: 'endpoint URLs must be http(s)://host' },
  },
  {
    name: 'duplicate env names',
    example: SVC_NAME,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.env.push({ name: 'VLLM_LOGGING_LEVEL', value: 'DEBUG' });
    },
    zod: { path: 'spec.env[1].name', message: 'name must be unique' },
    api: { path: 'spec.env[1]', message: 'Duplicate value' },
  },
  {
    name: 'secretKeyRef without key',
    example: SVC_S3,
    enforcedBy: 'both',
    mutate: (m) => {
      delete svcSrc(m).env[1].valueFrom.secretKeyRef.key;
    },
    zod: { path: 'spec.model.custom.modelSources[0].env[1].valueFrom.secretKeyRef.key', message: 'Required value' },
    api: { path: 'spec.model.custom.modelSources[0].env[1].valueFrom.secretKeyRef.key', message: 'Required value' },
  },
  {
    name: 'valueFrom with two references',
    example: SVC_S3,
    enforcedBy: 'both',
    mutate: (m) => {
      svcSrc(m).env[1].valueFrom.configMapKeyRef = { name: 'cm', key: 'k' };
    },
    zod: {
      path: 'spec.model.custom.modelSources[0].env[1].valueFrom',
      message: 'valueFrom must set exactly one of secretKeyRef or configMapKeyRef',
    },
    api: {
      path: 'spec.model.custom.modelSources[0].env[1].valueFrom',
      message: 'valueFrom must set exactly one of secretKeyRef or configMapKeyRef',
    },
  },
  {
    name: 'valueFrom.fieldRef',
    example: SVC_NAME,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.env.push({ name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    },
    zod: { path: 'spec.env[1].valueFrom', message: 'valueFrom allows secretKeyRef and configMapKeyRef only' },
    api: { path: 'spec.env[1].valueFrom.fieldRef', message: 'unknown field' },
  },
  {
    name: 'value and valueFrom together',
    example: SVC_NAME,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.env[0].valueFrom = { configMapKeyRef: { name: 'cm', key: 'k' } };
    },
    zod: { path: 'spec.env[0]', message: 'value and valueFrom are mutually exclusive' },
    api: { path: 'spec.env[0]', message: 'value and valueFrom are mutually exclusive' },
  },
  {
    name: '65 env vars',
    example: SVC_NAME,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.env = Array.from({ length: 65 }, (_, i) => ({ name: `V${i}`, value: 'x' }));
    },
    zod: { path: 'spec.env', message: 'must have at most 64 items' },
    api: { path: 'spec.env', message: 'must have at most 64 items' },
  },
  {
    name: 'env value over 32 KiB',
    example: SVC_NAME,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.env[0].value = 'x'.repeat(32769);
    },
    zod: { path: 'spec.env[0].value', message: 'may not be longer than 32768' },
    api: { path: 'spec.env[0].value', message: 'Too long' },
  },
  {
    name: 'env name with a space',
    example: SVC_NAME,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.env[0].name = 'MY VAR';
    },
    zod: { path: 'spec.env[0].name', message: 'must be a valid environment variable name' },
    api: { path: 'spec.env[0].name', message: 'should match' },
  },
  {
    name: 'caBundle with no reference',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      src(m).caBundle = {};
    },
    zod: {
      path: 'spec.modelSources[0].caBundle',
      message: 'caBundle must set exactly one of secretKeyRef or configMapKeyRef',
    },
    api: {
      path: 'spec.modelSources[0].caBundle',
      message: 'caBundle must set exactly one of secretKeyRef or configMapKeyRef',
    },
  },

  // --- hardware ------------------------------------------------------------------------------------------------------
  {
    name: 'sources without any hardware',
    example: MODEL_PLAIN,
    enforcedBy: 'both',
    mutate: (m) => {
      delete m.spec.hardware;
    },
    zod: { path: 'spec.hardware', message: CEL.sourcesHardware },
    api: { path: 'spec', message: CEL.sourcesHardware },
  },
  {
    name: 'a custom template without hardware and no spec.hardware',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      delete m.spec.hardware;
    },
    zod: { path: 'spec.hardware', message: CEL.sourcesHardware },
    api: { path: 'spec', message: CEL.sourcesHardware },
  },
  {
    name: 'customTemplates without sources',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      delete m.spec.modelSources;
    },
    zod: { path: 'spec.customTemplates', message: CEL.templatesNeedSources },
    api: { path: 'spec', message: CEL.templatesNeedSources },
  },
  {
    name: 'empty hardware',
    example: MODEL_PLAIN,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.hardware = {};
    },
    zod: { path: 'spec.hardware', message: 'hardware must specify gpu or cpu' },
    api: { path: 'spec.hardware', message: 'hardware must specify gpu or cpu' },
  },
  {
    name: 'zero GPUs',
    example: MODEL_PLAIN,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.hardware.gpu.requests = 0;
    },
    zod: { path: 'spec.hardware.gpu.requests', message: 'must be greater than or equal to 1' },
    api: { path: 'spec.hardware.gpu.requests', message: 'should be greater than or equal to 1' },
  },
  {
    name: '65 GPUs',
    example: MODEL_PLAIN,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.hardware.gpu.requests = 65;
    },
    zod: { path: 'spec.hardware.gpu.requests', message: 'must be less than or equal to 64' },
    api: { path: 'spec.hardware.gpu.requests', message: 'should be less than or equal to 64' },
  },
  {
    name: 'gpu block without requests',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.customTemplates[1].hardware.gpu = { models: ['MI300X'] };
    },
    zod: { path: 'spec.customTemplates[1].hardware.gpu.requests', message: 'Required value' },
    api: { path: 'spec.customTemplates[1].hardware.gpu.requests', message: 'Required value' },
  },
  {
    name: 'plan field gpu.model',
    example: MODEL_PLAIN,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.hardware.gpu = { requests: 1, model: 'MI300X' };
    },
    zod: { path: 'spec.hardware.gpu', message: 'use gpu.models (a list)' },
    api: { path: 'spec.hardware.gpu.model', message: 'unknown field' },
  },
  {
    name: 'cpu limits below requests',
    example: MODEL_PLAIN,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.hardware.cpu = { requests: '8', limits: '4000m' };
    },
    zod: { path: 'spec.hardware.cpu.limits', message: 'cpu.limits must be greater than or equal to cpu.requests' },
    api: { path: 'spec.hardware.cpu', message: 'cpu.limits must be greater than or equal to cpu.requests' },
  },
  {
    name: 'empty cpu block',
    example: MODEL_PLAIN,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.hardware.cpu = {};
    },
    zod: { path: 'spec.hardware.cpu', message: 'cpu must set requests or limits' },
    api: { path: 'spec.hardware.cpu', message: 'cpu must set requests or limits' },
  },
  {
    name: 'invalid GPU resource name',
    example: MODEL_PLAIN,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.hardware.gpu.resourceName = 'gpu';
    },
    zod: { path: 'spec.hardware.gpu.resourceName', message: 'must be an extended resource name' },
    api: { path: 'spec.hardware.gpu.resourceName', message: 'should match' },
  },
  {
    name: 'negative minVram',
    example: MODEL_PLAIN,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.hardware.gpu.minVram = '-80Gi';
    },
    zod: { path: 'spec.hardware.gpu.minVram', message: CEL.positive },
    api: { path: 'spec.hardware.gpu.minVram', message: CEL.positive },
  },

  // --- custom templates ---------------------------------------------------------------------------------------------
  {
    name: 'duplicate custom template names',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.customTemplates[2].name = 'multi';
    },
    zod: { path: 'spec.customTemplates[2].name', message: 'custom template names must be unique' },
    api: { path: 'spec.customTemplates', message: 'custom template names must be unique' },
  },
  {
    name: 'custom template name over 40 characters',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.customTemplates[0].name = 'a'.repeat(41);
    },
    zod: { path: 'spec.customTemplates[0].name', message: 'may not be longer than 40' },
    api: { path: 'spec.customTemplates[0].name', message: 'Too long' },
  },
  {
    name: 'custom template name with capitals',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.customTemplates[0].name = 'Default';
    },
    zod: { path: 'spec.customTemplates[0].name', message: 'must be a lower-case RFC 1123 label' },
    api: { path: 'spec.customTemplates[0].name', message: 'should match' },
  },
  {
    name: 'unknown template type',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.customTemplates[2].type = 'fast';
    },
    zod: { path: 'spec.customTemplates[2].type', message: 'must be one of "optimized", "preview", "unoptimized"' },
    api: { path: 'spec.customTemplates[2].type', message: 'Unsupported value' },
  },
  {
    name: 'unknown precision',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.customTemplates[2].profile.precision = 'fp12';
    },
    zod: { path: 'spec.customTemplates[2].profile.precision', message: 'must be one of' },
    api: { path: 'spec.customTemplates[2].profile.precision', message: 'Unsupported value' },
  },
  {
    name: '17 custom templates',
    example: MODEL,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.customTemplates = Array.from({ length: 17 }, (_, i) => ({ name: `t${i}` }));
    },
    zod: { path: 'spec.customTemplates', message: 'must have at most 16 items' },
    api: { path: 'spec.customTemplates', message: 'must have at most 16 items' },
  },
  {
    name: 'model without image',
    example: MODEL_PLAIN,
    enforcedBy: 'both',
    mutate: (m) => {
      delete m.spec.image;
    },
    zod: { path: 'spec.image', message: 'Required value' },
    api: { path: 'spec.image', message: 'Required value' },
  },
  {
    name: 'metadata.name over 63 characters (zod only)',
    example: MODEL_PLAIN,
    enforcedBy: 'zod',
    mutate: (m) => {
      m.metadata.name = 'm'.repeat(70);
    },
    zod: { path: 'metadata.name', message: 'must be at most 63 characters' },
  },

  // --- templates and caches ------------------------------------------------------------------------------------------
  {
    name: 'template with sources but no hardware',
    example: TPL,
    enforcedBy: 'both',
    mutate: (m) => {
      delete m.spec.hardware;
      m.spec.modelSources = [{ modelId: 'org/m', sourceUri: 's3://models/m' }];
    },
    zod: { path: 'spec.hardware', message: 'when modelSources is set, hardware must be specified' },
    api: { path: 'spec', message: 'when modelSources is set, hardware must be specified' },
  },
  {
    name: 'template modelName changed',
    example: TPL,
    enforcedBy: 'api',
    update: true,
    mutate: (m) => {
      m.spec.modelName = 'another-model';
    },
    api: { path: 'spec.modelName', message: 'modelName is immutable' },
  },
  {
    name: 'cache sourceUri changed',
    example: CACHE,
    enforcedBy: 'api',
    update: true,
    mutate: (m) => {
      m.spec.sourceUri = 's3://models/other';
    },
    api: { path: 'spec.sourceUri', message: 'sourceUri is immutable' },
  },
  {
    name: 'cache accessMode changed',
    example: CACHE,
    enforcedBy: 'api',
    update: true,
    mutate: (m) => {
      m.spec.accessMode = 'ReadWriteMany';
    },
    api: { path: 'spec.accessMode', message: 'accessMode is immutable' },
  },
  {
    name: 'cache headroom over 100 %',
    example: CACHE,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.headroomPercent = 101;
    },
    zod: { path: 'spec.headroomPercent', message: 'must be less than or equal to 100' },
    api: { path: 'spec.headroomPercent', message: 'should be less than or equal to 100' },
  },
  {
    name: 'cache stall timeout under 5 s',
    example: CACHE,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.stallTimeoutSeconds = 2;
    },
    zod: { path: 'spec.stallTimeoutSeconds', message: 'must be greater than or equal to 5' },
    api: { path: 'spec.stallTimeoutSeconds', message: 'should be greater than or equal to 5' },
  },
  {
    name: 'cache with 21 attempts',
    example: CACHE,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.maxAttempts = 21;
    },
    zod: { path: 'spec.maxAttempts', message: 'must be less than or equal to 20' },
    api: { path: 'spec.maxAttempts', message: 'should be less than or equal to 20' },
  },
  {
    name: 'cache with an unknown access mode',
    example: CACHE,
    enforcedBy: 'both',
    mutate: (m) => {
      m.spec.accessMode = 'ReadOnlyMany';
    },
    zod: { path: 'spec.accessMode', message: 'must be one of' },
    api: { path: 'spec.accessMode', message: 'Unsupported value' },
  },
];

/** The valid example with the case's mutation applied. */
export function invalidManifest(c: InvalidCase): Manifest {
  const m = example(c.example);
  c.mutate(m);
  return m;
}
