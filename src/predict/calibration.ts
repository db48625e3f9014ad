/**
 * Calibration of the node failure probability and the shard rollback score: logistic (Platt)
 * scaling over a few features, `p = σ(bias + Σ weight_k · feature_k)`. Defaults are priors chosen
 * so that a certain breach forecast alone gives about 0.88 and quiet series give about 0.02;
 * `fitCalibration` refits the weights on a history of (features, outcome) pairs by penalised
 * maximum likelihood, shrinking toward the prior so that a short history cannot swing them far.
 * See docs/scoring.md.
 */
import assert from 'node:assert/strict';
import { PredictError } from './errors.js';

/** Feature names, in a fixed order: noisy-OR breach probability, top anomaly, node failure probability. */
export type FeatureName = 'breach' | 'anomaly' | 'node';

/** Feature values of one score; `node` only for shards. */
export type Features = Partial<Record<FeatureName, number>>;

/** A logistic calibration: bias plus one weight per feature it uses. */
export interface Calibration {
  readonly bias: number;
  readonly weights: Readonly<Partial<Record<FeatureName, number>>>;
}

/** One past outcome: the features at scoring time and whether a breach or failure followed within H. */
export interface CalibrationSample {
  features: Features;
  outcome: boolean;
  /** How much this sample counts (default 1): several samples of one event share one event's weight. */
  weight?: number;
}

/** Options of a fit. */
export interface FitCalibrationOptions {
  /** The prior the fit shrinks toward (default: the built-in one for the features present). */
  prior?: Calibration;
  /** Strength of the Gaussian prior on each parameter (an L2 penalty λ/2·(w − w₀)²). */
  priorStrength?: number;
  /** Newton iterations at most. */
  maxIterations?: number;
}

/** Largest history a fit accepts. */
export const maxCalibrationHistory = 100_000;

/** Default node calibration (prior). */
export const defaultNodeCalibration: Calibration = Object.freeze({ bias: -4, weights: Object.freeze({ breach: 6, anomaly: 3 }) });
/** Default shard calibration (prior): the node's failure probability feeds the shard's score. */
export const defaultShardCalibration: Calibration = Object.freeze({ bias: -4, weights: Object.freeze({ breach: 6, anomaly: 3, node: 3 }) });

/** σ(x), stable for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** The calibrated probability for `features`; a missing feature counts as 0. */
export function applyCalibration(calibration: Calibration, features: Features): number {
  let z = calibration.bias;
  for (const [name, weight] of Object.entries(calibration.weights) as [FeatureName, number][]) z += weight * (features[name] ?? 0);
  return sigmoid(z);
}

function checkHistory(history: readonly CalibrationSample[], names: readonly FeatureName[]): void {
  if (history.length > maxCalibrationHistory) {
    throw new PredictError('CALIBRATION_HISTORY_TOO_LARGE', `calibration history has ${history.length} samples, more than the limit of ${maxCalibrationHistory}`);
  }
  history.forEach((sample, index) => {
    for (const name of names) {
      const value = sample.features[name] ?? 0;
      if (!Number.isFinite(value)) throw new PredictError('CALIBRATION_BAD_HISTORY', `calibration history sample ${index}: feature ${name} is not a finite number`);
    }
    if (sample.weight !== undefined && !(Number.isFinite(sample.weight) && sample.weight > 0)) throw new PredictError('CALIBRATION_BAD_HISTORY', `calibration history sample ${index}: weight must be a positive number`);
    if (typeof sample.outcome !== 'boolean') throw new PredictError('CALIBRATION_BAD_HISTORY', `calibration history sample ${index}: outcome must be true or false`);
  });
}

/**
 * Fits a calibration to `history` by Newton's method on the penalised log-likelihood
 * `Σ log p(outcome) − λ/2 · Σ (θ − θ₀)²`, where θ₀ is the prior. With an empty history it returns
 * the prior. The penalty keeps the problem strictly concave, so Newton converges even when the
 * history separates perfectly.
 */
export function fitCalibration(history: readonly CalibrationSample[], options: FitCalibrationOptions = {}): Calibration {
  const prior = options.prior ?? (history.some((sample) => sample.features.node !== undefined) ? defaultShardCalibration : defaultNodeCalibration);
  const names = Object.keys(prior.weights) as FeatureName[];
  checkHistory(history, names);
  const lambda = options.priorStrength ?? 1;
  assert.ok(lambda > 0, 'priorStrength must be positive');
  const dimension = names.length + 1;
  const priorTheta = [prior.bias, ...names.map((name) => prior.weights[name]!)];
  const theta = [...priorTheta];
  const rows = history.map((sample) => [1, ...names.map((name) => sample.features[name] ?? 0)]);
  for (let iteration = 0; iteration < (options.maxIterations ?? 50); iteration++) {
    const gradient = theta.map((value, k) => -lambda * (value - priorTheta[k]!));
    const hessian = Array.from({ length: dimension }, (_, i) => Array.from({ length: dimension }, (_, j) => (i === j ? lambda : 0)));
    rows.forEach((x, index) => {
      const p = sigmoid(x.reduce((sum, value, k) => sum + value * theta[k]!, 0));
      const sampleWeight = history[index]!.weight ?? 1;
      const residual = sampleWeight * ((history[index]!.outcome ? 1 : 0) - p);
      const weight = sampleWeight * p * (1 - p);
      for (let i = 0; i < dimension; i++) {
        gradient[i]! += residual * x[i]!;
        for (let j = 0; j < dimension; j++) hessian[i]![j]! += weight * x[i]! * x[j]!;
      }
    });
    const step = solve(hessian, gradient);
    let largest = 0;
    for (let k = 0; k < dimension; k++) {
      theta[k]! += step[k]!;
      largest = Math.max(largest, Math.abs(step[k]!));
    }
    if (largest < 1e-9) break;
  }
  const weights: Partial<Record<FeatureName, number>> = {};
  names.forEach((name, k) => (weights[name] = theta[k + 1]!));
  return Object.freeze({ bias: theta[0]!, weights: Object.freeze(weights) });
}

/** Solves A·x = b for a small symmetric positive definite A by Gaussian elimination with pivoting. */
function solve(matrix: number[][], vector: number[]): number[] {
  const n = vector.length;
  const a = matrix.map((row, i) => [...row, vector[i]!]);
  for (let column = 0; column < n; column++) {
    let pivot = column;
    for (let row = column + 1; row < n; row++) if (Math.abs(a[row]![column]!) > Math.abs(a[pivot]![column]!)) pivot = row;
    [a[column], a[pivot]] = [a[pivot]!, a[column]!];
    const diagonal = a[column]![column]!;
    assert.ok(diagonal !== 0, 'the penalised Hessian is positive definite');
    for (let row = column + 1; row < n; row++) {
      const factor = a[row]![column]! / diagonal;
      for (let k = column; k <= n; k++) a[row]![k]! -= factor * a[column]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let row = n - 1; row >= 0; row--) {
    let sum = a[row]![n]!;
    for (let k = row + 1; k < n; k++) sum -= a[row]![k]! * x[k]!;
    x[row] = sum / a[row]![row]!;
  }
  return x;
}
