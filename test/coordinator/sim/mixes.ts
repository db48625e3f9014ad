/**
 * The fault mixes of the property test (test/coordinator/never-two-primaries.test.ts) and of
 * scripts/sim-sweep.mjs, in one place: the base settings every seed runs with, and each named mix's
 * changes to them. docs/e2e.md ("Eleventh session") says what each mix found.
 */
import { SimWorld, type SimConfig } from './world.js';

/** The base settings for `seed`. */
export function baseSimConfig(seed: number): Partial<SimConfig> {
  return {
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
  };
}

/** Each named mix's changes to the base settings, for a seed. */
export const SIM_MIXES: Readonly<Record<string, (seed: number) => Partial<SimConfig>>> = Object.freeze({
  default: () => ({}),
  'no-cuts': () => ({ linkCutRatePerS: 0 }),
  'two-shadows': () => ({ shadowsPerShard: 2, linkCutRatePerS: 0.05 }),
  // Four nodes; the will comes 10 s after a hang on odd seeds (an agent at its default 10 s
  // keep-alive on Mosquitto), long after the heartbeat timeout.
  'long-hang': (seed) => ({ nodes: 4, hangMaxMs: 15_000, willDelayMs: seed % 2 === 1 ? 10_000 : 2_000, linkCutRatePerS: 0.03 }),
  lossy: () => ({ lossRate: 0.3, duplicateRate: 0.2, maxDelayMs: 1500, coordinatorRestartRatePerS: 0.05 }),
  'heavy-cuts': () => ({ linkCutRatePerS: 0.1, coordinatorRestartRatePerS: 0.05, lossRate: 0.2, shadowsPerShard: 2 }),
  fast: () => ({ degradeRatePerS: 0.3, linkCutRatePerS: 0.04, coordinator: { switchCooldownMs: 2_000, heartbeatTimeoutMs: 3_000, preReplicateCooldownMs: 2_000, rebalanceIntervalMs: 1_000 } }),
  'three-node': () => ({ nodes: 3, shards: 4, shadowsPerShard: 1, hangMaxMs: 12_000, linkCutRatePerS: 0.03 }),
  'quick-wills': () => ({ willDelayMs: 500, hangMaxMs: 4_000, linkCutRatePerS: 0.03, coordinator: { switchCooldownMs: 5_000, heartbeatTimeoutMs: 2_000, preReplicateCooldownMs: 5_000, rebalanceIntervalMs: 3_000 } }),
  churn: () => ({ crashRatePerS: 0.1, hangRatePerS: 0.1, restartAfterMs: 3000, linkCutRatePerS: 0.03, shards: 12 }),
  // The coordinator creates the cluster on empty agents while the faults already run.
  created: () => ({ createCluster: true }),
  // Every message takes 0.5 to 3 s, near the step timeout; shadows lag often.
  slow: () => ({ minDelayMs: 500, maxDelayMs: 3_000, lagRate: 0.6 }),
  // Eight nodes, 24 shards with two shadows each.
  big: () => ({ nodes: 8, shards: 24, shadowsPerShard: 2 }),
  // Every shard starts on two nodes, so rebalancing moves replicas all through the faults.
  moves: () => ({ shards: 12, placement: (_shard, nodes) => [nodes[0]!, nodes[1]!], coordinator: { switchCooldownMs: 5_000, heartbeatTimeoutMs: 3_500, preReplicateCooldownMs: 5_000, rebalanceIntervalMs: 1_000, maxMovesInFlight: 4 } }),
  // Nodes degrade three times as often: planned switches, pre-replication and its removals throughout.
  // Everything at once: a created cluster (even seeds) or a skewed placement to rebalance (odd
  // seeds), two shadows, loss and slow messages, crashes, long hangs, degrading hosts, restarts and cuts.
  storm: (seed) => ({
    shards: 10, shadowsPerShard: 2, createCluster: seed % 2 === 0,
    ...(seed % 2 === 1 ? { placement: (_shard: number, nodes: readonly string[]) => [nodes[0]!, nodes[1]!, nodes[2]!] } : {}),
    lossRate: 0.2, duplicateRate: 0.15, minDelayMs: 50, maxDelayMs: 1_500, lagRate: 0.4,
    crashRatePerS: 0.06, hangRatePerS: 0.06, hangMaxMs: 12_000, willDelayMs: seed % 3 === 0 ? 8_000 : 1_500,
    degradeRatePerS: 0.2, coordinatorRestartRatePerS: 0.03, linkCutRatePerS: 0.04,
    coordinator: { switchCooldownMs: 3_000, heartbeatTimeoutMs: 3_500, preReplicateCooldownMs: 3_000, rebalanceIntervalMs: 1_500, maxMovesInFlight: 3 },
  }),
  // The storm on a lean cluster: four nodes, one shadow per shard (the only copy of an
  // acknowledged write besides the primary), fast decisions and quick wills.
  'storm-lean': (seed) => ({
    nodes: 4, shards: 8, shadowsPerShard: 1, createCluster: seed % 2 === 0,
    lossRate: 0.2, duplicateRate: 0.15, minDelayMs: 20, maxDelayMs: 1_000, lagRate: 0.4,
    crashRatePerS: 0.06, hangRatePerS: 0.06, hangMaxMs: 10_000, willDelayMs: seed % 3 === 0 ? 6_000 : 500,
    degradeRatePerS: 0.25, coordinatorRestartRatePerS: 0.03, linkCutRatePerS: 0.04,
    coordinator: { switchCooldownMs: 2_000, heartbeatTimeoutMs: 2_500, preReplicateCooldownMs: 2_000, rebalanceIntervalMs: 1_000, maxMovesInFlight: 2 },
  }),
  // The storm on eight nodes and 24 shards; and the storm with messages of 0.5 to 3 s.
  'storm-big': (seed) => ({ ...SIM_MIXES['storm']!(seed), nodes: 8, shards: 24 }),
  'storm-slow': (seed) => ({ ...SIM_MIXES['storm']!(seed), minDelayMs: 500, maxDelayMs: 3_000, lossRate: 0.1 }),
  // More of the storm: three nodes with one shadow; the coordinator's restarts and cuts three times
  // as often; hangs of up to 15 s with wills up to 10 s late; a skewed lean cluster to rebalance.
  'storm-three': (seed) => ({ ...SIM_MIXES['storm-lean']!(seed), nodes: 3, shards: 4 }),
  'storm-cuts': (seed) => ({ ...SIM_MIXES['storm']!(seed), coordinatorRestartRatePerS: 0.09, linkCutRatePerS: 0.12 }),
  'storm-hang': (seed) => ({ ...SIM_MIXES['storm']!(seed), hangRatePerS: 0.08, hangMaxMs: 15_000, willDelayMs: seed % 2 === 1 ? 10_000 : 2_000 }),
  'storm-lean-moves': (seed) => ({ ...SIM_MIXES['storm-lean']!(seed), createCluster: false, placement: (_shard: number, nodes: readonly string[]) => [nodes[0]!, nodes[1]!] }),
  // An operator at work through the faults: manual switches (to a chosen shadow or any) and
  // automation paused and resumed, about one command every 3 s; and the same in the storm.
  manual: () => ({ manualRatePerS: 0.3 }),
  'storm-manual': (seed) => ({ ...SIM_MIXES['storm']!(seed), manualRatePerS: 0.3 }),
  pressure: () => ({ degradeRatePerS: 0.3, shadowsPerShard: 2, coordinator: { switchCooldownMs: 3_000, heartbeatTimeoutMs: 3_500, preReplicateCooldownMs: 3_000, rebalanceIntervalMs: 2_000 } }),
});

/** The settings of `seed` in mix `name`. */
export function mixConfig(name: string, seed: number): Partial<SimConfig> {
  const mix = SIM_MIXES[name];
  if (!mix) throw new Error(`unknown mix ${JSON.stringify(name)}; one of ${Object.keys(SIM_MIXES).join(', ')}`);
  return { ...baseSimConfig(seed), ...mix(seed) };
}

/**
 * Runs `seed` of mix `name` as the property test and scripts/sim-sweep.mjs do: faults for 45 s, then
 * calm until 80 s (40 s more if it is still busy then: SimWorld.settleBy). Returns the world and what
 * kept it from settling.
 */
export function runMixSeed(name: string, seed: number): { world: SimWorld; unsettled: string[] } {
  const world = new SimWorld(mixConfig(name, seed));
  world.runUntil(45_000);
  world.calm();
  return { world, unsettled: world.settleBy(80_000) };
}
