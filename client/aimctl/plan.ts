import { stringify } from 'yaml';
import { formatPlan, planManifest } from '../plan.js';
import { FILENAME_HELP, FLAG } from './flags.js';
import { validManifests } from './manifestFiles.js';
import { parseOutput } from './output.js';
import { EXIT, type Session } from './session.js';
import type { Verb } from './verb.js';

export const plan: Verb = {
  name: 'plan',
  synopsis: [['plan -f FILE|DIR|-', 'what applying FILE would create (nothing is created)']],
  flags: { filename: FLAG.filename, output: FLAG.output },
  help: `Usage: aimctl plan -f FILE|DIR|- [-o json|yaml]

Computes, with the workflows' own builders and without contacting the cluster, what applying FILE would create:
for an AIMService with spec.model.custom the auto-created model (name and identity), its templates (name, hardware,
type), the caches (name, mode, access mode), PVC sizes (size plus headroom, or "measured by the probe") and the
InferenceService; for an AIMModel its templates. Invalid manifests exit 65.

Flags:
${FILENAME_HELP}
  -o, --output FORMAT   json | yaml (default: text)

Examples:
  aimctl plan -f examples/aimservice-custom-s3.yaml
  aimctl plan -f examples/aimmodel-s3-custom-templates.yaml -o json`,
  async run(s: Session): Promise<number> {
    s.noMore(s.args.positionals);
    const output = parseOutput(s.str('output'), ['json', 'yaml']);
    const manifests = await validManifests(s);
    if (!manifests) return EXIT.invalid;
    const namespace = s.str('namespace') ?? s.io.env.AIM_NAMESPACE ?? 'default';
    const plans = manifests.map((m) => planManifest(m, { namespace }));
    const value = plans.length === 1 ? plans[0] : plans;
    if (output.format === 'json') s.out(JSON.stringify(value, null, 2));
    else if (output.format === 'yaml') s.out(stringify(value));
    else s.out(plans.map(formatPlan).join('\n\n'));
    return EXIT.ok;
  },
};
