#!/usr/bin/env node
// Runs the coordinator simulator over many seeds of one fault mix, beyond the few hundred
// `npm test` runs (test/coordinator/never-two-primaries.test.ts; docs/e2e.md, "Eleventh session").
// Every seed must keep the properties the simulator checks (never two primaries, no acknowledged
// write lost) and settle after the faults stop. Needs the build (`npm run build`).
//   node scripts/sim-sweep.mjs [--mix default] [--from 1] [--seeds 1000]
// Prints progress every 500 seeds, each bad seed with what went wrong, and exits 1 if any was bad.
import { existsSync } from 'node:fs';

const mixes = {
  default: {},
  'no-cuts': { linkCutRatePerS: 0 },
  'two-shadows': { shadowsPerShard: 2, linkCutRatePerS: 0.05 },
  'long-hang': { nodes: 4, hangMaxMs: 15_000, willDelayMs: (seed) => (seed % 2 ? 10_000 : 2_000), linkCutRatePerS: 0.03 },
  lossy: { lossRate: 0.3, duplicateRate: 0.2, maxDelayMs: 1500, coordinatorRestartRatePerS: 0.05 },
  'heavy-cuts': { linkCutRatePerS: 0.1, coordinatorRestartRatePerS: 0.05, lossRate: 0.2, shadowsPerShard: 2 },
  fast: { degradeRatePerS: 0.3, linkCutRatePerS: 0.04, coordinator: { switchCooldownMs: 2_000, heartbeatTimeoutMs: 3_000, preReplicateCooldownMs: 2_000, rebalanceIntervalMs: 1_000 } },
  'three-node': { nodes: 3, shards: 4, shadowsPerShard: 1, hangMaxMs: 12_000, linkCutRatePerS: 0.03 },
  'quick-wills': { willDelayMs: 500, hangMaxMs: 4_000, linkCutRatePerS: 0.03, coordinator: { switchCooldownMs: 5_000, heartbeatTimeoutMs: 2_000, preReplicateCooldownMs: 5_000, rebalanceIntervalMs: 3_000 } },
  churn: { crashRatePerS: 0.1, hangRatePerS: 0.1, restartAfterMs: 3000, linkCutRatePerS: 0.03, shards: 12 },
};

const args = process.argv.slice(2);
const value = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at < 0 ? fallback : args[at + 1];
};
const mixName = value('mix', 'default');
const from = Number(value('from', '1'));
const count = Number(value('seeds', '1000'));
if (!(mixName in mixes)) {
  process.stderr.write(`sim-sweep: unknown --mix ${JSON.stringify(mixName)}; one of ${Object.keys(mixes).join(', ')}\n`);
  process.exit(2);
}
if (!Number.isInteger(from) || from < 1 || !Number.isInteger(count) || count < 1) {
  process.stderr.write('sim-sweep: --from and --seeds take whole numbers from 1\n');
  process.exit(2);
}
const worldModule = new URL('../build/test/coordinator/sim/world.js', import.meta.url);
if (!existsSync(worldModule)) {
  process.stderr.write('sim-sweep: the simulator is not built; run `npm run build` first\n');
  process.exit(2);
}
const { SimWorld } = await import(worldModule.href);

/** The suite's base settings (runSeed in never-two-primaries.test.ts), then the mix's. */
function config(seed) {
  const base = {
    seed, nodes: 5, shards: 6, shadowsPerShard: seed % 3 === 0 ? 2 : 1, lossRate: 0.1, duplicateRate: 0.1, maxDelayMs: 400, crashRatePerS: 0.05,
    hangRatePerS: 0.05, hangMaxMs: 8_000, willDelayMs: seed % 2 === 1 ? 1_500 : 6_000, degradeRatePerS: 0.1, coordinatorRestartRatePerS: 0.02,
    linkCutRatePerS: 0.02, linkCutMaxMs: 10_000,
    coordinator: { switchCooldownMs: 5_000, heartbeatTimeoutMs: 3_500, preReplicateCooldownMs: 5_000, rebalanceIntervalMs: 3_000 },
  };
  const mix = Object.fromEntries(Object.entries(mixes[mixName]).map(([key, setting]) => [key, typeof setting === 'function' ? setting(seed) : setting]));
  return { ...base, ...mix };
}

let bad = 0;
const totals = { writesAcked: 0, crashes: 0, hangs: 0, linkCuts: 0, coordinatorRestarts: 0 };
for (let seed = from; seed < from + count; seed++) {
  try {
    const world = new SimWorld(config(seed));
    world.runUntil(45_000);
    world.calm();
    world.runUntil(80_000);
    const unsettled = world.unsettled();
    if (unsettled.length > 0) {
      bad++;
      console.log(`seed ${seed} did not settle: ${unsettled[0]}`);
    }
    for (const key of Object.keys(totals)) totals[key] += world.stats[key];
  } catch (error) {
    bad++;
    console.log(`seed ${seed}: ${error.message}`);
  }
  if ((seed - from + 1) % 500 === 0) process.stderr.write(`sim-sweep: ${seed - from + 1} of ${count} seeds, ${bad} bad\n`);
}
console.log(`sim-sweep ${mixName} seeds ${from}-${from + count - 1}: ${bad} bad; ${totals.crashes} crashes, ${totals.hangs} hangs, ${totals.linkCuts} link cuts, ${totals.coordinatorRestarts} coordinator restarts, ${totals.writesAcked} acknowledged writes`);
process.exit(bad > 0 ? 1 : 0);
