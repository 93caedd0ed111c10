import { run } from '../aimctl.js';

/** The process around `run`: real streams and env, Ctrl-C aborts long-running verbs, the exit code is returned. */
export async function main(program: string): Promise<void> {
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  process.exitCode = await run(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    signal: ac.signal,
    program,
  });
}
