// Proves the anomaly measures react to what a user would call an anomaly and not to noise: the
// Gaussian likelihood and the peaks-over-threshold tail on seeded noise with an injected burst, and
// the detector's score on a spike and a level shift, with repeats suppressed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnomalyLikelihood, TailEstimator } from '../../src/predict/anomaly.js';
import { Detector, defaultDetectorOptions } from '../../src/predict/detector.js';
import { referenceFitter } from '../../src/predict/kernel.js';
import { mulberry32 } from '../../src/common/random.js';

/** Standard normal samples (Box–Muller over a seeded uniform source). */
function gaussianSource(seed: number): () => number {
  const uniform = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

const seed = Number(process.env.FORESHARD_TEST_SEED ?? Date.now() % 1_000_000);

test(`likelihood stays moderate on noise and nears 1 on a burst (seed ${seed})`, () => {
  const noise = gaussianSource(seed);
  const likelihood = new AnomalyLikelihood({ shortWindow: 10, longWindow: 300 });
  let quietMax = 0;
  for (let i = 0; i < 600; i++) {
    const l = likelihood.observe(noise());
    if (i > 300) quietMax = Math.max(quietMax, l);
  }
  let burstMax = 0;
  for (let i = 0; i < 10; i++) burstMax = Math.max(burstMax, likelihood.observe(8 * noise() + 8));
  assert.ok(burstMax > 0.9999, `seed ${seed}: burst likelihood ${burstMax}`);
  assert.ok(burstMax > quietMax, `seed ${seed}: burst ${burstMax} vs quiet ${quietMax}`);
});

test(`tail estimator: empirical inside the history, vanishing far past it (seed ${seed})`, () => {
  const noise = gaussianSource(seed);
  const tail = new TailEstimator({ historySize: 1000, tailFraction: 0.02, refreshEvery: 10 });
  for (let i = 0; i < 1000; i++) tail.push(Math.abs(noise()));
  const median = tail.tail(0.6745);
  assert.ok(median > 0.4 && median < 0.6, `seed ${seed}: P(|Z| ≥ 0.67) = ${median}`);
  assert.ok(tail.tail(20) < 1e-10, `seed ${seed}: far tail ${tail.tail(20)}`);
  assert.ok(tail.tail(4) > tail.tail(6), 'monotone');
});

test(`detector scores a spike far above the noise and suppresses its repeats (seed ${seed})`, () => {
  const noise = gaussianSource(seed);
  const detector = new Detector(referenceFitter, { ...defaultDetectorOptions, windowSize: 300, longWindow: 300 });
  let quietMax = 0;
  for (let i = 0; i < 800; i++) {
    const score = detector.observe(50 + noise());
    if (i > 400) quietMax = Math.max(quietMax, score);
  }
  const spike = detector.observe(50 + 40);
  assert.ok(spike > 0.9 && spike > quietMax, `seed ${seed}: spike ${spike}, quiet max ${quietMax}`);
  assert.equal(detector.observe(50 + 40), 0, 'an equal repeat right after is suppressed');
  for (let i = 0; i < 5; i++) assert.ok(detector.observe(50 + noise()) <= 1);
});
