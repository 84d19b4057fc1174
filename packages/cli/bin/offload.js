#!/usr/bin/env node
// The `offload` command. Kept as plain JS so npm can link it before the build has run.
import { main } from '../dist/main.js';

process.exitCode = await main(process.argv.slice(2));
