// Proves the coordinator process wiring (src/coordinator/service.ts) against a real embedded broker
// and the real decision core: it publishes a retained birth with a generation one above the last
// one retained, answers signed operator requests on coordinator/cmd (pause and resume automation,
// a switch refused with a stable code) and refuses forged or replayed ones, sends signed commands
// agents can verify when a node is born, and serves /metrics and /healthz.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/broker/embedded.js';
import { createLogger } from '../../src/common/log.js';
import { startCoordinatorHttp } from '../../src/coordinator/http.js';
import { sendOperatorRequest } from '../../src/coordinator/mqtt-operator.js';
import { CoordinatorService } from '../../src/coordinator/service.js';
import { closeIncident, openIncident } from '../../src/coordinator/incidents/incident.js';
import { IncidentStore } from '../../src/coordinator/incidents/store.js';
import { clusterTopics, createCommandVerifier, decodeMessage, encodeMessage, signOperatorRequest, type Command } from '../../src/protocol/index.js';

let broker: EmbeddedBroker;
const dir = mkdtempSync(join(tmpdir(), 'foreshard-coordinator-service-'));
const key = randomBytes(32);
const cluster = `svc-${Date.now().toString(36)}`;
const topics = clusterTopics(cluster);
const quiet = createLogger('coordinator', () => undefined);
const running: CoordinatorService[] = [];

function options(): Parameters<typeof CoordinatorService.start>[0] {
  return { cluster, dataDir: join(dir, 'coordinator'), clusterKey: key, mqtt: { url: broker.url, protocolVersion: 4, keepaliveS: 10 }, core: { shardCount: 2 }, tickMs: 100, retainedWaitMs: 200, version: 'test', logger: quiet };
}

async function start(): Promise<CoordinatorService> {
  const service = await CoordinatorService.start(options());
  running.push(service);
  return service;
}

/**
 * Plays node `n1` of `clusterName` being born (a retained birth on its state topic), collects the
 * commands the coordinator sends it until `enough` holds or 5 s pass, then clears the retained birth.
 */
