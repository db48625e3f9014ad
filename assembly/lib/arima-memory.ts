// Static memory of the ARIMA kernel. Everything is reserved once, when the instance starts (small
// buffers in the data segment, the large ones from the stub heap, which grows memory once), so no
// call allocates: JavaScript writes inputs at these addresses, calls, and reads outputs back.
// Sizes mirror the limits in src/kernels/arima-types.ts (the wrapper asserts they agree).

/** Longest series a fit accepts (ARIMA_MAX_WINDOW). */
export const MAX_WINDOW: i32 = 10000;
/** Longest forecast horizon (ARIMA_MAX_HORIZON). */
export const MAX_HORIZON: i32 = 1000;
/** Largest AR or MA order (ARIMA_MAX_P, ARIMA_MAX_Q). */
export const MAX_ORDER: i32 = 5;
/** Largest differencing order (ARIMA_MAX_D). */
export const MAX_DIFFERENCE: i32 = 2;
/** Most free parameters of one fit (p + q). */
export const MAX_PARAMETERS: i32 = 2 * MAX_ORDER;

/** Input series (f64 x MAX_WINDOW): the centred, scaled series of a fit. */
export const SERIES: usize = heap.alloc(<usize>MAX_WINDOW << 3);
/** Coefficients (f64 x 2 MAX_ORDER): ar_1..ar_5 then ma_1..ma_5; the output of a fit, the input of the rest. */
export const COEFFICIENTS: usize = memory.data(MAX_PARAMETERS << 3, 16);
/** Forecast and update state: [mean, sigma2, differencedTail x5, residualTail x5, levelTail x2]. */
export const STATE: usize = memory.data((2 + 2 * MAX_ORDER + MAX_DIFFERENCE) << 3, 16);
/** Forecast output: mean, lower and upper, MAX_HORIZON f64 each, one after the other. */
export const FORECAST: usize = heap.alloc(<usize>(3 * MAX_HORIZON) << 3);
/** Psi-weight scratch for forecasts (f64 x MAX_HORIZON). */
export const PSI: usize = heap.alloc(<usize>MAX_HORIZON << 3);

/** Nelder-Mead simplex: (MAX_PARAMETERS + 1) points of MAX_PARAMETERS f64. */
export const SIMPLEX: usize = memory.data(((MAX_PARAMETERS + 1) * MAX_PARAMETERS) << 3, 16);
/** Objective value of each simplex point. */
export const SIMPLEX_VALUES: usize = memory.data((MAX_PARAMETERS + 1) << 3, 16);
/** Simplex point indices, best first (i32). */
export const SIMPLEX_ORDER: usize = memory.data((MAX_PARAMETERS + 1) << 2, 16);
/** Centroid, trial and second trial points, and a point being evaluated (f64 x MAX_PARAMETERS each). */
export const CENTROID: usize = memory.data(MAX_PARAMETERS << 3, 16);
export const TRIAL: usize = memory.data(MAX_PARAMETERS << 3, 16);
export const SECOND: usize = memory.data(MAX_PARAMETERS << 3, 16);
/** Partial autocorrelations and Durbin-Levinson scratch (f64 x MAX_ORDER each). */
export const PARTIAL: usize = memory.data(MAX_ORDER << 3, 16);
export const SCRATCH: usize = memory.data(MAX_ORDER << 3, 16);
/** Sample autocorrelations for the starting point (f64 x MAX_ORDER + 1). */
export const CORRELATIONS: usize = memory.data((MAX_ORDER + 1) << 3, 16);

@inline export function getF64(base: usize, index: i32): f64 {
  return load<f64>(base + (<usize>index << 3));
}

@inline export function setF64(base: usize, index: i32, value: f64): void {
  store<f64>(base + (<usize>index << 3), value);
}
