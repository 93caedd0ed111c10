import { CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import { toKubeError } from '../../activities/kube/errors.js';
import { workflowIdFor } from '../../workflows/signals.js';
import type { AimObject } from '../sdk.js';
import { age, progressBar, table } from './format.js';
import { conditionsOf } from './progress.js';
import { EXIT, type Session } from './session.js';
import type { Verb } from './verb.js';

export const describe: Verb = {
  name: 'describe',
  synopsis: [['describe KIND NAME', 'conditions, recent Events, workflow id and current step']],
  flags: {},
  help: `Usage: aimctl describe KIND NAME

Shows the status, the conditions, the recent Events of the object, its workflow id (with a Temporal UI link when
$TEMPORAL_UI is set) and, with --temporal-address, the current step from the workflow's progress query.

Examples:
  aimctl describe aimsvc qwen-chat
  TEMPORAL_UI=http://localhost:8233 aimctl describe aimmdl qwen-small --temporal-address localhost:7233`,
  run: (s) => runDescribe(s),
};

async function eventsOf(s: Session, obj: AimObject): Promise<CoreV1Event[]> {
  const core = s.kubeConfig().makeApiClient(CoreV1Api);
  const namespace = obj.metadata.namespace ?? 'default';
  const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${obj.metadata.name}` });
  const when = (e: CoreV1Event) =>
    new Date(
      (e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp ?? 0) as Date,
    ).getTime();
  return list.items
    .filter(
      (e) =>
        e.involvedObject.kind === obj.kind &&
        (!obj.metadata.uid || !e.involvedObject.uid || e.involvedObject.uid === obj.metadata.uid),
    )
    .sort((a, b) => when(a) - when(b))
    .slice(-15);
}

async function runDescribe(s: Session): Promise<number> {
  const { kind, name } = s.kindAndName(true);
  const client = await s.sdk();
  const obj = await client.get(kind, name);
  if (!obj) return s.notFound(kind, name);
  const ns = obj.metadata.namespace;
  const st = obj.status ?? {};
  const lines: string[] = [
    `Name:          ${name}`,
    ...(ns ? [`Namespace:     ${ns}`] : []),
    `Kind:          ${kind}`,
    `Status:        ${st.status ?? '<none>'}`,
    `Generation:    ${obj.metadata.generation ?? '-'} (observed ${String(st.observedGeneration ?? '-')})`,
    `Created:       ${String(obj.metadata.creationTimestamp ?? '-')}`,
  ];
  if (obj.metadata.deletionTimestamp) lines.push(`Deleting:      since ${String(obj.metadata.deletionTimestamp)}`);
  if (kind === 'AIMService') {
    const rm = st.resolvedModel as { name?: string } | undefined;
    const rt = st.resolvedTemplate as { name?: string } | undefined;
    lines.push(`Model:         ${rm?.name ?? '-'}`, `Template:      ${rt?.name ?? '-'}`);
    if (st.progressDisplay) lines.push(`Progress:      ${String(st.progressDisplay)}`);
    const endpoint = st.endpoint as { inferenceService?: string; url?: string; internalUrl?: string } | undefined;
    if (endpoint) {
      lines.push(`Endpoint:      ${endpoint.url ?? '-'} (InferenceService ${endpoint.inferenceService ?? '-'})`);
      if (endpoint.internalUrl) lines.push(`Internal URL:  ${endpoint.internalUrl}`);
    }
    const caches =
      (st.caches as Array<{ name: string; modelId: string; status: string; percent?: number }> | undefined) ?? [];
    if (caches.length) {
      lines.push('Caches:');
      for (const c of caches)
        lines.push(
          `  ${c.name}  ${c.modelId}  ${c.status}${c.percent !== undefined ? `  ${progressBar(c.percent)}` : ''}`,
        );
    }
  }
  if (kind === 'AIMModelCache') {
    const p = st.progress as { display?: string; percent?: number } | undefined;
    if (p)
      lines.push(`Progress:      ${p.percent !== undefined ? `${progressBar(p.percent)} ` : ''}${p.display ?? ''}`);
    if (st.persistentVolumeClaim)
      lines.push(
        `Volume:        ${String(st.persistentVolumeClaim)} (${String(st.displaySize ?? st.allocatedSize ?? '-')})`,
      );
  }
  const wf = st.workflow as { id?: string; runId?: string } | undefined;
  const workflowId = wf?.id || workflowIdFor(kind, name, ns);
  lines.push(`Workflow:      ${workflowId}${wf?.runId ? ` (run ${wf.runId})` : ''}`);
  const memo = await s.temporalClient?.workflow
    .getHandle(workflowId)
    .describe()
    .then((d) => d.memo)
    .catch(() => undefined);
  if (memo?.uid !== undefined)
    lines.push(`Workflow UID:  ${String(memo.uid)}${memo.uid === obj.metadata.uid ? '' : ' (a different object)'}`);
  const ui = s.io.env.TEMPORAL_UI;
  if (ui) {
    lines.push(
      `Temporal UI:   ${ui.replace(/\/$/, '')}/namespaces/${encodeURIComponent(s.temporalNamespace)}/workflows/${encodeURIComponent(workflowId)}`,
    );
  }
  if (client.hasTemporal) {
    const p = await client.progress(kind, name, ns);
    lines.push(
      p
        ? `Current step:  ${p.phase} / ${p.step}${p.attempt ? ` (attempt ${p.attempt})` : ''}${p.lastFailure ? `; last failure ${p.lastFailure.type}: ${p.lastFailure.message}` : ''}`
        : 'Current step:  <workflow not answering>',
    );
  }
  const conds = conditionsOf(obj);
  lines.push('Conditions:');
  lines.push(
    conds.length
      ? indent(
          table(
            ['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'],
            conds.map((c) => [c.type, c.status, c.reason ?? '', age(c.lastTransitionTime), c.message ?? '']),
          ),
        )
      : '  <none>',
  );
  let events: CoreV1Event[] = [];
  let eventError: string | undefined;
  try {
    events = await eventsOf(s, obj);
  } catch (err) {
    eventError = toKubeError(err).message;
  }
  lines.push('Events:');
  lines.push(
    eventError
      ? `  <cannot list: ${eventError}>`
      : events.length
        ? indent(
            table(
              ['TYPE', 'REASON', 'AGE', 'MESSAGE'],
              events.map((e) => [
                e.type ?? '',
                e.reason ?? '',
                age(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp),
                e.message ?? '',
              ]),
            ),
          )
        : '  <none>',
  );
  s.out(lines.join('\n'));
  return EXIT.ok;
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