async function commandsAtBirth(clusterName: string, enough: (commands: Command[]) => boolean): Promise<Command[]> {
  const nodeTopics = clusterTopics(clusterName);
  const agent = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  const commands: Command[] = [];
  try {
    agent.on('message', (_t, payload) => commands.push(decodeMessage('command', payload)));
    await agent.subscribeAsync(nodeTopics.node('n1', 'cmd'), { qos: 1 });
    const birth = { state: 'online' as const, session: 'sess-n1', ts: Date.now(), version: 'test', profile: 'p', dataUrl: 'ws://127.0.0.1:9' };
    await agent.publishAsync(nodeTopics.node('n1', 'state'), Buffer.from(encodeMessage('node-state', birth)), { qos: 1, retain: true });
    const deadline = Date.now() + 5_000;
    while (!enough(commands) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await agent.publishAsync(nodeTopics.node('n1', 'state'), Buffer.alloc(0), { qos: 1, retain: true });
  } finally {
    await agent.endAsync();
  }
  return commands;
}

/** The service's /metrics text, from an HTTP server started for the call. */
async function metricsOf(service: CoordinatorService): Promise<string> {
  const http = await startCoordinatorHttp(service, '127.0.0.1', 0);
  try {
    return await (await fetch(`${http.url}/metrics`)).text();
  } finally {
    await http.close();
  }
}

before(async () => {
  broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', logger: quiet });
});

after(async () => {
  for (const service of running) await service.stop();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

test('each coordinator life takes the next generation, from the retained birth', async () => {
  const first = await start();
  assert.equal(first.generation, 1);
  await first.stop();
  const second = await start();
  assert.equal(second.generation, 2);
  const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  try {
    const retained = new Promise<Buffer>((resolve) => watcher.on('message', (_t, payload) => resolve(payload)));
    await watcher.subscribeAsync(topics.coordinatorState, { qos: 1 });
    const state = decodeMessage('coordinator-state', await retained);
    assert.deepEqual([state.state, state.session, state.generation], ['online', second.session, 2]);
  } finally {
    await watcher.endAsync();
  }
});

test('operator requests: pause and resume answer ok, a switch before recovery is refused with a code', async () => {
  const mqttOptions = { url: broker.url, protocolVersion: 4 as const, keepaliveS: 10 };
  const paused = await sendOperatorRequest(mqttOptions, cluster, key, { type: 'pause-automation' });
  assert.deepEqual([paused.ok, paused.automationPaused], [true, true]);
  const refused = await sendOperatorRequest(mqttOptions, cluster, key, { type: 'switch', shard: 0 });
  assert.equal(refused.ok, false);
  assert.ok(refused.code === 'UNKNOWN_SHARD' || refused.code === 'NOT_READY', `code ${refused.code}`);
  const resumed = await sendOperatorRequest(mqttOptions, cluster, key, { type: 'resume-automation' });
  assert.deepEqual([resumed.ok, resumed.automationPaused], [true, false]);
  await assert.rejects(sendOperatorRequest(mqttOptions, cluster, randomBytes(32), { type: 'pause-automation' }).then((r) => {
    assert.equal(r.code, 'BAD_SIGNATURE');
    throw new Error('refused');
  }), /refused/);
});

test('a replayed operator request is refused', async () => {
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  try {
    const answers: string[] = [];
    client.on('message', (_t, payload) => answers.push(decodeMessage('operator-result', payload).code ?? 'ok'));
    await client.subscribeAsync(topics.coordinatorCmdResult, { qos: 1 });
    const bytes = Buffer.from(encodeMessage('operator-request', signOperatorRequest(key, cluster, { reqId: 'req-replay', type: 'resume-automation', ts: Date.now() })));
    await client.publishAsync(topics.coordinatorCmd, bytes, { qos: 1 });
    await client.publishAsync(topics.coordinatorCmd, bytes, { qos: 1 });
    const deadline = Date.now() + 5_000;
    while (answers.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(answers, ['ok', 'REPLAYED_COMMAND']);
  } finally {
    await client.endAsync();
  }
});

test('a born node is asked for its report with a command it can verify, and /metrics and /healthz answer', async () => {
  const service = running.at(-1)!;
  const commands = await commandsAtBirth(cluster, (received) => received.length > 0);
  const command = commands[0]!;
  assert.equal(command.type, 'report');
  assert.equal(command.args.session, 'sess-n1');
  createCommandVerifier({ key, cluster, node: 'n1' }).verify(command, Date.now());
  const http = await startCoordinatorHttp(service, '127.0.0.1', 0);
  try {
    const metrics = await (await fetch(`${http.url}/metrics`)).text();
    for (const name of ['foreshard_coordinator_running', 'foreshard_coordinator_generation 2', 'foreshard_coordinator_events_total{name="commandsSent"}', 'foreshard_failure_history_pairs 0', 'foreshard_coordinator_nodes{state="online"} 1']) {
      assert.ok(metrics.includes(name), `/metrics has ${name}`);
    }
    const health = await fetch(`${http.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { generation: number }).generation, 2);
  } finally {
    await http.close();
  }
});

test('a coordinator with a failure history fits a calibration, shows it, and sends it to a node at its birth', async () => {
  const calibrated = `${cluster}-cal`;
  const dataDir = join(dir, 'coordinator-calibrated');
  mkdirSync(dataDir, { recursive: true });
  // Five switches, ten minutes apart, driven by anomaly and node risk without a forecast breach, none
  // followed by a breach; and one driven by a forecast breach that was followed by one (a fit needs
  // both outcomes).
  const pairs = Array.from({ length: 6 }, (_, i) => JSON.stringify({
    incidentId: `inc-old-${i}`, tsMs: 1_700_000_000_000 + i * 600_000, node: `n${i % 3}`, outcome: 0, breached: i === 5 ? 1 : 0,
    features: { shardP: 0.88, nodeP: 0.7, meanShardP: 0.6, topSeries: 'store_fsync_ms_p99', topShare: 1, shard: { breach: i === 5 ? 0.95 : 0, anomaly: 1, node: 1 }, node: { breach: 0, anomaly: 1 } },
  }));
  writeFileSync(join(dataDir, 'failure-history.jsonl'), pairs.join('\n') + '\n');
  const service = await CoordinatorService.start({ ...options(), cluster: calibrated, dataDir });
  running.push(service);
  const commands = await commandsAtBirth(calibrated, (received) => received.some((c) => c.type === 'calibrate'));
  const command = commands.find((c) => c.type === 'calibrate');
  assert.ok(command && command.type === 'calibrate', `a calibrate command arrived (got ${commands.map((c) => c.type).join(', ')})`);
  createCommandVerifier({ key, cluster: calibrated, node: 'n1' }).verify(command, Date.now());
  assert.equal(command.args.pairs, 6);
  assert.ok(command.args.shard.bias < -4 || (command.args.shard.weights.anomaly ?? 3) < 3, 'the fit moved the shard calibration away from scoring these as breaches');
  const metrics = await metricsOf(service);
  for (const name of ['foreshard_failure_history_pairs 6', 'foreshard_calibration_pairs 6', 'foreshard_calibration_bias{unit="shard"}', 'foreshard_calibration_weight{unit="shard",feature="anomaly"}']) {
    assert.ok(metrics.includes(name), `/metrics has ${name}`);
  }
});

test('incidents a previous life left open are closed as abandoned when the next one starts', async () => {
  // A coordinator stopped in the middle of a switch leaves its incident open in the store; without
  // this, `foreshard incidents` and the dashboard showed it open for ever.
  const dataDir = join(dir, 'orphans');
  const store = new IncidentStore(join(dataDir, 'incidents'));
  const start = { kind: 'planned-switch' as const, shard: 0, reason: 'rollback score above 0.8 for 3 updates', nowMs: 1_000, fromNode: 'n1', epochBefore: 1, scores: [], shardTop: [], nodeTop: [], features: { shard: null, node: null } };
  const left = openIncident({ ...start, id: 'inc-g1-1' });
  const done = openIncident({ ...start, id: 'inc-g1-2' });
  closeIncident(done, 2_000, 'switched', 'n2 is primary at epoch 2');
  await store.write(left);
  await store.write(done);
  const service = await CoordinatorService.start({ ...options(), cluster: `${cluster}-orphans`, dataDir });
  running.push(service);
  const deadline = Date.now() + 5_000;
  while ((await store.read('inc-g1-1')).outcome.result === 'open' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const closed = await store.read('inc-g1-1');
  assert.equal(closed.outcome.result, 'abandoned');
  assert.match(closed.outcome.detail, /stopped before it finished/);
  assert.ok(closed.closedAtMs !== null && closed.timeline.steps.at(-1)!.step === 'closed');
  assert.equal((await store.read('inc-g1-2')).outcome.result, 'switched', 'a closed incident is left as it was');
});
