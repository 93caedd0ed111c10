import {
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { FIELD_MANAGERS } from '../../schemas/constants.js';
import { toKubeError } from './errors.js';
import type { ResourceRef } from './resources.js';

/** Kubernetes' own unknown-field check: our writes never rely on silent pruning (spec section 1.1). */
const STRICT = 'Strict';
const applyOptions = () => setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

export interface ListOptions {
  labelSelector?: string;
}

/**
 * Typed access to custom resources (ours and KServe's) through client-node's CustomObjectsApi, which sends bodies
 * as they are. Every call maps errors through `toKubeError`; `get` returns undefined for NotFound.
 */
export class CustomObjects {
  private readonly api: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  async get<T extends KubernetesObject>(res: ResourceRef, name: string, namespace?: string): Promise<T | undefined> {
    try {
      const obj = res.namespaced
        ? await this.api.getNamespacedCustomObject({ ...coords(res), namespace: ns(namespace), name })
        : await this.api.getClusterCustomObject({ ...coords(res), name });
      return obj as T;
    } catch (err) {
      const e = toKubeError(err);
      if (e.kind === 'NotFound') return undefined;
      throw e;
    }
  }

  async create<T extends KubernetesObject>(
    res: ResourceRef,
    body: T,
    opts: { dryRun?: boolean; fieldManager?: string } = {},
  ): Promise<T> {
    const common = {
      ...coords(res),
      body,
      fieldValidation: STRICT,
      fieldManager: opts.fieldManager ?? FIELD_MANAGERS.orchestrator,
      ...(opts.dryRun ? { dryRun: 'All' } : {}),
    };
    try {
      const out = res.namespaced
        ? await this.api.createNamespacedCustomObject({ ...common, namespace: ns(body.metadata?.namespace) })
        : await this.api.createClusterCustomObject(common);
      return out as T;
    } catch (err) {
      throw toKubeError(err);
    }
  }

  async replace<T extends KubernetesObject>(res: ResourceRef, body: T): Promise<T> {
    const name = body.metadata?.name ?? '';
    const common = { ...coords(res), name, body, fieldValidation: STRICT, fieldManager: FIELD_MANAGERS.orchestrator };
    try {
      const out = res.namespaced
        ? await this.api.replaceNamespacedCustomObject({ ...common, namespace: ns(body.metadata?.namespace) })
        : await this.api.replaceClusterCustomObject(common);
      return out as T;
    } catch (err) {
      throw toKubeError(err);
    }
  }

  /** Server-side apply of the fields in `body` under `fieldManager` (`dryRun`: admitted, not persisted). */
  async apply<T extends KubernetesObject>(
    res: ResourceRef,
    body: T,
    opts: { fieldManager?: string; force?: boolean; dryRun?: boolean } = {},
  ): Promise<T> {
    const name = body.metadata?.name ?? '';
    const common = {
      ...coords(res),
      name,
      body,
      fieldValidation: STRICT,
      fieldManager: opts.fieldManager ?? FIELD_MANAGERS.orchestrator,
      force: opts.force ?? true,
      ...(opts.dryRun ? { dryRun: 'All' } : {}),
    };
    try {
      const out = res.namespaced
        ? await this.api.patchNamespacedCustomObject(
            { ...common, namespace: ns(body.metadata?.namespace) },
            applyOptions(),
          )
        : await this.api.patchClusterCustomObject(common, applyOptions());
      return out as T;
    } catch (err) {
      throw toKubeError(err);
    }
  }

  /** Server-side apply to the status subresource. */
  async applyStatus<T extends KubernetesObject>(
    res: ResourceRef,
    body: T,
    opts: { fieldManager?: string } = {},
  ): Promise<T> {
    const name = body.metadata?.name ?? '';
    const common = {
      ...coords(res),
      name,
      body,
      fieldValidation: STRICT,
      fieldManager: opts.fieldManager ?? FIELD_MANAGERS.orchestrator,
      force: true,
    };
    try {
      const out = res.namespaced
        ? await this.api.patchNamespacedCustomObjectStatus(
            { ...common, namespace: ns(body.metadata?.namespace) },
            applyOptions(),
          )
        : await this.api.patchClusterCustomObjectStatus(common, applyOptions());
      return out as T;
    } catch (err) {
      throw toKubeError(err);
    }
  }

  /** Deletes; NotFound counts as done (idempotent). */
  async delete(
    res: ResourceRef,
    name: string,
    namespace?: string,
    propagationPolicy: 'Background' | 'Foreground' | 'Orphan' = 'Background',
  ): Promise<void> {
    try {
      if (res.namespaced) {
        await this.api.deleteNamespacedCustomObject({
          ...coords(res),
          namespace: ns(namespace),
          name,
          propagationPolicy,
        });
      } else {
        await this.api.deleteClusterCustomObject({ ...coords(res), name, propagationPolicy });
      }
    } catch (err) {
      const e = toKubeError(err);
      if (e.kind !== 'NotFound') throw e;
    }
  }

  async list<T extends KubernetesObject>(res: ResourceRef, namespace?: string, opts: ListOptions = {}): Promise<T[]> {
    try {
      const out = (
        res.namespaced && namespace
          ? await this.api.listNamespacedCustomObject({ ...coords(res), namespace, ...opts })
          : await this.api.listClusterCustomObject({ ...coords(res), ...opts })
      ) as { items: T[] };
      return out.items;
    } catch (err) {
      throw toKubeError(err);
    }
  }
}

function coords(res: ResourceRef) {
  return { group: res.group, version: res.version, plural: res.plural };
}

function ns(namespace: string | undefined): string {
  if (!namespace) throw new Error('a namespaced resource needs metadata.namespace');
  return namespace;
}
