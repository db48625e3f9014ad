#!/usr/bin/env node
// Runs the coordinator simulator over many seeds of one fault mix, beyond the few hundred
// `npm test` runs (test/coordinator/never-two-primaries.test.ts; docs/e2e.md, "Eleventh session").
// Every seed must keep the properties the simulator checks (never two primaries, no acknowledged
// write lost) and settle after the faults stop. Needs the build (`npm run build`).
//   node scripts/sim-sweep.mjs [--mix default] [--from 1] [--seeds 1000]
// Prints progress every 500 seeds, each bad seed with what went wrong, and exits 1 if any was bad.
import { existsSync } from 'node:fs';

const args = process.argv.slice(2);
const value = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at < 0 ? fallback : args[at + 1];
};
const mixName = value('mix', 'default');
const from = Number(value('from', '1'));
const count = Number(value('seeds', '1000'));
if (!Number.isInteger(from) || from < 1 || !Number.isInteger(count) || count < 1) {
  process.stderr.write('sim-sweep: --from and --seeds take whole numbers from 1\n');
  process.exit(2);
}
const simDir = new URL('../build/test/coordinator/sim/', import.meta.url);
if (!existsSync(new URL('mixes.js', simDir))) {
  process.stderr.write('sim-sweep: the simulator is not built; run `npm run build` first\n');
  process.exit(2);
}
// The mixes and base settings are the property test's own (test/coordinator/sim/mixes.ts).
const { SIM_MIXES, runMixSeed } = await import(new URL('mixes.js', simDir).href);
if (!(mixName in SIM_MIXES)) {
  process.stderr.write(`sim-sweep: unknown --mix ${JSON.stringify(mixName)}; one of ${Object.keys(SIM_MIXES).join(', ')}\n`);
  process.exit(2);
}

let bad = 0;
const totals = { writesAcked: 0, crashes: 0, hangs: 0, linkCuts: 0, coordinatorRestarts: 0 };
for (let seed = from; seed < from + count; seed++) {
  try {
    const { world, unsettled } = runMixSeed(mixName, seed);
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
