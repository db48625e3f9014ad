/**
 * The pure-TypeScript reference of the probability kernel (assembly/probability.ts): the Gaussian
 * tail, the breach probability within a horizon from a forecast with prediction intervals, and the
 * log scale NAB-style detectors use to spread likelihoods that crowd near 1. The scoring engine's
 * method is documented in docs/scoring.md.
 */
import assert from 'node:assert/strict';

/** The standard normal upper tail Q(z) = P(Z > z), from erfc, with a relative error below 1.2e-7. */
export function normalTail(z: number): number {
  if (Number.isNaN(z)) return NaN;
  return 0.5 * complementaryError(z / Math.SQRT2);
}

/** erfc(x) by the Numerical Recipes Chebyshev fit (fractional error below 1.2e-7 everywhere). */
function complementaryError(x: number): number {
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? y : 2 - y;
}

/** The z of a two-sided central interval at `level`, e.g. 1.95996 for 0.95 (Acklam's inverse normal). */
export function intervalZ(level: number): number {
  assert.ok(level > 0 && level < 1, `interval level must be in (0,1), got ${level}`);
  return inverseNormal(0.5 + level / 2);
}

/** The standard normal quantile, by Acklam's rational approximation (relative error 1.15e-9). */
export function inverseNormal(p: number): number {
  assert.ok(p > 0 && p < 1, `probability must be in (0,1), got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - low) return -inverseNormal(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** Which side of the threshold is a breach. */
export type BreachDirection = 'above' | 'below';

/**
 * The probability that a series crosses `threshold` at any of the forecast steps 1..H.
 *
 * Each step h is Gaussian with the forecast mean and a standard deviation read back from its
 * interval, `σ_h = (upper_h − lower_h) / (2·z_level)`, giving a per-step crossing probability p_h.
 * The steps' errors are positively correlated (they share the same future shocks), so the exact
 * P(any) lies between the fully correlated bound `max p_h` and the independent bound
 * `1 − Π(1 − p_h)`. We return the midpoint of the two bounds: it never undershoots the worst single
 * step, and it does not let a long horizon of small, correlated probabilities add up to certainty.
 * A zero-width interval makes each step certain: the probability is 1 where the mean is past the
 * threshold and 0 elsewhere.
 */
export function breachProbabilityReference(
  mean: ArrayLike<number>,
  lower: ArrayLike<number>,
  upper: ArrayLike<number>,
  threshold: number,
  direction: BreachDirection,
  level: number,
): number {
  assert.ok(mean.length === lower.length && mean.length === upper.length && mean.length > 0, 'forecast arrays must match and be non-empty');
  const z = intervalZ(level);
  let worst = 0;
  let noneLog = 0;
  for (let step = 0; step < mean.length; step++) {
    const p = stepProbability(mean[step]!, (upper[step]! - lower[step]!) / (2 * z), threshold, direction);
    if (p > worst) worst = p;
    noneLog += p >= 1 ? -Infinity : Math.log1p(-p);
  }
  const independent = 1 - Math.exp(noneLog);
  return clamp01(0.5 * (worst + independent));
}

function stepProbability(mean: number, sigma: number, threshold: number, direction: BreachDirection): number {
  const distance = direction === 'above' ? threshold - mean : mean - threshold;
  if (!(sigma > 0)) return distance <= 0 ? 1 : 0;
  return normalTail(distance / sigma);
}

/**
 * Numenta's log scale for likelihoods: `ln(1.0000000001 − L) / ln(1e-10)`, so 0.5 stays near 0,
 * 0.999 maps to about 0.3, and 1 − 1e-10 maps to 1. It spreads the top end, where detections live.
 */
export function logScale(likelihood: number): number {
  return clamp01(Math.log(1.0000000001 - likelihood) / -23.02585084720009);
}

/** `x` clamped into [0, 1]; NaN becomes 0 so a score is always usable. */
export function clamp01(x: number): number {
  return x > 0 ? (x < 1 ? x : 1) : 0;
}
