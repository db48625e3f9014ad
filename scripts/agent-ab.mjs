#!/usr/bin/env node
// The A/B harness of docs/agent-memory.md: runs N agents of each variant at the same time against
// one embedded broker, 100 series each (11 from the host + --synthetic 89 by default), and prints
// per variant the median over its agents of: max RSS after a 5 s warm-up, RSS at the end, the
// anonymous and file-backed parts and PSS at the end, and CPU (% of one core). Running the variants
// side by side removes most of the noise between runs. A variant is a checkout (or a copy of its
// bin/, build/, firmware-profiles/ and package.json, with node_modules linked), optionally with
// extra agent arguments after a colon. An extra argument of the form `env:NAME=value` sets an environment
// variable for that variant's agents, and `node:--flag` passes a flag to node itself, at start:
//   node scripts/agent-ab.mjs --seconds 65 --n 3 before=/tmp/before after=.:--no-prediction
//   node scripts/agent-ab.mjs --n 3 base=. arena=.:env:MALLOC_ARENA_MAX=2 pool=.:node:--v8-pool-size=1
// With --own-node each agent runs from its own copy of the node executable, as `npm run bench -- agent`
// runs them (no other process maps its pages, so its start-up page-out takes what it would on a
// storage host); without it they share this node with the harness and with each other:
//   node scripts/agent-ab.mjs --own-node --n 2 base=. keep=.:--no-page-out
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const { startEmbeddedBroker } = await import(new URL('../build/src/broker/embedded.js', import.meta.url).href);
const { ownNodeCopy } = await import(new URL('../build/test/agent/harness.js', import.meta.url).href);

const args = process.argv.slice(2);
const ownNode = args.includes('--own-node');
if (ownNode) args.splice(args.indexOf('--own-node'), 1);
const opt = (n, d) => { const i = args.indexOf(`--${n}`); if (i < 0) return d; const v = args[i + 1]; args.splice(i, 2); return Number(v); };
const seconds = opt('seconds', 70), n = opt('n', 3), synthetic = opt('synthetic', 89);
const variants = args.map((a) => { const eq = a.indexOf('='); const name = a.slice(0, eq), rest = a.slice(eq + 1); const [tree, ...extra] = rest.split(':'); const words = extra.join(':').split(' ').filter(Boolean);
  const env = Object.fromEntries(words.filter((w) => w.startsWith('env:')).map((w) => { const [k, ...val] = w.slice(4).split('='); return [k, val.join('=')]; }));
  const nodeFlags = words.filter((w) => w.startsWith('node:')).map((w) => w.slice(5));
  return { name, tree, env, nodeFlags, extra: words.filter((w) => !w.startsWith('env:') && !w.startsWith('node:')) };
});
const broker = await startEmbeddedBroker({ port: 0 });
const dataRoot = mkdtempSync(join(tmpdir(), 'ab-'));
const cluster = `ab-${Date.now().toString(36)}`;
const kB = (s, f) => Number(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0) / 1024;
const ticks = (pid) => { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); return Number(f[11]) + Number(f[12]); };
const subjects = [];
for (let i = 0; i < n; i++) for (const v of variants) {
  const node = `${v.name}-${i}`;
  const executable = ownNode ? ownNodeCopy(dataRoot, node) : process.execPath;
  const child = spawn(executable, [...v.nodeFlags, join(v.tree, 'bin/foreshard.js'), 'agent', '--broker', broker.url, '--cluster', cluster, '--node-id', node, '--profile', 'generic-x86-server', '--data-dir', join(dataRoot, node), '--http-host', '127.0.0.1', '--http-port', '0', '--data-host', '127.0.0.1', '--data-port', '0', '--advertise-host', '127.0.0.1', '--synthetic-series', String(synthetic), ...v.extra], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FORESHARD_LOG_LEVEL: 'warn', ...v.env } });
  subjects.push({ v, child, rss: [] });
  child.stderr.on('data', (d) => process.stderr.write(`${node}: ${d}`));
}
await new Promise((r) => setTimeout(r, 5000));
for (const s of subjects) s.t0 = ticks(s.child.pid);
const t0 = Date.now();
while (Date.now() - t0 < seconds * 1000) {
  await new Promise((r) => setTimeout(r, 1000));
  for (const s of subjects) {
    const st = readFileSync(`/proc/${s.child.pid}/status`, 'utf8');
    s.rss.push(kB(st, 'VmRSS')); s.anon = kB(st, 'RssAnon'); s.file = kB(st, 'RssFile');
  }
}
const el = (Date.now() - t0) / 1000;
for (const s of subjects) {
  s.cpu = ((ticks(s.child.pid) - s.t0) / 100 / el) * 100; // USER_HZ is 100 on Linux
  const r = readFileSync(`/proc/${s.child.pid}/smaps_rollup`, 'utf8');
  s.pss = kB(r, 'Pss');
}
const med = (a) => { const b = [...a].sort((x, y) => x - y); const m = b.length >> 1; return b.length % 2 ? b[m] : (b[m - 1] + b[m]) / 2; };
for (const v of variants) {
  const ss = subjects.filter((s) => s.v === v);
  const f = (k) => med(ss.map(k)).toFixed(1);
  console.log(`${v.name.padEnd(14)} maxRSS ${f((s) => Math.max(...s.rss))} [${ss.map((s) => Math.max(...s.rss).toFixed(1)).join(' ')}]  endRSS ${f((s) => s.rss.at(-1))}  anon ${f((s) => s.anon)}  file ${f((s) => s.file)}  PSS ${f((s) => s.pss)}  CPU ${med(ss.map((s) => s.cpu)).toFixed(2)}%  alive ${ss.filter((s) => s.child.exitCode === null).length}/${ss.length}`);
}
for (const s of subjects) s.child.kill('SIGKILL');
await broker.close();
rmSync(dataRoot, { recursive: true, force: true });
process.exit(0);
