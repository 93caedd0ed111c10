import { ApiException } from '@kubernetes/client-node';

/** What a failed Kubernetes call means for the caller; mapped once here (architecture: "mapped once"). */
export type KubeErrorKind =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Forbidden'
  | 'Invalid'
  | 'BadRequest'
  | 'Unauthorized'
  | 'Retryable'
  | 'Other';

export interface KubeStatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/**
 * A Kubernetes API error with the server's own Status message (never a request body we sent, which could hold
 * secret references' neighbours) and, for 429/5xx, the Retry-After hint.
 */
export class KubeApiError extends Error {
  constructor(
    readonly kind: KubeErrorKind,
    readonly status: number,
    message: string,
    readonly reason?: string,
    readonly causes: KubeStatusCause[] = [],
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

function kindOf(status: number, reason?: string): KubeErrorKind {
  if (status === 404) return 'NotFound';
  if (status === 409) return reason === 'AlreadyExists' ? 'AlreadyExists' : 'Conflict';
  if (status === 403) return 'Forbidden';
  if (status === 401) return 'Unauthorized';
  if (status === 422) return 'Invalid';
  if (status === 400) return 'BadRequest';
  if (status === 429 || status >= 500) return 'Retryable';
  return 'Other';
}

interface StatusBody {
  message?: string;
  reason?: string;
  details?: { causes?: KubeStatusCause[] };
}

function parseBody(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return { message: body.slice(0, 500) };
    }
  }
  return (body ?? {}) as StatusBody;
}

/** Converts whatever client-node threw into a KubeApiError; other errors (network) become Retryable. */
export function toKubeError(err: unknown): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (err instanceof ApiException) {
    const status = err.code;
    const body = parseBody(err.body);
    const retryAfter = Number(err.headers?.['retry-after']);
    return new KubeApiError(
      kindOf(status, body.reason),
      status,
      body.message ?? `HTTP ${status}`,
      body.reason,
      body.details?.causes ?? [],
      Number.isFinite(retryAfter) ? retryAfter : undefined,
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new KubeApiError('Retryable', 0, `Kubernetes API unreachable: ${message}`);
}

export function isNotFound(err: unknown): boolean {
  return toKubeError(err).kind === 'NotFound';
}
