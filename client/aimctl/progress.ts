import type { AimClient, AimObject, ConditionView } from '../sdk.js';
import { progressBar } from './format.js';

/** What `wait` and `logs` print about an object and its caches. */
export function conditionsOf(obj: AimObject): ConditionView[] {
  return obj.status?.conditions ?? [];
}

export interface CacheView {
  name: string;
  status?: string;
  attempt?: number;
  percent?: number;
  display?: string;
  failure?: string;
}

export async function cacheViews(client: AimClient, names: string[], ns: string | undefined): Promise<CacheView[]> {
  return Promise.all(
    names.map(async (name) => {
      const c = await client.get('AIMModelCache', name, ns).catch(() => undefined);
      const st = c?.status ?? {};
      const p = st.progress as { percent?: number; display?: string } | undefined;
      const failing = conditionsOf(c ?? ({ metadata: { name } } as AimObject)).find(
        (x) => x.status === 'False' && x.type !== 'Ready' && x.message,
      );
      return {
        name,
        ...(st.status ? { status: st.status } : {}),
        ...(typeof st.attempt === 'number' ? { attempt: st.attempt } : {}),
        ...(p?.percent !== undefined ? { percent: p.percent } : {}),
        ...(p?.display ? { display: p.display } : {}),
        ...(failing ? { failure: `${failing.reason ?? failing.type}: ${failing.message ?? ''}` } : {}),
      };
    }),
  );
}

export function cacheLine(c: CacheView): string {
  const bar = c.percent !== undefined ? `${progressBar(c.percent)} ` : '';
  const attempt = c.attempt ? ` attempt ${c.attempt}` : '';
  const failure = c.failure && c.status !== 'Ready' ? ` (${c.failure})` : '';
  return `  cache ${c.name}: ${c.status ?? 'Pending'}${attempt} ${bar}${c.display ?? ''}${failure}`.trimEnd();
}

export function failureOf(obj: AimObject | undefined): string {
  const conds = obj ? conditionsOf(obj) : [];
  const c = conds.find((x) => x.status === 'False' && x.type !== 'Ready') ?? conds.find((x) => x.type === 'Ready');
  return c ? `${c.reason ?? c.type}: ${c.message ?? ''}` : 'no reason given';
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
