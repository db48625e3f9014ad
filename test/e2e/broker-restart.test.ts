// Proves a broker restart mid-workload leaves the data path alone and the control plane recovers
// (issue 8, scenario 5): three real agents, a coordinator and a gateway on the embedded broker, and
// a 200 ops/s client workload through the gateway. The embedded broker is closed (every MQTT client
// loses its connection and every retained message is gone) and started again on the same port 5 s
// later, while the workload runs: longer than the coordinator's heartbeat timeout (3 s), so every
// node was silent to it for longer than that, and the agents come back after their own backoff.
// Then:
// - the data path is unaffected: the gateway talks to the agents' data ports, not through MQTT, so
//   clients see no error, every read returns the last acknowledged value, and every acknowledged
//   write reads back at the end; no shard changed primary because of the restart (no failover:
//   the coordinator judges no node's silence while its own link is down, nor until the agents have
//   had time to reconnect after it is back, and its log says so);
// - the control plane recovers: every agent publishes its birth again on the new broker, the
//   coordinator republishes the routing table, which a fresh subscriber receives as a retained
//   message, and a manual `foreshard switch 0` issued after the restart completes (routing shows a
//   new primary for shard 0 at epoch + 1, open for writes).
// Agents run without prediction (as planned-switch.test.ts does): on this shared 2-core machine the
// untuned host scores would call nodes risky, and this scenario is about MQTT, not the scores.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { connect, type ForeshardClient } from '../../src/client/index.js';
import { decodeMessage, type Incident, type RoutingTable } from '../../src/protocol/index.js';
import { E2eCluster, waitFor } from './helpers.js';
import { readBack, startWorkload, type Workload } from './workload.js';

const shardCount = 8;
const nodes = ['n1', 'n2', 'n3'];

/** Connects a fresh client to the broker and returns the retained routing table it is handed on subscribing. */
async function retainedRouting(cluster: E2eCluster): Promise<RoutingTable | undefined> {
  const probe = await mqtt.connectAsync(cluster.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0 });
  try {
    const table = new Promise<RoutingTable | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 2_000);
      probe.on('message', (topic, payload, packet) => {
        if (topic !== cluster.topics.routing || !packet.retain || payload.length === 0) return;
        clearTimeout(timer);
        resolve(decodeMessage('routing', payload));
      });
    });
    await probe.subscribeAsync(cluster.topics.routing, { qos: 1 });
    return await table;
  } finally {
    await probe.endAsync().catch(() => undefined);
  }
}

