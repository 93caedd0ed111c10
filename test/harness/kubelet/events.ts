// core/v1 Events like client-go's event recorder writes them: named `<object>.<hex nanos>`, and a repeat of the same
// (object, reason, message) within the recorder's life bumps `count` and `lastTimestamp` instead of adding an Event
// (the correlator's aggregation). Product code reads "the last Event" of a pod or PVC to explain a stuck download.
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1ObjectReference,
} from '@kubernetes/client-node';

export interface EventInput {
  object: V1ObjectReference;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** `kubelet`, `default-scheduler`, or a provisioner name. */
  component: string;
}

const nowRfc3339 = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export class EventRecorder {
  private readonly core: CoreV1Api;
  private readonly seen = new Map<string, { namespace: string; name: string; count: number }>();

  constructor(
    kc: KubeConfig,
    private readonly host: string,
    private readonly log: (line: string) => void,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Records an Event; never throws (Events are best effort, as in the real components). */
  async record(e: EventInput): Promise<void> {
    const namespace = e.object.namespace ?? 'default';
    const key = JSON.stringify([e.object.uid, e.object.fieldPath ?? '', e.reason, e.message, e.component]);
    const now = nowRfc3339();
    try {
      const prev = this.seen.get(key);
      if (prev) {
        prev.count += 1;
        await this.core.patchNamespacedEvent(
          { name: prev.name, namespace, body: { count: prev.count, lastTimestamp: now } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return;
      }
      const name = `${e.object.name ?? 'unknown'}.${(BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6))).toString(16)}`;
      this.seen.set(key, { namespace, name, count: 1 });
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name, namespace },
          involvedObject: e.object,
          type: e.type,
          reason: e.reason,
          message: e.message,
          source: { component: e.component, ...(e.component === 'kubelet' ? { host: this.host } : {}) },
          reportingComponent: e.component,
          reportingInstance: e.component === 'kubelet' ? this.host : `${e.component}-${this.host}`,
          // Typed as Date in the client; a string passes through its serializer unchanged.
          firstTimestamp: now as unknown as Date,
          lastTimestamp: now as unknown as Date,
          count: 1,
        },
      });
    } catch (err) {
      // A deleted namespace or a restarting API server: the event is lost, as it would be in a cluster.
      this.seen.delete(key);
      this.log(`event ${e.reason} for ${namespace}/${e.object.name} not recorded: ${(err as Error).message}`);
    }
  }
}
