// Proves that no two replicas of a shard ever accept writes at the newest epoch and that no
// acknowledged write is lost, by running hundreds of seeded simulations with message loss, delay and
// duplication, agent crashes, agent hangs (stopped, then resumed), degrading hosts, coordinator restarts and
// cuts of the coordinator's broker connection, checking at every simulated
// instant; each run then calms down and must settle with every shard open on one primary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimWorld, SimViolation, type SimConfig } from './sim/world.js';

const seeds = Number(process.env.FORESHARD_SIM_SEEDS ?? 250);
const firstSeed = Number(process.env.FORESHARD_SIM_SEED ?? 1);

function runSeed(seed: number, overrides: Partial<SimConfig> = {}): SimWorld {
  const world = new SimWorld({
    seed,
    nodes: 5,
    shards: 6,
    shadowsPerShard: seed % 3 === 0 ? 2 : 1,
    lossRate: 0.1,
    duplicateRate: 0.1,
    maxDelayMs: 400,
    crashRatePerS: 0.05,
    // Hangs: a stopped agent keeps its replicas and resumes where it was. Its will comes before the
    // heartbeat timeout on odd seeds (Aedes with a 1 s keepalive) and after it on even ones (Mosquitto).
    hangRatePerS: 0.05,
    hangMaxMs: 8_000,
    willDelayMs: seed % 2 === 1 ? 1_500 : 6_000,
    degradeRatePerS: 0.1,
    coordinatorRestartRatePerS: 0.02,
    // The coordinator's own broker connection drops (a broker restart, a partition) for up to 10 s.
    linkCutRatePerS: 0.02,
    linkCutMaxMs: 10_000,
    coordinator: { switchCooldownMs: 5_000, heartbeatTimeoutMs: 3_500, preReplicateCooldownMs: 5_000, rebalanceIntervalMs: 3_000 },
    ...overrides,
  });
  world.runUntil(45_000);
  world.calm();
  world.runUntil(80_000);
  return world;
}

test(`never two primaries, no acknowledged write lost (${seeds} seeds)`, () => {
  const totals = { acked: 0, crashes: 0, hangs: 0, restarts: 0, linkCuts: 0, switches: 0, failovers: 0, incidents: 0 };
  for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
    let world: SimWorld;
    try {
      world = runSeed(seed);
    } catch (error) {
      if (error instanceof SimViolation) console.log(`FAILED seed ${seed}: rerun with FORESHARD_SIM_SEED=${seed} FORESHARD_SIM_SEEDS=1`);
      throw error;
    }
    const unsettled = world.unsettled();
    if (unsettled.length > 0) console.log(`FAILED seed ${seed} did not settle: rerun with FORESHARD_SIM_SEED=${seed} FORESHARD_SIM_SEEDS=1`);
    assert.deepEqual(unsettled, [], `seed ${seed}`);
    totals.acked += world.stats.writesAcked;
    totals.crashes += world.stats.crashes;
    totals.hangs += world.stats.hangs;
    totals.restarts += world.stats.coordinatorRestarts;
    totals.linkCuts += world.stats.linkCuts;
    totals.incidents += world.incidents.size;
  }
  console.log(`never-two-primaries: ${seeds} seeds, ${totals.acked} acknowledged writes, ${totals.crashes} agent crashes, ${totals.hangs} agent hangs, ${totals.restarts} coordinator restarts, ${totals.linkCuts} coordinator link cuts, ${totals.incidents} incidents`);
  // Over a whole run every fault must happen (one seed rerun alone may miss some).
  if (seeds >= 50) assert.ok(totals.crashes > 0 && totals.hangs > 0 && totals.restarts > 0 && totals.linkCuts > 0 && totals.incidents > 0, 'the faults must actually happen');
});

/** Runs `seeds` with `overrides`; every one must keep the properties and settle. */
function runMix(name: string, seeds: readonly number[], overrides: Partial<SimConfig>): void {
  for (const seed of seeds) {
    let world: SimWorld;
    try {
      world = runSeed(seed, overrides);
    } catch (error) {
      if (error instanceof SimViolation) console.log(`FAILED ${name} seed ${seed}`);
      throw error;
    }
    assert.deepEqual(world.unsettled(), [], `${name} seed ${seed}`);
  }
}

