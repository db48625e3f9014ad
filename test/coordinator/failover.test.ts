// Proves unplanned failover: when a primary's node dies (its will arrives, or its heartbeats stop
// first) the shadow with the most recent log becomes primary and no acknowledged write is lost; a
// shard with no shadow is marked unavailable with an incident, and comes back when its node does.
// Runs on the simulator, whose checker verifies every promotion holds every acknowledged write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimWorld } from './sim/world.js';

function crashAt(world: SimWorld, node: string, atMs: number, restartAfterMs = 60_000): void {
  world.runUntil(atMs);
  world.config.restartAfterMs = restartAfterMs;
  world.crashNode(node);
}

test('a dead primary is replaced by the shadow with the most recent log, without losing an acknowledged write', () => {
  // Two shadows that lag differently: the failover must pick the one that received most.
  const world = new SimWorld({ seed: 5, nodes: 4, shards: 3, shadowsPerShard: 2, writeRate: 0.9, lagRate: 0.5, coordinator: { rebalance: false, preReplicate: false } });
  crashAt(world, 'n0000', 20_000);
  const lsns = new Map([...world.agents.values()].filter((a) => a.up).map((a) => [a.name, a.replicas.get(0)?.log.length ?? -1]));
  world.runUntil(40_000);
  const route = world.core.routing.get(0)!;
  assert.notEqual(route.primary, 'n0000');
  assert.equal(route.writes, 'open');
  const best = Math.max(...[...lsns.values()]);
  assert.equal(lsns.get(route.primary!), best, 'the promoted shadow had the highest received lsn');
  const incident = [...world.incidents.values()].find((i) => i.shard === 0 && i.kind === 'failover')!;
  assert.equal(incident.outcome.result, 'failed-over');
  assert.match(incident.reason, /will|heartbeats/);
  assert.ok(world.stats.writesAcked > 100);
});

test('heartbeats that stop are enough to start a failover, before any will', () => {
  const world = new SimWorld({ seed: 6, nodes: 3, shards: 3, shadowsPerShard: 1, willDelayMs: 30_000, coordinator: { heartbeatTimeoutMs: 3_000, rebalance: false, preReplicate: false } });
  crashAt(world, 'n0001', 10_000);
  world.runUntil(25_000);
  const incident = [...world.incidents.values()].find((i) => i.kind === 'failover');
  assert.ok(incident, 'a failover started, and its incident is published while open');
  assert.equal(incident.outcome.result, 'open');
  assert.match(incident.reason, /heartbeats/);
  // The suspect primary may still be writing, so the promotion waits for its will.
  assert.equal(world.core.routing.get(1)!.writes, 'paused');
  world.runUntil(45_000);
  assert.equal(world.core.routing.get(1)!.writes, 'open');
  assert.notEqual(world.core.routing.get(1)!.primary, 'n0001');
});

test('a shard with no shadow is marked unavailable, with an incident, and returns with its node', () => {
  const world = new SimWorld({ seed: 8, nodes: 3, shards: 3, shadowsPerShard: 0, coordinator: { rebalance: false, preReplicate: false, shadowsPerShard: 0 } });
  crashAt(world, 'n0002', 10_000, 20_000);
  world.runUntil(20_000);
  const route = world.core.routing.get(2)!;
  assert.equal(route.available, false);
  assert.equal(route.primary, null);
  assert.equal(route.writes, 'paused');
  const incident = [...world.incidents.values()].find((i) => i.kind === 'unavailable');
  assert.ok(incident, 'an incident says the shard is unavailable');
  assert.equal(incident.shard, 2);
  assert.equal(incident.outcome.result, 'unavailable');
  world.runUntil(45_000);
  const back = world.core.routing.get(2)!;
  assert.equal(back.available, true);
  assert.equal(back.primary, 'n0002');
  assert.equal(back.writes, 'open');
  assert.deepEqual(world.unsettled(), []);
});
