// The probability kernel: the Gaussian tail, Numenta's log scale, and the breach probability within
// a horizon from a forecast's means and interval bounds. The math and its reasons are in the
// TypeScript reference, src/kernels/probability-reference.ts; this computes the same, step for step.
//
// Memory: one static region of 3 x MAX_STEPS f64 (means, lower bounds, upper bounds), reserved in
// the data segment, so no call allocates. JavaScript writes a forecast there and calls `breach`.

/** Longest horizon accepted, in steps (ARIMA_MAX_HORIZON). */
const MAX_STEPS: i32 = 1000;
/** Forecast input: means, then lower bounds, then upper bounds, MAX_STEPS f64 each. */
const FORECAST: usize = memory.data(3 * MAX_STEPS * 8, 16);

/** Address of the forecast input (f64 x 3 maxSteps()). */
export function forecastPointer(): usize { return FORECAST; }
/** The horizon limit the buffer was sized for. */
export function maxSteps(): i32 { return MAX_STEPS; }

/** erfc(x) by the Numerical Recipes Chebyshev fit (fractional error below 1.2e-7). */
function complementaryError(x: f64): f64 {
  const t = 1.0 / (1.0 + 0.5 * Math.abs(x));
  const y =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? y : 2.0 - y;
}

/** The standard normal upper tail Q(z). */
export function normalTail(z: f64): f64 {
  if (isNaN(z)) return NaN;
  return 0.5 * complementaryError(z / Math.SQRT2);
}

/** Numenta's log scale of a likelihood, clamped to [0, 1]. */
export function logScale(likelihood: f64): f64 {
  return clamp01(Math.log(1.0000000001 - likelihood) / -23.02585084720009);
}

@inline function clamp01(x: f64): f64 {
  return x > 0 ? (x < 1 ? x : 1) : 0;
}

@inline function stepProbability(mean: f64, sigma: f64, threshold: f64, above: bool): f64 {
  const distance = above ? threshold - mean : mean - threshold;
  if (!(sigma > 0)) return distance <= 0 ? 1.0 : 0.0;
  return normalTail(distance / sigma);
}

/**
 * P(the series crosses `threshold` at any of the `steps` forecast steps): the midpoint of the fully
 * correlated bound (max p_h) and the independent bound (1 − Π(1 − p_h)). `z` is the interval's
 * z-value (1.96 for 95%); `above` is 1 when a breach is above the threshold, 0 when below.
 */
export function breach(steps: i32, threshold: f64, above: i32, z: f64): f64 {
  assert(steps >= 1 && steps <= MAX_STEPS && z > 0);
  const lowerBase = FORECAST + (<usize>MAX_STEPS << 3);
  const upperBase = lowerBase + (<usize>MAX_STEPS << 3);
  let worst: f64 = 0;
  let noneLog: f64 = 0;
  for (let step = 0; step < steps; step++) {
    const offset = <usize>step << 3;
    const mean = load<f64>(FORECAST + offset);
    const sigma = (load<f64>(upperBase + offset) - load<f64>(lowerBase + offset)) / (2 * z);
    const p = stepProbability(mean, sigma, threshold, above != 0);
    if (p > worst) worst = p;
    noneLog += p >= 1 ? -Infinity : Math.log1p(-p);
  }
  const independent = 1 - Math.exp(noneLog);
  return clamp01(0.5 * (worst + independent));
}
