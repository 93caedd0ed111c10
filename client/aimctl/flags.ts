import type { FlagDef } from './verb.js';

/** Flags every verb takes. */
export const GLOBAL_FLAGS = {
  namespace: { type: 'string', short: 'n' },
  kubeconfig: { type: 'string' },
  'temporal-address': { type: 'string' },
  'temporal-namespace': { type: 'string' },
  'task-queue': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Record<string, FlagDef>;

/** Definitions verbs share, so that one flag means the same everywhere (`-o`, `-f`, `-l`, `-A`). */
export const FLAG = {
  output: { type: 'string', short: 'o' },
  filename: { type: 'string', short: 'f', multiple: true },
  selector: { type: 'string', short: 'l' },
  allNamespaces: { type: 'boolean', short: 'A' },
  interval: { type: 'string' },
  timeout: { type: 'string' },
} as const satisfies Record<string, FlagDef>;

export const GLOBAL_HELP = `Global flags:
  -n, --namespace NS          namespace (default: the kubeconfig context's, else "default")
      --kubeconfig PATH       kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
      --temporal-address ADDR Temporal frontend (default: $TEMPORAL_ADDRESS or the $TEMPORAL_PROFILE of
                              $TEMPORAL_CONFIG_FILE; TLS and API key from $TEMPORAL_TLS*, $TEMPORAL_API_KEY);
                              enables workflow nudges and queries
      --temporal-namespace NS Temporal namespace (default: $TEMPORAL_NAMESPACE or the profile's, else "default")
      --task-queue NAME       worker task queue (default: $AIM_TASK_QUEUE, else "aim")
  -h, --help                  help for a verb`;

export const FILENAME_HELP = `  -f, --filename PATH   a YAML or JSON file (several documents allowed), a directory (its *.yaml, *.yml and
                        *.json files) or - for standard input; repeatable`;
