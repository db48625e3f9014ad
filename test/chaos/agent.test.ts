// Proves `foreshard chaos` injects real faults into a real agent process, through the real CLI:
// an embedded broker and a `foreshard agent --allow-chaos` process get a primary of shard 5 (a
// signed MQTT `promote`) with a shadow in this process; a data port client writes to it. Then
// `disk-latency` makes write acknowledgements take at least the injected latency and raises the
// store latency and fsync p99 on the agent's /metrics; `error-rate 1` makes writes fail with an
// agent error and `clear` restores them; `cpu-burn` runs threads that end by themselves; `hang` leaves a request unanswered until `clear` resumes
// the process, which then answers it; `kill` ends the process. A second agent started without
// --allow-chaos answers 403 and the CLI says why. The CLI finds both agents through a
// cluster.json state file, as it would for `foreshard up`. Latency bounds are lower bounds that
// the injected delay causes, not performance targets.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/broker/embedded.js';
import { writeClusterState } from '../../src/cli/cluster-target.js';
import { parseExposition } from '../../src/metrics/index.js';
import { clusterTopics, encodeMessage, signCommand, type CommandBody, type DataResponseFrame } from '../../src/protocol/index.js';
import { DataPortClient, ShardHost } from '../../src/replication/index.js';
import { binPath, eventually, httpGet, killAgents, spawnAgent, uniqueCluster, Watcher, workspace, type AgentProcess } from '../agent/harness.js';

const SHARD = 5;
const cluster = uniqueCluster('chaos');
const topics = clusterTopics(cluster);
const space = workspace();
const quiet = workspace();
const shadowDir = mkdtempSync(join(tmpdir(), 'foreshard-chaos-shadow-'));
const clusterDir = mkdtempSync(join(tmpdir(), 'foreshard-chaos-cluster-'));
let broker: EmbeddedBroker;
let agent: AgentProcess;
let refusing: AgentProcess;
let watcher: Watcher;
let shadow: ShardHost;
let client: DataPortClient;
let writes = 0;

const agentArgs = (node: string, dir: string, profile: string): string[] =>
  ['--broker', broker.url, '--cluster', cluster, '--node-id', node, '--profile', profile, '--data-dir', dir, '--http-port', '0', '--data-port', '0', '--http-host', '127.0.0.1', '--data-host', '127.0.0.1', '--advertise-host', '127.0.0.1', '--cluster-key-file', space.keyFile, '--no-prediction'];

/**
 * Sends signed `promote`s that create the primary of SHARD on n1 until one is answered ok. The
 * agent subscribes to its command topic only once connected, after it logs its start, so the
 * first may find no subscriber; promoting an existing primary at its epoch is idempotent.
 */
async function promotePrimary(): Promise<void> {
  const publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
  try {
    await eventually('the agent to answer promote', async () => {
      const cmdId = `promote-${Date.now()}`;
      const body = { cmdId, ts: Date.now(), type: 'promote', shard: SHARD, epoch: 1, args: { session: agent.session, throughLsn: 0, create: true } } as unknown as CommandBody;
      await publisher.publishAsync(topics.node('n1', 'cmd'), Buffer.from(encodeMessage('command', signCommand(Buffer.from(space.keyHex, 'hex'), cluster, 'n1', body))), { qos: 1 });
      const result = await watcher.next((m) => (m.decoded as { cmdId?: string } | undefined)?.cmdId === cmdId, 1000);
      assert.equal((result.decoded as { ok: boolean }).ok, true, `promote answered ${JSON.stringify(result.decoded)}`);
      return true;
    }, 15_000);
  } finally {
    await publisher.endAsync();
  }
}

