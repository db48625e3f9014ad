// Proves a coordinator with no retained routing table creates the cluster: it places shardCount
// shards round-robin once enough nodes are up, promotes each primary at epoch 1, makes the shadows
// follow, opens writes, and the result survives message loss and a coordinator restart mid-way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planInitialPlacement } from '../../src/coordinator/placement.js';
import { SimWorld } from './sim/world.js';

test('placement is round-robin on distinct nodes, and needs enough nodes', () => {
  const nodes = ['a', 'b', 'c'].map((name) => ({ name, dataUrl: `ws://${name}` }));
  const shards = planInitialPlacement(4, 1, nodes)!;
  assert.deepEqual(shards.map((s) => [s.primary, ...s.shadows]), [['a', 'b'], ['b', 'c'], ['c', 'a'], ['a', 'b']]);
  assert.ok(shards.every((s) => s.epoch === 1 && s.writes === 'paused'));
  assert.equal(planInitialPlacement(4, 3, nodes), null);
});

test('a new cluster is created, opened, and survives loss and a coordinator restart', () => {
  const world = new SimWorld({ seed: 19, nodes: 5, shards: 10, shadowsPerShard: 2, createCluster: true, lossRate: 0.1, maxDelayMs: 200, coordinator: { rebalance: false } });
  world.runUntil(5_300);
  world.restartCoordinator();
  world.runUntil(30_000);
  assert.deepEqual(world.unsettled(), []);
  for (const id of world.core.routing.ids()) {
    const route = world.core.routing.get(id)!;
    assert.equal(route.shadows.length, 2);
    for (const shadow of route.shadows) assert.equal(world.agents.get(shadow)!.replicas.get(id)?.role, 'shadow', `shard ${id} shadow ${shadow}`);
  }
  assert.ok(world.stats.writesAcked > 0, 'clients write to the new cluster');
});
