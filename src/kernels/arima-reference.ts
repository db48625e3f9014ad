/**
 * The pure-TypeScript ARIMA: the reference the WebAssembly kernel is tested against, and the
 * shared driver both use. The driver (input checks, differencing, scaling, fallbacks, residual
 * state, AIC) is plain JavaScript over small arrays; an {@link ArimaEngine} supplies the two hot
 * parts, the conditional-sum-of-squares fit and the psi-weight forecast. `referenceEngine` below is
 * written statement for statement like assembly/lib/arima-fit.ts, so the two agree to rounding.
 */
import { KernelError } from './errors.js';
import {
  ARIMA_DEFAULT_GRID,
  ARIMA_MAX_D,
  ARIMA_MAX_EVALUATIONS_PER_PARAMETER,
  ARIMA_MAX_HORIZON,
  ARIMA_MAX_P,
  ARIMA_MAX_PARTIAL_CORRELATION,
  ARIMA_MAX_Q,
  ARIMA_MAX_WINDOW,
  ARIMA_SIGMA2_FLOOR_RELATIVE,
  ARIMA_TOLERANCE,
  arimaMinimumLength,
  type ArimaFallback,
  type ArimaForecast,
  type ArimaModel,
  type ArimaOrder,
} from './arima-types.js';
import assert from 'node:assert/strict';

/** The parameters and end-of-window state a forecast needs. Arrays are newest-first where they are tails. */
export interface ArimaForecastInput {
  readonly ar: Float64Array;
  readonly ma: Float64Array;
  readonly d: number;
  readonly mean: number;
  readonly sigma2: number;
  /** The last p values of the differenced series, newest first. */
  readonly differencedTail: Float64Array;
  /** The last q one-step residuals, newest first. */
  readonly residualTail: Float64Array;
  /** levelTail[k] is the last value of the k-times differenced series, k = 0..d-1. */
  readonly levelTail: Float64Array;
}

/** The hot parts of ARIMA, implemented once in TypeScript (reference) and once in WebAssembly. */
export interface ArimaEngine {
  /**
   * Minimises the CSS objective 0.5 log(SSR / (n - p)) of a zero-mean ARMA(p, q) over the centred,
   * unit-scale series `z`, writing the coefficients into `ar` and `ma`. Returns false if it diverged.
   */
  fitArma(z: Float64Array, p: number, q: number, ar: Float64Array, ma: Float64Array): boolean;
  /** Writes h-step forecasts and their `quantile`-wide intervals into `mean`, `lower`, `upper`. */
  forecast(input: ArimaForecastInput, h: number, quantile: number, mean: Float64Array, lower: Float64Array, upper: Float64Array): void;
}

// ---------------------------------------------------------------------------------------------
// Input checks (shared by both implementations)
// ---------------------------------------------------------------------------------------------

/** Throws `BAD_ORDER` unless `order` is whole numbers within the limits. */
export function checkArimaOrder(order: ArimaOrder): void {
  const { p, d, q } = order;
  const ok = [p, d, q].every((v) => Number.isInteger(v) && v >= 0) && p <= ARIMA_MAX_P && d <= ARIMA_MAX_D && q <= ARIMA_MAX_Q;
  if (!ok) throw new KernelError('BAD_ORDER', `ARIMA order (${p},${d},${q}) is outside p <= ${ARIMA_MAX_P}, d <= ${ARIMA_MAX_D}, q <= ${ARIMA_MAX_Q} (whole numbers)`);
}

/** Throws `INPUT_TOO_LARGE` or `SERIES_NOT_FINITE` for a window no order can use. */
export function checkArimaSeries(series: Float64Array): void {
  assert(series instanceof Float64Array, 'series must be a Float64Array');
  if (series.length > ARIMA_MAX_WINDOW) {
    throw new KernelError('INPUT_TOO_LARGE', `series of ${series.length} points is longer than the ARIMA window limit ${ARIMA_MAX_WINDOW}`);
  }
  for (let i = 0; i < series.length; i++) {
    if (!Number.isFinite(series[i]!)) throw new KernelError('SERIES_NOT_FINITE', `series value at index ${i} is ${series[i]}`);
  }
}

