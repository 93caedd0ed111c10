/* eslint-disable @typescript-eslint/no-explicit-any -- a recording fake of the Temporal client */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { nudgeWorkflow } from '../../client/nudge.js';
import { lifecycleStart, WORKFLOW_TYPE_OF_KIND } from '../../workflows/kinds.js';

/** A Temporal client that records calls; `running` is the described run (undefined: no workflow). */
function fakeClient(running?: { runId: string; uid?: string; status?: string }) {
  const calls: any[] = [];
  const client = {
    workflow: {
      signalWithStart: async (type: string, opts: any) => void calls.push({ op: 'signalWithStart', type, ...opts }),
      getHandle: (workflowId: string, runId?: string) => ({
        describe: async () => {
          calls.push({ op: 'describe', workflowId });
          if (!running) throw new WorkflowNotFoundError('not found', workflowId, undefined);
          return {
            runId: running.runId,
            status: { name: running.status ?? 'RUNNING' },
            memo: running.uid ? { uid: running.uid } : {},
          };
        },
        terminate: async (reason: string) => void calls.push({ op: 'terminate', workflowId, runId, reason }),
        signal: async (signal: any, arg: unknown) => {
          if (!running) throw new WorkflowNotFoundError('not found', workflowId, undefined);
          calls.push({ op: 'signal', workflowId, signal: signal.name, arg });
        },
      }),
    },
  } as unknown as Client;
  return { client, calls };
}

const cache = { kind: 'AIMModelCache', name: 'c', namespace: 'ns' } as const;
const ops = (calls: any[]) => calls.map((c) => c.op);

describe('the kind → workflow table', () => {
  it.each([
    ['AIMModel', 'm', 'ns', 'aim/AIMModel/ns/m', 'modelLifecycle', { kind: 'AIMModel', name: 'm', namespace: 'ns' }],
    [
      'AIMClusterModel',
      'm',
      undefined,
      'aim/AIMClusterModel/m',
      'modelLifecycle',
      { kind: 'AIMClusterModel', name: 'm' },
    ],
    [
      'AIMServiceTemplate',
      't',
      'ns',
      'aim/AIMServiceTemplate/ns/t',
      'templateLifecycle',
      { kind: 'AIMServiceTemplate', name: 't', namespace: 'ns' },
    ],
    [
      'AIMClusterServiceTemplate',
      't',
      undefined,
      'aim/AIMClusterServiceTemplate/t',
      'templateLifecycle',
      { kind: 'AIMClusterServiceTemplate', name: 't' },
    ],
    ['AIMModelCache', 'c', 'ns', 'aim/AIMModelCache/ns/c', 'cacheLifecycle', { name: 'c', namespace: 'ns' }],
    ['AIMService', 's', 'ns', 'aim/AIMService/ns/s', 'serviceLifecycle', { name: 's', namespace: 'ns' }],
  ] as const)('%s', (kind, name, namespace, workflowId, workflowType, input) => {
    expect(lifecycleStart(kind, name, namespace)).toEqual({ workflowId, workflowType, args: [input] });
  });

  it('covers the six kinds', () => {
    expect(Object.keys(WORKFLOW_TYPE_OF_KIND)).toHaveLength(6);
  });
});

describe('nudgeWorkflow', () => {
  it('signal-with-starts the object workflow with the nudge, reusing a running one', async () => {
    const { client, calls } = fakeClient({ runId: 'r1', uid: 'u1' });
    expect(await nudgeWorkflow(client, 'q', cache, 'changed', { uid: 'u1' })).toBe('aim/AIMModelCache/ns/c');
    expect(calls).toEqual([
      expect.objectContaining({
        op: 'signalWithStart',
        type: 'cacheLifecycle',
        workflowId: 'aim/AIMModelCache/ns/c',
        taskQueue: 'q',
        args: [{ name: 'c', namespace: 'ns' }],
        signalArgs: [{ uid: 'u1' }],
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    ]);
  });

  it('a fresh object ends the run still bound to its deleted predecessor (that run only), then starts', async () => {
    const { client, calls } = fakeClient({ runId: 'old-run', uid: 'old-uid' });
    await nudgeWorkflow(client, 'q', cache, 'changed', { uid: 'new-uid' }, { fresh: true });
    expect(ops(calls)).toEqual(['describe', 'terminate', 'signalWithStart']);
    expect(calls[1]).toMatchObject({ workflowId: 'aim/AIMModelCache/ns/c', runId: 'old-run' });
    expect(calls[1].reason).toContain('old-uid → new-uid');
  });

  it.each([
    ['the run is bound to the same uid', { runId: 'r', uid: 'u1' }],
    ['the run has not read its object yet', { runId: 'r' }],
    ['the workflow is closed', { runId: 'r', uid: 'old', status: 'COMPLETED' }],
    ['there is no workflow', undefined],
  ])('a fresh nudge terminates nothing when %s', async (_, running) => {
    const { client, calls } = fakeClient(running);
    await nudgeWorkflow(client, 'q', cache, 'changed', { uid: 'u1' }, { fresh: true });
    expect(ops(calls)).toEqual(['describe', 'signalWithStart']);
  });

  it('a nudge that is not fresh never describes', async () => {
    const { client, calls } = fakeClient({ runId: 'r', uid: 'old' });
    await nudgeWorkflow(client, 'q', cache, 'dependencyChanged', { uid: 'new' });
    expect(ops(calls)).toEqual(['signalWithStart']);
  });

  it('a plain signal reaches a running workflow and reports none when there is none', async () => {
    const running = fakeClient({ runId: 'r' });
    expect(await nudgeWorkflow(running.client, 'q', cache, 'deleted', { uid: '' }, { start: false })).toBe(
      'aim/AIMModelCache/ns/c',
    );
    expect(running.calls).toEqual([expect.objectContaining({ op: 'signal', signal: 'deleted' })]);
    const none = fakeClient();
    expect(await nudgeWorkflow(none.client, 'q', cache, 'deleted', { uid: '' }, { start: false })).toBeUndefined();
  });
});
