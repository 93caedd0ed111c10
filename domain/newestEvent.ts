import type { CoreV1Event } from '@kubernetes/client-node';

/**
 * When an Event last happened, as an instant: timestamps arrive as Dates from the typed client or as strings from a
 * raw one, and a series or a new-style Event carries its time elsewhere. Compared as text, Dates sort by weekday.
 */
export function eventTime(e: CoreV1Event): number {
  return new Date(e.lastTimestamp ?? e.series?.lastObservedTime ?? e.eventTime ?? e.firstTimestamp ?? 0).getTime() || 0;
}

/**
 * The Event that best says why something waits: the newest Warning, or, when there is none and `orAnyType` is set,
 * the newest Event of any type (a claim waiting for an external provisioner has only Normal ones).
 */
export function newestEvent(events: CoreV1Event[], opts: { orAnyType?: boolean } = {}): CoreV1Event | undefined {
  const newest = (list: CoreV1Event[]) =>
    list.reduce<CoreV1Event | undefined>((best, e) => (!best || eventTime(e) >= eventTime(best) ? e : best), undefined);
  return newest(events.filter((e) => e.type === 'Warning')) ?? (opts.orAnyType ? newest(events) : undefined);
}
