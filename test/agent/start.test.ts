// Proves what an operator sees when `foreshard agent` cannot start, and the bounded parts it starts
// with: a broken profile is refused (exit 1) with every problem listed, bad options are refused with
// every problem listed, a short cluster key is refused, and the offline buffer keeps the latest
// messages within its count and byte limits, counting what it drops. Refusals run the real CLI.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentError } from '../../src/agent/errors.js';
import { readClusterKeyFile } from '../../src/agent/cluster-key.js';
import { OfflineBuffer } from '../../src/agent/offline-buffer.js';
import { resolveAgentOptions } from '../../src/agent/options.js';
import { reconnectDelayMs } from '../../src/agent/mqtt-link.js';
import { killAgents, runAgentToExit, workspace } from './harness.js';

const space = workspace();
after(() => {
  killAgents();
  space.remove();
});

const baseArgs = ['--broker', 'mqtt://127.0.0.1:1', '--node-id', 'n1', '--data-dir', space.dir, '--http-port', '0', '--data-port', '0'];

test('a broken profile is refused at start with every problem listed', async () => {
  const broken = join(space.dir, 'broken.json');
  writeFileSync(broken, JSON.stringify({ name: 'broken', sampling: { sampleIntervalMs: 5, collectors: ['proc', 'gpu'] }, slo: { cpu_utilization: { min: 0.9, max: 0.5 } }, bogus: true }));
  const { code, stderr } = await runAgentToExit([...baseArgs, '--profile', broken]);
  assert.equal(code, 1);
  assert.match(stderr, /is invalid \(\d+ problems\)/);
  for (const path of ['$.sampling.sampleIntervalMs', '$.sampling.collectors[1]', '$.slo.cpu_utilization', '$.bogus']) assert.ok(stderr.includes(path), `stderr names ${path}:\n${stderr}`);
});

test('an unknown profile name is refused with the known names', async () => {
  const { code, stderr } = await runAgentToExit([...baseArgs, '--profile', 'no-such-profile']);
  assert.equal(code, 1);
  assert.match(stderr, /does not exist; known profiles: .*generic-x86-server/);
});

test('bad options are refused with every problem, and missing required ones are usage errors', async () => {
  const input = { nodeId: 'bad/id', cluster: '#', profile: 'generic-x86-server', dataDir: '/tmp/x', brokerUrl: 'localhost', advertiseHost: 'h', httpPort: 70000 };
  assert.throws(() => resolveAgentOptions(input), (error: unknown) => {
    assert.ok(error instanceof AgentError && error.code === 'AGENT_BAD_OPTION');
    for (const flag of ['--node-id', '--cluster', '--broker', '--http-port']) assert.ok(error.message.includes(flag), `names ${flag}: ${error.message}`);
    return true;
  });
  const { code, stderr } = await runAgentToExit(['--broker', 'mqtt://127.0.0.1:1', '--profile', 'generic-x86-server', '--data-dir', space.dir]);
  assert.equal(code, 2);
  assert.match(stderr, /--node-id is required/);
});

test('a cluster key shorter than 32 bytes is refused; hex text is read as bytes', () => {
  const short = join(space.dir, 'short.key');
  writeFileSync(short, 'abcd\n');
  assert.throws(() => readClusterKeyFile(short), { code: 'AGENT_BAD_CLUSTER_KEY' });
  assert.equal(readClusterKeyFile(space.keyFile).byteLength, 32);
});

test('the offline buffer keeps the latest messages within its limits and counts drops by kind', () => {
  const buffer = new OfflineBuffer(3, 100);
  const message = (kind: string, bytes: number) => ({ kind, topic: 't', payload: new Uint8Array(bytes), qos: 0 as const, retain: false });
  for (let index = 0; index < 5; index++) buffer.push(message('metrics', 10));
  assert.deepEqual(buffer.counts(), { bufferedMessages: 3, bufferedBytes: 30, droppedTotal: 2, droppedByKind: { metrics: 2 } });
  buffer.push(message('score', 90)); // 30 + 90 bytes is over 100: the two oldest metrics go
  assert.deepEqual(buffer.counts(), { bufferedMessages: 2, bufferedBytes: 100, droppedTotal: 4, droppedByKind: { metrics: 4 } });
  buffer.push(message('score', 101)); // larger than the whole buffer: dropped itself
  assert.equal(buffer.counts().droppedByKind.score, 1);
  assert.deepEqual([buffer.shift()?.kind, buffer.shift()?.kind, buffer.shift()], ['metrics', 'score', undefined]);
});

test('reconnect waits double from the first wait up to the cap', () => {
  const middle = () => 0.5; // no jitter
  assert.deepEqual([1, 2, 3, 4, 5, 10].map((attempt) => reconnectDelayMs(attempt, 250, 2000, middle)), [250, 500, 1000, 2000, 2000, 2000]);
});
