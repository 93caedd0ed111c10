import { describe, expect, it } from 'vitest';
import { nodeCapacityFor } from '../../bench/cluster.js';
import { steadyFits } from '../../bench/fleetSteady.js';
import {
  between,
  classifyRequest,
  countRequests,
  parseRequestLog,
  perServicePerMinute,
  READ_VERBS,
  requestRows,
  rereadsDue,
  verbRates,
  verbSummary,
  type LoggedRequest,
} from '../../bench/requestLog.js';

const req = (method: string, path: string, o: Partial<LoggedRequest> = {}): LoggedRequest => ({
  at: 0,
  method,
  path,
  apply: false,
  status: 200,
  ...o,
});

describe('bench request log', () => {
  it.each([
    ['GET', '/apis/aim.silogen.ai/v1alpha1/namespaces/ns/aimservices/a', false, 'GET', 'aim.silogen.ai aimservices'],
    [
      'GET',
      '/apis/aim.silogen.ai/v1alpha1/namespaces/ns/aimmodelcaches?labelSelector=x',
      false,
      'LIST',
      'aim.silogen.ai aimmodelcaches',
    ],
    [
      'GET',
      '/apis/aim.silogen.ai/v1alpha1/aimclusterservicetemplates',
      false,
      'LIST',
      'aim.silogen.ai aimclusterservicetemplates',
    ],
    ['GET', '/api/v1/namespaces/ns/pods?labelSelector=job-name%3Dj&watch=true', false, 'WATCH', 'core pods'],
    ['GET', '/api/v1/namespaces/ns/pods?watch=1', false, 'WATCH', 'core pods'],
    ['GET', '/apis/batch/v1/namespaces/ns/jobs/j', false, 'GET', 'batch jobs'],
    ['GET', '/api/v1/nodes', false, 'LIST', 'core nodes'],
    ['GET', '/version', false, 'GET', '/version'],
    [
      'PATCH',
      '/apis/aim.silogen.ai/v1alpha1/namespaces/ns/aimservices/a/status?fieldManager=m',
      true,
      'APPLY',
      'aim.silogen.ai aimservices/status',
    ],
    [
      'PATCH',
      '/apis/aim.silogen.ai/v1alpha1/namespaces/ns/aimservices/a',
      false,
      'PATCH',
      'aim.silogen.ai aimservices',
    ],
    ['POST', '/apis/batch/v1/namespaces/ns/jobs', false, 'POST', 'batch jobs'],
    ['PUT', '/api/v1/namespaces/ns/persistentvolumeclaims/p', false, 'PUT', 'core persistentvolumeclaims'],
    ['DELETE', '/apis/batch/v1/namespaces/ns/jobs/j', false, 'DELETE', 'batch jobs'],
    ['DELETE', '/api/v1/namespaces/ns/pods?labelSelector=x', false, 'DELETECOLLECTION', 'core pods'],
  ])('%s %s (apply %s) is %s of %s', (method, path, apply, verb, resource) => {
    expect(classifyRequest({ method, path, apply })).toEqual({ verb, resource });
  });

  it('parses the tap lines, skipping a line cut short', () => {
    const text = '1000\tGET\t-\t200\t/api/v1/nodes\n1001\tPATCH\tapply\t201\t/apis/a/v1/namespaces/n/x/y\n1002\tGE';
    expect(parseRequestLog(text)).toEqual([
      { at: 1000, method: 'GET', apply: false, status: 200, path: '/api/v1/nodes' },
      { at: 1001, method: 'PATCH', apply: true, status: 201, path: '/apis/a/v1/namespaces/n/x/y' },
    ]);
  });

  it('counts reads and writes by verb in a window, failures apart, and splits them per service', () => {
    const log = [
      req('GET', '/apis/batch/v1/namespaces/ns/jobs/j', { at: 5 }), // before the window
      req('GET', '/apis/batch/v1/namespaces/ns/jobs/j', { at: 10 }),
      req('GET', '/apis/batch/v1/namespaces/ns/jobs/k', { at: 11, status: 404 }),
      req('GET', '/api/v1/namespaces/ns/pods', { at: 12 }),
      req('GET', '/api/v1/namespaces/ns/pods?watch=true', { at: 13 }),
      req('PATCH', '/apis/g/v1/namespaces/ns/x/a/status', { at: 14, apply: true }),
      req('POST', '/apis/batch/v1/namespaces/ns/jobs', { at: 19, status: 409 }),
      req('GET', '/api/v1/nodes', { at: 20 }), // at the window's end: excluded
    ];
    const c = countRequests(between(log, 10, 20));
    expect(c).toMatchObject({ reads: 4, writes: 2, total: 6, failed: 2 });
    expect(c.byVerb).toMatchObject({ GET: 2, LIST: 1, WATCH: 1, APPLY: 1, POST: 1, PATCH: 0 });
    expect(verbSummary(c, 2, READ_VERBS)).toBe('GET 1.00, LIST 0.50, WATCH 0.50');
    expect(verbRates(c, 2)).toBe('GET 1.00/s, LIST 0.50/s, WATCH 0.50/s, POST 0.50/s, APPLY 0.50/s');
    expect(requestRows(between(log, 10, 20), 2)).toEqual([
      ['batch jobs GET', '2', '1.00', '1 non-2xx'],
      ['batch jobs POST', '1', '0.50', '1 non-2xx'],
      ['core pods LIST', '1', '0.50', ''],
      ['core pods WATCH', '1', '0.50', ''],
      ['g x/status APPLY', '1', '0.50', ''],
    ]);
  });

  it('rates requests per Running service per minute', () => {
    expect(perServicePerMinute(600, 300, 200)).toBeCloseTo(0.6);
    expect(perServicePerMinute(26 * 200 * 5, 300, 200)).toBeCloseTo(26);
    expect(perServicePerMinute(10, 0, 200)).toBeNaN();
    expect(perServicePerMinute(10, 60, 0)).toBeNaN();
  });

  it('counts the steady re-reads that fall due in a window', () => {
    // Running at 0, 100 and 550 with a re-read every 600: due at 600, 700, 1150, 1200, … The window [500, 800) sees 600 and 700.
    expect(rereadsDue([0, 100, 550], 600, 500, 800)).toBe(2);
    // A window shorter than the interval can fall between the re-reads (600 before it, 700 after it) and see none.
    expect(rereadsDue([0, 100, 550], 600, 610, 690)).toBe(0);
    // A long window sees several per service.
    expect(rereadsDue([0], 600, 0, 1900)).toBe(3);
  });

  it('starts the steady phase only when one model server per service fits in memory', () => {
    const MiB = 2 ** 20;
    expect(steadyFits({ toStart: 193, perServerBytes: 50 * MiB, availableBytes: 20_000 * MiB })).toEqual({
      fits: true,
      needBytes: 193 * 50 * MiB,
    });
    expect(steadyFits({ toStart: 993, perServerBytes: 50 * MiB, availableBytes: 20_000 * MiB }).fits).toBe(false);
  });

  it('sizes the node for its predictors, never below the 8-GPU server it models', () => {
    expect(nodeCapacityFor(0)).toEqual({ cpu: '192', memory: '2Ti', pods: '110' });
    expect(nodeCapacityFor(201)).toEqual({ cpu: '868', memory: '6944Gi', pods: '311' });
  });
});
