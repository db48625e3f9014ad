// Conditional-sum-of-squares ARMA fit: the objective, the partial-autocorrelation (Jones)
// transform that keeps AR stationary and MA invertible, and a Nelder-Mead minimiser. This is the
// statement-for-statement twin of `referenceEngine.fitArma` in src/kernels/arima-reference.ts.
import {
  COEFFICIENTS, CORRELATIONS, CENTROID, MAX_ORDER, PARTIAL, SCRATCH, SECOND, SERIES, SIMPLEX,
  SIMPLEX_ORDER, SIMPLEX_VALUES, TRIAL, MAX_PARAMETERS, getF64, setF64,
} from './arima-memory';

/** Partial autocorrelations are clamped to +-this (ARIMA_MAX_PARTIAL_CORRELATION). */
const MAX_PARTIAL: f64 = 0.9999;
/** Initial simplex edge in the unconstrained space (SIMPLEX_STEP in the reference). */
const SIMPLEX_STEP: f64 = 0.2;

/**
 * Sum of squared one-step residuals of ARMA(COEFFICIENTS) with `mean` over SERIES[0..n),
 * conditioning on the first p values. Unused coefficients are 0, so the recursion always carries
 * five AR and five MA lags in locals: branch-free, and exact because adding 0 * x is exact. The
 * terms are summed in the same order as `armaResiduals` in the reference.
 */
export function sumOfSquares(n: i32, p: i32, mean: f64): f64 {
  const a1 = getF64(COEFFICIENTS, 0), a2 = getF64(COEFFICIENTS, 1), a3 = getF64(COEFFICIENTS, 2);
  const a4 = getF64(COEFFICIENTS, 3), a5 = getF64(COEFFICIENTS, 4);
  const m1 = getF64(COEFFICIENTS, 5), m2 = getF64(COEFFICIENTS, 6), m3 = getF64(COEFFICIENTS, 7);
  const m4 = getF64(COEFFICIENTS, 8), m5 = getF64(COEFFICIENTS, 9);
  let x1: f64 = p >= 1 ? getF64(SERIES, p - 1) - mean : 0;
  let x2: f64 = p >= 2 ? getF64(SERIES, p - 2) - mean : 0;
  let x3: f64 = p >= 3 ? getF64(SERIES, p - 3) - mean : 0;
  let x4: f64 = p >= 4 ? getF64(SERIES, p - 4) - mean : 0;
  let x5: f64 = p >= 5 ? getF64(SERIES, p - 5) - mean : 0;
  let e1: f64 = 0, e2: f64 = 0, e3: f64 = 0, e4: f64 = 0, e5: f64 = 0;
  let total: f64 = 0;
  for (let t = p; t < n; t++) {
    const deviation = getF64(SERIES, t) - mean;
    // The newest residual enters last, so only one multiply-add sits on the loop-carried chain.
    const predicted = a1 * x1 + a2 * x2 + a3 * x3 + a4 * x4 + a5 * x5 + m5 * e5 + m4 * e4 + m3 * e3 + m2 * e2 + m1 * e1;
    const residual = deviation - predicted;
    total += residual * residual;
    x5 = x4; x4 = x3; x3 = x2; x2 = x1; x1 = deviation;
    e5 = e4; e4 = e3; e3 = e2; e2 = e1; e1 = residual;
  }
  return total;
}

/** Durbin-Levinson: partials PARTIAL[0..order) -> AR coefficients at `destination` (Jones 1980). */
function partialToCoefficients(order: i32, destination: usize): void {
  for (let k = 0; k < order; k++) {
    const r = getF64(PARTIAL, k);
    for (let j = 0; j < k; j++) setF64(SCRATCH, j, getF64(destination, j) - r * getF64(destination, k - 1 - j));
    for (let j = 0; j < k; j++) setF64(destination, j, getF64(SCRATCH, j));
    setF64(destination, k, r);
  }
}

@inline function boundedPartial(u: f64): f64 {
  return Math.max(-MAX_PARTIAL, Math.min(MAX_PARTIAL, Math.tanh(u)));
}

