#!/usr/bin/env node
// Runs node:test over the compiled test files in build/test. Arguments filter by path substring:
// `npm test -- delta store` runs only test files whose path contains "delta" or "store".
// FORESHARD_TEST_CONCURRENCY sets how many test files run at once (default 2, the machine's cores);
// the end-to-end files under test/e2e always run one at a time, after the rest.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const testDir = join(root, 'build', 'test');

function findTests(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return findTests(path);
    return entry.name.endsWith('.test.js') ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = findTests(testDir)
  .filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`test: no test files found under build/test${filters.length ? ` matching ${filters.join(', ')}` : ''}`);
  process.exit(1);
}
const concurrency = process.env.FORESHARD_TEST_CONCURRENCY ?? '2';
// The multi-process scenarios (test/e2e) start whole clusters and assert bounds such as "writes
// resume within 3 s of the kill": they run one at a time, after the other suites, so they never
// share the machine's two cores with each other or with a unit suite.
const e2eDir = `${join('build', 'test', 'e2e')}/`;
const groups = [
  { files: files.filter((f) => !relative(root, f).startsWith(e2eDir)), concurrency },
  { files: files.filter((f) => relative(root, f).startsWith(e2eDir)), concurrency: '1' },
].filter((group) => group.files.length > 0);
let status = 0;
for (const group of groups) {
  const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${group.concurrency}`, ...group.files], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) status = result.status ?? 1;
}
process.exit(status);
