// Proves a real agent process survives a broker restart: the embedded broker is closed and started
// again on the same port; meanwhile the agent reports itself unhealthy, keeps at most its offline
// buffer's worth of messages and counts the ones it dropped; after the restart it reconnects by
// itself and publishes its birth again (retained on the fresh broker), then drains the buffer.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/broker/embedded.js';
import { parseExposition, type MetricFamily } from '../../src/metrics/index.js';
import { clusterTopics, decodeMessage } from '../../src/protocol/index.js';
import { eventually, httpGet, killAgents, spawnAgent, uniqueCluster, Watcher, workspace } from './harness.js';

const space = workspace();
let broker: EmbeddedBroker | undefined;
const watchers: Watcher[] = [];

after(async () => {
  killAgents();
  for (const watcher of watchers) await watcher.close().catch(() => undefined);
  await broker?.close();
  space.remove();
});

const total = (families: Map<string, MetricFamily>, name: string): number => (families.get(name)?.samples ?? []).reduce((sum, s) => sum + s.value, 0);

test('after a broker restart the agent reconnects, publishes its birth again, and its offline buffer stays bounded', async () => {
  broker = await startEmbeddedBroker({ port: 0 });
  const port = broker.port;
  const cluster = uniqueCluster('restart');
  const topics = clusterTopics(cluster);
  const stateTopic = topics.node('n1', 'state');
  const first = await Watcher.open(broker.url, [stateTopic]);
  watchers.push(first);
  const offlineBufferMessages = 4;
  const agent = await spawnAgent([
    '--broker', broker.url, '--cluster', cluster, '--node-id', 'n1', '--profile', space.profilePath, '--data-dir', space.dir,
    '--http-host', '127.0.0.1', '--http-port', '0', '--data-host', '127.0.0.1', '--data-port', '0', '--advertise-host', '127.0.0.1',
    '--offline-buffer-messages', String(offlineBufferMessages), '--mqtt-reconnect-max-ms', '500',
  ]);
  await first.next((m) => m.topic === stateTopic && (m.decoded as { session?: string } | undefined)?.session === agent.session);

  await broker.close();
  broker = undefined;
  const health = await eventually('the agent noticing the broker is gone', async () => {
    const response = await httpGet(`${agent.httpUrl}/healthz`);
    return response.status === 503 ? response : undefined;
  });
  assert.match(health.text, /not connected to the MQTT broker/);
  // Samples keep coming every 250 ms while offline: the buffer fills, then drops its oldest.
  const offline = await eventually('the offline buffer dropping messages', async () => {
    const families = parseExposition((await httpGet(`${agent.httpUrl}/metrics`)).text);
    return total(families, 'foreshard_mqtt_offline_dropped_total') > 0 ? families : undefined;
  });
  assert.equal(total(offline, 'foreshard_mqtt_connected'), 0);
  assert.ok(total(offline, 'foreshard_mqtt_offline_buffered_messages') <= offlineBufferMessages);

  broker = await startEmbeddedBroker({ port });
  const reconnected = await eventually('the agent reconnecting and draining its offline buffer', async () => {
    const families = parseExposition((await httpGet(`${agent.httpUrl}/metrics`)).text);
    return total(families, 'foreshard_mqtt_connected') === 1 && total(families, 'foreshard_mqtt_offline_buffered_messages') === 0 ? families : undefined;
  }, 15_000);
  assert.equal(total(reconnected, 'foreshard_mqtt_connects_total'), 2);
  // The fresh broker started with no retained messages: the retained birth a new subscriber gets is the one published on reconnect.
  const second = await Watcher.open(broker.url, [stateTopic]);
  watchers.push(second);
  const birth = await eventually('a retained birth', async () => second.seen.find((m) => m.retain && m.topic === stateTopic));
  assert.deepEqual({ state: birth.decoded && (birth.decoded as { state: string }).state, session: decodeMessage('node-state', birth.payload).session }, { state: 'online', session: agent.session });
  assert.equal((await httpGet(`${agent.httpUrl}/healthz`)).status, 200);
  await second.client.publishAsync(stateTopic, Buffer.alloc(0), { qos: 1, retain: true });
});
