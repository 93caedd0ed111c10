// vitest setup file: the server-side files run in two lanes, one file at a time in each (test/harness/fileLanes.ts):
// the integration lane, and beside it the files that mostly wait, on stacks of their own. vitest's own
// `fileParallelism: false` cannot say that: it puts the project into the group that runs after every other one (so
// `outages` could never overlap `integration`), and projects sharing a group must share one `maxWorkers`. So the
// projects share a group with a spare worker, and each file takes its lane's lock here, before anything else of the
// file runs, and gives it back after its last hook. A lock is a directory per vitest run (keyed by the vitest main
// process, our parent) holding the holder's pid: a holder that died is taken over. Among files waiting for a lock, the
// lower rank goes first (the secrets audit, ranked last, waits for every other file that is waiting), since vitest may
// hand the spare worker a later file while an earlier one still waits.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, inject } from 'vitest';
import { laneOf, rankOf, type Lane } from './fileLanes.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The vitest project's name (vitest.config.ts `provide`): it decides the file's lane (fileLanes.ts). */
    oneAtATimeProject: string;
  }
}

const run = join(tmpdir(), `aim-vitest-${process.ppid}`);
const lockOf = (lane: Lane) => `${run}-${lane}.lock`;
const waiters = `${run}-waiters`;
const project = inject('oneAtATimeProject');
const file = relative(process.cwd(), expect.getState().testPath ?? '');
const rank = rankOf(project, file);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a live file of a lower rank waits for the same lane (it goes first). */
function lowerRankWaits(lane: Lane): boolean {
  let names: string[] = [];
  try {
    names = readdirSync(waiters);
  } catch {
    return false;
  }
  return names.some((name) => {
    const [pid, waitsFor, theirRank] = name.split('_');
    return waitsFor === lane && Number(theirRank) < rank && Number(pid) !== process.pid && alive(Number(pid));
  });
}

async function acquire(lane: Lane): Promise<void> {
  const lock = lockOf(lane);
  const me = join(waiters, `${process.pid}_${lane}_${rank}`);
  mkdirSync(waiters, { recursive: true });
  writeFileSync(me, file);
  try {
    for (;;) {
      if (!lowerRankWaits(lane)) {
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
      }
      await sleep(250);
    }
  } finally {
    rmSync(me, { force: true });
  }
}

const lane = laneOf(project);
await acquire(lane);
afterAll(() => {
  rmSync(lockOf(lane), { recursive: true, force: true });
});
