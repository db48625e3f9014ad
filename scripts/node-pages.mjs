#!/usr/bin/env node
// Which pages of node's own executable an agent has resident, by what they hold, next to an idle
// `node -e` (docs/agent-memory.md, "Tenth round"). RSS counts the pages of a mapped file that a
// process touched; for the agent that is about 40 MB of node's executable, and this splits it by
// the executable's symbols (`nm`, from binutils) and sections (`readelf`).
//   node scripts/node-pages.mjs [--seconds 60] [--synthetic 89] [--node <flag>]... [-- <extra agent arguments>]
// `--node <flag>` passes a flag to node itself for the agent (for example `--node --liftoff-only`).
// It starts an embedded broker, one agent as scripts/agent-ab.mjs starts them (100 series in all)
// and one idle node, reads /proc/<pid>/pagemap for each after --seconds, and prints MB per group.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const dash = args.indexOf('--');
const extra = dash < 0 ? [] : args.splice(dash).slice(1);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} takes a number, got ${JSON.stringify(args[at + 1])}`);
  return value;
};
const nodeFlags = [];
for (let at = args.indexOf('--node'); at >= 0; at = args.indexOf('--node')) nodeFlags.push(...args.splice(at, 2).slice(1));
const seconds = option('seconds', 60);
const synthetic = option('synthetic', 89);
const executable = realpathSync(process.execPath);

function tool(name, toolArgs) {
  try {
    return execFileSync(name, toolArgs, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  } catch (error) {
    throw new Error(`${name} ${toolArgs.join(' ')} failed (${error.code ?? error.message}); it comes with binutils`);
  }
}

// Symbols with a size, sorted by address; sections by address.
const symbols = tool('nm', ['-S', '--defined-only', executable]).split('\n').map((line) => line.split(' '))
  .filter((f) => f.length === 4).map(([address, size, , name]) => ({ start: parseInt(address, 16), end: parseInt(address, 16) + parseInt(size, 16), name }))
  .filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
if (symbols.length === 0) throw new Error(`${executable} has no symbol table: this node was stripped, and its pages cannot be told apart`);
const sections = [...tool('readelf', ['-SW', executable]).matchAll(/^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s/gm)]
  .map((m) => ({ name: m[1], start: parseInt(m[2], 16) })).filter((s) => s.start > 0).sort((a, b) => a.start - b.start);

/** What a symbol is part of, by its (mangled) name. */
function groupOf(name) {
  if (/^icudt\d+_dat$/.test(name)) return 'ICU data';
  if (/blob_data/.test(name)) return 'V8 start-up snapshot';
  if (/v88internal8compiler|turboshaft|v88internal6maglev/.test(name)) return 'V8 optimizing compiler (TurboFan)';
  if (/v88internal4wasm/.test(name)) return 'V8 WebAssembly (Liftoff, decoding, wrappers)';
  if (name.startsWith('Builtins_')) return 'V8 built-ins (embedded)';
  if (/^_ZN2v8/.test(name)) return 'V8 runtime, parser, interpreter, GC';
  if (/icu_\d+|_\d\d$/.test(name)) return 'ICU code';
  if (/^_ZN4node/.test(name)) return 'node';
  if (/^uv_|^uv__/.test(name)) return 'libuv';
  if (/^(SSL|EVP|OPENSSL|ossl|BN_|X509|ASN1|CRYPTO|ERR_|PEM_|RSA|EC_|ecp_|nid_|OBJ_|BIO_|sha|aes|x25519|tls)/i.test(name)) return 'OpenSSL';
  return 'other named code and data';
}

/** A page no symbol covers, by its section: node's built-in JS and its code cache have no symbols. */
function unnamed(page) {
  const section = sections.filter((s) => s.start <= page).at(-1)?.name ?? '?';
  if (/dynstr|dynsym|gnu\.hash|gnu\.version/.test(section)) return `dynamic symbol tables (${section})`;
  if (section === '.rodata') return 'read-only data without a symbol (built-in JS sources, code cache)';
  return `no symbol, in ${section}`;
}

/** Resident bytes of the executable in `pid`, by group. */
function residentByGroup(pid) {
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((line) => line.endsWith(` ${executable}`));
  const pagemap = openSync(`/proc/${pid}/pagemap`, 'r');
  const entry = Buffer.alloc(8);
  const groups = new Map();
  const add = (key, bytes) => groups.set(key, (groups.get(key) ?? 0) + bytes);
  let symbol = 0;
  for (const line of maps) {
    const [range] = line.split(' ');
    const [start, end] = range.split('-').map((hex) => parseInt(hex, 16));
    for (let page = start; page < end; page += 4096) {
      readSync(pagemap, entry, 0, 8, (page / 4096) * 8);
      if ((entry.readBigUInt64LE(0) >> 63n) === 0n) continue; // not present
      if (page >= 0x7f0000000000) { add('V8 built-ins (remapped copy)', 4096); continue; }
      while (symbol + 1 < symbols.length && symbols[symbol + 1].start <= page) symbol++;
      while (symbol > 0 && symbols[symbol].start > page) symbol--;
      const covering = symbols[symbol].start <= page && page < symbols[symbol].end ? symbols[symbol] : symbols[symbol + 1]?.start < page + 4096 ? symbols[symbol + 1] : null;
      if (covering) add(groupOf(covering.name), 4096);
      else add(unnamed(page), 4096);
    }
  }
  return groups;
}

const { startEmbeddedBroker } = await import(new URL('../build/src/broker/embedded.js', import.meta.url).href);
const broker = await startEmbeddedBroker({ port: 0 });
const dataDir = mkdtempSync(join(tmpdir(), 'node-pages-'));
const agentArgs = [new URL('../bin/foreshard.js', import.meta.url).pathname, 'agent', '--broker', broker.url, '--cluster', `pages-${process.pid}`, '--node-id', 'n1', '--profile', 'generic-x86-server', '--data-dir', dataDir, '--http-host', '127.0.0.1', '--http-port', '0', '--data-host', '127.0.0.1', '--data-port', '0', '--advertise-host', '127.0.0.1', '--synthetic-series', String(synthetic), ...extra];
const agent = spawn(process.execPath, [...nodeFlags, ...agentArgs], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, FORESHARD_LOG_LEVEL: 'error' } });
const idle = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
try {
  for (let waited = 0; waited < seconds; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(10, seconds - waited) * 1000));
    if (agent.exitCode !== null) throw new Error(`the agent exited (${agent.exitCode}) before the reading`);
    process.stderr.write(`node-pages: ${Math.min(waited + 10, seconds)} of ${seconds} s\n`);
  }
  const [agentPages, idlePages] = [residentByGroup(agent.pid), residentByGroup(idle.pid)];
  const mb = (bytes) => (bytes / 1048576).toFixed(2).padStart(7);
  const keys = [...new Set([...agentPages.keys(), ...idlePages.keys()])].sort((a, b) => (agentPages.get(b) ?? 0) - (agentPages.get(a) ?? 0));
  console.log(`resident pages of ${executable}, MB, after ${seconds} s\n  agent  idle  difference  what`);
  for (const key of keys) {
    const a = agentPages.get(key) ?? 0, i = idlePages.get(key) ?? 0;
    if (a + i >= 16384) console.log(`${mb(a)}${mb(i)}${mb(a - i)}  ${key}`);
  }
  const total = (m) => [...m.values()].reduce((s, v) => s + v, 0);
  console.log(`${mb(total(agentPages))}${mb(total(idlePages))}${mb(total(agentPages) - total(idlePages))}  in all`);
} finally {
  agent.kill('SIGKILL');
  idle.kill('SIGKILL');
  await broker.close?.();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
