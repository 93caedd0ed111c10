import { isGrpcServiceError, type Client } from '@temporalio/client';
import { nudgeWorkflow } from '../client/nudge.js';
import type { Delivered } from './deliveryQueue.js';
import type { Send } from './routing.js';

/**
 * How the bridge's delivery queue reaches Temporal: one nudge per call through the shared `nudgeWorkflow`, each
 * attempt bounded by a deadline (a Temporal that accepts connections but never answers must not hold a workflow's
 * lane forever) and cancelled when the bridge stops.
 */
export const ATTEMPT_DEADLINE_MS = 15_000;

export function temporalDelivery(
  client: Client,
  taskQueue: string,
  deadlineMs = ATTEMPT_DEADLINE_MS,
): (send: Send, signal: AbortSignal) => Promise<Delivered> {
  return (s, signal) =>
    client.withAbortSignal(signal, () =>
      client.withDeadline(Date.now() + deadlineMs, async () => {
        const id = await nudgeWorkflow(client, taskQueue, s.target, s.signal, s.nudge, {
          start: s.start,
          ...(s.fresh ? { fresh: true } : {}),
        });
        return id ? 'signalled' : 'noWorkflow'; // no id: a plain signal to a workflow that is not running
      }),
    );
}

/**
 * gRPC status codes (grpc/doc/statuscodes.md) that mean Temporal did not give an answer: it is unreachable or
 * restarting (UNAVAILABLE), too slow for the deadline (DEADLINE_EXCEEDED), shedding load (RESOURCE_EXHAUSTED), lost
 * a race it asks the caller to retry (ABORTED), or failed inside (INTERNAL, UNKNOWN: e.g. its database is away).
 * Everything else is an answer, a refusal that another attempt would not change.
 */
const NO_ANSWER = new Set([
  2, // UNKNOWN
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED
  10, // ABORTED
  13, // INTERNAL
  14, // UNAVAILABLE
]);

/** True when the error, or an error it wraps (the client's ServiceError wraps the gRPC one), is a no-answer. */
export function temporalDidNotAnswer(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++)
    if (isGrpcServiceError(e)) return NO_ANSWER.has(e.code);
  return false;
}

/** The error's message with those of the errors it wraps (the client's "Failed to signalWithStart" says little). */
export function deliveryErrorText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 4; e = e.cause) parts.push(e.message);
  return parts.join(': ') || String(err);
}
