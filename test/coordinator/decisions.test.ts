// Proves the switch decision rules of DESIGN §3: N consecutive scores above the threshold (a dip
// resets the run), the per-shard cool-down, the cluster-wide limit on switches in flight, and the
// choice of the healthiest caught-up shadow; first on the pure leaves, then on a simulated cluster
// whose scores are scripted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coolDownAvoids, eligibleTargets, healthiestCaughtUp, highestReceived, nextStreak, switchBlock } from '../../src/coordinator/decisions.js';
import { resolveCoordinatorOptions } from '../../src/coordinator/options.js';
import { SimWorld } from './sim/world.js';

test('a run of scores above the threshold counts up, and one at or below it resets the run', () => {
  let streak = 0;
  for (const p of [0.9, 0.85, 0.8, 0.95, 0.99]) streak = nextStreak(streak, p, 0.8);
  assert.equal(streak, 2, '0.8 is not above 0.8, so the run restarts after it');
});

test('a switch waits for automation, an idle shard, the cool-down and the limit', () => {
  const options = resolveCoordinatorOptions({ switchCooldownMs: 1000, maxSwitchesInFlight: 2 });
  const base = { automationPaused: false, busy: false, lastSwitchMs: 0, lastSwitch: 'unknown' as const, nowMs: 5000, switchesInFlight: 0, options };
  assert.equal(switchBlock(base), null);
  assert.equal(switchBlock({ ...base, automationPaused: true }), 'automation-paused');
  assert.equal(switchBlock({ ...base, busy: true }), 'busy');
  assert.equal(switchBlock({ ...base, lastSwitchMs: 4500 }), 'cool-down', 'a shard a restart touched (no left node known) waits out the cool-down');
  assert.equal(switchBlock({ ...base, lastSwitchMs: 4500, lastSwitch: 'left' }), null, 'after a switch that left a, the cool-down only keeps the shard off a');
  assert.deepEqual([...coolDownAvoids({ ...base, leftAtMs: new Map([['a', 4500], ['b', 3000]]) })], ['a'], 'a was left within the cool-down, b before it');
  const retry = { ...base, options: resolveCoordinatorOptions({ switchCooldownMs: 1000, switchRetryMs: 300, maxSwitchesInFlight: 2 }) };
  assert.equal(switchBlock({ ...retry, lastSwitchMs: 4500, lastSwitch: 'stayed' }), null, 'a switch that stayed waits only switchRetryMs');
  assert.equal(switchBlock({ ...retry, lastSwitchMs: 4800, lastSwitch: 'stayed' }), 'cool-down');
  assert.equal(switchBlock({ ...base, switchesInFlight: 2 }), 'limit');
});

test('the target is the healthiest caught-up shadow, and a failover takes the most recent log', () => {
  const candidates = [
    { node: 'a', risk: 0.1, receivedLsn: 90 },
    { node: 'b', risk: 0.3, receivedLsn: 100 },
    { node: 'c', risk: 0.05 },
    { node: 'd', risk: 0.01, receivedLsn: 100 },
  ];
  assert.equal(healthiestCaughtUp(candidates, 100)?.node, 'd');
  assert.equal(healthiestCaughtUp(candidates.filter((c) => c.node !== 'd'), 100)?.node, 'b', 'caught up beats healthier but unknown');
  const cluster = { isOnline: (node: string) => node !== 'down', risk: (node: string) => (node === 'x' ? 0.9 : 0.1) };
  assert.deepEqual(eligibleTargets(['x', 'y', 'down', 'z'], new Set(['z']), cluster, 0.8), ['y'], 'a risky, dead or cooling-down shadow is no target');
  assert.equal(healthiestCaughtUp([], 100), null);
  const logs = [
    { node: 'a', risk: 0.1, receivedLsn: 120, lastEpoch: 3 },
    { node: 'b', risk: 0.1, receivedLsn: 100, lastEpoch: 4 },
    { node: 'c', risk: 0.0, receivedLsn: 100, lastEpoch: 4 },
  ];
  assert.equal(highestReceived(logs)?.node, 'c', 'a newer epoch beats a longer old tail; ties go to the healthier node');
});

/** A calm cluster of 4 nodes with 4 shards (primary i on node i) whose scores follow `scoreOf`. */
function scripted(scoreOf: (node: string, nowMs: number) => number, options = {}): SimWorld {
  return new SimWorld({
    seed: 7, nodes: 4, shards: 4, shadowsPerShard: 1, writeRate: 0.2,
    scoreOf, coordinator: { rebalance: false, preReplicate: false, switchCooldownMs: 20_000, ...options },
  });
}

test('hysteresis: scores that dip below the threshold never switch; three in a row do', () => {
  const pattern = [0.9, 0.9, 0.5];
  const world = scripted((node, now) => (node === 'n0000' ? pattern[Math.floor(now / 1000) % 3]! : 0.05));
  world.runUntil(30_000);
  assert.equal(world.core.stats.switchesStarted, 0, 'two high scores then a dip, repeated, must not switch');
  const steady = scripted((node, now) => (node === 'n0000' && now > 10_000 ? 0.9 : 0.05));
  steady.runUntil(30_000);
  assert.equal(steady.core.stats.switchesStarted, 1);
  const incident = [...steady.incidents.values()].find((i) => i.kind === 'planned-switch')!;
  assert.equal(incident.outcome.result, 'switched');
  assert.equal(incident.fromNode, 'n0000');
  assert.ok(incident.timeline.scores.filter((s) => s.p > 0.8).length >= 3, 'the timeline holds the scores that drove it');
});

