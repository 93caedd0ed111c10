import { KubeApiError, toKubeError } from '../../activities/kube/errors.js';
import { ManifestInvalidError } from '../manifests.js';
import { FILENAME_HELP, FLAG } from './flags.js';
import { validManifests } from './manifestFiles.js';
import { EXIT, resourceName, UsageError, type Session } from './session.js';
import type { Verb } from './verb.js';

const DRY_RUN = ['none', 'client', 'server'] as const;

export const apply: Verb = {
  name: 'apply',
  synopsis: [['apply -f FILE|DIR|-', 'validate and server-side apply manifests, nudge their workflows']],
  flags: { filename: FLAG.filename, 'dry-run': { type: 'string' } },
  help: `Usage: aimctl apply -f FILE|DIR|- [--dry-run=none|client|server] [-n NS]

Validates every document (zod, the same rules as the workflows) before anything is sent: on a problem it prints
each "path: message" and exits 65, creating nothing. Then server-side applies each object with your kubeconfig (your
RBAC decides) and, with --temporal-address, nudges the object's workflow (signal-with-start).

Flags:
${FILENAME_HELP}
      --dry-run MODE    client: validate only; server: the API server checks and admits the objects without
                        persisting them (no workflow is nudged); none (default): apply

Examples:
  aimctl apply -f svc.yaml
  aimctl apply -f examples/ --dry-run=server
  cat svc.yaml | aimctl apply -f - -n team-a --temporal-address temporal:7233`,
  async run(s: Session): Promise<number> {
    s.noMore(s.args.positionals);
    const dryRun = s.str('dry-run') ?? 'none';
    if (!(DRY_RUN as readonly string[]).includes(dryRun))
      throw new UsageError(`--dry-run must be one of ${DRY_RUN.join(', ')}, not "${dryRun}"`);
    const manifests = await validManifests(s);
    if (!manifests) return EXIT.invalid;
    const suffix = dryRun === 'none' ? '' : ` (${dryRun} dry run)`;
    if (dryRun === 'client') {
      for (const m of manifests) s.out(`${resourceName(m.kind)}/${m.metadata.name} valid${suffix}`);
      return EXIT.ok;
    }
    const client = await s.sdk();
    for (const m of manifests) {
      try {
        const r = await client.apply(m, { dryRun: dryRun === 'server' });
        const nudged = r.workflowId ? ` (workflow ${r.workflowId} nudged)` : '';
        s.out(`${resourceName(r.kind)}/${r.name} applied${suffix}${nudged}`);
      } catch (err) {
        const e = err instanceof ManifestInvalidError ? err : toKubeError(err);
        if (e instanceof KubeApiError) e.message = `${m.kind} ${m.metadata.name}: ${e.message}`;
        throw e;
      }
    }
    return EXIT.ok;
  },
};
