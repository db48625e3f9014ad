// Proves the rollback score is predictive for the failure DESIGN §3 is built for: a store latency
// that ramps toward its SLO pushes the shard score above the switch threshold (0.8) for three
// samples in a row while the latency is still well below the SLO, and a healthy but spiky
// latency series does not. It drives the real scoring engine (WASM kernels) with seeded series.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScoringEngine } from '../../src/predict/engine.js';
import { defaultSeriesModelOptions } from '../../src/predict/series-model.js';

const switchThreshold = 0.8;
const switchConsecutive = 3;

function seeded(seed: number): { uniform(): number; gauss(): number } {
  let state = seed;
  const uniform = (): number => (state = (state * 16807) % 2147483647) / 2147483647;
  return { uniform, gauss: () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform()) };
}

function engineWithStoreSeries(): ScoringEngine {
  const engine = new ScoringEngine();
  engine.addSeries({ name: 'store_latency_ms_p99', scope: { kind: 'shard', shard: 0 }, threshold: 50 });
  engine.addSeries({ name: 'cpu_utilization', scope: { kind: 'node' }, threshold: 0.9 });
  return engine;
}

test('a latency ramp toward the SLO trips the switch rule before the SLO is crossed', () => {
  for (const seed of [1, 2, 3]) {
    const random = seeded(seed);
    const engine = engineWithStoreSeries();
    const baselineSamples = 300;
    let streak = 0;
    let trippedAt: number | undefined;
    let latency = 0;
    for (let t = 0; t < baselineSamples + 60 && trippedAt === undefined; t++) {
      // 1 ms → 200 ms over 60 s, on top of a noisy 2–4 ms baseline (the scenario 1).
      const ramp = t < baselineSamples ? 1 : 1 + (199 * (t - baselineSamples)) / 60;
      latency = 2 + ramp + random.uniform() * 1.5;
      engine.observe('store_latency_ms_p99', latency);
      engine.observe('cpu_utilization', 0.2 + random.uniform() * 0.05);
      streak = engine.score().shards['0']!.p > switchThreshold ? streak + 1 : 0;
      if (streak >= switchConsecutive) trippedAt = t;
    }
    assert.ok(trippedAt !== undefined, `seed ${seed}: the score never passed ${switchThreshold} three times`);
    assert.ok(latency < 50, `seed ${seed}: the switch rule tripped only at ${latency.toFixed(1)} ms, after the 50 ms SLO`);
  }
});

test('an hour of healthy, spiky latency never trips the switch rule', () => {
  const seed = 13;
  const random = seeded(seed);
  const engine = engineWithStoreSeries();
  let streak = 0;
  let trips = 0;
  for (let t = 0; t < 3600; t++) {
    let latency = 3 * Math.exp(0.3 * random.gauss());
    if (random.uniform() < 0.02) latency *= 3 + random.uniform() * 5; // a GC pause or a slow fsync
    engine.observe('store_latency_ms_p99', latency);
    engine.observe('cpu_utilization', 0.3 + 0.1 * Math.sin(t / 300) + 0.03 * random.gauss());
    streak = engine.score().shards['0']!.p > switchThreshold ? streak + 1 : 0;
    if (streak === switchConsecutive) trips++;
  }
  assert.equal(trips, 0, `seed ${seed}: the switch rule tripped ${trips} times on a healthy series`);
});

