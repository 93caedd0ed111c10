#!/usr/bin/env node
// Compiled to dist/client/bin/aimctl.js by `npm run build` (package.json `bin`); `npm run aimctl` runs it from source.
import { main } from './main.js';

await main('aimctl');
