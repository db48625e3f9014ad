// Proves that the dashboard's cluster view builds the cluster picture from MQTT alone: retained
// births and routing published before it connects, then scores, a routing change (a switch) and an
// incident, all sent through the protocol encoder to a real embedded broker. Also proves that a
// garbage payload is counted and dropped without disturbing the picture, that a will from an old
// session does not mark a live node offline, and that score histories stay bounded.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EmbeddedBroker } from '../../src/broker/embedded.js';
import { createLogger } from '../../src/common/log.js';
import { startClusterView, type ClusterView } from '../../src/dashboard/index.js';
import { CLUSTER, NODES, Publisher, initialRouting, quietBroker, route, scoreFor, switchIncident, until } from './helpers.js';

const silent = createLogger('test', () => undefined);

describe('dashboard cluster view over a real broker', () => {
  let broker: EmbeddedBroker;
  let publisher: Publisher;
  let view: ClusterView;
  const t0 = Date.now();

  before(async () => {
    broker = await quietBroker();
    publisher = await Publisher.connect(broker.url);
    for (const node of NODES) await publisher.birth(node, t0);
    await publisher.routing(initialRouting(1, t0));
    view = startClusterView({ brokerUrl: broker.url, cluster: CLUSTER, historyPoints: 5, logger: silent });
    await view.ready;
  });

  after(async () => {
    await view?.close();
    await publisher?.close();
    await broker?.close();
  });

  it('shows the retained births and routing that were published before it connected', async () => {
    await until(() => view.snapshot().shards.length === 8 && view.snapshot().nodes.length === 3, 3000, 'retained state');
    const state = view.snapshot();
    assert.deepEqual(state.nodes.map((n) => [n.id, n.state, n.profile]), NODES.map((id) => [id, 'online', 'generic-x86-server']));
    assert.deepEqual(state.shards[2], { id: 2, epoch: 1, primary: 'node-c', shadows: ['node-a'], writes: 'open', lags: {}, score: null });
    assert.equal(state.routing?.version, 1);
    assert.equal(state.connected, true);
    assert.deepEqual(state.timeline, [], 'the first table seen is not a change');
  });

  it('keeps each node\'s and shard\'s latest score with its explanation, and a bounded history', async () => {
    for (let i = 0; i < 8; i++) await publisher.score('node-a', scoreFor('node-a', t0 + i * 1000, 0.1 + i * 0.1, 0.2 + i * 0.1, [0, 3, 6, 2], i / 8));
    await until(() => view.snapshot().nodes[0]?.score?.ts === t0 + 7000, 3000, 'eighth score');
    const state = view.snapshot();
    const nodeA = state.nodes.find((n) => n.id === 'node-a')!;
    assert.ok(Math.abs(nodeA.score!.p - 0.8) < 1e-9);
    assert.equal(nodeA.score?.top[0]?.series, 'disk_await_ms');
    // Shard 0's primary is node-a: its chart follows node-a. Shard 2's primary is node-c, so node-a's report
    // (as a shadow) is its score for now, but not its history.
    assert.ok(Math.abs(state.shards[0]!.score!.p - 0.9) < 1e-9);
    assert.equal(state.shards[0]?.score?.node, 'node-a');
    assert.equal(state.shards[2]?.score?.node, 'node-a');
    assert.equal(state.history.shards['2'], undefined);
    const history = state.history.nodes['node-a']!;
    assert.equal(history.length, 5, 'the ring keeps the last 5 points');
    assert.deepEqual(history.map((p) => p.ts), [3, 4, 5, 6, 7].map((i) => t0 + i * 1000));
    const last = history.at(-1)!;
    assert.equal(last.series, 'disk_await_ms');
    assert.ok(last.lower! <= last.forecast! && last.forecast! <= last.upper!, 'the forecast sits inside its interval');
    assert.equal(last.threshold, 50);
    // A delta since an earlier revision carries only the newer points.
    const delta = view.delta(history.at(-2)!.rev);
    assert.deepEqual(delta.points.nodes['node-a']!.map((p) => p.ts), [t0 + 7000]);
  });

  it('counts and drops a garbage payload, and goes on', async () => {
    const before = view.snapshot();
    await publisher.raw(publisher.topics.node('node-b', 'score'), Buffer.from('this is not CBOR \xff\xfe'));
    await publisher.raw(publisher.topics.routing.replace('routing', 'incident/bad-1'), Buffer.from([0xa1, 0x61, 0x78, 0x01])); // {x: 1}: CBOR, wrong shape
    await until(() => view.drops().total === 2, 3000, 'two drops');
    const after = view.snapshot();
    assert.equal(after.drops.total, 2);
    assert.equal(after.drops.byKind.score, 1);
    assert.equal(after.drops.byKind.incident, 1);
    assert.deepEqual(after.nodes, before.nodes, 'nothing changed');
    assert.deepEqual(after.incidents, []);
    // The view still takes good messages.
    await publisher.score('node-b', scoreFor('node-b', t0 + 9000, 0.05, 0.1, [1, 4, 7, 0], 0));
    await until(() => view.snapshot().nodes.find((n) => n.id === 'node-b')?.score?.p === 0.05, 3000, 'node-b score');
  });

  it('derives a switch from a routing change and lists the incident with its root cause', async () => {
    const switchTs = t0 + 20_000;
    const table = initialRouting(3, switchTs);
    table.shards[0] = route(0, 2, 'node-b', ['node-a']);
    await publisher.routing({ ...initialRouting(2, switchTs - 50), shards: initialRouting().shards.map((s) => (s.id === 0 ? { ...s, writes: 'paused' as const } : s)) });
    await publisher.routing(table);
    await publisher.incident(switchIncident('inc-0001', 0, 'node-a', 'node-b', switchTs - 40));
    await until(() => view.snapshot().incidents.length === 1 && view.snapshot().routing?.version === 3, 3000, 'switch and incident');
    const state = view.snapshot();
    assert.deepEqual(state.shards[0]?.primary, 'node-b');
    assert.equal(state.shards[0]?.epoch, 2);
    const kinds = state.timeline.map((e) => e.kind);
    assert.deepEqual(kinds, ['switch', 'writes', 'incident', 'writes'], 'newest first');
    const change = state.timeline[0]!;
    assert.deepEqual([change.shard, change.fromNode, change.toNode, change.fromEpoch, change.toEpoch], [0, 'node-a', 'node-b', 1, 2]);
    const incident = state.incidents[0]!;
    assert.equal(incident.rootCause.top[0]?.series, 'disk_await_ms');
    assert.equal(incident.timeline.length, 4);
    // An update of the same incident replaces it rather than adding one.
    await publisher.incident({ ...switchIncident('inc-0001', 0, 'node-a', 'node-b', switchTs - 40), outcome: 'aborted' });
    await until(() => view.snapshot().incidents[0]?.outcome === 'aborted', 3000, 'incident update');
    assert.equal(view.snapshot().incidents.length, 1);
  });

  it('ignores a will from an older session but takes the live session\'s will', async () => {
    await publisher.send(publisher.topics.node('node-c', 'state'), 'node-state', { state: 'offline', session: 's-old' }, true);
    await publisher.score('node-c', scoreFor('node-c', t0 + 30_000, 0.01, 0.01, [2], 0));
    await until(() => view.snapshot().nodes.find((n) => n.id === 'node-c')?.score !== null, 3000, 'node-c score');
    assert.equal(view.snapshot().nodes.find((n) => n.id === 'node-c')?.state, 'online');
    await publisher.send(publisher.topics.node('node-c', 'state'), 'node-state', { state: 'offline', session: 's-node-c' }, true);
    await until(() => view.snapshot().nodes.find((n) => n.id === 'node-c')?.state === 'offline', 3000, 'node-c offline');
  });
});

describe('dashboard cluster view without a broker', () => {
  it('rejects ready with BROKER_UNREACHABLE', async () => {
    const view = startClusterView({ brokerUrl: 'mqtt://127.0.0.1:1', cluster: CLUSTER, reconnectPeriodMs: 0, connectTimeoutMs: 2000, logger: silent });
    await assert.rejects(view.ready, (error: Error & { code?: string }) => error.code === 'BROKER_UNREACHABLE' && /127\.0\.0\.1:1/.test(error.message));
    await view.close();
  });
});
