import { describe, expect, it } from 'vitest';
import { pollerCheck } from '../../client/aimctl/doctor.js';
import {
  AIM_PLURALS,
  crdChecks,
  CRD_FIX,
  KSERVE_FIX,
  preflightFailed,
  preflightTable,
  REQUIRED_SEARCH_ATTRIBUTES,
  searchAttributeCheck,
  type CheckResult,
} from '../../worker/preflight.js';

const KEYWORD = 2;
const TEXT = 1;
const allKeyword = Object.fromEntries(REQUIRED_SEARCH_ATTRIBUTES.map((n) => [n, KEYWORD]));

describe('crdChecks', () => {
  const cases: Array<[string, Set<string> | undefined, Set<string> | undefined, string[], RegExp | undefined]> = [
    ['everything served', new Set(AIM_PLURALS), new Set(['inferenceservices']), ['ok', 'ok'], undefined],
    ['no AIM group at all', undefined, new Set(['inferenceservices']), ['fail', 'ok'], /aimservices\.aim\.silogen\.ai/],
    [
      'one AIM kind missing',
      new Set(AIM_PLURALS.filter((p) => p !== 'aimmodelcaches')),
      new Set(['inferenceservices']),
      ['fail', 'ok'],
      /not served: aimmodelcaches\.aim\.silogen\.ai$/,
    ],
    ['KServe missing', new Set(AIM_PLURALS), undefined, ['ok', 'fail'], /KServe is not installed/],
    [
      'KServe group without InferenceService',
      new Set(AIM_PLURALS),
      new Set(['servingruntimes']),
      ['ok', 'fail'],
      /not served/,
    ],
  ];
  it.each(cases)('%s', (_name, aim, kserve, statuses, detail) => {
    const rows = crdChecks({ aim, kserve });
    expect(rows.map((r) => r.status)).toEqual(statuses);
    const failed = rows.filter((r) => r.status === 'fail');
    for (const r of failed) expect(r.fix).toBe(r.check === 'AIM CRDs' ? CRD_FIX : KSERVE_FIX);
    if (detail) expect(failed.map((r) => r.detail).join('\n')).toMatch(detail);
  });
});

describe('searchAttributeCheck', () => {
  it('passes when every attribute is a Keyword', () => {
    expect(searchAttributeCheck({ ...allKeyword, Other: TEXT }, 'default').status).toBe('ok');
  });

  it('names the missing attributes and gives the one command that registers them', () => {
    const { AimModelId: _m, AimStatus: _s, ...some } = allKeyword;
    const r = searchAttributeCheck(some, 'aim-prod');
    expect(r.status).toBe('fail');
    expect(r.detail).toBe('missing in aim-prod: AimModelId, AimStatus');
    expect(r.fix).toBe(
      'temporal operator search-attribute create --namespace aim-prod --name AimModelId --name AimStatus --type Keyword',
    );
  });

  it('refuses an attribute registered with another type', () => {
    const r = searchAttributeCheck({ ...allKeyword, AimKind: TEXT }, 'default');
    expect(r.status).toBe('fail');
    expect(r.detail).toBe('AimKind is Text, must be Keyword');
  });

  it('accepts the type given by name (JSON forms of the operator API)', () => {
    const named = Object.fromEntries(REQUIRED_SEARCH_ATTRIBUTES.map((n) => [n, 'INDEXED_VALUE_TYPE_KEYWORD']));
    expect(searchAttributeCheck(named, 'default').status).toBe('ok');
  });
});

describe('preflightTable', () => {
  it('prints one row per check and the fix under each failed one only', () => {
    const rows: CheckResult[] = [
      { check: 'Temporal', status: 'ok', detail: 'address 127.0.0.1:7233', fix: 'unused' },
      { check: 'search attributes', status: 'fail', detail: 'missing in default: AimKind', fix: 'temporal operator …' },
      { check: 'bridge', status: 'skip', detail: 'not checked' },
    ];
    expect(preflightTable(rows)).toBe(
      [
        'CHECK              STATUS  DETAIL',
        'Temporal           OK      address 127.0.0.1:7233',
        'search attributes  FAIL    missing in default: AimKind',
        '                   fix:    temporal operator …',
        'bridge             SKIP    not checked',
      ].join('\n'),
    );
    expect(preflightFailed(rows)).toBe(true);
    expect(preflightFailed(rows.filter((r) => r.status !== 'fail'))).toBe(false);
  });
});

describe('pollerCheck', () => {
  const now = new Date('2026-01-01T12:00:00Z');
  const recent = new Date('2026-01-01T11:59:30Z');
  const stale = new Date('2026-01-01T11:50:00Z');
  it('passes with live workflow and activity pollers', () => {
    const r = pollerCheck(
      'aim',
      {
        workflow: [{ identity: 'w1', lastAccessTime: recent }],
        activity: [{ identity: 'w1', lastAccessTime: recent }],
      },
      now,
    );
    expect(r).toMatchObject({ status: 'ok', detail: 'aim: 1 worker(s) (w1)' });
  });
  it('fails when the only pollers were seen minutes ago', () => {
    const r = pollerCheck('aim', { workflow: [{ identity: 'w1', lastAccessTime: stale }], activity: [] }, now);
    expect(r.status).toBe('fail');
    expect(r.detail).toBe('no worker polls workflow and activity tasks on aim (nothing will progress)');
  });
});
