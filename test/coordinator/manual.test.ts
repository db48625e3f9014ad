// Proves operator control: a manual switch runs now (to a chosen shadow, ignoring the cool-down),
// bad requests fail with stable codes, and pausing automation stops automatic switches until it is
// resumed. Drives the core through the simulator's clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoordinatorError } from '../../src/coordinator/errors.js';
import { SimWorld } from './sim/world.js';

function cluster(scoreOf?: (node: string, now: number) => number): SimWorld {
  return new SimWorld({
    seed: 17, nodes: 4, shards: 2, shadowsPerShard: 2, ...(scoreOf ? { scoreOf } : {}),
    coordinator: { rebalance: false, preReplicate: false },
  });
}

function codeOf(body: () => void): string {
  try {
    body();
  } catch (error) {
    assert.ok(error instanceof CoordinatorError);
    return error.code;
  }
  return 'none';
}

test('switch(shard, toNode) runs a planned switch to that shadow now', () => {
  const world = cluster();
  assert.equal(codeOf(() => world.deliverToCoordinator({ kind: 'manual-switch', shard: 0 })), 'NOT_READY', 'not before recovery');
  world.runUntil(8_000);
  world.deliverToCoordinator({ kind: 'manual-switch', shard: 0, toNode: 'n0002' });
  world.runUntil(12_000);
  assert.equal(world.core.routing.get(0)!.primary, 'n0002');
  const incident = [...world.incidents.values()].find((i) => i.kind === 'planned-switch')!;
  assert.equal(incident.reason, 'requested by operator');
  world.deliverToCoordinator({ kind: 'manual-switch', shard: 0 });
  world.runUntil(16_000);
  assert.notEqual(world.core.routing.get(0)!.primary, 'n0002', 'a manual switch ignores the cool-down');
});

test('bad manual requests fail with stable codes', () => {
  const world = cluster();
  world.runUntil(8_000);
  assert.equal(codeOf(() => world.deliverToCoordinator({ kind: 'manual-switch', shard: 99 })), 'UNKNOWN_SHARD');
  assert.equal(codeOf(() => world.deliverToCoordinator({ kind: 'manual-switch', shard: 0, toNode: 'n0003' })), 'UNKNOWN_NODE');
  world.deliverToCoordinator({ kind: 'manual-switch', shard: 0 });
  assert.equal(codeOf(() => world.deliverToCoordinator({ kind: 'manual-switch', shard: 0 })), 'SHARD_BUSY');
});

test('pause-automation stops automatic switches; resume-automation lets them run', () => {
  const world = cluster((node, now) => (node === 'n0000' && now > 6_000 ? 0.95 : 0.05));
  world.runUntil(6_000);
  world.deliverToCoordinator({ kind: 'set-automation', paused: true });
  world.runUntil(20_000);
  assert.equal(world.core.stats.switchesStarted, 0);
  assert.equal(world.core.routing.get(0)!.primary, 'n0000');
  world.deliverToCoordinator({ kind: 'set-automation', paused: false });
  world.runUntil(25_000);
  assert.equal(world.core.stats.switchesStarted, 1);
  assert.notEqual(world.core.routing.get(0)!.primary, 'n0000');
});
