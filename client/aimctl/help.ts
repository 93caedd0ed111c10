import { KIND_NAMES, KINDS } from '../../schemas/kinds.js';

const KIND_LIST = KIND_NAMES.map(
  (k) => `  ${k.padEnd(27)} ${KINDS[k].plural}, ${KINDS[k].singular}, ${KINDS[k].shortName}`,
).join('\n');

export const GLOBAL_FLAGS = `Global flags:
  -n, --namespace NS          namespace (default: the kubeconfig context's, else "default")
      --kubeconfig PATH       kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
      --temporal-address ADDR Temporal frontend (default: $TEMPORAL_ADDRESS); enables workflow nudges and queries
      --temporal-namespace NS Temporal namespace (default: $TEMPORAL_NAMESPACE, else "default")
      --task-queue NAME       worker task queue (default: $AIM_TASK_QUEUE, else "aim")
  -o, --output FORMAT         json | yaml (get, plan)
  -h, --help                  help for a verb`;

export const USAGE = `aimctl: deploy and follow AIM models and services.

Usage: aimctl VERB [ARGS] [FLAGS]

Verbs:
  apply -f FILE                 validate and server-side apply manifests (multi-document YAML), nudge their workflows
  get KIND [NAME]               list or show objects (table with the kind's columns; -o json|yaml)
  get caches --unused           Shared caches that no AIMService lists in status.caches
  describe KIND NAME            conditions, recent Events, workflow id and current step
  plan -f FILE                  what applying FILE would create (nothing is created)
  wait KIND NAME --for=STATUS   block until Running/Ready, printing progress
  retry KIND NAME               set aim.silogen.ai/retry=<now> (and signal retry)
  delete KIND NAME [--force]    delete; --force also cleans up and removes the finalizer
  logs NAME                     download progress of a service's caches

Kinds (plural, singular, short name):
${KIND_LIST}

Exit codes: 0 ok, 1 failure, 2 timeout, 64 usage error, 65 invalid manifest.

${GLOBAL_FLAGS}

Run "aimctl VERB --help" for a verb's flags and examples.`;

export const VERB_HELP: Record<string, string> = {
  apply: `Usage: aimctl apply -f FILE [-n NS]

Validates every document of FILE (zod, the same rules as the workflows) before anything is sent: on a problem it
prints each "path: message" and exits 65, creating nothing. Then server-side applies each object with your
kubeconfig (your RBAC decides) and, with --temporal-address, nudges the object's workflow (signal-with-start).

Flags:
  -f, --filename FILE   YAML or JSON file, several documents allowed

Examples:
  aimctl apply -f svc.yaml
  aimctl apply -f examples/aimservice-custom-s3.yaml -n team-a --temporal-address temporal:7233`,
  get: `Usage: aimctl get KIND [NAME] [-o json|yaml] [-A]
       aimctl get caches --unused

Flags:
  -o, --output FORMAT   json | yaml (default: a table with the kind's columns)
  -A, --all-namespaces  list every namespace
      --unused          with caches: Shared caches that no AIMService lists in status.caches

Examples:
  aimctl get aimsvc
  aimctl get aimmdl qwen-small -o yaml
  aimctl get caches --unused -n team-a`,
  describe: `Usage: aimctl describe KIND NAME

Shows the status, the conditions, the recent Events of the object, its workflow id (with a Temporal UI link when
$TEMPORAL_UI is set) and, with --temporal-address, the current step from the workflow's progress query.

Examples:
  aimctl describe aimsvc qwen-chat
  TEMPORAL_UI=http://localhost:8233 aimctl describe aimmdl qwen-small --temporal-address localhost:7233`,
  plan: `Usage: aimctl plan -f FILE [-o json|yaml]

Computes, with the workflows' own builders and without contacting the cluster, what applying FILE would create:
for an AIMService with spec.model.custom the auto-created model (name and identity), its templates (name, hardware,
type), the caches (name, mode, access mode), PVC sizes (size plus headroom, or "measured by the probe") and the
InferenceService; for an AIMModel its templates. Invalid manifests exit 65.

Flags:
  -f, --filename FILE   YAML or JSON file, several documents allowed

Examples:
  aimctl plan -f examples/aimservice-custom-s3.yaml
  aimctl plan -f examples/aimmodel-s3-custom-templates.yaml -o json`,
  wait: `Usage: aimctl wait KIND NAME --for=Running|Ready [--timeout 10m]

Polls the object and prints progress lines as they change (status.progressDisplay, cache progress with a bar).
Exit 0 when the status is reached, 1 when it is Failed (or the object is deleted), 2 on timeout.

Flags:
      --for STATUS      Running (services) or Ready (models, templates, caches); any status name is accepted
      --timeout DUR     e.g. 30s, 10m, 1h (default 10m)
      --interval DUR    poll interval (default 2s)

Examples:
  aimctl wait aimsvc qwen-chat --for=Running --timeout 30m
  aimctl wait aimmdl qwen-small --for=Ready`,
  retry: `Usage: aimctl retry KIND NAME

Sets the annotation aim.silogen.ai/retry=<now> (the bridge forwards it as a retry) and, with --temporal-address,
signals retry to the workflow directly.

Examples:
  aimctl retry aimmc qwen-chat-qwen-qwen2-0-5b-1a2b3c4d
  aimctl retry aimsvc qwen-chat`,
  delete: `Usage: aimctl delete KIND NAME [--force]

Deletes the object. The service workflow cleans up and removes its finalizer; without a worker (uninstalls) use
--force: it deletes the service's InferenceService and removes the aim.silogen.ai/cleanup finalizer itself.

Flags:
      --force   clean up and remove the finalizer

Examples:
  aimctl delete aimsvc qwen-chat
  aimctl delete aimsvc qwen-chat --force`,
  logs: `Usage: aimctl logs NAME [--follow]

Download progress of an AIMService's caches (status, attempt, bytes, rate, ETA, last failure).

Flags:
  -w, --follow          keep printing until every cache is Ready or Failed (Ctrl-C to stop)
      --interval DUR    poll interval with --follow (default 2s)

Examples:
  aimctl logs qwen-chat
  aimctl logs qwen-chat --follow`,
};