describe('broker restart mid-workload on aedes', () => {
  const cluster = new E2eCluster({ label: 'broker-restart', watchNodes: true });
  let client: ForeshardClient | undefined;
  let workload: Workload | undefined;

  before(async () => {
    await cluster.startBroker();
    const gatewayUrl = await cluster.startCluster(shardCount, ['--no-prediction'], ['--no-rebalance'], nodes);
    client = await connect(gatewayUrl, { requestTimeoutMs: 20_000 });
  });

  after(async () => {
    await workload?.stop();
    await client?.close().catch(() => undefined);
    await cluster.stop();
  });

  test('clients see no error and lose no write across a broker restart; births, the retained routing table and a manual switch come back', { timeout: 90_000 }, async () => {
    const load = startWorkload(client!, { opsPerSecond: 200, prefix: 'restart', shardCount });
    workload = load;
    await waitFor('writes under way', () => load.acknowledged.size > 300, 20_000);
    const before = cluster.latestRouting()!;
    const routingBefore = cluster.routing.length;
    const incidentsBefore = cluster.incidents.length;

    const downAtMs = Date.now();
    await cluster.restartEmbeddedBroker(5_000);
    const upAtMs = Date.now();

    const birthsAtMs = await waitFor('every agent to publish its birth on the new broker', () => {
      const at = nodes.map((node) => cluster.states.find((s) => s.node === node && s.state === 'online' && s.seenAtMs >= upAtMs)?.seenAtMs);
      return at.every((ms) => ms !== undefined) ? (at as number[]) : undefined;
    }, 30_000, () => cluster.logs());
    const republishedIndex = await waitFor('the routing table to be republished', () => cluster.routing.length > routingBefore ? routingBefore : undefined, 30_000, () => cluster.logs());
    const republishedAtMs = cluster.routingSeenAtMs[republishedIndex]!;
    const retained = await waitFor('a retained routing table on the new broker', () => retainedRouting(cluster), 10_000, () => cluster.logs());
    assert.equal(retained.shards.length, shardCount);
    assert.ok(retained.version >= before.version, `the retained table (version ${retained.version}) is not older than the one before the restart (${before.version})`);
    for (const route of before.shards) {
      const now = retained.shards.find((r) => r.id === route.id)!;
      assert.deepEqual([now.primary, now.epoch, now.writes], [route.primary, route.epoch, 'open'], `shard ${route.id} kept its primary and epoch across the restart`);
    }

    // Keep the load on for a while after the control plane is back, then switch shard 0 by hand.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const route0 = retained.shards.find((r) => r.id === 0)!;
    const switchAtMs = Date.now();
    const switched = await cluster.runCli(['switch', '0', ...cluster.targetFlags]);
    assert.equal(switched.code, 0, `foreshard switch 0: ${switched.stderr}`);
    const after = await waitFor('shard 0 to be open at a new primary', () => {
      const now = cluster.latestRouting()?.shards.find((r) => r.id === 0);
      return now && now.primary !== route0.primary && now.writes === 'open' ? now : undefined;
    }, 20_000, () => cluster.logs());
    const switchedAtMs = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await load.stop();

    const incidents = [...new Map<string, Incident>(cluster.incidents.slice(incidentsBefore).map((i) => [i.id, i])).values()];
    const codes = new Map<string, number>();
    for (const r of load.records) if (!r.ok) codes.set(r.code!, (codes.get(r.code!) ?? 0) + 1);
    const during = load.records.filter((r) => r.startedAtMs >= downAtMs && r.startedAtMs <= upAtMs);
    const lost = await readBack(client!, load);
    console.log(`broker restart on aedes: broker down ${upAtMs - downAtMs} ms; ${during.length} requests started while it was down (${during.filter((r) => r.ok).length} ok); ` +
      `births back ${birthsAtMs.map((ms, i) => `${nodes[i]} +${ms - upAtMs} ms`).join(', ')} after the new broker was up; routing republished +${republishedAtMs - upAtMs} ms (retained version ${retained.version}, before ${before.version}); ` +
      `foreshard switch 0 after the restart: ${route0.primary}@${route0.epoch} -> ${after.primary}@${after.epoch} in ${switchedAtMs - switchAtMs} ms; ` +
      `incidents since the restart ${JSON.stringify(incidents.map((i) => `${i.kind} shard ${i.shard ?? '-'} ${i.result ?? i.outcome}`))}; ` +
      `${load.records.length} requests, errors ${JSON.stringify(Object.fromEntries(codes))}, ${load.staleReads.length} stale reads, ${lost.length} lost writes`);

    assert.equal(after.epoch, route0.epoch + 1, 'the switched shard is one epoch up');
    assert.ok(route0.shadows.includes(after.primary!), `the new primary ${after.primary} was a shadow of ${route0.primary}`);
    assert.deepEqual(incidents.filter((i) => i.kind === 'failover').map((i) => `${i.id} shard ${i.shard} ${i.fromNode}`), [], 'the restart caused no failover');
    const coordinatorLog = cluster.parts.get('coordinator')!.stderr();
    assert.match(coordinatorLog, /BROKER_LINK_DOWN/, 'the coordinator noticed its link was down');
    assert.match(coordinatorLog, /BROKER_LINK_UP/, 'and that it came back');
    assert.deepEqual(load.failures, [], 'clients see no error');
    assert.deepEqual(load.staleReads, [], 'every read returns the last acknowledged value');
    assert.deepEqual(lost, [], 'every acknowledged write reads back');
  });
});
