// Proves the WebAssembly probability kernel computes what its TypeScript reference does: breach
// probabilities, Gaussian tails and log scales on seeded random forecasts agree to 1e-12.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { breachProbability, breachProbabilityReference, logScale, logScaleReference, maxBreachSteps, normalTail, normalTailReference } from '../../src/kernels/probability.js';
import { mulberry32 as uniformSource } from '../../src/common/random.js';

const seed = Number(process.env.FORESHARD_TEST_SEED ?? Date.now() % 1_000_000);


const agree = (a: number, b: number) => Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b));

test(`breach probability: kernel equals reference on random forecasts (seed ${seed})`, () => {
  const random = uniformSource(seed);
  for (let trial = 0; trial < 500; trial++) {
    const steps = 1 + Math.floor(random() * 120);
    const mean = new Float64Array(steps);
    const lower = new Float64Array(steps);
    const upper = new Float64Array(steps);
    const drift = (random() - 0.5) * 2;
    for (let step = 0; step < steps; step++) {
      mean[step] = 50 + drift * step;
      const half = trial % 10 === 0 ? 0 : random() * 10 * Math.sqrt(step + 1);
      lower[step] = mean[step]! - half;
      upper[step] = mean[step]! + half;
    }
    const threshold = 30 + random() * 60;
    const direction = random() < 0.5 ? 'above' : 'below';
    const level = [0.8, 0.9, 0.95, 0.99][trial % 4]!;
    const ours = breachProbability(mean, lower, upper, threshold, direction, level);
    const reference = breachProbabilityReference(mean, lower, upper, threshold, direction, level);
    assert.ok(agree(ours, reference), `seed ${seed}, trial ${trial}: kernel ${ours} vs reference ${reference}`);
  }
});

test(`scalar helpers: kernel equals reference (seed ${seed})`, () => {
  const random = uniformSource(seed);
  for (let trial = 0; trial < 1000; trial++) {
    const z = (random() - 0.5) * 20;
    assert.ok(agree(normalTail(z), normalTailReference(z)), `seed ${seed}: Q(${z})`);
    const likelihood = random();
    assert.ok(agree(logScale(likelihood), logScaleReference(likelihood)), `seed ${seed}: logScale(${likelihood})`);
  }
  assert.ok(Number.isNaN(normalTail(NaN)));
});

test('a horizon past the kernel limit is a programmer error', () => {
  const steps = maxBreachSteps() + 1;
  const values = new Float64Array(steps);
  assert.throws(() => breachProbability(values, values, values, 1, 'above', 0.95), assert.AssertionError);
});
