#!/usr/bin/env node
// The `foreshard` command. The real entry point is compiled from src/cli/main.ts by `npm install`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../build/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('foreshard: not built yet; run `npm install` (or `npm run build`) in the foreshard checkout\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
