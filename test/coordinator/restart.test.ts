// Proves that a restarted coordinator rebuilds its state from the retained routing table, the agents'
// births and their replica reports within seconds, finishes or undoes a switch its previous life left
// half done, and never starts a duplicate switch: restarts are injected at every step of a switch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replicaVerdict, restartVerdict } from '../../src/coordinator/recovery.js';
import type { ReplicaReport, RoutingShard } from '../../src/coordinator/types.js';
import { SimWorld } from './sim/world.js';

test('restart verdicts: keep or reopen a primary that still holds its epoch, fail over anything else', () => {
  const route: RoutingShard = { id: 0, epoch: 4, primary: 'a', shadows: ['b'], writes: 'paused', dataUrls: {}, available: true, extraShadows: [], recovering: [] };
  const report = (role: ReplicaReport['role'], epoch: number): ReplicaReport => ({ shard: 0, role, epoch, receivedLsn: 10, appliedLsn: 10 });
  assert.equal(restartVerdict(route, new Map([['a', report('primary', 4)]])), 'reopen', 'the fence of the half-done switch never landed');
  assert.equal(restartVerdict({ ...route, writes: 'open' }, new Map([['a', report('primary', 4)]])), 'keep');
  assert.equal(restartVerdict(route, new Map([['a', report('recovering', 5)]])), 'failover', 'fenced: complete the switch');
  assert.equal(restartVerdict(route, new Map([['a', report('primary', 4)], ['b', report('primary', 5)]])), 'failover', 'a newer promotion exists');
  assert.equal(restartVerdict(route, new Map()), 'failover', 'the primary did not answer');
  // A replica promoted at epoch 5 just before the coordinator stopped reported so once; the report
  // was cleared with the others when recovery asked again, and its answer did not come in time.
  assert.equal(restartVerdict({ ...route, writes: 'open' }, new Map([['a', report('primary', 4)]]), 5), 'failover', 'a newer primary reported earlier');
  assert.equal(restartVerdict({ ...route, writes: 'open' }, new Map([['a', report('primary', 4)]]), 4), 'keep');
  // A shadow fenced at 5 by a failover the previous life did not finish refuses the primary's
  // frames at 4: only a failover at a fresh epoch brings it back (simulator seed 771, churn mix).
  assert.equal(restartVerdict({ ...route, writes: 'open' }, new Map([['a', report('primary', 4)], ['b', report('recovering', 5)]])), 'failover');
  assert.equal(restartVerdict({ ...route, writes: 'open' }, new Map([['a', report('primary', 4)]]), 5), 'failover', 'an epoch reported earlier counts too');
  assert.equal(replicaVerdict({ ...route, writes: 'open' }, 'b', report('primary', 5)), 'failover', 'a running coordinator moves past a replica promoted beyond the routing epoch');
  assert.equal(replicaVerdict(route, 'a', report('recovering', 4)), 'failover');
  assert.equal(replicaVerdict(route, 'b', report('shadow', 3)), 'follow', 'a shadow that missed its follow');
  assert.equal(replicaVerdict(route, 'b', undefined), 'follow', 'a shadow that lost its replica');
  assert.equal(replicaVerdict(route, 'b', report('shadow', 4)), 'ok');
});

function degrading(seed: number): SimWorld {
  return new SimWorld({
    seed, nodes: 4, shards: 2, shadowsPerShard: 2, writeRate: 0.5, maxDelayMs: 200,
    scoreOf: (node, now) => (node === 'n0000' && now > 5_000 && now < 60_000 ? 0.9 : 0.05),
    coordinator: { rebalance: false, preReplicate: false, switchCooldownMs: 120_000 },
  });
}

test('a restart at any moment of a switch ends with one primary, writes open, and no second switch', () => {
  // Find when the undisturbed switch runs, then restart the coordinator at each 50 ms inside it.
  const reference = degrading(21);
  reference.runUntil(30_000);
  const incident = [...reference.incidents.values()].find((i) => i.kind === 'planned-switch')!;
  const opened = incident.openedAtMs;
  const closed = incident.closedAtMs!;
  assert.ok(closed > opened);
  const settleMs: number[] = [];
  for (let at = opened; at <= closed + 50; at += 50) {
    const world = degrading(21);
    world.runUntil(at);
    world.restartCoordinator();
    const restartedAt = at;
    let runningAt: number | null = null;
    for (let t = at + 100; t <= at + 30_000; t += 100) {
      world.runUntil(t);
      if (runningAt === null && world.core.isRunning && world.unsettled().length === 0) runningAt = t;
    }
    assert.deepEqual(world.unsettled(), [], `restart at ${at} ms`);
    settleMs.push(runningAt! - restartedAt);
    assert.ok(runningAt !== null && runningAt - restartedAt <= 12_000, `restart at ${at} ms settled within seconds (${runningAt! - restartedAt} ms)`);
    // The new life must not start a fresh planned switch of shard 0: it finishes or undoes the old one.
    const started = [...world.incidents.values()].filter((i) => i.shard === 0 && i.kind === 'planned-switch' && i.openedAtMs > restartedAt);
    assert.equal(started.length, 0, `restart at ${at} ms started a duplicate switch`);
  }
  console.log(`restart: ${settleMs.length} restarts inside one switch; simulated time to settle ${Math.min(...settleMs)}-${Math.max(...settleMs)} ms (commandMaxAgeMs 5000)`);
});

