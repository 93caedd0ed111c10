import { ApplicationFailure } from '@temporalio/common';
import { FIELD_MANAGERS } from '../schemas/constants.js';
import { KINDS, type KindName } from '../schemas/kinds.js';
import { validateObject, formatErrors } from '../schemas/validate.js';
import type { ActivityContext } from './context.js';
import { RESOURCES } from './kube/resources.js';
import { toKubeError } from './kube/errors.js';
import { toApplicationFailure } from './failures.js';
import type { NudgeKind } from './nudges.js';

export interface SubmitResult {
  kind: string;
  name: string;
  namespace?: string;
  workflowId: string;
}

const SUBMITTABLE: KindName[] = ['AIMService', 'AIMModel'];

/**
 * The CI entry for raw `temporal workflow start --type submit` (spec 9). Whoever can start workflows is not the
 * caller of `kubectl`: writes go with the worker's rights, so they are allowed only into namespaces the platform
 * team listed in AIM_SUBMIT_NAMESPACES, and never with a service account other than `default`.
 */
export function submitActivities(ctx: ActivityContext) {
  return {
    async submitManifest(manifest: unknown): Promise<SubmitResult> {
      const kind = (manifest as { kind?: string } | null)?.kind as KindName | undefined;
      if (!kind || !SUBMITTABLE.includes(kind)) {
        throw ApplicationFailure.nonRetryable(
          `submit takes an AIMService or AIMModel manifest, got ${String(kind)}`,
          'InvalidSpec',
        );
      }
      const v = validateObject(kind, manifest);
      if (!v.ok) throw ApplicationFailure.nonRetryable(formatErrors(v.errors), 'InvalidSpec', { errors: v.errors });
      const obj = v.value as { metadata: { name: string; namespace?: string }; spec: { serviceAccountName?: string } };
      const namespace = obj.metadata.namespace ?? 'default';
      const allowed = ctx.settings.submitNamespaces ?? [];
      if (!allowed.includes(namespace)) {
        throw ApplicationFailure.nonRetryable(
          `submit may not write to namespace ${namespace}: list it in the worker's AIM_SUBMIT_NAMESPACES (now ${allowed.length ? allowed.join(',') : 'empty'}), or use aimctl apply -f with your own kubeconfig`,
          'SubmitNotAllowed',
        );
      }
      if (obj.spec.serviceAccountName && obj.spec.serviceAccountName !== 'default') {
        throw ApplicationFailure.nonRetryable(
          `submit refuses serviceAccountName ${obj.spec.serviceAccountName}: only the default service account may be used this way; use aimctl apply -f`,
          'SubmitNotAllowed',
        );
      }
      // The manifest as written (not the zod output with defaults), so that CRD defaults stay the API server's.
      const body = { ...(manifest as object), metadata: { ...(manifest as { metadata: object }).metadata, namespace } };
      const applied = await ctx.objects
        .apply<{ metadata?: { uid?: string }; status?: { status?: string } }>(RESOURCES[kind], body as never, {
          fieldManager: `${FIELD_MANAGERS.orchestrator}/submit`,
        })
        .catch((err: unknown) => {
          throw toApplicationFailure(toKubeError(err), `apply ${kind} ${namespace}/${obj.metadata.name}`);
        });
      await ctx.nudger?.nudge(
        kind as NudgeKind,
        obj.metadata.name,
        KINDS[kind].scope === 'Namespaced' ? namespace : undefined,
        // A new object (no status yet) may reuse the name of a deleted one whose run is still winding down.
        applied.status?.status ? undefined : applied.metadata?.uid,
      );
      return { kind, name: obj.metadata.name, namespace, workflowId: `aim/${kind}/${namespace}/${obj.metadata.name}` };
    },
  };
}