function checkLength(series: Float64Array, order: ArimaOrder): void {
  const minimum = arimaMinimumLength(order);
  if (series.length < minimum) {
    throw new KernelError('SERIES_TOO_SHORT', `ARIMA(${order.p},${order.d},${order.q}) needs at least ${minimum} points, got ${series.length}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The fit driver
// ---------------------------------------------------------------------------------------------

/** Fits ARIMA(order) to `series` with `engine`, falling back to a simpler model when needed. */
export function fitArimaWith(engine: ArimaEngine, series: Float64Array, order: ArimaOrder): ArimaModel {
  checkArimaOrder(order);
  checkArimaSeries(series);
  checkLength(series, order);
  const { p, d, q } = order;
  const differenced = difference(series, d);
  const floor = sigma2Floor(series);
  const ownMean = meanOf(differenced);
  const spread = meanSquareAbout(differenced, ownMean);
  if (!Number.isFinite(ownMean) || !Number.isFinite(spread)) {
    throw new KernelError('SERIES_NOT_FINITE', `differencing the series ${d} time(s) overflows; values are too large`);
  }
  if (spread <= floor) {
    return buildModel(series, { p: 0, d, q: 0 }, new Float64Array(0), new Float64Array(0), ownMean, 'constant', engine);
  }
  // Only d = 0 models carry a mean; integrated models forecast without drift, like statsmodels' default.
  const center = d === 0 ? ownMean : 0;
  const scale = Math.sqrt(meanSquareAbout(differenced, center));
  const z = new Float64Array(differenced.length);
  for (let i = 0; i < z.length; i++) z[i] = (differenced[i]! - center) / scale;
  const ar = new Float64Array(p);
  const ma = new Float64Array(q);
  const converged = p + q === 0 || engine.fitArma(z, p, q, ar, ma);
  const fitted = converged && ar.every(Number.isFinite) && ma.every(Number.isFinite);
  const model = fitted ? buildModel(series, order, ar, ma, center, null, engine) : null;
  if (model && Number.isFinite(model.sigma2) && Number.isFinite(model.aic)) return model;
  return fallbackModel(engine, series, d);
}

/** The documented simpler model for a fit that diverged: the mean for d = 0, else the random walk. */
function fallbackModel(engine: ArimaEngine, series: Float64Array, d: number): ArimaModel {
  const order = d === 0 ? { p: 0, d: 0, q: 0 } : { p: 0, d: 1, q: 0 };
  const differenced = difference(series, order.d);
  const center = order.d === 0 ? meanOf(differenced) : 0;
  const kind: ArimaFallback = order.d === 0 ? 'mean' : 'random-walk';
  const model = buildModel(series, order, new Float64Array(0), new Float64Array(0), center, kind, engine);
  if (!Number.isFinite(model.sigma2)) throw new KernelError('FIT_FAILED', 'even the fallback model has a non-finite variance');
  return model;
}

/**
 * Runs the residual recursion over the whole window in original units to get sigma2, the AIC and
 * the end-of-window state, and wraps them in a model.
 */
function buildModel(
  series: Float64Array,
  order: ArimaOrder,
  ar: Float64Array,
  ma: Float64Array,
  mean: number,
  fallback: ArimaFallback,
  engine: ArimaEngine,
): ArimaModel {
  const { p, d, q } = order;
  const differenced = difference(series, d);
  const residuals = new Float64Array(differenced.length);
  const sumOfSquares = armaResiduals(differenced, mean, ar, ma, residuals);
  const count = differenced.length - p;
  const sigma2 = Math.max(sumOfSquares / count, sigma2Floor(series));
  const parameterCount = p + q + (d === 0 || fallback === 'constant' ? 1 : 0) + 1;
  // The log-likelihood is scaled to the full window length so that models with different d and p
  // (which condition on different numbers of leading points) compare on the same footing.
  const aic = series.length * (Math.log(2 * Math.PI * sigma2) + 1) + 2 * parameterCount;
  const state: ArimaStreamState = {
    differencedTail: tailNewestFirst(differenced, p),
    residualTail: tailNewestFirst(residuals, q),
    levelTail: levelTails(series, d),
    observations: series.length,
    lastResidual: differenced.length > p ? residuals[differenced.length - 1]! : 0,
  };
  return new ArimaStateModel(Object.freeze({ p, d, q }), ar, ma, mean, sigma2, aic, fallback, state, engine);
}

/** Chooses by AIC among the grid's orders that the series is long enough for. */
export function selectArimaWith(engine: ArimaEngine, series: Float64Array, grid: readonly ArimaOrder[] = ARIMA_DEFAULT_GRID): ArimaModel {
  if (grid.length === 0) throw new KernelError('BAD_ORDER', 'the ARIMA selection grid is empty');
  grid.forEach(checkArimaOrder);
  checkArimaSeries(series);
  let best: ArimaModel | null = null;
  for (const order of grid) {
    if (series.length < arimaMinimumLength(order)) continue;
    const model = fitArimaWith(engine, series, order);
    // A model that fell back is a worse answer than any real fit, whatever its AIC says.
    const better = best === null || (best.fallback !== null && model.fallback === null) || ((best.fallback === null) === (model.fallback === null) && model.aic < best.aic);
    if (better) best = model;
  }
  if (best === null) {
    const shortest = Math.min(...grid.map(arimaMinimumLength));
    throw new KernelError('SERIES_TOO_SHORT', `no order in the ARIMA grid fits ${series.length} points; the smallest needs ${shortest}`);
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// The model and its streaming state
// ---------------------------------------------------------------------------------------------

interface ArimaStreamState {
  differencedTail: Float64Array;
  residualTail: Float64Array;
  levelTail: Float64Array;
  observations: number;
  lastResidual: number;
}

/**
 * A fitted model. Its state is four tiny arrays (p + q + d numbers) plus the coefficients, about
 * 0.5 KB per model with object overhead, so hundreds of models coexist cheaply.
 */
export class ArimaStateModel implements ArimaModel {
  readonly #state: ArimaStreamState;
  readonly #engine: ArimaEngine;

  constructor(
    readonly order: ArimaOrder,
    readonly ar: Float64Array,
    readonly ma: Float64Array,
    readonly mean: number,
    readonly sigma2: number,
    readonly aic: number,
    readonly fallback: ArimaFallback,
    state: ArimaStreamState,
    engine: ArimaEngine,
  ) {
    this.#state = state;
    this.#engine = engine;
  }

  get observations(): number {
    return this.#state.observations;
  }

  get lastResidual(): number {
    return this.#state.lastResidual;
  }

  /** The one-step-ahead point forecast of the next observation. */
  predictNext(): number {
    const { levelTail } = this.#state;
    let next = this.#predictDifferenced();
    for (let k = 0; k < levelTail.length; k++) next += levelTail[k]!;
    return next;
  }

  /** Forecasts h steps ahead with a central `level` prediction interval from the psi-weights. */
  forecast(h: number, level = 0.95): ArimaForecast {
    assert(Number.isInteger(h) && h >= 1, `forecast horizon must be a positive integer, got ${h}`);
    assert(level > 0 && level < 1, `forecast level must be in (0, 1), got ${level}`);
    if (h > ARIMA_MAX_HORIZON) throw new KernelError('INPUT_TOO_LARGE', `forecast horizon ${h} is above the limit ${ARIMA_MAX_HORIZON}`);
    const mean = new Float64Array(h);
    const lower = new Float64Array(h);
    const upper = new Float64Array(h);
    const input: ArimaForecastInput = { ar: this.ar, ma: this.ma, d: this.order.d, mean: this.mean, sigma2: this.sigma2, ...this.#state };
    this.#engine.forecast(input, h, inverseNormal(0.5 + level / 2), mean, lower, upper);
    keepFinite(mean, lower, upper, this.#state.levelTail[0] ?? this.mean);
    return { mean, lower, upper };
  }

  /** Adds one observation without refitting; returns its one-step forecast error. */
  update(x: number): number {
    if (!Number.isFinite(x)) throw new KernelError('SERIES_NOT_FINITE', `update value is ${x}`);
    const state = this.#state;
    const predicted = this.#predictDifferenced();
    // Difference the new value through every level, remembering each level's newest value.
    let value = x;
    for (let k = 0; k < state.levelTail.length; k++) {
      const next = value - state.levelTail[k]!;
      state.levelTail[k] = value;
      value = next;
    }
    const residual = value - predicted;
    pushNewest(state.differencedTail, value);
    pushNewest(state.residualTail, residual);
    state.observations++;
    state.lastResidual = residual;
    return residual;
  }

  /** Adds many observations in order; writes each one-step forecast error into `residuals` if given. */
  updateMany(values: Float64Array, residuals?: Float64Array): void {
    assert(residuals === undefined || residuals.length >= values.length, 'residuals must be at least as long as values');
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) throw new KernelError('SERIES_NOT_FINITE', `update value at index ${i} is ${values[i]}`);
    }
    for (let i = 0; i < values.length; i++) {
      const residual = this.update(values[i]!);
      if (residuals) residuals[i] = residual;
    }
  }

  #predictDifferenced(): number {
    const { differencedTail, residualTail } = this.#state;
    let predicted = this.mean;
    for (let i = 0; i < this.ar.length; i++) predicted += this.ar[i]! * (differencedTail[i]! - this.mean);
    for (let j = 0; j < this.ma.length; j++) predicted += this.ma[j]! * residualTail[j]!;
    return predicted;
  }
}

// ---------------------------------------------------------------------------------------------
// Leaves: pure computations
// ---------------------------------------------------------------------------------------------

/** The d-times differenced series (a copy when d = 0). */
export function difference(series: Float64Array, d: number): Float64Array {
  let current = Float64Array.from(series);
  for (let pass = 0; pass < d; pass++) {
    const next = new Float64Array(current.length - 1);
    for (let i = 0; i < next.length; i++) next[i] = current[i + 1]! - current[i]!;
    current = next;
  }
  return current;
}

/** levelTail[k] = last value of the k-times differenced series, for k = 0..d-1. */
function levelTails(series: Float64Array, d: number): Float64Array {
  const tails = new Float64Array(d);
  for (let k = 0; k < d; k++) {
    const level = difference(series, k);
    tails[k] = level[level.length - 1]!;
  }
  return tails;
}

/**
 * One-step residuals of ARMA(p, q) with `mean` over `w`, conditioning on the first p values
 * (residuals before index p are taken as 0). Returns their sum of squares over t >= p.
 */
export function armaResiduals(w: Float64Array, mean: number, ar: Float64Array, ma: Float64Array, residuals: Float64Array): number {
  const p = ar.length;
  const q = ma.length;
  let sumOfSquares = 0;
  for (let t = 0; t < w.length; t++) {
    if (t < p) {
      residuals[t] = 0;
      continue;
    }
    // Summed in the kernel's order: AR terms, then MA terms oldest first (see assembly/lib/arima-fit.ts).
    let predicted = 0;
    for (let i = 0; i < p; i++) predicted += ar[i]! * (w[t - 1 - i]! - mean);
    for (let j = q - 1; j >= 0; j--) predicted += j < t ? ma[j]! * residuals[t - 1 - j]! : 0;
    const residual = w[t]! - mean - predicted;
    residuals[t] = residual;
    sumOfSquares += residual * residual;
  }
  return sumOfSquares;
}

/**
 * The conditional (CSS) Gaussian log-likelihood of ARMA(ar, ma) with `mean` on the already
 * differenced series `w`, with sigma2 concentrated out: -(n - p)/2 (log(2 pi SSR/(n - p)) + 1).
 */
export function cssLogLikelihoodReference(w: Float64Array, mean: number, ar: Float64Array, ma: Float64Array): number {
  const count = w.length - ar.length;
  const sumOfSquares = armaResiduals(w, mean, ar, ma, new Float64Array(w.length));
  return (-count / 2) * (Math.log((2 * Math.PI * sumOfSquares) / count) + 1);
}

/**
 * Maps partial autocorrelations r (each in (-1, 1)) to the coefficients of a stationary AR
 * polynomial 1 - sum a_i z^i by the Durbin-Levinson recursion (Jones 1980; Monahan 1984).
 */
export function partialToCoefficients(partial: Float64Array, coefficients: Float64Array, scratch: Float64Array): void {
  const order = partial.length;
  for (let k = 0; k < order; k++) {
    const r = partial[k]!;
    for (let j = 0; j < k; j++) scratch[j] = coefficients[j]! - r * coefficients[k - 1 - j]!;
    for (let j = 0; j < k; j++) coefficients[j] = scratch[j]!;
    coefficients[k] = r;
  }
}

function tailNewestFirst(values: Float64Array, count: number): Float64Array {
  const tail = new Float64Array(count);
  for (let i = 0; i < count; i++) tail[i] = values[values.length - 1 - i]!;
  return tail;
}

function pushNewest(tail: Float64Array, value: number): void {
  if (tail.length === 0) return;
  for (let i = tail.length - 1; i > 0; i--) tail[i] = tail[i - 1]!;
  tail[0] = value;
}

function meanOf(values: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum / values.length;
}

function meanSquareAbout(values: Float64Array, center: number): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i]! - center) ** 2;
  return sum / values.length;
}

/** The smallest sigma2 a model reports, relative to the series' scale, so a constant series still has finite z-scores. */
function sigma2Floor(series: Float64Array): number {
  const meanSquare = meanSquareAbout(series, 0);
  return ARIMA_SIGMA2_FLOOR_RELATIVE * (meanSquare > 0 && Number.isFinite(meanSquare) ? meanSquare : 1);
}

/** Replaces anything non-finite (possible only for values near the float64 range) so a forecast is always finite. */
function keepFinite(mean: Float64Array, lower: Float64Array, upper: Float64Array, lastLevel: number): void {
  const clamp = (v: number, otherwise: number): number => (Number.isNaN(v) ? otherwise : Math.max(-Number.MAX_VALUE, Math.min(Number.MAX_VALUE, v)));
  for (let i = 0; i < mean.length; i++) {
    mean[i] = clamp(mean[i]!, lastLevel);
    lower[i] = clamp(lower[i]!, -Number.MAX_VALUE);
    upper[i] = clamp(upper[i]!, Number.MAX_VALUE);
  }
}

/** The standard normal quantile function (Acklam's rational approximation, relative error < 1.2e-9). */
export function inverseNormal(probability: number): number {
  assert(probability > 0 && probability < 1, `probability must be in (0, 1), got ${probability}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const dd = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (probability < low) {
    const t = Math.sqrt(-2 * Math.log(probability));
    return (((((c[0]! * t + c[1]!) * t + c[2]!) * t + c[3]!) * t + c[4]!) * t + c[5]!) / ((((dd[0]! * t + dd[1]!) * t + dd[2]!) * t + dd[3]!) * t + 1);
  }
  if (probability > 1 - low) return -inverseNormal(1 - probability);
  const u = probability - 0.5;
  const r = u * u;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * u) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

// ---------------------------------------------------------------------------------------------
// The reference engine: CSS objective, Nelder-Mead, psi-weight forecast
// ---------------------------------------------------------------------------------------------

/** The CSS objective 0.5 log(SSR/(n - p)) at unconstrained parameters u (tanh -> partials -> coefficients). */
function cssObjective(z: Float64Array, p: number, q: number, u: Float64Array, ar: Float64Array, ma: Float64Array, scratch: Float64Array): number {
  unconstrainedToCoefficients(u, p, q, ar, ma, scratch);
  const sumOfSquares = armaResiduals(z, 0, ar, ma, new Float64Array(z.length));
  const value = 0.5 * Math.log(sumOfSquares / (z.length - p));
  return Number.isNaN(value) ? Infinity : value;
}

/** Maps unconstrained u to stationary AR and invertible MA coefficients. */
export function unconstrainedToCoefficients(u: Float64Array, p: number, q: number, ar: Float64Array, ma: Float64Array, scratch: Float64Array): void {
  const partialAr = new Float64Array(p);
  const partialMa = new Float64Array(q);
  for (let i = 0; i < p; i++) partialAr[i] = boundedPartial(u[i]!);
  for (let j = 0; j < q; j++) partialMa[j] = boundedPartial(u[p + j]!);
  partialToCoefficients(partialAr, ar, scratch);
  partialToCoefficients(partialMa, ma, scratch);
  // 1 + sum ma_j z^j is invertible exactly when 1 - sum (-ma_j) z^j is stationary.
  for (let j = 0; j < q; j++) ma[j] = -ma[j]!;
}

function boundedPartial(u: number): number {
  return Math.max(-ARIMA_MAX_PARTIAL_CORRELATION, Math.min(ARIMA_MAX_PARTIAL_CORRELATION, Math.tanh(u)));
}

/** Start values: AR partials from the sample PACF (Durbin-Levinson on the sample autocorrelations), MA at 0. */
function startingPoint(z: Float64Array, p: number, q: number, u: Float64Array): void {
  const correlations = new Float64Array(p + 1);
  for (let lag = 0; lag <= p; lag++) {
    let sum = 0;
    for (let t = lag; t < z.length; t++) sum += z[t]! * z[t - lag]!;
    correlations[lag] = sum;
  }
  const coefficients = new Float64Array(p);
  const scratch = new Float64Array(p);
  let variance = correlations[0]!;
  for (let k = 0; k < p; k++) {
    let numerator = correlations[k + 1]!;
    for (let j = 0; j < k; j++) numerator -= coefficients[j]! * correlations[k - j]!;
    const partial = Math.max(-0.9, Math.min(0.9, variance > 0 ? numerator / variance : 0));
    for (let j = 0; j < k; j++) scratch[j] = coefficients[j]! - partial * coefficients[k - 1 - j]!;
    for (let j = 0; j < k; j++) coefficients[j] = scratch[j]!;
    coefficients[k] = partial;
    variance *= 1 - partial * partial;
    u[k] = Math.atanh(partial);
  }
  for (let j = 0; j < q; j++) u[p + j] = 0;
}

/** Initial simplex edge in the unconstrained space (about 0.2 in partial autocorrelation near 0). */
const SIMPLEX_STEP = 0.2;

/** Nelder-Mead (reflection 1, expansion 2, contraction 0.5, shrink 0.5) on f from x0; leaves the best point in x0. */
function nelderMead(f: (x: Float64Array) => number, x0: Float64Array, maxEvaluations: number, tolerance: number): number {
  const n = x0.length;
  const points = Array.from({ length: n + 1 }, (_, i) => {
    const point = Float64Array.from(x0);
    if (i > 0) point[i - 1] = point[i - 1]! + SIMPLEX_STEP;
    return point;
  });
  const values = points.map((point) => f(point));
  let evaluations = n + 1;
  const centroid = new Float64Array(n);
  const trial = new Float64Array(n);
  const second = new Float64Array(n);
  for (;;) {
    sortSimplex(points, values);
    if (values[n]! - values[0]! <= tolerance || evaluations >= maxEvaluations) break;
    centroid.fill(0);
    for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) centroid[k] = centroid[k]! + points[i]![k]! / n;
    for (let k = 0; k < n; k++) trial[k] = centroid[k]! + (centroid[k]! - points[n]![k]!);
    const reflected = f(trial);
    evaluations++;
    if (reflected < values[0]!) {
      for (let k = 0; k < n; k++) second[k] = centroid[k]! + 2 * (trial[k]! - centroid[k]!);
      const expanded = f(second);
      evaluations++;
      if (expanded < reflected) accept(points, values, n, second, expanded);
      else accept(points, values, n, trial, reflected);
      continue;
    }
    if (reflected < values[n - 1]!) {
      accept(points, values, n, trial, reflected);
      continue;
    }
    const outside = reflected < values[n]!;
    const from = outside ? trial : points[n]!;
    for (let k = 0; k < n; k++) second[k] = centroid[k]! + 0.5 * (from[k]! - centroid[k]!);
    const contracted = f(second);
    evaluations++;
    if (outside ? contracted <= reflected : contracted < values[n]!) {
      accept(points, values, n, second, contracted);
      continue;
    }
    for (let i = 1; i <= n; i++) {
      for (let k = 0; k < n; k++) points[i]![k] = points[0]![k]! + 0.5 * (points[i]![k]! - points[0]![k]!);
      values[i] = f(points[i]!);
    }
    evaluations += n;
  }
  x0.set(points[0]!);
  return values[0]!;
}

function accept(points: Float64Array[], values: number[], index: number, point: Float64Array, value: number): void {
  points[index]!.set(point);
  values[index] = value;
}

/** Stable insertion sort of the simplex by objective value (the same order the kernel uses). */
function sortSimplex(points: Float64Array[], values: number[]): void {
  for (let i = 1; i < values.length; i++) {
    const value = values[i]!;
    const point = points[i]!;
    let j = i - 1;
    while (j >= 0 && values[j]! > value) {
      values[j + 1] = values[j]!;
      points[j + 1] = points[j]!;
      j--;
    }
    values[j + 1] = value;
    points[j + 1] = point;
  }
}

/** Psi-weight forecast shared in structure with the kernel: ARMA recursion, then d integrations. */
function forecastReference(input: ArimaForecastInput, h: number, quantile: number, mean: Float64Array, lower: Float64Array, upper: Float64Array): void {
  const { ar, ma, d } = input;
  const p = ar.length;
  const q = ma.length;
  // Differenced forecasts: future residuals are 0; past values come from the tails.
  for (let step = 0; step < h; step++) {
    let value = input.mean;
    for (let i = 0; i < p; i++) {
      const back = step - 1 - i;
      const past = back >= 0 ? mean[back]! : input.differencedTail[-back - 1]!;
      value += ar[i]! * (past - input.mean);
    }
    for (let j = step; j < q; j++) value += ma[j]! * input.residualTail[j - step]!;
    mean[step] = value;
  }
  for (let k = d - 1; k >= 0; k--) {
    let previous = input.levelTail[k]!;
    for (let step = 0; step < h; step++) {
      previous += mean[step]!;
      mean[step] = previous;
    }
  }
  // psi-weights of theta(B) / (phi(B) (1 - B)^d), cumulated into forecast variances.
  const integrated = integratedAr(ar, d);
  const psi = new Float64Array(h);
  let variance = 0;
  for (let step = 0; step < h; step++) {
    let weight = step === 0 ? 1 : step <= q ? ma[step - 1]! : 0;
    for (let i = 1; i <= Math.min(step, integrated.length); i++) weight += integrated[i - 1]! * psi[step - i]!;
    psi[step] = weight;
    variance += weight * weight;
    const half = quantile * Math.sqrt(input.sigma2 * variance);
    lower[step] = mean[step]! - half;
    upper[step] = mean[step]! + half;
  }
}

/** Coefficients a* of (1 - sum ar_i B^i)(1 - B)^d written as 1 - sum a*_i B^i. */
export function integratedAr(ar: Float64Array, d: number): Float64Array {
  let polynomial = new Float64Array(ar.length + 1);
  polynomial[0] = 1;
  for (let i = 0; i < ar.length; i++) polynomial[i + 1] = -ar[i]!;
  for (let pass = 0; pass < d; pass++) {
    const next = new Float64Array(polynomial.length + 1);
    for (let i = 0; i < polynomial.length; i++) {
      next[i] = next[i]! + polynomial[i]!;
      next[i + 1] = next[i + 1]! - polynomial[i]!;
    }
    polynomial = next;
  }
  const coefficients = new Float64Array(polynomial.length - 1);
  for (let i = 0; i < coefficients.length; i++) coefficients[i] = -polynomial[i + 1]!;
  return coefficients;
}

/** The pure-TypeScript engine. */
export const referenceEngine: ArimaEngine = {
  fitArma(z, p, q, ar, ma) {
    const u = new Float64Array(p + q);
    const scratch = new Float64Array(Math.max(p, q));
    startingPoint(z, p, q, u);
    const objective = (point: Float64Array): number => cssObjective(z, p, q, point, ar, ma, scratch);
    const best = nelderMead(objective, u, ARIMA_MAX_EVALUATIONS_PER_PARAMETER * (p + q), ARIMA_TOLERANCE);
    unconstrainedToCoefficients(u, p, q, ar, ma, scratch);
    return Number.isFinite(best);
  },
  forecast: forecastReference,
};

/** Pure-TypeScript `fitArima` (the reference; use `fitArima` from the WebAssembly kernel in production). */
export function fitArimaReference(series: Float64Array, order: ArimaOrder): ArimaModel {
  return fitArimaWith(referenceEngine, series, order);
}

/** Pure-TypeScript `selectArima` (the reference). */
export function selectArimaReference(series: Float64Array, grid?: readonly ArimaOrder[]): ArimaModel {
  return selectArimaWith(referenceEngine, series, grid);
}
