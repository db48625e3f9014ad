// Proves pre-replication (log anticipation): a node whose failure probability reaches the threshold
// gets an extra shadow on a low-risk node for each shard it serves; the extra shadows go once its risk
// stayed low for the cool-down; and with pre-replication off nothing is added. Scores are scripted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimWorld } from './sim/world.js';

/** n0001 is risky (0.6: above pre-replication, below switching) from 5 s to 25 s. */
function riskyWindow(preReplicate: boolean): SimWorld {
  return new SimWorld({
    seed: 31, nodes: 6, shards: 6, shadowsPerShard: 1, writeRate: 0.3,
    scoreOf: (node, now) => (node === 'n0001' && now > 5_000 && now < 25_000 ? 0.6 : node === 'n0005' ? 0.7 : 0.05),
    coordinator: { preReplicate, preReplicateCooldownMs: 10_000, rebalance: false, maxMovesInFlight: 8 },
  });
}

test('a risky node gets an extra shadow on a low-risk node for each of its shards, removed after the cool-down', () => {
  const world = riskyWindow(true);
  world.runUntil(20_000);
  const served = world.core.routing.ids().filter((id) => {
    const route = world.core.routing.get(id)!;
    return route.primary === 'n0001' || route.shadows.filter((n) => !route.extraShadows.includes(n)).includes('n0001');
  });
  assert.equal(served.length, 2, 'n0001 serves shards 0 and 1');
  for (const id of served) {
    const route = world.core.routing.get(id)!;
    assert.equal(route.extraShadows.length, 1, `shard ${id} has an extra shadow`);
    const extra = route.extraShadows[0]!;
    assert.notEqual(extra, 'n0001');
    assert.notEqual(extra, 'n0005', 'never on a risky node');
    assert.equal(world.agents.get(extra)!.replicas.get(id)?.role, 'shadow', 'the extra shadow really follows the primary');
  }
  world.runUntil(30_000);
  assert.ok(world.core.routing.ids().some((id) => world.core.routing.get(id)!.extraShadows.length > 0), 'kept during the cool-down');
  world.runUntil(50_000);
  for (const id of served) {
    assert.deepEqual(world.core.routing.get(id)!.extraShadows, [], `shard ${id} extra shadow removed`);
    assert.equal(world.core.routing.get(id)!.shadows.length, 1, 'back to one shadow');
  }
  for (const id of [4, 5]) assert.equal(world.core.routing.get(id)!.extraShadows.length, 1, `shard ${id} keeps its extra shadow: n0005 stays risky`);
  assert.deepEqual(world.unsettled(), []);
});

test('with pre-replication off, a risky node changes nothing', () => {
  const world = riskyWindow(false);
  world.runUntil(30_000);
  for (const id of world.core.routing.ids()) {
    assert.deepEqual(world.core.routing.get(id)!.extraShadows, []);
    assert.equal(world.core.routing.get(id)!.shadows.length, 1);
  }
  assert.equal(world.core.stats.movesStarted, 0);
});
