// Proves calibration behaves as documented: sensible default priors, a fit that recovers known
// logistic weights from a seeded synthetic history, shrinkage to the prior on an empty history,
// and typed errors for a bad history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyCalibration, defaultNodeCalibration, defaultShardCalibration, fitCalibration, sigmoid, type CalibrationSample } from '../../src/predict/calibration.js';
import { PredictError } from '../../src/predict/errors.js';

const seed = Number(process.env.FORESHARD_TEST_SEED ?? Date.now() % 1_000_000);

function uniformSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

test('default priors: quiet is low, a certain breach is high, node risk raises shard risk', () => {
  assert.ok(applyCalibration(defaultNodeCalibration, { breach: 0, anomaly: 0 }) < 0.05);
  assert.ok(applyCalibration(defaultNodeCalibration, { breach: 1, anomaly: 0 }) > 0.8);
  const calm = applyCalibration(defaultShardCalibration, { breach: 0.2, anomaly: 0.2, node: 0 });
  const risky = applyCalibration(defaultShardCalibration, { breach: 0.2, anomaly: 0.2, node: 0.9 });
  assert.ok(risky > calm);
});

test(`fit recovers known weights from a large history (seed ${seed})`, () => {
  const random = uniformSource(seed);
  const truth = { bias: -2, weights: { breach: 4, anomaly: 1 } };
  const history: CalibrationSample[] = [];
  for (let i = 0; i < 20_000; i++) {
    const features = { breach: random(), anomaly: random() };
    history.push({ features, outcome: random() < sigmoid(truth.bias + 4 * features.breach + features.anomaly) });
  }
  const fitted = fitCalibration(history, { priorStrength: 0.01 });
  assert.ok(Math.abs(fitted.bias - truth.bias) < 0.3, `seed ${seed}: bias ${fitted.bias}`);
  assert.ok(Math.abs(fitted.weights.breach! - 4) < 0.4, `seed ${seed}: breach ${fitted.weights.breach}`);
  assert.ok(Math.abs(fitted.weights.anomaly! - 1) < 0.4, `seed ${seed}: anomaly ${fitted.weights.anomaly}`);
});

test('an empty history returns the prior; a bad one is a typed error', () => {
  assert.deepEqual(fitCalibration([]), defaultNodeCalibration);
  assert.throws(
    () => fitCalibration([{ features: { breach: NaN }, outcome: true }]),
    (error: unknown) => error instanceof PredictError && error.code === 'CALIBRATION_BAD_HISTORY',
  );
});

test('a perfectly separating history still converges to finite weights', () => {
  const history: CalibrationSample[] = [];
  for (let i = 0; i < 100; i++) history.push({ features: { breach: i / 100, anomaly: 0 }, outcome: i >= 50 });
  const fitted = fitCalibration(history);
  assert.ok(Number.isFinite(fitted.bias) && Number.isFinite(fitted.weights.breach!));
  assert.ok(applyCalibration(fitted, { breach: 0.9 }) > applyCalibration(fitted, { breach: 0.1 }));
});
