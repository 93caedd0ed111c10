// The scheduler's filter plugins that matter for a one-node test cluster, as pure functions: NodeAffinity (nodeSelector
// and required node affinity), TaintToleration, NodeResourcesFit and the pod-count limit. Volume checks need the API
// server and live in processKubelet.ts. Messages use the real scheduler's wording, because product code surfaces the
// pod's `PodScheduled` condition and `FailedScheduling` Events to users (PodNotStarted).
import type {
  V1NodeSelectorRequirement,
  V1NodeSelectorTerm,
  V1Pod,
  V1Taint,
  V1Toleration,
} from '@kubernetes/client-node';
import { parseQuantity } from '../../../schemas/quantity.js';

/** Node facts the predicates look at. */
export interface NodeFacts {
  name: string;
  labels: Record<string, string>;
  taints: V1Taint[];
  /** Resource name → allocatable quantity. */
  allocatable: Record<string, string>;
}

function matchRequirement(req: V1NodeSelectorRequirement, value: string | undefined): boolean {
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      // Both sides must parse as integers, else no match (as in k8s.io/component-helpers).
      if (value === undefined || values.length !== 1 || !/^-?\d+$/.test(value) || !/^-?\d+$/.test(values[0]!))
        return false;
      const [v, bound] = [BigInt(value), BigInt(values[0]!)];
      return req.operator === 'Gt' ? v > bound : v < bound;
    }
    default:
      return false;
  }
}

/** One term: all expressions and fields must match. A term with neither matches nothing (API semantics). */
export function matchesNodeSelectorTerm(term: V1NodeSelectorTerm, node: Pick<NodeFacts, 'name' | 'labels'>): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  return (
    exprs.every((r) => matchRequirement(r, node.labels[r.key])) &&
    fields.every((r) => matchRequirement(r, r.key === 'metadata.name' ? node.name : undefined))
  );
}

/** `spec.nodeSelector` and `requiredDuringSchedulingIgnoredDuringExecution` (terms are ORed). */
export function nodeAffinityMatches(pod: V1Pod, node: Pick<NodeFacts, 'name' | 'labels'>): boolean {
  for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {})) if (node.labels[k] !== v) return false;
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return true;
  return (required.nodeSelectorTerms ?? []).some((t) => matchesNodeSelectorTerm(t, node));
}

function tolerates(t: V1Toleration, taint: V1Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.operator === 'Exists') return !t.key || t.key === taint.key;
  return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
}

/** The first NoSchedule/NoExecute taint the pod does not tolerate (PreferNoSchedule never blocks). */
export function untoleratedTaint(pod: V1Pod, taints: readonly V1Taint[]): V1Taint | undefined {
  const tolerations = pod.spec?.tolerations ?? [];
  return taints.find((taint) => taint.effect !== 'PreferNoSchedule' && !tolerations.some((t) => tolerates(t, taint)));
}

/** Quantity in thousandths (so `250m` CPU and `1Gi` memory are both exact integers). */
export function milli(q: string | number): bigint {
  const r = parseQuantity(q);
  return (r.num * 1000n + r.den - 1n) / r.den;
}

/**
 * Effective requests of a pod, in thousandths: the sum over containers, or the largest init container if bigger
 * (init containers run one at a time), plus pod overhead. Requests are already defaulted from limits by the API
 * server when only limits are given.
 */
export function podRequests(pod: V1Pod): Map<string, bigint> {
  const sum = new Map<string, bigint>();
  for (const c of pod.spec?.containers ?? []) {
    for (const [k, v] of Object.entries(c.resources?.requests ?? {})) sum.set(k, (sum.get(k) ?? 0n) + milli(v));
  }
  for (const c of pod.spec?.initContainers ?? []) {
    for (const [k, v] of Object.entries(c.resources?.requests ?? {})) {
      const m = milli(v);
      if (m > (sum.get(k) ?? 0n)) sum.set(k, m);
    }
  }
  for (const [k, v] of Object.entries(pod.spec?.overhead ?? {})) sum.set(k, (sum.get(k) ?? 0n) + milli(v));
  return sum;
}

/** Resource names the node cannot fit (`pods` included), given the non-terminal pods already on it. */
export function insufficientResources(pod: V1Pod, node: NodeFacts, podsOnNode: readonly V1Pod[]): string[] {
  const used = new Map<string, bigint>();
  for (const p of podsOnNode) for (const [k, v] of podRequests(p)) used.set(k, (used.get(k) ?? 0n) + v);
  const out: string[] = [];
  if (BigInt(podsOnNode.length + 1) * 1000n > milli(node.allocatable.pods ?? '110')) out.push('pods');
  for (const [k, want] of podRequests(pod)) {
    if (want === 0n) continue;
    const alloc = node.allocatable[k];
    if (alloc === undefined || (used.get(k) ?? 0n) + want > milli(alloc)) out.push(k);
  }
  return out;
}

/**
 * Why the pod cannot go to this node (each entry is one "N node(s) ..." phrase of the scheduler), or `[]` when it
 * fits. Volume reasons are added by the caller.
 */
export function unschedulableReasons(pod: V1Pod, node: NodeFacts, podsOnNode: readonly V1Pod[]): string[] {
  if (!nodeAffinityMatches(pod, node)) return ["1 node(s) didn't match Pod's node affinity/selector"];
  const taint = untoleratedTaint(pod, node.taints);
  if (taint) {
    const kv = taint.value ? `${taint.key}: ${taint.value}` : taint.key;
    return [`1 node(s) had untolerated taint {${kv}}`];
  }
  const missing = insufficientResources(pod, node, podsOnNode);
  return missing.map((r) => (r === 'pods' ? '1 Too many pods' : `1 Insufficient ${r}`));
}

/** The scheduler's FailedScheduling message for a one-node cluster. */
export function failedSchedulingMessage(reasons: readonly string[]): string {
  const sorted = [...reasons].sort();
  return (
    `0/1 nodes are available: ${sorted.join(', ')}. ` +
    'preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.'
  );
}