/** Maps the unconstrained point at `u` to COEFFICIENTS (zero-padded): stationary AR, invertible MA. */
export function unconstrainedToCoefficients(u: usize, p: i32, q: i32): void {
  for (let i = 0; i < 2 * MAX_ORDER; i++) setF64(COEFFICIENTS, i, 0);
  for (let i = 0; i < p; i++) setF64(PARTIAL, i, boundedPartial(getF64(u, i)));
  partialToCoefficients(p, COEFFICIENTS);
  for (let j = 0; j < q; j++) setF64(PARTIAL, j, boundedPartial(getF64(u, p + j)));
  const maBase = COEFFICIENTS + (<usize>MAX_ORDER << 3);
  partialToCoefficients(q, maBase);
  for (let j = 0; j < q; j++) setF64(maBase, j, -getF64(maBase, j));
}

/** The CSS objective 0.5 log(SSR / (n - p)) at the unconstrained point `u`; +Infinity if undefined. */
function objective(u: usize, n: i32, p: i32, q: i32): f64 {
  unconstrainedToCoefficients(u, p, q);
  const value = 0.5 * Math.log(sumOfSquares(n, p, 0) / <f64>(n - p));
  return isNaN(value) ? Infinity : value;
}

/** Start values at `u`: AR partials from the sample PACF of SERIES, MA at 0. */
function startingPoint(u: usize, n: i32, p: i32, q: i32): void {
  for (let lag = 0; lag <= p; lag++) {
    let sum: f64 = 0;
    for (let t = lag; t < n; t++) sum += getF64(SERIES, t) * getF64(SERIES, t - lag);
    setF64(CORRELATIONS, lag, sum);
  }
  // PARTIAL holds the running AR coefficients here; they are not needed after this function.
  let variance = getF64(CORRELATIONS, 0);
  for (let k = 0; k < p; k++) {
    let numerator = getF64(CORRELATIONS, k + 1);
    for (let j = 0; j < k; j++) numerator -= getF64(PARTIAL, j) * getF64(CORRELATIONS, k - j);
    const partial = Math.max(-0.9, Math.min(0.9, variance > 0 ? numerator / variance : 0));
    for (let j = 0; j < k; j++) setF64(SCRATCH, j, getF64(PARTIAL, j) - partial * getF64(PARTIAL, k - 1 - j));
    for (let j = 0; j < k; j++) setF64(PARTIAL, j, getF64(SCRATCH, j));
    setF64(PARTIAL, k, partial);
    variance *= 1 - partial * partial;
    setF64(u, k, Math.atanh(partial));
  }
  for (let j = 0; j < q; j++) setF64(u, p + j, 0);
}

@inline function pointAt(index: i32): usize {
  return SIMPLEX + (<usize>(index * MAX_PARAMETERS) << 3);
}

@inline function orderAt(rank: i32): i32 {
  return load<i32>(SIMPLEX_ORDER + (<usize>rank << 2));
}

@inline function valueAt(rank: i32): f64 {
  return getF64(SIMPLEX_VALUES, orderAt(rank));
}

/** Stable insertion sort of the simplex order by objective value, best first. */
function sortSimplex(count: i32): void {
  for (let i = 1; i < count; i++) {
    const index = orderAt(i);
    const value = getF64(SIMPLEX_VALUES, index);
    let j = i - 1;
    while (j >= 0 && valueAt(j) > value) {
      store<i32>(SIMPLEX_ORDER + (<usize>(j + 1) << 2), orderAt(j));
      j--;
    }
    store<i32>(SIMPLEX_ORDER + (<usize>(j + 1) << 2), index);
  }
}

/** Replaces the simplex point of rank `rank` with `point` and its `value`. */
function accept(rank: i32, point: usize, value: f64, dimensions: i32): void {
  const index = orderAt(rank);
  memory.copy(pointAt(index), point, <usize>dimensions << 3);
  setF64(SIMPLEX_VALUES, index, value);
}

