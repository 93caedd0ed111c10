import type { KubernetesObject } from '@kubernetes/client-node';
import { KubeApiError } from '../../activities/kube/errors.js';
import type { ResourceRef } from '../../activities/kube/resources.js';
import type { ObjectStore } from '../../client/sdk.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- an untyped in-memory API server */

export interface RecordedCall {
  op: 'get' | 'apply' | 'replace' | 'delete' | 'list';
  plural: string;
  name?: string;
  namespace?: string;
  body?: any;
  opts?: any;
}

/**
 * An in-memory stand-in for the API server's custom objects (tests, portal demos): apply merges top-level fields,
 * assigns uid / generation / resourceVersion; delete honours finalizers (sets deletionTimestamp); replace removes an
 * object that is deleting and has no finalizers left. Every call is recorded.
 */
export class MemoryObjects implements ObjectStore {
  readonly objects = new Map<string, any>();
  readonly calls: RecordedCall[] = [];
  private seq = 0;

  key(plural: string, name: string, namespace?: string): string {
    return `${plural}/${namespace ?? ''}/${name}`;
  }

  /** Puts an object as is (a test's "the server has this"). */
  put(res: { plural: string }, obj: any): void {
    this.objects.set(this.key(res.plural, obj.metadata.name, obj.metadata.namespace), structuredClone(obj));
  }

  peek(res: { plural: string }, name: string, namespace?: string): any {
    return this.objects.get(this.key(res.plural, name, namespace));
  }

  async get<T extends KubernetesObject>(res: ResourceRef, name: string, namespace?: string): Promise<T | undefined> {
    this.calls.push({ op: 'get', plural: res.plural, name, ...(namespace ? { namespace } : {}) });
    const o = this.peek(res, name, namespace);
    return o ? (structuredClone(o) as T) : undefined;
  }

  async apply<T extends KubernetesObject>(res: ResourceRef, body: T, opts?: { fieldManager?: string }): Promise<T> {
    this.calls.push({ op: 'apply', plural: res.plural, body: structuredClone(body), opts });
    const b = body as any;
    const k = this.key(res.plural, b.metadata.name, b.metadata.namespace);
    const prev = this.objects.get(k);
    if (b.metadata.uid && prev && prev.metadata.uid !== b.metadata.uid) {
      throw new KubeApiError('Conflict', 409, 'Precondition failed: UID mismatch');
    }
    const seq = ++this.seq;
    const merged = {
      ...prev,
      ...b,
      metadata: {
        creationTimestamp: new Date().toISOString(),
        ...prev?.metadata,
        ...b.metadata,
        uid: prev?.metadata?.uid ?? `00000000-0000-0000-0000-${String(seq).padStart(12, '0')}`,
        generation: (prev?.metadata?.generation ?? 0) + (b.spec ? 1 : 0) || 1,
        resourceVersion: String(seq),
        ...(prev?.metadata?.annotations || b.metadata.annotations
          ? { annotations: { ...prev?.metadata?.annotations, ...b.metadata.annotations } }
          : {}),
      },
    };
    if (
      Array.isArray(b.metadata.finalizers) &&
      b.metadata.finalizers.length === 0 &&
      merged.metadata.deletionTimestamp
    ) {
      this.objects.delete(k);
      return structuredClone(merged) as T;
    }
    this.objects.set(k, merged);
    return structuredClone(merged) as T;
  }

  async replace<T extends KubernetesObject>(res: ResourceRef, body: T): Promise<T> {
    this.calls.push({ op: 'replace', plural: res.plural, body: structuredClone(body) });
    const b = body as any;
    const k = this.key(res.plural, b.metadata.name, b.metadata.namespace);
    if (b.metadata.deletionTimestamp && !b.metadata.finalizers?.length) this.objects.delete(k);
    else this.objects.set(k, structuredClone(b));
    return body;
  }

  async delete(res: ResourceRef, name: string, namespace?: string): Promise<void> {
    this.calls.push({ op: 'delete', plural: res.plural, name, ...(namespace ? { namespace } : {}) });
    const k = this.key(res.plural, name, namespace);
    const o = this.objects.get(k);
    if (!o) return;
    if (o.metadata.finalizers?.length) o.metadata.deletionTimestamp ??= new Date().toISOString();
    else this.objects.delete(k);
  }

  async list<T extends KubernetesObject>(res: ResourceRef, namespace?: string): Promise<T[]> {
    this.calls.push({ op: 'list', plural: res.plural, ...(namespace ? { namespace } : {}) });
    const prefix = namespace ? `${res.plural}/${namespace}/` : `${res.plural}/`;
    return [...this.objects.entries()].filter(([k]) => k.startsWith(prefix)).map(([, v]) => structuredClone(v) as T);
  }
}
