import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { CustomObjects } from './customObjects.js';
import type { ClusterReadCache } from './readCache.js';
import { RESOURCES, type ResourceKind, type ResourceRef } from './resources.js';

const kindOf = (res: ResourceRef): ResourceKind | undefined =>
  (Object.keys(RESOURCES) as ResourceKind[]).find(
    (k) => RESOURCES[k].group === res.group && RESOURCES[k].plural === res.plural,
  );

/**
 * Custom-object writes that tell the read cache what they wrote (rule 4 of readCache.ts, read-your-writes): every
 * create, replace, apply and status apply returns the object with its resourceVersion; a delete marks it deleted.
 * Dry runs change nothing and are not noted.
 */
export class NotedCustomObjects extends CustomObjects {
  constructor(
    kc: KubeConfig,
    private readonly reads: ClusterReadCache,
  ) {
    super(kc);
  }

  private note<T extends KubernetesObject>(res: ResourceRef, out: T): T {
    const kind = kindOf(res);
    if (kind)
      this.reads.noteWrite(kind, out.metadata?.name ?? '', out.metadata?.namespace, out.metadata?.resourceVersion);
    return out;
  }

  override async create<T extends KubernetesObject>(
    res: ResourceRef,
    body: T,
    opts: { dryRun?: boolean; fieldManager?: string } = {},
  ): Promise<T> {
    const out = await super.create(res, body, opts);
    return opts.dryRun ? out : this.note(res, out);
  }

  override async replace<T extends KubernetesObject>(res: ResourceRef, body: T): Promise<T> {
    return this.note(res, await super.replace(res, body));
  }

  override async apply<T extends KubernetesObject>(
    res: ResourceRef,
    body: T,
    opts: { fieldManager?: string; force?: boolean; dryRun?: boolean } = {},
  ): Promise<T> {
    const out = await super.apply(res, body, opts);
    return opts.dryRun ? out : this.note(res, out);
  }

  override async applyStatus<T extends KubernetesObject>(
    res: ResourceRef,
    body: T,
    opts: { fieldManager?: string } = {},
  ): Promise<T> {
    return this.note(res, await super.applyStatus(res, body, opts));
  }

  override async delete(
    res: ResourceRef,
    name: string,
    namespace?: string,
    propagationPolicy: 'Background' | 'Foreground' | 'Orphan' = 'Background',
  ): Promise<void> {
    const kind = kindOf(res);
    // Where the kind's watch was before the request: a deletion it brings after that is this one (or a later one).
    const sentAt = kind ? this.reads.watchedTo(kind) : undefined;
    await super.delete(res, name, namespace, propagationPolicy);
    if (kind) this.reads.noteDelete(kind, name, namespace, sentAt);
  }
}
