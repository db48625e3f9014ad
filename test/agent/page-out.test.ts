// The start-up page-out (src/agent/page-out.ts, native/page-out.c): the addon hands a process's
// clean read-only file pages back to the kernel and the process runs on; a real agent does it once,
// 3 s after start, and /metrics shows what it released; --no-page-out keeps the pages; where the addon
// is missing the agent says so and runs as before. Processes that must own their pages run from
// their own copy of the node executable, as an agent alone on a storage host does: the kernel leaves
// pages that another process also maps where they are.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/broker/embedded.js';
import { parseExposition } from '../../src/metrics/index.js';
import { loadPageOut, schedulePageOut, type PageOutState } from '../../src/agent/page-out.js';
import { eventually, httpGet, killAgents, ownNodeCopy, spawnAgent, uniqueCluster, workspace } from './harness.js';

const addonPath = new URL('../../native/page-out.node', import.meta.url).pathname;
const wasmPath = new URL('../../arima.wasm', import.meta.url).pathname;
const hasCompiler = spawnSync('cc', ['--version']).status === 0;
const noAddon = existsSync(addonPath) ? false : hasCompiler ? false : 'no C compiler here (cc), so build/native/page-out.node was not built';

const dir = mkdtempSync(join(tmpdir(), 'foreshard-page-out-'));
const ownNode = (name: string): string => ownNodeCopy(dir, name);
after(() => rmSync(dir, { recursive: true, force: true }));

test('the addon pages out a process\'s file-backed pages, and the process runs on', { skip: noAddon }, () => {
  assert.ok(existsSync(addonPath), `${addonPath} was not built although cc is here; see the build's output`);
  const script = `
    const fs = require('node:fs');
    const file = () => Number(/RssFile:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
    const before = file();
    const result = require(${JSON.stringify(addonPath)}).pageOut();
    const after = file();
    // Code that was paged out runs again: a WebAssembly compile, a hash, JSON.
    const module = new WebAssembly.Module(fs.readFileSync(${JSON.stringify(wasmPath)}));
    const hash = require('node:crypto').createHash('sha256').update('foreshard').digest('hex');
    console.log(JSON.stringify({ before, after, result, exports: WebAssembly.Module.exports(module).length, hash, parsed: JSON.parse('[1,2]') }));`;
  const node = ownNode('addon');
  const run = spawnSync(node, ['-e', script], { encoding: 'utf8' });
  rmSync(node); // 100 MB; the agent's test below makes its own
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout) as { before: number; after: number; result: { mappings: number; bytes: number; failed: number }; exports: number; hash: string; parsed: number[] };
  assert.equal(out.result.failed, 0);
  assert.ok(out.result.mappings >= 3, `${out.result.mappings} mappings advised`);
  assert.ok(out.after < out.before / 2, `file-backed RSS ${out.before} -> ${out.after} bytes`);
  assert.ok(out.exports > 0);
  assert.equal(out.hash, '7181bb305a4e61ef2821927bece9f636163ce9aa5a46874598d7ba176b790123');
  assert.deepEqual(out.parsed, [1, 2]);
});

test('without the addon the page-out says why, once, and nothing changes', async () => {
  const missing = loadPageOut(join(dir, 'absent.node'));
  assert.ok('unavailable' in missing && /was not built \(no C compiler at npm install\)/.test(missing.unavailable), JSON.stringify(missing));
  const logged: { message: string; fields: Record<string, unknown> }[] = [];
  const scheduled = schedulePageOut((message, fields) => logged.push({ message, fields }), 10, () => missing);
  assert.deepEqual(scheduled.state(), { status: 'pending', releasedBytes: 0 } satisfies PageOutState);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(scheduled.state(), { status: 'unavailable', releasedBytes: 0 });
  assert.equal(logged.length, 1);
  assert.match(String(logged[0]!.fields.reason), /was not built/);
  // A kernel that refuses MADV_PAGEOUT is reported the same way.
  const refused = schedulePageOut((message, fields) => logged.push({ message, fields }), 10, () => ({ pageOut: () => { throw new Error('the kernel refused MADV_PAGEOUT (Invalid argument; it needs Linux 5.4 or later)'); } }));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(refused.state().status, 'unavailable');
  assert.match(String(logged[1]!.fields.reason), /Linux 5\.4/);
  // Cancelled before it runs: it never runs.
  let loads = 0;
  schedulePageOut(() => undefined, 10, () => (loads++, missing)).cancel();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(loads, 0);
});

describe('an agent process', { skip: noAddon }, () => {
  let broker: EmbeddedBroker;
  const ws = workspace();
  before(async () => {
    broker = await startEmbeddedBroker({ port: 0 });
  });
  after(async () => {
    killAgents();
    ws.remove();
    await broker.close();
  });
  const released = async (httpUrl: string, status: string): Promise<number> =>
    eventually(`page-out status ${status}`, async () => {
      const sample = parseExposition((await httpGet(`${httpUrl}/metrics`)).text).get('foreshard_start_up_page_out_released_bytes')?.samples[0];
      return sample?.labels.status === status ? sample.value : undefined;
    }, 15_000);
  const args = (node: string, extra: string[] = []): string[] => ['--broker', broker.url, '--cluster', uniqueCluster('page-out'), '--node-id', node, '--profile', ws.profilePath, '--data-dir', join(ws.dir, node), '--http-host', '127.0.0.1', '--http-port', '0', '--data-host', '127.0.0.1', '--data-port', '0', '--advertise-host', '127.0.0.1', ...extra];

  test('pages out once after start, releases megabytes of RSS and shows it in /metrics', async () => {
    const agent = await spawnAgent(args('alone'), {}, ownNode('agent'));
    const bytes = await released(agent.httpUrl, 'done');
    assert.ok(bytes > 10 * 1024 * 1024, `released ${bytes} bytes`);
    assert.match(agent.stderr(), /paged out start-up code/);
    const families = parseExposition((await httpGet(`${agent.httpUrl}/metrics`)).text);
    const rss = families.get('foreshard_resident_memory_bytes')!.samples[0]!.value;
    assert.ok(rss > 10 * 1024 * 1024 && rss < 200 * 1024 * 1024, `RSS ${rss}`);
    assert.equal((await httpGet(`${agent.httpUrl}/healthz`)).status, 200, 'still sampling after the page-out');
  });

  test('--no-page-out keeps the start-up pages', async () => {
    const agent = await spawnAgent(args('keep', ['--no-page-out']));
    await new Promise((resolve) => setTimeout(resolve, 3500));
    assert.equal(await released(agent.httpUrl, 'off'), 0);
    assert.doesNotMatch(agent.stderr(), /paged out/);
  });
});
