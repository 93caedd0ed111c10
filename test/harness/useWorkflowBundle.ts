// vitest setup file of the `integration` project: every worker a test starts — createWorker in-process, or a worker
// process (test/faults/workerProcess.ts inherits this environment) — loads the bundle the global setup built once,
// through the same AIM_WORKFLOW_BUNDLE a Deployment may set. A test that sets its own path still wins.
import { inject } from 'vitest';
import { BUNDLE_ENV } from '../../worker/workflowBundle.js';

process.env[BUNDLE_ENV] ??= inject('workflowBundle');
