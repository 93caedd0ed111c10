import { describe, expect, it } from 'vitest';
import type { CoreV1Event } from '@kubernetes/client-node';
import { eventTime, newestEvent } from '../../domain/newestEvent.js';

const ev = (reason: string, type: string, at: Partial<CoreV1Event>): CoreV1Event =>
  ({ reason, type, involvedObject: {}, metadata: {}, ...at }) as CoreV1Event;

describe('newestEvent', () => {
  // Sunday the 6th is later than Monday the 1st, but "Mon…" sorts after "Sun…" as text.
  const monday = new Date('2026-06-01T10:00:00Z');
  const sunday = new Date('2026-12-06T10:00:00Z');

  it.each([
    {
      name: 'Dates compared as instants, not as their text',
      events: [ev('Late', 'Warning', { lastTimestamp: sunday }), ev('Early', 'Warning', { lastTimestamp: monday })],
      opts: {},
      want: 'Late',
    },
    {
      name: 'strings from a raw client',
      events: [
        ev('B', 'Warning', { lastTimestamp: '2026-12-06T10:00:02Z' as never }),
        ev('A', 'Warning', { lastTimestamp: '2026-12-06T10:00:01Z' as never }),
      ],
      opts: {},
      want: 'B',
    },
    {
      name: 'a Warning beats a newer Normal Event',
      events: [
        ev('ProvisioningFailed', 'Warning', { lastTimestamp: monday }),
        ev('ExternalProvisioning', 'Normal', { lastTimestamp: sunday }),
      ],
      opts: { orAnyType: true },
      want: 'ProvisioningFailed',
    },
    {
      name: 'only Normal Events: the newest when any type is accepted',
      events: [
        ev('WaitForFirstConsumer', 'Normal', { lastTimestamp: monday }),
        ev('ExternalProvisioning', 'Normal', { lastTimestamp: sunday }),
      ],
      opts: { orAnyType: true },
      want: 'ExternalProvisioning',
    },
    {
      name: 'only Normal Events: none when a Warning is required',
      events: [ev('Scheduled', 'Normal', { lastTimestamp: sunday })],
      opts: {},
      want: undefined,
    },
    {
      name: 'a series counts from its last observation; a new-style Event from eventTime',
      events: [
        ev('Series', 'Warning', { firstTimestamp: monday, series: { lastObservedTime: sunday, count: 3 } }),
        ev('New', 'Warning', { eventTime: new Date('2026-12-06T09:00:00Z') }),
      ],
      opts: {},
      want: 'Series',
    },
    { name: 'no Events', events: [], opts: { orAnyType: true }, want: undefined },
  ])('$name', ({ events, opts, want }) => {
    expect(newestEvent(events, opts)?.reason).toBe(want);
  });

  it('an Event without any time counts as the oldest', () => {
    expect(eventTime(ev('X', 'Warning', {}))).toBe(0);
    expect(newestEvent([ev('Timed', 'Warning', { lastTimestamp: monday }), ev('Untimed', 'Warning', {})])?.reason).toBe(
      'Timed',
    );
  });
});