before(async () => {
  broker = await startEmbeddedBroker({ port: 0 });
  watcher = await Watcher.open(broker.url, [topics.node('n1', 'cmd-result')]);
  [agent, refusing] = await Promise.all([
    spawnAgent([...agentArgs('n1', space.dir, space.profilePath), '--allow-chaos']),
    spawnAgent(agentArgs('n2', quiet.dir, quiet.profilePath)),
  ]);
  await promotePrimary();
  // Writes are acknowledged once a shadow holds them (minShadowAcks 1): this process holds one.
  shadow = await ShardHost.start({ dataDir: shadowDir, node: 's1', port: 0, applyDelayMs: 50 });
  await shadow.followAt(SHARD, 1, { node: 'n1', dataUrl: agent.dataUrl });
  client = await DataPortClient.connect({ url: agent.dataUrl, node: 'gw-chaos' });
  const entry = (node: string, process: AgentProcess) => ({ node, pid: process.child.pid!, logFile: '', httpUrl: process.httpUrl, dataUrl: process.dataUrl });
  writeClusterState(clusterDir, {
    version: 1, cluster, dataDir: clusterDir, brokerUrl: broker.url, clusterKeyFile: space.keyFile, supervisorPid: process.pid, shards: 16, profile: space.profilePath, startedAt: new Date().toISOString(),
    agents: [entry('n1', agent), entry('n2', refusing)],
  });
});

after(async () => {
  killAgents();
  client?.close();
  await shadow?.close();
  await watcher?.close();
  await broker?.close();
  for (const dir of [shadowDir, clusterDir]) rmSync(dir, { recursive: true, force: true });
  space.remove();
  quiet.remove();
});