/** `destination` = centroid + factor * (from - centroid). */
function along(destination: usize, from: usize, factor: f64, dimensions: i32): void {
  for (let k = 0; k < dimensions; k++) {
    const c = getF64(CENTROID, k);
    setF64(destination, k, c + factor * (getF64(from, k) - c));
  }
}

/**
 * Nelder-Mead (reflection 1, expansion 2, contraction 0.5, shrink 0.5) from the point in simplex
 * slot 0. Leaves the best point in slot 0's rank (returned index) and returns its objective value.
 */
function nelderMead(n: i32, p: i32, q: i32, maxEvaluations: i32, tolerance: f64): i32 {
  const dimensions = p + q;
  for (let i = 1; i <= dimensions; i++) {
    memory.copy(pointAt(i), pointAt(0), <usize>dimensions << 3);
    setF64(pointAt(i), i - 1, getF64(pointAt(i), i - 1) + SIMPLEX_STEP);
  }
  for (let i = 0; i <= dimensions; i++) {
    store<i32>(SIMPLEX_ORDER + (<usize>i << 2), i);
    setF64(SIMPLEX_VALUES, i, objective(pointAt(i), n, p, q));
  }
  let evaluations = dimensions + 1;
  const worst = dimensions;
  for (;;) {
    sortSimplex(dimensions + 1);
    if (valueAt(worst) - valueAt(0) <= tolerance || evaluations >= maxEvaluations) break;
    for (let k = 0; k < dimensions; k++) setF64(CENTROID, k, 0);
    for (let rank = 0; rank < dimensions; rank++) {
      const point = pointAt(orderAt(rank));
      for (let k = 0; k < dimensions; k++) setF64(CENTROID, k, getF64(CENTROID, k) + getF64(point, k) / <f64>dimensions);
    }
    const worstPoint = pointAt(orderAt(worst));
    along(TRIAL, worstPoint, -1, dimensions);
    const reflected = objective(TRIAL, n, p, q);
    evaluations++;
    if (reflected < valueAt(0)) {
      along(SECOND, TRIAL, 2, dimensions);
      const expanded = objective(SECOND, n, p, q);
      evaluations++;
      if (expanded < reflected) accept(worst, SECOND, expanded, dimensions);
      else accept(worst, TRIAL, reflected, dimensions);
      continue;
    }
    if (reflected < valueAt(worst - 1)) {
      accept(worst, TRIAL, reflected, dimensions);
      continue;
    }
    const outside = reflected < valueAt(worst);
    along(SECOND, outside ? TRIAL : worstPoint, 0.5, dimensions);
    const contracted = objective(SECOND, n, p, q);
    evaluations++;
    if (outside ? contracted <= reflected : contracted < valueAt(worst)) {
      accept(worst, SECOND, contracted, dimensions);
      continue;
    }
    const best = pointAt(orderAt(0));
    for (let rank = 1; rank <= dimensions; rank++) {
      const index = orderAt(rank);
      const point = pointAt(index);
      for (let k = 0; k < dimensions; k++) setF64(point, k, getF64(best, k) + 0.5 * (getF64(point, k) - getF64(best, k)));
      setF64(SIMPLEX_VALUES, index, objective(point, n, p, q));
    }
    evaluations += dimensions;
  }
  return orderAt(0);
}

/**
 * Fits a zero-mean ARMA(p, q) to the centred, unit-scale SERIES[0..n) by CSS; the coefficients
 * end in COEFFICIENTS. Returns 1 when the best objective is finite, 0 when the fit diverged.
 */
export function fitArma(n: i32, p: i32, q: i32, maxEvaluations: i32, tolerance: f64): i32 {
  startingPoint(pointAt(0), n, p, q);
  const best = nelderMead(n, p, q, maxEvaluations, tolerance);
  const value = getF64(SIMPLEX_VALUES, best);
  unconstrainedToCoefficients(pointAt(best), p, q);
  return isFinite(value) ? 1 : 0;
}
