// The ARIMA kernel: CSS fitting by Nelder-Mead and psi-weight forecasts. Streaming updates are
// O(p + q + d) arithmetic that costs less in the TypeScript model than a JS -> WASM call would.
// The kernel keeps no model between calls: the TypeScript wrapper owns each model's coefficients
// and state and writes them into the static buffers below for the call that needs them, so any
// number of models share one instance. See docs/arima.md.
import { COEFFICIENTS, FORECAST, MAX_HORIZON, MAX_ORDER, MAX_WINDOW, SERIES, STATE } from './lib/arima-memory';
import { fitArma as fitArmaInternal, sumOfSquares as sumOfSquaresInternal } from './lib/arima-fit';
import { forecast as forecastInternal } from './lib/arima-forecast';

/** Address of the series buffer (f64 x maxWindow()). */
export function seriesPointer(): usize { return SERIES; }
/** Address of the coefficients (f64 x 10: ar_1..ar_5, ma_1..ma_5). */
export function coefficientsPointer(): usize { return COEFFICIENTS; }
/** Address of the model state (f64 x 14: mean, sigma2, differenced tail x5, residual tail x5, level tail x2). */
export function statePointer(): usize { return STATE; }
/** Address of the forecast output (f64 x 3 maxHorizon(): means, lower bounds, upper bounds). */
export function forecastPointer(): usize { return FORECAST; }
/** The window limit the buffers were sized for. */
export function maxWindow(): i32 { return MAX_WINDOW; }
/** The horizon limit the buffers were sized for. */
export function maxHorizon(): i32 { return MAX_HORIZON; }

/** Fits zero-mean ARMA(p, q) to the n values at seriesPointer(); 1 = fitted, 0 = diverged. */
export function fitArma(n: i32, p: i32, q: i32, maxEvaluations: i32, tolerance: f64): i32 {
  assert(n > p + q && n <= MAX_WINDOW && p >= 0 && p <= MAX_ORDER && q >= 0 && q <= MAX_ORDER);
  return fitArmaInternal(n, p, q, maxEvaluations, tolerance);
}

/** CSS sum of squares of the current coefficients with `mean` over the n values at seriesPointer(). */
export function sumOfSquares(n: i32, p: i32, mean: f64): f64 {
  assert(n > p && n <= MAX_WINDOW && p >= 0 && p <= MAX_ORDER);
  return sumOfSquaresInternal(n, p, mean);
}

/** Forecasts h steps from the current coefficients and state into forecastPointer(). */
export function forecast(p: i32, q: i32, d: i32, h: i32, quantile: f64): void {
  forecastInternal(p, q, d, h, quantile);
}
