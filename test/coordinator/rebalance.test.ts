// Proves rebalancing converges: from a skewed placement (every primary on one node, every shadow on
// another) replicas and primaries spread evenly over the nodes within the limit of moves in flight,
// then moves stop; and no replica is ever moved onto a node at or above the risk threshold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterMap, RoutingTable } from '../../src/coordinator/index.js';
import { loadSpread, planRebalance } from '../../src/coordinator/rebalance.js';
import { SimWorld } from './sim/world.js';

function skewed(seed: number): SimWorld {
  return new SimWorld({
    seed, nodes: 6, shards: 24, shadowsPerShard: 1, writeRate: 0.2, lossRate: 0.05, maxDelayMs: 100,
    placement: () => ['n0000', 'n0001'],
    // n0005 is risky throughout: nothing may move onto it.
    scoreOf: (node) => (node === 'n0005' ? 0.6 : 0.05),
    // A 10 s heartbeat timeout: at 5% loss, three lost samples in a row (the default 3 s) happen
    // now and then, and the failover they start would be followed by moves of its own.
    coordinator: { preReplicate: false, rebalanceIntervalMs: 2_000, maxMovesInFlight: 3, switchCooldownMs: 10_000, heartbeatTimeoutMs: 10_000 },
  });
}

test('a skewed placement converges to an even spread, then stops moving', () => {
  for (const seed of [1, 2, 3]) {
    const world = skewed(seed);
    let mostMoves = 0;
    for (let t = 100; t <= 240_000; t += 100) {
      world.runUntil(t);
      mostMoves = Math.max(mostMoves, world.core.movesInFlight);
    }
    assert.ok(mostMoves <= 3, 'moves in flight stayed within the limit');
    const startedBefore = world.core.stats.movesStarted + world.core.stats.switchesStarted;
    world.runUntil(300_000);
    assert.equal(world.core.stats.movesStarted + world.core.stats.switchesStarted, startedBefore, `seed ${seed}: converged, no more moves`);
    // n0005 holds nothing, so spreads are measured over the five eligible nodes.
    const onRisky = world.core.routing.shardsOn('n0005').size;
    assert.equal(onRisky, 0, 'nothing moved onto the risky node');
    const eligible = ['n0000', 'n0001', 'n0002', 'n0003', 'n0004'];
    const replicas = eligible.map((n) => world.core.routing.shardsOn(n).size);
    const primaries = eligible.map((n) => world.core.routing.ids().filter((id) => world.core.routing.get(id)!.primary === n).length);
    console.log(`rebalance seed ${seed}: replicas per node ${replicas.join('/')}, primaries per node ${primaries.join('/')} after ${startedBefore} moves and switches`);
    assert.ok(Math.max(...replicas) - Math.min(...replicas) <= 2, `replicas ${replicas}`);
    assert.ok(Math.max(...primaries) - Math.min(...primaries) <= 1, `primaries ${primaries}`);
    assert.deepEqual(world.unsettled(), []);
  }
});

test('loadSpread measures the spread over online nodes', () => {
  const world = skewed(4);
  world.runUntil(6_000);
  const spread = loadSpread(world.core.routing, world.core.cluster);
  assert.deepEqual(spread, { replicas: 24, primaries: 24 }, 'before any move: 24 replicas on n0000 and none on n0002');
});

test('a pass counts the moves already under way, so it does not plan the same correction twice', () => {
  // Primaries a:3, b:1, c:2. One switch from a to b evens them; planned again while that switch is
  // still promoting (slow messages make it outlast a pass), it overshot to a:1, b:3, and the next
  // passes moved primaries back and forth for ever (storm-slow seeds 3, 8 and 21).
  const routing = new RoutingTable();
  const placement: [string, string][] = [['a', 'b'], ['a', 'b'], ['a', 'c'], ['b', 'c'], ['c', 'a'], ['c', 'b']];
  placement.forEach(([primary, shadow], id) => routing.create({ id, epoch: 1, primary, shadows: [shadow], writes: 'open', dataUrls: { [primary]: '', [shadow]: '' }, available: true, extraShadows: [], recovering: [] }));
  const cluster = new ClusterMap(16);
  for (const node of ['a', 'b', 'c']) cluster.birth(node, { state: 'online', session: `${node}-1`, ts: 0, version: 'test', profile: 'test', dataUrl: '' }, 0);
  const input = { routing, cluster, budget: 3, maxTargetRisk: 0.5 };
  const first = planRebalance({ ...input, busy: () => false });
  assert.deepEqual(first.map((move) => [move.kind, move.to]), [['move-primary', 'b']], 'one switch evens the primaries');
  const shard = first[0]!.shard;
  const again = planRebalance({ ...input, busy: (id) => id === shard, inFlight: [{ kind: 'move-primary', from: 'a', to: 'b' }] });
  assert.deepEqual(again, [], 'with that switch under way, nothing more');
  const blind = planRebalance({ ...input, busy: (id) => id === shard });
  assert.equal(blind.length, 1, 'without counting it, a second switch off a would be planned');
});