test('cool-down: a shard whose new primary also degrades waits out the cool-down before going back to the node it left', () => {
  // Two nodes. n0000 degrades at 10 s, so shard 0 moves to n0001; n0001 degrades at 20 s while
  // n0000 recovers (and rejoins as a shadow), so shard 0 wants to move back at once, but must wait 30 s.
  const world = new SimWorld({
    seed: 7, nodes: 2, shards: 2, shadowsPerShard: 1, writeRate: 0.2,
    scoreOf: (node, now) => {
      if (node === 'n0000') return now > 10_000 && now < 20_000 ? 0.9 : 0.05;
      return now > 20_000 ? 0.9 : 0.05;
    },
    coordinator: { rebalance: false, preReplicate: false, switchCooldownMs: 30_000 },
  });
  world.runUntil(90_000);
  const shard0 = [...world.incidents.values()]
    .filter((i) => i.shard === 0 && i.kind === 'planned-switch' && i.outcome.result === 'switched')
    .sort((a, b) => a.openedAtMs - b.openedAtMs);
  assert.equal(shard0.length, 2, 'shard 0 switched away, then back once the cool-down was over');
  assert.ok(shard0[1]!.openedAtMs - shard0[0]!.closedAtMs! >= 30_000, 'the second switch waited out the cool-down');
  assert.ok(shard0[1]!.openedAtMs < 20_000 + 30_000 + 5_000, 'and did not wait much longer than that');
});

test('cool-down: a new primary that degrades within the cool-down is left at once for another node, never for one the shard left', () => {
  // Three nodes, every shard on all three. n0000 degrades at 10 s (for good), so shard 0 leaves it;
  // from 20 s on, whichever node is shard 0's primary scores high (as if the shard's own load sank
  // each node it lands on), well inside the 60 s cool-down. The shard must not wait out the
  // cool-down on a degrading node when a third, healthy node holds a shadow; and it must then stay
  // there rather than go back to a node it left within the cool-down: two switches, not a ping-pong.
  let world: SimWorld | undefined = undefined;
  world = new SimWorld({
    seed: 11, nodes: 3, shards: 3, shadowsPerShard: 2, writeRate: 0.2,
    scoreOf: (node, now) => {
      if (node === 'n0000') return now > 10_000 && now < 60_000 ? 0.9 : 0.05;
      if (node === world?.core.routing.get(0)?.primary && now > 20_000 && now < 60_000) return 0.9;
      return 0.05;
    },
    coordinator: { rebalance: false, preReplicate: false, switchCooldownMs: 60_000 },
  });
  world.runUntil(20_000);
  const second = world.core.routing.get(0)!.primary!;
  assert.notEqual(second, 'n0000', 'shard 0 left n0000');
  // n0000 stays unhealthy, so it does not rejoin as a shadow, and
  // without care the second switch would leave the new primary with no shadow at all: no write
  // could be acknowledged. The node just left stays as the shadow instead.
  let leastShadows = Infinity;
  for (let t = 20_000; t <= 55_000; t += 100) {
    world.runUntil(t);
    const route = world.core.routing.get(0)!;
    if (route.writes === 'open') leastShadows = Math.min(leastShadows, route.shadows.length);
  }
  assert.ok(leastShadows >= 1, 'shard 0 always kept a shadow to acknowledge its writes');
  const shard0 = [...world.incidents.values()]
    .filter((i) => i.shard === 0 && i.kind === 'planned-switch' && i.outcome.result === 'switched')
    .sort((a, b) => a.openedAtMs - b.openedAtMs);
  assert.equal(shard0.length, 2, `shard 0 switched twice, then stayed (${shard0.map((i) => `${i.fromNode}→${i.toNode}`).join(' ')})`);
  assert.equal(shard0[1]!.fromNode, second);
  assert.ok(shard0[1]!.openedAtMs < 25_000, `the second switch did not wait for the cool-down (opened at ${shard0[1]!.openedAtMs} ms)`);
  const third = world.core.routing.get(0)!.primary!;
  assert.ok(third !== 'n0000' && third !== second, `shard 0 went to the third node, not back to the one it left (${third})`);
});

test('limit: never more than maxSwitchesInFlight planned switches at once, and every risky shard still switches', () => {
  const world = new SimWorld({
    seed: 3, nodes: 8, shards: 8, shadowsPerShard: 1, maxDelayMs: 300,
    scoreOf: (node, now) => (now > 8_000 && ['n0000', 'n0002', 'n0004', 'n0006'].includes(node) ? 0.95 : 0.05),
    coordinator: { rebalance: false, preReplicate: false, maxSwitchesInFlight: 1 },
  });
  let most = 0;
  for (let t = 100; t <= 60_000; t += 100) {
    world.runUntil(t);
    most = Math.max(most, world.core.switchesInFlight);
  }
  assert.equal(most, 1);
  for (const shard of [0, 2, 4, 6]) {
    const route = world.core.routing.get(shard)!;
    assert.notEqual(route.primary, `n000${shard}`, `shard ${shard} left its risky primary`);
  }
});