test('a restarted coordinator continues the routing version, which only goes up', () => {
  const world = degrading(22);
  const versions: number[] = [];
  for (let t = 1_000; t <= 40_000; t += 1_000) {
    world.runUntil(t);
    if (t % 7_000 === 0) world.restartCoordinator();
    if (world.retainedRouting) versions.push(world.retainedRouting.version);
  }
  for (let i = 1; i < versions.length; i++) assert.ok(versions[i]! >= versions[i - 1]!, `version went down: ${versions.join(',')}`);
  assert.ok(versions[versions.length - 1]! > versions[0]!);
});

test('a restart with no routing table anywhere rebuilds it from the replicas, where the shards last were', () => {
  // The broker lost its retained table and the coordinator its data directory. Shard 0 has switched
  // away from n0000 (epoch 2), so a freshly placed cluster would be refused; the reports tell where
  // every shard lives. Checked at several moments after the switch.
  for (const at of [25_000, 31_000, 47_000]) {
    const world = degrading(21);
    world.runUntil(at);
    const before = world.core.routing.get(0)!;
    assert.notEqual(before.primary, 'n0000', 'shard 0 switched away before the restart');
    world.retainedRouting = null;
    world.restartCoordinator();
    world.runUntil(at + 30_000);
    assert.deepEqual(world.unsettled(), [], `restart at ${at} ms`);
    const after = world.core.routing.get(0)!;
    assert.ok(after.epoch >= before.epoch, 'the epoch never goes back');
    assert.equal(after.primary, before.primary, 'shard 0 stays where it was, not where it was first placed');
    assert.ok(world.core.routing.get(1), 'every shard is back in routing');
  }
});

test('a restarted coordinator that loses its broker during recovery waits for it, then asks again; nothing fails over', () => {
  // Power comes back at a site: the coordinator restarts and its broker goes away again while it
  // waits for the replica reports it recovers from. Reports asked for in the outage never arrive; a
  // recovery run on none would fail over every shard. Cut before the ask (at 3 s) and just after it (5 s), with the answers on their way.
  for (const cutAfterMs of [3_000, 5_001]) {
    const world = new SimWorld({ seed: 8, nodes: 3, shards: 3, shadowsPerShard: 1, willDelayMs: 120_000, coordinator: { rebalance: false, preReplicate: false } });
    world.runUntil(8_000);
    assert.ok(world.core.isRunning);
    const primaries = (): (string | null)[] => [0, 1, 2].map((shard) => world.core.routing.get(shard)!.primary);
    const before = primaries();
    world.restartCoordinator();
    world.runUntil(8_000 + cutAfterMs);
    world.cutCoordinatorLink(15_000);
    world.runUntil(8_000 + cutAfterMs + 14_000);
    assert.equal(world.core.isRunning, false, `cut at ${cutAfterMs} ms: recovery waits for the link`);
    world.runUntil(8_000 + cutAfterMs + 40_000);
    assert.ok(world.core.isRunning, `cut at ${cutAfterMs} ms: recovery finished once the link was back`);
    const failovers = [...world.incidents.values()].filter((i) => i.kind === 'failover');
    assert.deepEqual(failovers.map((i) => i.reason), [], `cut at ${cutAfterMs} ms: no failover`);
    assert.deepEqual(primaries(), before);
    assert.deepEqual(world.unsettled(), []);
  }
});

test('after a broker outage, recovery asks for reports once every agent is back, not before', () => {
  // An agent that comes back late (here: hung until 8 s after the link returned, as one still in its
  // reconnect backoff would be) is waited for within the grace (the outage's length), and its shard
  // stays where it is; asked at once, it would miss the 6 s the asks are given and its shard would fail over.
  const world = new SimWorld({ seed: 8, nodes: 3, shards: 3, shadowsPerShard: 1, willDelayMs: 120_000, coordinator: { rebalance: false, preReplicate: false } });
  world.runUntil(8_000);
  const primaries = (): (string | null)[] => [0, 1, 2].map((shard) => world.core.routing.get(shard)!.primary);
  const before = primaries();
  world.restartCoordinator();
  world.runUntil(13_001);
  world.cutCoordinatorLink(15_000);
  world.runUntil(27_000);
  world.hangNode('n0001', 9_000);
  world.runUntil(60_000);
  assert.ok(world.core.isRunning);
  assert.deepEqual([...world.incidents.values()].filter((i) => i.kind === 'failover').map((i) => i.reason), []);
  assert.deepEqual(primaries(), before);
  assert.deepEqual(world.unsettled(), []);
});