test('real disk stalls of one to three samples stop driving the score once they are over', () => {
  // A healthy store whose disk stalls for real now and then: fsync p99 and latency p99 jump far over
  // their SLOs for 1–3 samples, then return to normal. During a stall the SLO is breached and a
  // switch is fair; after it, the models must not extrapolate the stall into a breach forecast.
  for (const seed of [1, 2, 3, 4]) {
    const random = seeded(seed);
    const engine = new ScoringEngine();
    engine.addSeries({ name: 'store_fsync_ms_p99', scope: { kind: 'node' }, threshold: 20, sharedWithShards: true });
    engine.addSeries({ name: 'store_latency_ms_p99', scope: { kind: 'node' }, threshold: 50, sharedWithShards: true });
    let streak = 0;
    let stallLeft = 0;
    let stall = 0;
    let underBefore = true;
    const falseTrips: number[] = [];
    for (let t = 0; t < 1800; t++) {
      if (stallLeft === 0 && t > 120 && random.uniform() < 0.01) {
        stallLeft = 1 + Math.floor(random.uniform() * 3);
        stall = 50 + random.uniform() * 500;
      }
      let fsync = 1.5 * Math.exp(0.4 * random.gauss());
      let latency = 8 * Math.exp(0.3 * random.gauss());
      if (stallLeft > 0) {
        fsync = stall;
        latency = stall * 1.5;
        stallLeft--;
      }
      engine.observe('store_fsync_ms_p99', fsync);
      engine.observe('store_latency_ms_p99', latency);
      const under = fsync < 20 && latency < 50;
      streak = engine.score([0]).shards['0']!.p > switchThreshold ? streak + 1 : 0;
      if (streak === switchConsecutive && under && underBefore) falseTrips.push(t);
      underBefore = under;
    }
    assert.deepEqual(falseTrips, [], `seed ${seed}: the switch rule tripped with both series back under their SLOs`);
  }
});

test('a real disk ramp that the sliding-window model follows is extrapolated by the fifth sample out of its regime', () => {
  // store_fsync_ms_p99 of the degrading node of a predictive e2e run on Mosquitto (2026-11-21,
  // 500 ms samples, the ramp 1 → 200 ms over 60 s injected after the 71st). The sliding-window
  // model followed the ramp closely, so its one-step errors changed sign (run 3, then −1, 1, 2)
  // and the regime-change window, 15 of whose 20 samples were from before the ramp, forecast the
  // level reached: the breach probability stayed 0 until fsync p99 was at 29 ms, and the switch
  // came 7.8 s into the ramp, after the store's p99 had crossed 50 ms. The trend of the samples
  // that left the regime in a row sees it at 15 ms, 3.3 s into the ramp.
  const samples = [4.3, 4.6, 2.9, 2.1, 3.6, 9.4, 2.3, 1.7, 10.2, 1.5, 1.4, 1.4, 2, 1, 1, 2.3, 1.4, 1.6, 1.3, 2.7, 1.9, 2.6, 3, 1.6, 1.6, 1.3,
    1.9, 3.7, 3.5, 3.1, 2.2, 2.2, 1.7, 1.6, 1.2, 1.5, 1.9, 1.9, 2.4, 1.2, 3.4, 2.9, 2, 1.7, 1.8, 1.5, 1.4, 4.8, 10.5, 1.4, 1.4, 1.7, 1.5,
    5, 1.2, 1.6, 3, 1.5, 2.5, 1.5, 1.3, 1.9, 1.8, 1.3, 1.9, 1.7, 6.2, 7.6, 1.7, 5.2, 4.5, 4.2, 7.1, 7.9, 9.4, 11.4, 15.2];
  // As the agent runs generic-x86-server at 500 ms: a 600-sample window refitted every 60, first fit after 30, a 120-step horizon.
  const engine = new ScoringEngine({ horizonSteps: 120, model: { ...defaultSeriesModelOptions, windowSize: 600, refitEvery: 60, minFitSamples: 30 } });
  engine.addSeries({ name: 'store_fsync_ms_p99', scope: { kind: 'node' }, threshold: 20, sharedWithShards: true });
  const breach: number[] = [];
  for (const value of samples) {
    engine.observe('store_fsync_ms_p99', value);
    breach.push(engine.score([0]).node.top[0]!.breachProbability);
  }
  assert.ok(Math.max(...breach.slice(0, 70)) < 0.5, `before the ramp, breach probabilities stay low (${Math.max(...breach.slice(0, 70)).toFixed(2)})`);
  assert.ok(breach.at(-1)! > 0.9, `with fsync p99 at 15.2 ms, five samples into its departure, the breach probability is ${breach.at(-1)!.toFixed(2)}`);
});
