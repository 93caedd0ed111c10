import { Readable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { run } from '../../client/aimctl.js';
import { AimClient } from '../../client/sdk.js';
import { MemoryObjects } from './memoryObjects.js';

/** aimctl against an in-memory API server (namespace team-a): output and exit codes, no servers. */
export function aimctlInMemory(opts: { workDir: string; stdin?: string }) {
  const store = new MemoryObjects();
  const client = new AimClient({ kubeConfig: new KubeConfig(), objects: store, namespace: 'team-a' });
  const aimctl = async (...argv: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await run(argv, {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      ...(opts.stdin !== undefined ? { stdin: Readable.from([Buffer.from(opts.stdin)]) } : {}),
      env: { KUBECONFIG: `${opts.workDir}/none` },
      cwd: opts.workDir,
      client,
    });
    return { code, stdout, stderr };
  };
  return { store, client, aimctl };
}
