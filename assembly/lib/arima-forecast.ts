// Psi-weight forecasts of a fitted ARIMA model: the ARMA recursion on the differenced scale, d
// integrations back to the original scale, and the interval half-widths from the psi-weights of
// theta(B) / (phi(B) (1 - B)^d). The twin of `forecastReference` in src/kernels/arima-reference.ts.
import { COEFFICIENTS, FORECAST, MAX_HORIZON, MAX_ORDER, PSI, STATE, getF64, setF64 } from './arima-memory';

/** STATE layout: [mean, sigma2, differencedTail x MAX_ORDER, residualTail x MAX_ORDER, levelTail x 2]. */
export const STATE_MEAN: i32 = 0;
export const STATE_SIGMA2: i32 = 1;
export const STATE_DIFFERENCED: i32 = 2;
export const STATE_RESIDUALS: i32 = 2 + MAX_ORDER;
export const STATE_LEVELS: i32 = 2 + 2 * MAX_ORDER;

/** Integrated AR polynomial (1 - sum ar_i B^i)(1 - B)^d, coefficient of B^i at index i (up to degree 7). */
const INTEGRATED = memory.data(8 << 3, 16);

/** Writes mean forecasts for h steps into FORECAST[0..h). */
function forecastMeans(p: i32, q: i32, d: i32, h: i32): void {
  const mean = getF64(STATE, STATE_MEAN);
  for (let step = 0; step < h; step++) {
    let value = mean;
    for (let i = 0; i < p; i++) {
      const back = step - 1 - i;
      const past = back >= 0 ? getF64(FORECAST, back) : getF64(STATE, STATE_DIFFERENCED - back - 1);
      value += getF64(COEFFICIENTS, i) * (past - mean);
    }
    for (let j = step; j < q; j++) value += getF64(COEFFICIENTS, MAX_ORDER + j) * getF64(STATE, STATE_RESIDUALS + j - step);
    setF64(FORECAST, step, value);
  }
  for (let k = d - 1; k >= 0; k--) {
    let previous = getF64(STATE, STATE_LEVELS + k);
    for (let step = 0; step < h; step++) {
      previous += getF64(FORECAST, step);
      setF64(FORECAST, step, previous);
    }
  }
}

/** Builds INTEGRATED for AR order p and d differences; returns its degree p + d. */
function integrateAr(p: i32, d: i32): i32 {
  setF64(INTEGRATED, 0, 1);
  for (let i = 0; i < p; i++) setF64(INTEGRATED, i + 1, -getF64(COEFFICIENTS, i));
  let degree = p;
  for (let pass = 0; pass < d; pass++) {
    setF64(INTEGRATED, degree + 1, 0);
    degree++;
    // Multiplying by (1 - B) in place, from the top coefficient down.
    for (let i = degree; i >= 1; i--) setF64(INTEGRATED, i, getF64(INTEGRATED, i) - getF64(INTEGRATED, i - 1));
  }
  return degree;
}

/**
 * Forecasts h steps (h <= MAX_HORIZON) from COEFFICIENTS and STATE: means to FORECAST[0..h),
 * lower bounds to FORECAST[MAX_HORIZON..], upper bounds to FORECAST[2 MAX_HORIZON..].
 */
export function forecast(p: i32, q: i32, d: i32, h: i32, quantile: f64): void {
  assert(h >= 1 && h <= MAX_HORIZON && p <= MAX_ORDER && q <= MAX_ORDER && d <= 2);
  forecastMeans(p, q, d, h);
  const degree = integrateAr(p, d);
  const sigma2 = getF64(STATE, STATE_SIGMA2);
  const lower = FORECAST + (<usize>MAX_HORIZON << 3);
  const upper = FORECAST + (<usize>(2 * MAX_HORIZON) << 3);
  let variance: f64 = 0;
  for (let step = 0; step < h; step++) {
    let weight: f64 = step == 0 ? 1 : step <= q ? getF64(COEFFICIENTS, MAX_ORDER + step - 1) : 0;
    const terms = step < degree ? step : degree;
    for (let i = 1; i <= terms; i++) weight += -getF64(INTEGRATED, i) * getF64(PSI, step - i);
    setF64(PSI, step, weight);
    variance += weight * weight;
    const half = quantile * Math.sqrt(sigma2 * variance);
    const mean = getF64(FORECAST, step);
    setF64(lower, step, mean - half);
    setF64(upper, step, mean + half);
  }
}
