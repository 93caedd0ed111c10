#!/usr/bin/env node
// kubectl's plugin entry: with this on PATH (package.json `bin`), `kubectl aim get aimservices` runs aimctl.
import { main } from './main.js';

await main('kubectl aim');
