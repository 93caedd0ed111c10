import { condition, continueAsNew, setHandler, workflowInfo } from '@temporalio/workflow';
import type { TemplateKind, TemplateRef } from '../activities/templates.js';
import {
  changedSignal,
  deletedSignal,
  dependencyChangedSignal,
  progressQuery,
  retrySignal,
  type Progress,
} from './signals.js';
import { k8s } from './proxies.js';
import { recreated } from './binding.js';
import { memoUid } from './visibility.js';

export interface TemplateLifecycleInput {
  kind: TemplateKind;
  name: string;
  namespace?: string;
  uid?: string;
}

/**
 * Hand-made AIMServiceTemplates (image models): availability → status, again on every nudge (Node changes, its
 * model appearing) and every 10 minutes. Generated templates are left to their model's workflow: this run ends.
 */
export async function templateLifecycle(input: TemplateLifecycleInput): Promise<void> {
  const ref: TemplateRef = {
    kind: input.kind,
    name: input.name,
    ...(input.namespace ? { namespace: input.namespace } : {}),
  };
  let uid = input.uid;
  let nudged = true;
  const progress: Progress = { phase: 'Starting', step: 'readTemplate', attempt: 0 };
  const recordUid = memoUid();
  const nudge = () => void (nudged = true);
  setHandler(changedSignal, nudge);
  setHandler(retrySignal, nudge);
  setHandler(deletedSignal, nudge);
  setHandler(dependencyChangedSignal, nudge);
  setHandler(progressQuery, () => progress);

  for (;;) {
    await condition(() => nudged, '10 minutes');
    nudged = false;
    const snap = await k8s.readTemplate(ref);
    if (!snap.generated && recreated(snap, uid)) {
      await continueAsNew<typeof templateLifecycle>({
        kind: input.kind,
        name: input.name,
        ...(input.namespace ? { namespace: input.namespace } : {}),
      });
    }
    if (!snap.exists || snap.deleting || snap.generated || (uid && snap.uid !== uid)) {
      progress.phase = snap.generated ? 'OwnedByModel' : 'Deleted';
      return;
    }
    uid = snap.uid!;
    recordUid(uid);
    progress.step = 'evaluateHandmadeTemplate';
    const verdict = await k8s.evaluateHandmadeTemplate(ref, uid);
    progress.phase = verdict?.status ?? 'Unknown';
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof templateLifecycle>({ ...input, uid });
  }
}
