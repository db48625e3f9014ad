// Proves the probability math: the Gaussian tail and its inverse against known values, and the
// breach probability's behaviour a user relies on (monotone in distance, bounded by the single-step
// and independent bounds, certain for a zero-width interval past the threshold).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { breachProbability, intervalZ, logScale, normalTail } from '../../src/predict/probability.js';

test('normal tail and interval z match tables', () => {
  assert.ok(Math.abs(normalTail(0) - 0.5) < 1e-7);
  assert.ok(Math.abs(normalTail(1.959964) - 0.025) < 1e-7);
  assert.ok(Math.abs(normalTail(-1) - 0.8413447) < 1e-6);
  assert.ok(Math.abs(normalTail(5) - 2.866516e-7) / 2.866516e-7 < 1e-4);
  assert.ok(Math.abs(intervalZ(0.95) - 1.959964) < 1e-6);
});

test('breach probability rises as the forecast nears the threshold and stays in [0,1]', () => {
  const steps = 10;
  const probabilityAt = (center: number) => {
    const mean = new Float64Array(steps).fill(center);
    const lower = mean.map((m) => m - 1.959964);
    const upper = mean.map((m) => m + 1.959964);
    return breachProbability(mean, lower, upper, 10, 'above', 0.95);
  };
  let previous = -1;
  for (const center of [0, 5, 8, 9, 10, 11, 15]) {
    const p = probabilityAt(center);
    assert.ok(p >= 0 && p <= 1 && p >= previous, `p(${center}) = ${p}`);
    previous = p;
  }
  // At the threshold each step is 0.5: between max (0.5) and independent (1 − 0.5^10).
  const atThreshold = probabilityAt(10);
  assert.ok(atThreshold > 0.5 && atThreshold < 1 - 0.5 ** 10);
});

test('a zero-width interval past the threshold is certain; direction below works', () => {
  const mean = Float64Array.of(1, 2, 3);
  assert.equal(breachProbability(mean, mean, mean, 2.5, 'above', 0.95), 1);
  assert.equal(breachProbability(mean, mean, mean, 5, 'above', 0.95), 0);
  assert.equal(breachProbability(mean, mean, mean, 1.5, 'below', 0.95), 1);
});

test('log scale spreads likelihoods near 1', () => {
  assert.ok(logScale(0.5) < 0.05);
  assert.ok(Math.abs(logScale(0.999) - 0.3) < 0.01);
  assert.equal(logScale(1), 1);
});