/** Runs `foreshard chaos <args> --data-dir <clusterDir>` as its own process. */
function chaosCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [binPath, 'chaos', ...args, '--data-dir', clusterDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

async function put(): Promise<{ response: DataResponseFrame; ms: number }> {
  const startedMs = performance.now();
  const response = await client.request({ op: 'put', shard: SHARD, epoch: 1, key: Buffer.from(`k${++writes}`), value: Buffer.from('value') });
  return { response, ms: performance.now() - startedMs };
}

async function metric(name: string): Promise<number | undefined> {
  const { text } = await httpGet(`${agent.httpUrl}/metrics`);
  return parseExposition(text).get(name)?.samples[0]?.value;
}

test('disk-latency raises the write acknowledgement latency and the store p99s on /metrics', async () => {
  assert.equal((await put()).response.ok, true, 'the primary takes writes before any fault');
  const injected = await chaosCli(['n1', 'disk-latency', '--ramp', '1:300/1']);
  assert.equal(injected.code, 0, injected.stderr);
  assert.match(injected.stdout, /n1: every fsync is delayed by 1 ms rising to 300 ms over 1 s/);
  // Once the 1 s ramp is over, every acknowledgement waits for a 300 ms fsync.
  await eventually('a write acknowledged after the full injected latency', async () => ((await put()).ms >= 290 ? true : undefined), 15_000);
  const slow = await put();
  assert.equal(slow.response.ok, true);
  assert.ok(slow.ms >= 290, `acknowledged after ${slow.ms} ms`);
  let writing = true;
  const writer = (async () => {
    while (writing) await put();
  })();
  try {
    await eventually('store_latency_ms_p99 and store_fsync_ms_p99 at the injected latency', async () => {
      const latency = await metric('foreshard_store_latency_ms_p99');
      const fsync = await metric('foreshard_store_fsync_ms_p99');
      return latency !== undefined && fsync !== undefined && latency >= 290 && fsync >= 290 ? true : undefined;
    }, 15_000);
  } finally {
    writing = false;
    await writer;
  }
  const { text } = await httpGet(`${agent.httpUrl}/metrics`);
  assert.match(text, /foreshard_chaos_fault_active\{fault="disk-latency"\} 1/);
});

test('error-rate 1 fails every write with an agent error, and clear restores writes', async () => {
  const injected = await chaosCli(['n1', 'error-rate', '1', '--json']);
  assert.equal(injected.code, 0, injected.stderr);
  assert.deepEqual((JSON.parse(injected.stdout) as { state: { active: string[] } }).state.active, ['disk-latency', 'error-rate']);
  const failed = (await put()).response;
  assert.equal(failed.ok, false);
  if (!failed.ok) {
    assert.equal(failed.error.code, 'INTERNAL');
    assert.match(failed.error.message, /I\/O error/);
  }
  const cleared = await chaosCli(['n1', 'clear', '--json']);
  assert.equal(cleared.code, 0, cleared.stderr);
  assert.deepEqual((JSON.parse(cleared.stdout) as { state: { active: string[] } }).state.active, []);
  assert.equal((await put()).response.ok, true);
});

test('a signed MQTT chaos command injects a fault that ends by itself after its duration', async () => {
  const publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
  try {
    const cmdId = `chaos-${Date.now()}`;
    const body = { cmdId, ts: Date.now(), type: 'chaos', args: { session: agent.session, fault: 'disk-errors', durationMs: 1500, intensity: 1 } } as unknown as CommandBody;
    await publisher.publishAsync(topics.node('n1', 'cmd'), Buffer.from(encodeMessage('command', signCommand(Buffer.from(space.keyHex, 'hex'), cluster, 'n1', body))), { qos: 1 });
    const result = await watcher.next((m) => (m.decoded as { cmdId?: string } | undefined)?.cmdId === cmdId, 5000);
    assert.equal((result.decoded as { ok: boolean }).ok, true, `chaos answered ${JSON.stringify(result.decoded)}`);
    assert.equal(await metric('foreshard_chaos_request_failure_probability'), 1);
    assert.equal((await put()).response.ok, false, 'a write fails while the injected error rate is 1');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(await metric('foreshard_chaos_request_failure_probability'), 0);
    assert.equal((await put()).response.ok, true, 'writes succeed again once the fault has run its duration');
  } finally {
    await publisher.endAsync();
  }
});

test('cpu-burn runs busy threads in the agent until their duration is over', async () => {
  const burning = await chaosCli(['n1', 'cpu-burn', '--workers', '1', '--duration', '1']);
  assert.equal(burning.code, 0, burning.stderr);
  assert.match(burning.stdout, /n1: 1 busy thread burns CPU for 1 s/);
  assert.equal(await metric('foreshard_chaos_cpu_burn_threads'), 1);
  await eventually('the burn to end by itself', async () => ((await metric('foreshard_chaos_cpu_burn_threads')) === 0 ? true : undefined), 10_000);
});

test('hang stops the agent answering until clear resumes it, and the request held meanwhile is answered', async () => {
  const hung = await chaosCli(['n1', 'hang']);
  assert.equal(hung.code, 0, hung.stderr);
  assert.match(hung.stdout, /n1: hung \(SIGSTOP to pid \d+\)/);
  const stat = readFileSync(`/proc/${agent.child.pid}/stat`, 'utf8');
  assert.equal(stat.slice(stat.lastIndexOf(')') + 2).charAt(0), 'T', 'the process is stopped');
  const pending = put();
  const early = await Promise.race([pending.then(() => 'answered'), new Promise((resolve) => setTimeout(() => resolve('silent'), 1000))]);
  assert.equal(early, 'silent', 'a hung agent answers nothing');
  await assert.rejects(fetch(`${agent.httpUrl}/healthz`, { signal: AbortSignal.timeout(500) }), 'nor its HTTP port');
  const resumed = await chaosCli(['n1', 'clear']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /n1: resumed \(SIGCONT\) and every fault is cleared/);
  assert.equal((await pending).response.ok, true, 'the write sent during the hang is acknowledged after it');
});

test('kill ends the agent process, and later faults say it is not running', async () => {
  const killed = await chaosCli(['n1', 'kill']);
  assert.equal(killed.code, 0, killed.stderr);
  await agent.exited;
  assert.equal(agent.child.signalCode, 'SIGKILL');
  const after = await chaosCli(['n1', 'clear']);
  assert.equal(after.code, 1);
  assert.match(after.stderr, /the agent of node n1 \(pid \d+\) is not running/);
});

test('an agent started without --allow-chaos refuses faults with 403, and the CLI says how to allow them', async () => {
  const response = await fetch(`${refusing.httpUrl}/chaos`, { method: 'POST', body: JSON.stringify({ fault: 'error-rate', probability: 1 }) });
  assert.equal(response.status, 403);
  assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'CHAOS_NOT_ALLOWED');
  const refused = await chaosCli(['n2', 'error-rate', '0.5']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /start it with --allow-chaos/);
  const unknown = await chaosCli(['n9', 'kill']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /node "n9" is not in this cluster; its nodes are n1, n2/);
});