test('never two primaries, no acknowledged write lost, with fast decisions, three nodes and long hangs, quick wills, or churn (205 seeds)', () => {
  // Faster degradation with a 1 s rebalance interval and 2 s cool-downs; and three nodes with one
  // shadow and hangs up to 12 s. Seeds 153, 2947 and 2888 found a failover counting as silence the
  // coordinator's own broker outage: a shadow that hung during it, its will retained, was taken
  // for gone at once on reconnect and passed over with the only copy of acknowledged writes.
  runMix('fast', [...Array.from({ length: 50 }, (_, i) => 101 + i), 153, 2947], {
    degradeRatePerS: 0.3, linkCutRatePerS: 0.04,
    coordinator: { switchCooldownMs: 2_000, heartbeatTimeoutMs: 3_000, preReplicateCooldownMs: 2_000, rebalanceIntervalMs: 1_000 },
  });
  runMix('three-node', [...Array.from({ length: 50 }, (_, i) => 2851 + i), 2888], { nodes: 3, shards: 4, shadowsPerShard: 1, hangMaxMs: 12_000, linkCutRatePerS: 0.03 });
  // Wills 0.5 s after a stop and a 2 s heartbeat timeout. Seed 1890 found a follow that reached a
  // new shadow after the failover's fence (NO_REPLICA then): created at the old epoch, it let the
  // old primary's writes be acknowledged (agents now keep the epoch of a fence for an absent shard).
  // Twice the crashes and hangs, 3 s restarts, twelve shards. Seed 771 found a coordinator life that
  // promoted a replica and stopped before publishing it; the next one, never hearing of it, reopened
  // the old primary, whose shadows the unfinished failover had fenced at a higher epoch. Seed 3498
  // found a shadow dropped because another was as long, though that one's tail was of an older epoch;
  // seed 2017 a stale primary listed as a shadow that a removal kept polling and nothing made rejoin.
  runMix('churn', [...Array.from({ length: 50 }, (_, i) => 751 + i), 2017, 3498], { crashRatePerS: 0.1, hangRatePerS: 0.1, restartAfterMs: 3000, linkCutRatePerS: 0.03, shards: 12 });
  runMix('quick-wills', [...Array.from({ length: 50 }, (_, i) => 1851 + i)], {
    willDelayMs: 500, hangMaxMs: 4_000, linkCutRatePerS: 0.03,
    coordinator: { switchCooldownMs: 5_000, heartbeatTimeoutMs: 2_000, preReplicateCooldownMs: 5_000, rebalanceIntervalMs: 3_000 },
  });
});

test('never two primaries, no acknowledged write lost, with hangs of up to 15 s and wills up to 10 s late (101 seeds)', () => {
  // Four nodes, so more shards share each one; the will comes 10 s after a hang on odd seeds (an
  // agent at its default 10 s keep-alive on Mosquitto), long after the heartbeat timeout. Seed 2656
  // found a restarted coordinator forgetting a newer primary when the broker sent it the retained
  // routing table again on reconnect; seed 3642 a node asked for a report while offline and never
  // asked again, so a stale promotion it carried out late was never undone (docs/e2e.md).
  let acked = 0;
  for (const seed of [...Array.from({ length: 100 }, (_, i) => 2601 + i), 3642]) {
    let world: SimWorld;
    try {
      world = runSeed(seed, { nodes: 4, hangMaxMs: 15_000, willDelayMs: seed % 2 === 1 ? 10_000 : 2_000, linkCutRatePerS: 0.03 });
    } catch (error) {
      if (error instanceof SimViolation) console.log(`FAILED long-hang seed ${seed}`);
      throw error;
    }
    assert.deepEqual(world.unsettled(), [], `long-hang seed ${seed}`);
    acked += world.stats.writesAcked;
  }
  assert.ok(acked > 0);
});
