#!/usr/bin/env node
// Builds everything `npm install` and `npm test` need: each AssemblyScript entry in assembly/ to
// build/<name>.wasm, the agent's page-out addon to build/native/ (when there is a C compiler), the JSON Schema validators to build/src/ (scripts/validators.mjs), then the
// TypeScript to build/. It skips work whose outputs are newer than
// their sources, so `npm test` can call it every time.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, chmodSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeValidators } from './validators.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(root, 'build');
const binDir = join(root, 'node_modules', '.bin');

if (!existsSync(join(binDir, 'tsc')) || !existsSync(join(binDir, 'asc'))) {
  process.stderr.write(`build: the build tools are not installed; run \`npm install\` in ${root} first\n`);
  // `npx foreshard` in a checkout links it into npx's cache, which runs this script. Failing there
  // would leave that cache half-written (every later npx then fails with "Could not read
  // package.json", even after npm install), and npm hides this message anyway; bin/foreshard.js
  // says what to do when it finds nothing built.
  process.exit(process.env.npm_command === 'exec' ? 0 : 1);
}
mkdirSync(buildDir, { recursive: true });

/** Newest modification time of every file below `dir` (recursively) whose name passes `keep`. */
function newestMtimeMs(dir, keep = () => true) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtimeMs(path, keep));
    else if (keep(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function mtimeMs(path) {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

function run(tool, args) {
  execFileSync(join(binDir, tool), args, { cwd: root, stdio: 'inherit' });
}

// Entry points are the top-level assembly/*.ts files; shared code lives in assembly/lib/.
const assemblyDir = join(root, 'assembly');
const assemblyNewest = Math.max(newestMtimeMs(assemblyDir, (n) => n.endsWith('.ts') || n.endsWith('.json')), mtimeMs(join(root, 'asconfig.json')));
const entries = readdirSync(assemblyDir).filter((n) => n.endsWith('.ts') && !n.endsWith('.d.ts'));
for (const entry of entries) {
  const name = entry.slice(0, -3);
  const out = join(buildDir, `${name}.wasm`);
  if (mtimeMs(out) >= assemblyNewest) continue;
  process.stderr.write(`build: asc assembly/${entry} -> build/${name}.wasm\n`);
  run('asc', [join('assembly', entry), '--config', 'asconfig.json', '--target', 'release', '--outFile', out]);
}

// The agent's page-out addon (native/page-out.c), with the system's C compiler (CC, else cc). It is
// optional: without a compiler the build goes on, and the agent runs without it and says so.
const nativeSource = join(root, 'native', 'page-out.c');
const nativeOut = join(buildDir, 'native', 'page-out.node');
if (mtimeMs(nativeOut) < mtimeMs(nativeSource)) {
  const cc = process.env.CC || 'cc';
  mkdirSync(dirname(nativeOut), { recursive: true });
  try {
    execFileSync(cc, ['-O2', '-Wall', '-shared', '-fPIC', '-o', nativeOut, nativeSource], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    process.stderr.write('build: cc native/page-out.c -> build/native/page-out.node\n');
  } catch (error) {
    const reason = error.code === 'ENOENT' ? `no ${cc} on this machine` : `${cc} failed`;
    process.stderr.write(`build: native/page-out.c not built (${reason}); the agent will keep its start-up pages resident (README, "Agent")\n`);
  }
}

// The JSON Schema validators, generated as JavaScript so that ajv is not loaded at run time
// (scripts/validators.mjs); only when a schema, ajv or the generator changed.
for (const output of writeValidators()) process.stderr.write(`build: validators -> ${output}\n`);

// tsc is incremental (build/.tsbuildinfo), so running it every time costs little when nothing
// changed, and it never trusts a stale timestamp.
process.stderr.write('build: tsc\n');
run('tsc', ['-p', 'tsconfig.json']);
chmodSync(join(root, 'bin', 'foreshard.js'), 0o755);
