/**
 * The ARIMA kernel behind `foreshard/kernels`: {@link fitArima}, {@link selectArima} and the models
 * they return. The fit (CSS objective + Nelder-Mead) and the psi-weight forecast run in
 * build/arima.wasm; the shared driver in arima-reference.ts does input checks, differencing,
 * fallbacks and the O(p + q) streaming update in TypeScript. The kernel instance keeps no model
 * between calls, so one instance serves every model in the process. See docs/arima.md.
 */
import assert from 'node:assert/strict';
import { ARIMA_MAX_EVALUATIONS_PER_PARAMETER, ARIMA_MAX_HORIZON, ARIMA_MAX_P, ARIMA_MAX_Q, ARIMA_MAX_WINDOW, ARIMA_TOLERANCE } from './arima-types.js';
import type { ArimaModel, ArimaOrder } from './arima-types.js';
import { fitArimaWith, selectArimaWith, type ArimaEngine, type ArimaForecastInput } from './arima-reference.js';
import { instantiateKernel } from './wasm.js';

export * from './arima-types.js';

interface ArimaExports extends Record<string, unknown> {
  seriesPointer(): number;
  coefficientsPointer(): number;
  statePointer(): number;
  forecastPointer(): number;
  maxWindow(): number;
  maxHorizon(): number;
  fitArma(n: number, p: number, q: number, maxEvaluations: number, tolerance: number): number;
  sumOfSquares(n: number, p: number, mean: number): number;
  forecast(p: number, q: number, d: number, h: number, quantile: number): void;
}

/** Slots of the kernel's state buffer (see assembly/lib/arima-forecast.ts). */
const STATE_SLOTS = { mean: 0, sigma2: 1, differenced: 2, residuals: 2 + ARIMA_MAX_P, levels: 2 + ARIMA_MAX_P + ARIMA_MAX_Q };

/** One instance plus typed views on its memory, rebuilt whenever the memory's buffer changes. */
class ArimaKernel {
  readonly exports: ArimaExports & { memory: WebAssembly.Memory };
  #buffer: ArrayBuffer | null = null;
  #series = new Float64Array(0);
  #coefficients = new Float64Array(0);
  #state = new Float64Array(0);
  #forecast = new Float64Array(0);

  constructor() {
    this.exports = instantiateKernel<ArimaExports>('arima');
    // The kernel's buffers are sized from the same limits as the wrapper's checks.
    assert.equal(this.exports.maxWindow(), ARIMA_MAX_WINDOW, 'arima.wasm was built for another window limit');
    assert.equal(this.exports.maxHorizon(), ARIMA_MAX_HORIZON, 'arima.wasm was built for another horizon limit');
  }

  views(): { series: Float64Array; coefficients: Float64Array; state: Float64Array; forecast: Float64Array } {
    const buffer = this.exports.memory.buffer;
    if (buffer !== this.#buffer) {
      const e = this.exports;
      this.#series = new Float64Array(buffer, e.seriesPointer(), ARIMA_MAX_WINDOW);
      this.#coefficients = new Float64Array(buffer, e.coefficientsPointer(), ARIMA_MAX_P + ARIMA_MAX_Q);
      this.#state = new Float64Array(buffer, e.statePointer(), STATE_SLOTS.levels + 2);
      this.#forecast = new Float64Array(buffer, e.forecastPointer(), 3 * ARIMA_MAX_HORIZON);
      this.#buffer = buffer;
    }
    return { series: this.#series, coefficients: this.#coefficients, state: this.#state, forecast: this.#forecast };
  }
}

let kernel: ArimaKernel | null = null;

/**
 * Runs `body` on the shared kernel instance. A trap (a failed kernel assertion) is fatal for the
 * instance, so it is dropped and the next call starts a fresh one; models live in JavaScript and
 * lose nothing.
 */
function withKernel<T>(body: (k: ArimaKernel) => T): T {
  kernel ??= new ArimaKernel();
  try {
    return body(kernel);
  } catch (error) {
    kernel = null;
    throw error;
  }
}

/** Writes a model's coefficients (zero-padded) into the kernel. */
function writeCoefficients(coefficients: Float64Array, ar: Float64Array, ma: Float64Array): void {
  coefficients.fill(0);
  coefficients.set(ar, 0);
  coefficients.set(ma, ARIMA_MAX_P);
}

/** The WebAssembly engine: the same contract as `referenceEngine`, computed in build/arima.wasm. */
export const wasmEngine: ArimaEngine = {
  fitArma(z, p, q, ar, ma) {
    return withKernel((k) => {
      const { series, coefficients } = k.views();
      series.set(z);
      const status = k.exports.fitArma(z.length, p, q, ARIMA_MAX_EVALUATIONS_PER_PARAMETER * (p + q), ARIMA_TOLERANCE);
      ar.set(coefficients.subarray(0, p));
      ma.set(coefficients.subarray(ARIMA_MAX_P, ARIMA_MAX_P + q));
      return status === 1;
    });
  },
  forecast(input: ArimaForecastInput, h, quantile, mean, lower, upper) {
    withKernel((k) => {
      const { coefficients, state, forecast } = k.views();
      writeCoefficients(coefficients, input.ar, input.ma);
      state.fill(0);
      state[STATE_SLOTS.mean] = input.mean;
      state[STATE_SLOTS.sigma2] = input.sigma2;
      state.set(input.differencedTail, STATE_SLOTS.differenced);
      state.set(input.residualTail, STATE_SLOTS.residuals);
      state.set(input.levelTail, STATE_SLOTS.levels);
      k.exports.forecast(input.ar.length, input.ma.length, input.d, h, quantile);
      mean.set(forecast.subarray(0, h));
      lower.set(forecast.subarray(ARIMA_MAX_HORIZON, ARIMA_MAX_HORIZON + h));
      upper.set(forecast.subarray(2 * ARIMA_MAX_HORIZON, 2 * ARIMA_MAX_HORIZON + h));
    });
  },
};

/**
 * The CSS log-likelihood computed by the kernel, for comparison with `cssLogLikelihoodReference`:
 * ARMA(ar, ma) with `mean` on the already differenced series `w`, sigma2 concentrated out.
 */
export function cssLogLikelihood(w: Float64Array, mean: number, ar: Float64Array, ma: Float64Array): number {
  assert(w.length <= ARIMA_MAX_WINDOW && ar.length <= ARIMA_MAX_P && ma.length <= ARIMA_MAX_Q && w.length > ar.length);
  const sumOfSquares = withKernel((k) => {
    const { series, coefficients } = k.views();
    series.set(w);
    writeCoefficients(coefficients, ar, ma);
    return k.exports.sumOfSquares(w.length, ar.length, mean);
  });
  const count = w.length - ar.length;
  return (-count / 2) * (Math.log((2 * Math.PI * sumOfSquares) / count) + 1);
}

/**
 * Fits ARIMA(order) to `series` by conditional sum of squares in WebAssembly. Throws KernelError
 * `BAD_ORDER`, `SERIES_TOO_SHORT`, `SERIES_NOT_FINITE` or `INPUT_TOO_LARGE`; a constant series or a
 * diverged fit returns a simpler model named by `model.fallback`.
 */
export function fitArima(series: Float64Array, order: ArimaOrder): ArimaModel {
  return fitArimaWith(wasmEngine, series, order);
}

/** Fits every order of `grid` (default {@link ARIMA_DEFAULT_GRID}) and returns the one with the lowest AIC. */
export function selectArima(series: Float64Array, grid?: readonly ArimaOrder[]): ArimaModel {
  return selectArimaWith(wasmEngine, series, grid);
}
