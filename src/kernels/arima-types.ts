/**
 * The public shape of the ARIMA kernel: orders, models, forecasts, and the named limits that bound
 * them. Both implementations (the WebAssembly kernel in `arima.ts` and the pure-TypeScript
 * reference in `arima-reference.ts`) return models of exactly this shape. See docs/arima.md.
 */

/** An ARIMA(p, d, q) order: AR terms, differencing passes, MA terms. */
export interface ArimaOrder {
  readonly p: number;
  readonly d: number;
  readonly q: number;
}

/** Point forecasts with a central prediction interval, one entry per step ahead (index 0 is h = 1). */
export interface ArimaForecast {
  readonly mean: Float64Array;
  readonly lower: Float64Array;
  readonly upper: Float64Array;
}

/**
 * Why a model is simpler than the order that was asked for.
 * - `null`: the requested order was fitted.
 * - `'constant'`: the (differenced) series does not vary; the model is ARIMA(0, d, 0) whose mean is
 *   that constant value, and sigma2 is the floor {@link ARIMA_SIGMA2_FLOOR_RELATIVE}.
 * - `'mean'`: a d = 0 fit diverged; the model is ARIMA(0, 0, 0) with the sample mean and variance.
 * - `'random-walk'`: a d >= 1 fit diverged; the model is ARIMA(0, 1, 0) without drift.
 */
export type ArimaFallback = null | 'constant' | 'mean' | 'random-walk';

/**
 * A fitted ARIMA model with its streaming state. Coefficients follow the sign convention
 * (1 - sum ar_i B^i)(1 - B)^d (x_t - mean) = (1 + sum ma_j B^j) e_t, where `mean` applies only
 * when d = 0 (and for the `'constant'` fallback, to the differenced series).
 * A model keeps its own state in a few small arrays; many models coexist freely.
 */
export interface ArimaModel {
  /** The order actually used (differs from the requested order when `fallback` is set). */
  readonly order: ArimaOrder;
  /** AR coefficients ar_1..ar_p (stationary by construction). */
  readonly ar: Float64Array;
  /** MA coefficients ma_1..ma_q (invertible by construction). */
  readonly ma: Float64Array;
  /** Mean of the differenced series (0 when d >= 1 unless the fallback is `'constant'`). */
  readonly mean: number;
  /** Innovation variance: the variance of a one-step-ahead forecast error. */
  readonly sigma2: number;
  /** Akaike information criterion of the fit (see docs/arima.md for its normalisation). */
  readonly aic: number;
  /** Which simpler model was used instead of the requested order, if any. */
  readonly fallback: ArimaFallback;
  /** Number of observations the model has seen: the fitted window plus every update. */
  readonly observations: number;
  /** The most recent one-step-ahead forecast error (the last in-sample residual right after fitting). */
  readonly lastResidual: number;
  /** The one-step-ahead point forecast of the next observation. */
  predictNext(): number;
  /** Forecasts h steps ahead with a central `level` prediction interval from the psi-weights. */
  forecast(h: number, level?: number): ArimaForecast;
  /** Adds one observation in O(p + q + d) without refitting; returns its one-step forecast error. */
  update(x: number): number;
  /**
   * Adds many observations in order (same result as calling `update` on each); writes each one-step
   * forecast error into `residuals` when given (it must be at least as long as `values`).
   */
  updateMany(values: Float64Array, residuals?: Float64Array): void;
}

/** Largest AR order accepted. */
export const ARIMA_MAX_P = 5;
/** Largest differencing order accepted. */
export const ARIMA_MAX_D = 2;
/** Largest MA order accepted. */
export const ARIMA_MAX_Q = 5;
/** Longest series a fit accepts (the sliding window); longer input gets `INPUT_TOO_LARGE`. */
export const ARIMA_MAX_WINDOW = 10_000;
/** Longest forecast horizon, in steps; longer requests get `INPUT_TOO_LARGE`. */
export const ARIMA_MAX_HORIZON = 1_000;
/**
 * A fit needs at least d + p + q + this many points, so that every parameter is estimated from a
 * handful of residuals; shorter series get `SERIES_TOO_SHORT`.
 */
export const ARIMA_MIN_RESIDUALS = 10;
/** Cap on Nelder-Mead objective evaluations per fit parameter (the fit stops there, converged or not). */
export const ARIMA_MAX_EVALUATIONS_PER_PARAMETER = 200;
/** Nelder-Mead stops once the simplex's objective spread (0.5 log sigma2) is below this. */
export const ARIMA_TOLERANCE = 1e-9;
/** Partial autocorrelations are clamped to +-this, so fitted AR and MA parts stay strictly inside the unit circle. */
export const ARIMA_MAX_PARTIAL_CORRELATION = 0.9999;
/** sigma2 never falls below this times the series' mean square (or this, for an all-zero series). */
export const ARIMA_SIGMA2_FLOOR_RELATIVE = 1e-12;

/** The smallest series length that `fitArima` accepts for `order`. */
export function arimaMinimumLength(order: ArimaOrder): number {
  return order.d + order.p + order.q + ARIMA_MIN_RESIDUALS;
}

/**
 * The default grid for `selectArima`: mean-reverting ARMA models (d = 0, which win on noisy
 * utilisation series), integrated ones (d = 1, which win on drifting series) and the random walk.
 */
export const ARIMA_DEFAULT_GRID: readonly ArimaOrder[] = Object.freeze([
  { p: 1, d: 0, q: 0 },
  { p: 2, d: 0, q: 0 },
  { p: 1, d: 0, q: 1 },
  { p: 2, d: 0, q: 1 },
  { p: 0, d: 1, q: 0 },
  { p: 0, d: 1, q: 1 },
  { p: 1, d: 1, q: 1 },
  { p: 2, d: 1, q: 1 },
].map((order) => Object.freeze(order)));
