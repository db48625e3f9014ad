// Proves the decision core scales: 1,000 simulated nodes and 10,000 shards (20,000 replicas), with
// nodes degrading into planned switches and some crashing into failovers, run for 40 simulated seconds
// in seconds. It reports the decision time per score update; only completion is asserted (timings
// belong to benchmarks, not to pass/fail).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimWorld } from './sim/world.js';

test('1,000 nodes and 10,000 shards: 40 simulated seconds of scores, switches and failovers', () => {
  const started = process.hrtime.bigint();
  const world = new SimWorld({
    seed: 1000, nodes: 1000, shards: 10_000, shadowsPerShard: 1, writeRate: 0, check: false,
    degradeRatePerS: 1, crashRatePerS: 0.2, tickMs: 100, maxDelayMs: 50,
    coordinator: { maxSwitchesInFlight: 64, maxMovesInFlight: 64, switchCooldownMs: 60_000 },
  });
  world.runUntil(40_000);
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const perScoreUs = Number(world.stats.scoreHandleNs) / 1e3 / world.stats.scoreUpdates;
  const stats = world.core.stats;
  console.log(
    `scale: 1000 nodes, 10000 shards, 40 s simulated in ${(wallMs / 1000).toFixed(1)} s wall; ` +
      `${world.stats.scoreUpdates} score updates, ${perScoreUs.toFixed(1)} µs decision time per score update (mean); ` +
      `${stats.switchesStarted} switches, ${stats.failoversStarted} failovers, ${stats.movesStarted} replica moves, ` +
      `${world.stats.routingPublished} routing versions, ${world.stats.crashes} crashes`,
  );
  assert.ok(world.stats.scoreUpdates > 35_000, 'every node scored every second');
  assert.ok(stats.switchesStarted > 0 && stats.failoversStarted > 0, 'the run exercised switches and failovers');
  const routing = world.core.routing;
  const paused = routing.ids().filter((id) => routing.get(id)!.writes !== 'open').length;
  assert.ok(paused < 200, `most shards serve writes at the end (${paused} paused)`);
});
