// vitest setup file: the files of one project run one at a time, while files of another project in the same vitest
// group run beside them. vitest's own `fileParallelism: false` cannot say that: it puts the project into the group
// that runs after every other one (so `outages` could never overlap `integration`), and projects sharing a group
// must share one `maxWorkers`. So both projects get `maxWorkers: 2` and each file takes its project's lock here,
// before anything else of the file runs, and gives it back after its last hook. The lock is a directory per vitest
// run (keyed by the vitest main process, our parent) holding the holder's pid: a holder that died is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The project's one-at-a-time lock name (vitest.config.ts `provide`). */
    oneAtATimeLock: string;
  }
}

const lock = join(tmpdir(), `aim-vitest-${process.ppid}-${inject('oneAtATimeLock')}.lock`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function acquire(): Promise<void> {
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    } catch {
      // being created or removed right now
    }
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) rmSync(lock, { recursive: true, force: true });
    await sleep(250);
  }
}

await acquire();
afterAll(() => {
  rmSync(lock, { recursive: true, force: true });
});
