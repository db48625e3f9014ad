// Proves `foreshard status` as an operator runs it: the real CLI (bin/foreshard.js) is spawned
// against a real embedded broker holding retained births and routing, with scores arriving live.
// `--json` prints exactly {nodes, shards} with the documented fields; `--data-dir` adds each local
// agent's pid from cluster.json; the table form names nodes and shards; an unreachable broker exits 1
// with one line on stderr.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { EmbeddedBroker } from '../../src/broker/embedded.js';
import { CLUSTER, NODES, Publisher, initialRouting, quietBroker, scoreFor } from './helpers.js';

const run = promisify(execFile);
const CLI = join(process.cwd(), 'bin', 'foreshard.js');

async function foreshard(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { timeout: 20_000, env: { ...process.env, FORESHARD_LOG_LEVEL: 'warn' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('foreshard status', () => {
  let broker: EmbeddedBroker;
  let publisher: Publisher;
  let scores: NodeJS.Timeout;
  let dataDir: string;

  before(async () => {
    broker = await quietBroker();
    publisher = await Publisher.connect(broker.url);
    for (const node of NODES) await publisher.birth(node);
    await publisher.routing(initialRouting(4));
    // Scores are not retained: status must wait for the next ones, as it would for live agents.
    scores = setInterval(() => {
      for (const [i, node] of NODES.entries()) void publisher.score(node, scoreFor(node, Date.now(), 0.1 * (i + 1), 0.2, [i, i + 3], 0.1)).catch(() => undefined);
    }, 300);
    dataDir = mkdtempSync(join(tmpdir(), 'foreshard-status-'));
    writeFileSync(join(dataDir, 'cluster.json'), JSON.stringify({
      version: 1, cluster: CLUSTER, dataDir, brokerUrl: broker.url, clusterKeyFile: join(dataDir, 'cluster.key'), supervisorPid: process.pid,
      startedAt: new Date().toISOString(),
      agents: NODES.map((node, i) => ({ node, pid: 4000 + i, logFile: join(dataDir, `${node}.log`), httpUrl: 'http://127.0.0.1:1', dataUrl: 'ws://127.0.0.1:1' })),
    }));
  });

  after(async () => {
    clearInterval(scores);
    await publisher?.close();
    await broker?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('--json prints exactly {nodes, shards} with the documented fields', async () => {
    const { code, stdout } = await foreshard(['status', '--json', '--broker', broker.url, '--cluster', CLUSTER]);
    assert.equal(code, 0);
    const report = JSON.parse(stdout) as { nodes: Record<string, unknown>[]; shards: Record<string, unknown>[] };
    assert.deepEqual(Object.keys(report), ['nodes', 'shards']);
    assert.deepEqual(report.nodes.map((n) => Object.keys(n)), NODES.map(() => ['id', 'pid', 'state', 'score']));
    assert.deepEqual(report.nodes.map((n) => [n.id, n.pid, n.state]), NODES.map((id) => [id, null, 'online']));
    assert.ok(report.nodes.every((n) => typeof n.score === 'number'), 'each online node has its latest score');
    assert.equal(report.shards.length, 8);
    assert.deepEqual(report.shards[0], { id: 0, epoch: 1, primary: 'node-a', shadows: ['node-b'], writes: 'open', score: 0.2, lags: {} });
  });

  it('--data-dir finds the cluster and shows local pids, and the table names nodes and shards', async () => {
    const json = await foreshard(['status', '--json', '--data-dir', dataDir]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual((JSON.parse(json.stdout) as { nodes: { pid: number }[] }).nodes.map((n) => n.pid), [4000, 4001, 4002]);
    const text = await foreshard(['status', '--data-dir', dataDir, '--score-wait-ms', '0']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^NODE\s+PID\s+STATE\s+SCORE$/m);
    assert.match(text.stdout, /^node-a\s+4000\s+online\s/m);
    assert.match(text.stdout, /^SHARD\s+EPOCH\s+PRIMARY\s+SHADOWS\s+WRITES\s+SCORE\s+LAGS$/m);
    assert.match(text.stdout, /^7\s+1\s+node-b\s+node-c\s+open\s/m);
  });

  it('exits 1 with one line when the broker cannot be reached', async () => {
    const { code, stdout, stderr } = await foreshard(['status', '--broker', 'mqtt://127.0.0.1:1']);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
    assert.match(stderr, /^foreshard status: cannot reach the MQTT broker at mqtt:\/\/127\.0\.0\.1:1/);
  });
});
