#!/usr/bin/env -S node --import tsx
import { run } from '../aimctl.js';

const ac = new AbortController();
process.once('SIGINT', () => ac.abort());
process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: ac.signal,
});
