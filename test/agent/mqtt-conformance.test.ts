// Proves a real `foreshard agent` process speaks the MQTT contract of DESIGN.md §5.2 to a real broker:
// its birth is retained and decodable, scores and metrics decode with the independent `cbor` package,
// a signed command comes back on cmd-result, forged / replayed / garbage commands are survived,
// counted and answered or ignored as they should be, /metrics parses as Prometheus text, and kill -9
// leaves the will. One suite runs against the embedded Aedes broker and against Mosquitto at
// 127.0.0.1:1883 whenever it can be reached; each run uses its own cluster name and clears its
// retained messages.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/broker/embedded.js';
import { parseExposition } from '../../src/metrics/index.js';
import { ShardHost } from '../../src/replication/index.js';
import { clusterTopics, decodeMessage, encodeMessage, signCommand, type CommandBody } from '../../src/protocol/index.js';
import { clearRetained, eventually, httpGet, killAgents, reachable, spawnAgent, uniqueCluster, Watcher, workspace, type AgentProcess, type Seen } from './harness.js';

const mosquittoReachable = await reachable('127.0.0.1', 1883);

interface BrokerUnderTest {
  url: string;
  close(): Promise<void>;
}

function conformance(name: string, skip: string | false, open: () => Promise<BrokerUnderTest>): void {
  describe(`agent MQTT conformance on ${name}`, { skip }, () => {
    const cluster = uniqueCluster(name);
    const node = 'n1';
    const topics = clusterTopics(cluster);
    const space = workspace();
    const key = Buffer.from(space.keyHex, 'hex');
    let broker: BrokerUnderTest;
    let watcher: Watcher;
    let agent: AgentProcess;
    let publisher: mqtt.MqttClient;
    let counter = 0;

    let lastSent = Buffer.alloc(0);
    const sendCommand = async (body: { type: CommandBody['type']; shard?: number; epoch?: number; args: Record<string, unknown>; ts?: number }, signingKey: Uint8Array = key): Promise<string> => {
      const cmdId = `c${++counter}-${Date.now()}`;
      const command = signCommand(signingKey, cluster, node, { ts: Date.now(), ...body, args: { session: agent.session, ...body.args }, cmdId } as unknown as CommandBody);
      lastSent = Buffer.from(encodeMessage('command', command));
      await publisher.publishAsync(topics.node(node, 'cmd'), lastSent, { qos: 1 });
      return cmdId;
    };
    const resultOf = (cmdId: string, after = 0): Promise<Seen> =>
      watcher.next((m) => m.topic === topics.node(node, 'cmd-result') && (m.decoded as { cmdId?: string } | undefined)?.cmdId === cmdId, 10_000, after);

    before(async () => {
      broker = await open();
      // A primary replica of shard 5 left in the data directory, as an agent restarting finds it.
      const seed = await ShardHost.start({ dataDir: space.dir, node, port: 0 });
      await seed.openShard(5, 'primary', 1);
      await seed.close();
      watcher = await Watcher.open(broker.url, [topics.everything]);
      publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
      agent = await spawnAgent(['--broker', broker.url, '--cluster', cluster, '--node-id', node, '--profile', space.profilePath, '--data-dir', space.dir, '--http-port', '0', '--data-port', '0', '--http-host', '127.0.0.1', '--data-host', '127.0.0.1', '--advertise-host', '127.0.0.1', '--cluster-key-file', space.keyFile]);
    });

    after(async () => {
      killAgents();
      await clearRetained(broker.url, [topics.node(node, 'state')]).catch(() => undefined);
      await watcher?.close();
      await publisher?.endAsync(true);
      await broker?.close();
      space.remove();
    });

    test('the birth is retained, names the session, profile and data port, and decodes generically', async () => {
      const birth = await watcher.next((m) => m.topic === topics.node(node, 'state') && (m.decoded as { state?: string } | undefined)?.state === 'online');
      const ours = decodeMessage('node-state', birth.payload);
      assert.equal(ours.state, 'online');
      assert.equal(ours.session, agent.session);
      assert.deepEqual(birth.decoded, { ...ours, ts: (birth.decoded as { ts: unknown }).ts });
      if (ours.state === 'online') {
        assert.equal(ours.profile, 'fast-test');
        assert.equal(ours.dataUrl, agent.dataUrl);
      }
      // A late subscriber gets it as a retained message.
      const late = await Watcher.open(broker.url, [topics.node(node, 'state')]);
      try {
        const retained = await late.next(() => true);
        assert.equal(retained.retain, true);
        assert.equal((retained.decoded as { session: string }).session, agent.session);
      } finally {
        await late.close();
      }
    });

    test('metrics and scores are published and decode with a generic CBOR decoder', async () => {
      const metrics = await watcher.next((m) => m.topic === topics.node(node, 'metrics'));
      const series = (metrics.decoded as { series: Record<string, number> }).series;
      assert.equal(typeof series.memory_pressure, 'number');
      decodeMessage('metrics', metrics.payload);
      const score = await watcher.next((m) => m.topic === topics.node(node, 'score'));
      const decoded = score.decoded as { ts: number; horizonS: number; node: { p: number; top: unknown[] }; shards: Record<string, { p: number; top: unknown[] }> };
      assert.equal(decoded.horizonS, 5);
      assert.ok(decoded.node.p >= 0 && decoded.node.p <= 1);
      assert.ok(Array.isArray(decoded.node.top));
      // Every shard the node holds is scored, with its explanation.
      assert.deepEqual(Object.keys(decoded.shards), ['5']);
      decodeMessage('score', score.payload);
      // Each probability carries the features it was calibrated from, for the coordinator's failure history.
      const features = (unit: unknown) => (unit as { features?: Record<string, number> }).features;
      assert.deepEqual(Object.keys(features(decoded.node) ?? {}).sort(), ['anomaly', 'breach']);
      assert.deepEqual(Object.keys(features(decoded.shards['5']) ?? {}).sort(), ['anomaly', 'breach', 'node']);
      assert.equal(features(decoded.shards['5'])!.node, decoded.node.p, "a shard's node feature is its node's probability");
    });

    test('a calibrate command replaces the calibrations the scores use, and /metrics shows them', async () => {
      const gauges = async () => parseExposition((await httpGet(`${agent.httpUrl}/metrics`)).text);
      const before = await gauges();
      assert.equal(before.get('foreshard_prediction_calibration_pairs')!.samples[0]!.value, 0, 'built-in priors at start');
      const shardBias = (families: Awaited<ReturnType<typeof gauges>>) => families.get('foreshard_prediction_calibration_bias')!.samples.find((s) => s.labels.unit === 'shard')!.value;
      assert.equal(shardBias(before), -4);
      const cmdId = await sendCommand({
        type: 'calibrate',
        args: { node: { bias: -5, weights: { breach: 6, anomaly: 1 } }, shard: { bias: -6.5, weights: { breach: 7, anomaly: 1.5, node: 2 } }, pairs: 12 },
      });
      const answer = decodeMessage('command-result', (await resultOf(cmdId)).payload);
      assert.equal(answer.ok, true, JSON.stringify(answer.error));
      const after = await gauges();
      assert.equal(after.get('foreshard_prediction_calibration_pairs')!.samples[0]!.value, 12);
      assert.equal(shardBias(after), -6.5);
      const weight = after.get('foreshard_prediction_calibration_weight')!.samples.find((s) => s.labels.unit === 'shard' && s.labels.feature === 'anomaly');
      assert.equal(weight?.value, 1.5);
    });

    test('a signed command is run and answered on cmd-result; the restarted primary waits, recovering', async () => {
      // The replica of shard 5 was a primary before this process started: it comes back recovering.
      const report = await sendCommand({ type: 'report', args: {} });
      const reported = decodeMessage('command-result', (await resultOf(report)).payload);
      assert.deepEqual(reported.result, { replicas: [{ shard: 5, role: 'recovering', epoch: 1, receivedLsn: 0, appliedLsn: 0, lastEpoch: 0 }] });
      const fence = await sendCommand({ type: 'fence', shard: 5, epoch: 3, args: {} });
      const fenced = decodeMessage('command-result', (await resultOf(fence)).payload);
      assert.deepEqual({ ok: fenced.ok, result: fenced.result }, { ok: true, result: { shard: 5, role: 'recovering', epoch: 3, receivedLsn: 0, appliedLsn: 0, lastEpoch: 0 } });
      const families = parseExposition((await httpGet(`${agent.httpUrl}/metrics`)).text);
      assert.equal(families.get('foreshard_replica_epoch')!.samples[0]!.labels.role, 'fenced');
      const stale = await sendCommand({ type: 'promote', shard: 5, epoch: 2, args: { throughLsn: 0 } });
      assert.equal(decodeMessage('command-result', (await resultOf(stale)).payload).error?.code, 'STALE_EPOCH');
      const promote = await sendCommand({ type: 'promote', shard: 5, epoch: 3, args: { throughLsn: 0 } });
      assert.equal((decodeMessage('command-result', (await resultOf(promote)).payload).result as { role: string }).role, 'primary');
      const cmdId = await sendCommand({ type: 'fence', shard: 7, epoch: 1, args: {} });
      const result = decodeMessage('command-result', (await resultOf(cmdId)).payload);
      assert.equal(result.cmdId, cmdId);
      // This node holds no replica of shard 7: the command ran and was refused for that reason.
      assert.equal(result.ok, false);
      assert.equal(result.error?.code, 'NO_REPLICA');
      const other = await sendCommand({ type: 'report', args: { session: 'an-earlier-life' } });
      assert.equal(decodeMessage('command-result', (await resultOf(other)).payload).error?.code, 'STALE_SESSION');
    });

    test('forged, replayed and garbage commands are survived, counted, and answered or ignored', async () => {
      const forged = await sendCommand({ type: 'fence', shard: 1, epoch: 1, args: {} }, Buffer.alloc(32, 7));
      assert.equal(decodeMessage('command-result', (await resultOf(forged)).payload).error?.code, 'BAD_SIGNATURE');
      const original = await sendCommand({ type: 'drop', shard: 2, epoch: 1, args: {} });
      const originalBytes = lastSent;
      const first = decodeMessage('command-result', (await resultOf(original)).payload);
      const resultsBefore = watcher.seen.length;
      const old = await sendCommand({ type: 'fence', shard: 2, epoch: 1, args: {}, ts: Date.now() - 10_000 });
      assert.equal(decodeMessage('command-result', (await resultOf(old)).payload).error?.code, 'EXPIRED');
      const stale = await sendCommand({ type: 'fence', shard: 2, epoch: 1, args: {}, ts: Date.now() - 120_000 });
      assert.equal(decodeMessage('command-result', (await resultOf(stale)).payload).error?.code, 'STALE_COMMAND');
      // A repeated cmdId is answered from the cache, with the very same answer.
      await publisher.publishAsync(topics.node(node, 'cmd'), originalBytes, { qos: 1 });
      const replay = decodeMessage('command-result', (await resultOf(original, resultsBefore)).payload);
      assert.deepEqual(replay, first);
      for (const garbage of [Buffer.from('not cbor at all'), Buffer.from([0xff]), Buffer.alloc(20_000, 1), Buffer.from([0xa1, 0x61, 0x78, 0x01])]) {
        await publisher.publishAsync(topics.node(node, 'cmd'), garbage, { qos: 1 });
      }
      // Still alive and answering after the garbage.
      const after = await sendCommand({ type: 'report', shard: 3, args: {} });
      assert.equal(decodeMessage('command-result', (await resultOf(after)).payload).error?.code, 'NO_REPLICA');
      const families = parseExposition((await httpGet(`${agent.httpUrl}/metrics`)).text);
      const dropped = families.get('foreshard_dropped_payloads_total')!.samples;
      assert.equal(dropped.reduce((sum, s) => sum + s.value, 0), 4);
      assert.deepEqual(new Set(dropped.map((s) => s.labels.reason)), new Set(['MALFORMED', 'PAYLOAD_TOO_LARGE', 'SCHEMA']));
      const refused = families.get('foreshard_commands_total')!.samples.filter((s) => s.labels.type === '(unverified)');
      assert.deepEqual(new Set(refused.map((s) => s.labels.code)), new Set(['BAD_SIGNATURE', 'STALE_COMMAND']));
    });

    test('/metrics parses as Prometheus text and /healthz reports healthy', async () => {
      const families = await eventually('a scrape with a score', async () => {
        const parsed = parseExposition((await httpGet(`${agent.httpUrl}/metrics`)).text);
        return parsed.has('foreshard_node_failure_probability') ? parsed : undefined;
      });
      assert.equal(families.get('foreshard_mqtt_connected')!.samples[0]!.value, 1);
      assert.ok(families.has('foreshard_memory_pressure'));
      assert.ok(families.has('foreshard_mqtt_offline_dropped_total'));
      const health = await httpGet(`${agent.httpUrl}/healthz`);
      assert.equal(health.status, 200);
      assert.equal((JSON.parse(health.text) as { status: string }).status, 'ok');
    });

    test('a late birth of an earlier session that replaces the retained birth is answered with the agent\'s own', async () => {
      // The broker delivered a dead process's last birth after this one's (a restart during a
      // partition): readers of the retained state would take the dead session. Its birth is older
      // than the agent's own, so the agent publishes its birth again.
      const seenBefore = watcher.seen.length;
      const stale = encodeMessage('node-state', { state: 'online', session: 'an-earlier-life', ts: Date.now() - 600_000, version: '0.0.1', profile: 'fast-test', dataUrl: agent.dataUrl });
      await publisher.publishAsync(topics.node(node, 'state'), Buffer.from(stale), { qos: 1, retain: true });
      const again = await watcher.next((m) => m.topic === topics.node(node, 'state') && (m.decoded as { session?: string } | undefined)?.session === agent.session, 10_000, seenBefore);
      assert.equal(decodeMessage('node-state', again.payload).state, 'online');
      // The retained state is the agent's again.
      const late = await Watcher.open(broker.url, [topics.node(node, 'state')]);
      try {
        const retained = await late.next(() => true);
        assert.equal((retained.decoded as { session: string }).session, agent.session);
      } finally {
        await late.close();
      }
    });

    test('kill -9 of the agent leaves its will: offline, for the session of its birth', async () => {
      const seenBefore = watcher.seen.length;
      agent.child.kill('SIGKILL');
      await agent.exited;
      const will = await watcher.next((m) => m.topic === topics.node(node, 'state') && (m.decoded as { state?: string } | undefined)?.state === 'offline', 10_000, seenBefore);
      assert.deepEqual(decodeMessage('node-state', will.payload), { state: 'offline', session: agent.session });
    });
  });
}

conformance('aedes', false, async () => {
  const broker: EmbeddedBroker = await startEmbeddedBroker({ port: 0 });
  return { url: broker.url, close: () => broker.close() };
});

conformance('mosquitto', mosquittoReachable ? false : 'mosquitto not reachable at 127.0.0.1:1883', async () => ({ url: 'mqtt://127.0.0.1:1883', close: async () => undefined }));
