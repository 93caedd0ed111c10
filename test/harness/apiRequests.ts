// Which Kubernetes API requests an identity made, read from Node's own HTTP client diagnostics channels (the typed
// clients and client-node's Watch both go through node:https), and what RBAC attributes the API server checks for
// each one. Used to prove that each ServiceAccount of deploy/base/rbac.yaml (the worker's, the bridge's) needs every rule
// its ClusterRole grants and was never refused one.
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  path: string;
  status: number;
}

const recorders = new Map<string, RecordedRequest[]>();
let subscribed = false;

function authorizationOf(request: ClientRequest): string | undefined {
  const h = request.getHeader('authorization');
  return Array.isArray(h) ? h[0] : typeof h === 'string' ? h : undefined;
}

function ensureSubscribed(): void {
  if (subscribed) return;
  subscribed = true;
  subscribe('http.client.response.finish', (message) => {
    // Published when the response head arrives (so a watch is recorded as soon as it is accepted or refused).
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    const auth = authorizationOf(request);
    const sink = auth ? recorders.get(auth) : undefined;
    sink?.push({ method: request.method, path: request.path, status: response.statusCode ?? 0 });
  });
}

/** Records, from now on, every request of this process sent with `Authorization: Bearer <token>`. */
export function recordRequestsOf(token: string): () => RecordedRequest[] {
  ensureSubscribed();
  const key = `Bearer ${token}`;
  // Fixtures of one process share the run's token, hence one list per token that each reads from its own start.
  const list = recorders.get(key) ?? [];
  recorders.set(key, list);
  const start = list.length;
  return () => list.slice(start);
}

export type RbacAttributes =
  | { group: string; resource: string; verb: string; namespace?: string; name?: string }
  | { nonResourceURL: string; verb: string };

const VERBS: Record<string, string> = {
  GET: 'get',
  HEAD: 'get',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};
/** Subresources of a namespace itself (`/api/v1/namespaces/x/status`), as the API server's RequestInfo knows them. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/**
 * The attributes the API server authorizes a request by: the same parsing as its RequestInfoFactory (k8s.io/apiserver
 * endpoints/request/requestinfo.go), for the request shapes client-node sends. `resource` includes the subresource
 * (`aimservices/status`), as RBAC rules name it.
 */
export function rbacAttributes(method: string, pathAndQuery: string): RbacAttributes {
  const url = new URL(pathAndQuery, 'https://api.invalid');
  let verb = VERBS[method.toUpperCase()] ?? method.toLowerCase();
  const parts = url.pathname.split('/').filter(Boolean);
  const isResource =
    (parts[0] === 'api' && parts.length >= 3) || (parts[0] === 'apis' && parts.length >= 4 && parts[1] !== '');
  if (!isResource) return { nonResourceURL: url.pathname, verb };
  const group = parts[0] === 'api' ? '' : parts[1]!;
  let rest = parts.slice(parts[0] === 'api' ? 2 : 3);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1];
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  if (rest[0] === 'namespaces' && rest.length <= 3) namespace = undefined; // the namespace object itself
  if (!name && verb === 'get') verb = ['true', '1'].includes(url.searchParams.get('watch') ?? '') ? 'watch' : 'list';
  if (!name && verb === 'delete') verb = 'deletecollection';
  return {
    group,
    resource: subresource ? `${resource}/${subresource}` : resource!,
    verb,
    ...(namespace ? { namespace } : {}),
    ...(name ? { name } : {}),
  };
}

/**
 * What a recorded request was authorized as. A patch that created its object (server-side apply answers 201) was
 * also authorized as `create`, which RBAC must grant as well.
 */
export function authorizedAs(r: RecordedRequest): RbacAttributes[] {
  const a = rbacAttributes(r.method, r.path);
  return 'resource' in a && a.verb === 'patch' && r.status === 201 ? [a, { ...a, verb: 'create' }] : [a];
}

/** `core aimservices/status patch`-style key of an RBAC triple (the same spelling as test/unit/packaging.test.ts). */
export const rbacTriple = (group: string, resource: string, verb: string): string =>
  `${group || 'core'} ${resource} ${verb}`;
