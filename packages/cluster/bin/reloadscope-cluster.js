#!/usr/bin/env node
// The `reloadscope-cluster` command. A committed file, so npm can link it at install time even
// in a clone where dist/ is built later (by `prepare`, after npm linked the bins).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('reloadscope-cluster: @reloadscope/cluster is not built (dist/cli.js is missing): run `npm run build` in the repository\n');
  process.exit(1);
}
await import(cli.href);
