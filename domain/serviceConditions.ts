/**
 * The status and conditions of an AIMService from what each step of its lifecycle reached (spec 5.3 and 8), pure and
 * table-tested. The workflow records what a step returned; this decides what the user reads: steps are reported in
 * order, the first that did not pass decides the status and carries its reason onto `Ready`, and a service that has
 * been Running reports a loss as `Degraded` (it keeps serving), never as `Pending` or `Starting`.
 */

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}
type Verdict = Omit<Condition, 'type'>;

export type ServiceStatusValue = 'Pending' | 'Starting' | 'Running' | 'Degraded' | 'Failed';

export interface ServiceConditionsReport {
  status: ServiceStatusValue;
  conditions: Condition[];
}

/** What the steps of one pass reached; a later step is present only when every earlier one passed. */
export interface ServiceReached {
  /** The service has been Running (a loss is Degraded). */
  running: boolean;
  /** The spec failed validation: the message of every error. */
  invalid?: string;
  model?: { ok: { kind: string; name: string } } | { failure: Verdict & { retryable: boolean } };
  template?: { ok: { name: string } } | { failure: Verdict };
  /** Every referenced Secret and key exists (`ok`), or what is missing. */
  credentials?: { ok: string } | { missing: string };
  /** All caches Ready (how many), one Failed, or still downloading (the progress line). */
  caches?:
    | { ready: number }
    | { failed: { name: string; reason?: string; message?: string } }
    | { waiting: string; retrying?: { name: string; reason: string; message?: string } };
  /** The InferenceService as KServe reports it. */
  inferenceService?: { name: string; ready: boolean; reason?: string; message?: string };
}

const VALID: Condition = { type: 'ConfigValid', status: 'True', reason: 'Valid', message: 'the spec is valid' };

export function serviceReport(reached: ServiceReached): ServiceConditionsReport {
  if (reached.invalid !== undefined) {
    const f: Verdict = { status: 'False', reason: 'InvalidSpec', message: reached.invalid };
    return {
      status: 'Failed',
      conditions: [
        { type: 'ConfigValid', ...f },
        { type: 'Ready', ...f },
      ],
    };
  }
  const passed: Condition[] = [VALID];
  const notYet: ServiceStatusValue = reached.running ? 'Degraded' : 'Pending';
  const stopAt = (status: ServiceStatusValue, type: string, f: Verdict): ServiceConditionsReport => ({
    status,
    conditions: [...passed, { type, ...verdict(f) }, { type: 'Ready', ...verdict(f) }],
  });

  const { model, template, credentials, caches, inferenceService: isvc } = reached;
  if (!model) throw new Error('serviceReport: the model step was not reached');
  if ('failure' in model) return stopAt(model.failure.retryable ? notYet : 'Failed', 'ModelReady', model.failure);
  passed.push({
    type: 'ModelReady',
    status: 'True',
    reason: 'ModelResolved',
    message: `${model.ok.kind} ${model.ok.name}`,
  });

  if (!template) throw new Error('serviceReport: the template step was not reached');
  if ('failure' in template) {
    // After Running, losing the template never tears the InferenceService down: keep serving, say why.
    const f = reached.running
      ? { ...template.failure, reason: 'TemplateGone', message: `${template.failure.message}; still serving` }
      : template.failure;
    return stopAt(notYet, 'TemplateReady', f);
  }
  passed.push({ type: 'TemplateReady', status: 'True', reason: 'TemplateSelected', message: template.ok.name });

  if (!credentials) throw new Error('serviceReport: the credentials step was not reached');
  if ('missing' in credentials)
    return stopAt(notYet, 'AuthValid', { status: 'False', reason: 'SecretNotFound', message: credentials.missing });
  passed.push({ type: 'AuthValid', status: 'True', reason: 'SecretsFound', message: credentials.ok });

  if (!caches) throw new Error('serviceReport: the caches step was not reached');
  if ('failed' in caches) {
    const { name, reason, message } = caches.failed;
    return stopAt('Failed', 'CacheReady', {
      status: 'False',
      reason: reason ?? 'CacheFailed',
      message: `${name}: ${message ?? 'failed'}`,
    });
  }
  if ('waiting' in caches) {
    // Under a Running service a missing cache is being recreated: the InferenceService keeps its old volumes until
    // the new cache is Ready, then rolls once (spec 5.6).
    // A cache between download attempts says why the last one failed (OOMKilled, Evicted, Stalled, …: spec 7).
    const retrying = reached.running ? undefined : caches.retrying;
    return stopAt(reached.running ? 'Degraded' : 'Starting', 'CacheReady', {
      status: 'False',
      reason: reached.running ? 'CacheRecreating' : (retrying?.reason ?? 'Downloading'),
      message: retrying ? `${retrying.name}: ${retrying.message ?? retrying.reason}` : caches.waiting,
    });
  }
  passed.push({ type: 'CacheReady', status: 'True', reason: 'CachesReady', message: `${caches.ready} cache(s) ready` });

  if (!isvc) throw new Error('serviceReport: the InferenceService step was not reached');
  if (isvc.ready) {
    return {
      status: 'Running',
      conditions: [
        ...passed,
        {
          type: 'InferenceServiceReady',
          status: 'True',
          reason: 'Ready',
          message: `InferenceService ${isvc.name} is Ready`,
        },
        { type: 'Ready', status: 'True', reason: 'Running', message: `serving from InferenceService ${isvc.name}` },
      ],
    };
  }
  // After Running a serving failure is Degraded (other pods may still serve; it recovers with the pods), before it
  // a failure to load is Failed.
  const kserveFailed = isvc.reason === 'InferenceServiceFailed';
  return stopAt(reached.running ? 'Degraded' : kserveFailed ? 'Failed' : 'Starting', 'InferenceServiceReady', {
    status: 'False',
    reason: isvc.reason ?? 'Deploying',
    message: isvc.message ?? `waiting for InferenceService ${isvc.name}`,
  });
}

/** Only the condition fields (a step's failure may carry more, e.g. `retryable`). */
function verdict(f: Verdict): Verdict {
  return { status: f.status, reason: f.reason, message: f.message };
}
