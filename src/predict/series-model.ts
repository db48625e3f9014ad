/**
 * The model of one series: an ARIMA model refitted every `refitEvery` samples on a sliding window,
 * with its order chosen by AIC over a small grid (once the window is full, mostly over the last
 * order's neighbours: {@link SeriesModelOptions.fullSearchEvery}), and updated in O(p+q) per sample
 * in between. At each refit it also tries a seasonal variant: ARIMA on x minus the median of x one,
 * two and three periods back, at the window's dominant autocorrelation period, kept when its one-step
 * error variance is lower (the median keeps a one-off anomaly from echoing a period later). It yields
 * the one-step residual of every sample, which the anomaly likelihood and the detector use, and
 * forecasts with intervals for the breach probability.
 *
 * Bounded by construction: the window is a fixed ring of `windowSize` doubles, and the model itself
 * holds O(p+q+d) state. The copies a fit works on are shared by every model in the process (see
 * {@link FitScratch}).
 */
import assert from 'node:assert/strict';
import { ARIMA_DEFAULT_GRID, type ArimaForecast, type ArimaModel, type ArimaOrder } from '../kernels/arima-types.js';
import { intervalZ } from '../kernels/probability-reference.js';

/** What the series model needs from an ARIMA kernel (the WASM kernel or its TypeScript reference). */
export interface ArimaFitter {
  readonly name: string;
  selectArima(series: Float64Array, grid?: readonly ArimaOrder[]): ArimaModel;
}

/** Options of one series model. */
export interface SeriesModelOptions {
  /** Samples in the sliding window each fit sees. */
  windowSize: number;
  /**
   * Samples between refits. Until the window has filled, a refit also comes once the samples have
   * grown by half since the last one (see {@link warmUpGrowth}).
   */
  refitEvery: number;
  /** Samples needed before the first fit; until then the forecast is the last value. */
  minFitSamples: number;
  /** Order grid searched by AIC at each refit; undefined means the kernel's default grid. */
  grid?: readonly ArimaOrder[];
  /** Whether each refit also tries a seasonal difference at the window's dominant period. */
  seasonal?: boolean;
  /**
   * Once the window is full, only every this many refits searches the whole grid; the refits between
   * fit the order chosen last and its neighbours in the grid ({@link stepwiseGrid}), as auto.arima's
   * stepwise search does (Hyndman and Khandakar, 2008). A sliding window moves by `refitEvery`
   * samples between refits, so the best order rarely moves further than one step. 1 or absent:
   * every refit searches the whole grid (`foreshard detect`'s default; the agent's is
   * `agentFullSearchEvery`).
   */
  fullSearchEvery?: number;
  /** Samples the regime-change model sees (see {@link SeriesModel.recentForecast}); default 20. */
  recentWindow?: number;
  /**
   * Robust mode, in standard deviations (0 or absent: off). A sample whose one-step error exceeds
   * this many of the model's innovation σ updates the model's state only as far as that bound (its
   * full residual is still returned, so the anomaly likelihood sees it), and each refit's window is
   * winsorised at its median ± this many robust σ (1.4826·MAD). A one-sample disk stall then stays
   * an anomaly instead of becoming the trend the model extrapolates for the next minute.
   */
  outlierSigmas?: number;
}

/**
 * Orders the regime-change model chooses from by AIC: the random walk, its MA(1) and AR(1)
 * variants, and ARIMA(0,2,1), the local linear trend, which is what lets a steady ramp be
 * extrapolated to the threshold it is heading for.
 */
export const recentOrderGrid: readonly ArimaOrder[] = Object.freeze([
  { p: 0, d: 1, q: 0 },
  { p: 0, d: 1, q: 1 },
  { p: 1, d: 1, q: 0 },
  { p: 0, d: 2, q: 1 },
]);

/** Fewest samples in a row beyond the regime before their trend is extrapolated ({@link SeriesModel.trendForecast}). */
export const trendMinRun = 5;

/**
 * Until its window has filled, a model also refits once its samples have grown by this factor since
 * its last fit (30, 45, 68, 102, ... samples), not only every `refitEvery`. The first fit sees only
 * `minFitSamples`, which may be mostly a start-up's transients (replicas created, caches cold, every
 * process of a host starting at once); held for `refitEvery` samples, such a fit forecast a quiet
 * fsync p99 of 1.5 ms at 13 ms ± 21 for 30 s on a 20 ms SLO, and a rollback score of 0.79. Refitting
 * as the window grows lets the steady samples outnumber the transient within a few of them.
 */
export const warmUpGrowth = 1.5;

/**
 * The orders of `grid` next to `order`: the same one, p or q one apart at the same d, and the same
 * p and q at another d. An order outside the grid gets the whole grid.
 */
export function stepwiseGrid(grid: readonly ArimaOrder[], order: ArimaOrder): readonly ArimaOrder[] {
  if (!grid.some((g) => g.p === order.p && g.d === order.d && g.q === order.q)) return grid;
  return grid.filter((g) => (g.d === order.d && Math.abs(g.p - order.p) + Math.abs(g.q - order.q) <= 1) || (g.p === order.p && g.q === order.q));
}

/** Default length of the regime-change window: 20 samples, 20 s at 1 Hz. */
export const defaultRecentWindow = 20;

/** Largest sliding window accepted (the kernel's own limit is 10,000). */
export const maxWindowSize = 10_000;

/** Defaults for a 1 Hz agent series; `foreshard detect` uses the same. */
export const defaultSeriesModelOptions: Readonly<SeriesModelOptions> = Object.freeze({
  windowSize: 400,
  refitEvery: 200,
  minFitSamples: 50,
  seasonal: true,
  outlierSigmas: 5,
});

/** Shortest period the seasonal search considers. */
const minPeriod = 4;
/** A period must repeat at least this many times in the window to be estimated. */
const minPeriodRepeats = 3;

/**
 * The lag (minPeriod..n/minPeriodRepeats) with the highest autocorrelation among the local maxima of
 * the sample autocorrelation function, or 0 when no lag correlates positively. O(n²/3).
 */
export function dominantPeriod(window: Float64Array): number {
  const n = window.length;
  let mean = 0;
  for (let index = 0; index < n; index++) mean += window[index]!;
  mean /= n;
  let variance = 0;
  for (let index = 0; index < n; index++) variance += (window[index]! - mean) ** 2;
  if (!(variance > 0)) return 0;
  const maxLag = Math.floor(n / minPeriodRepeats);
  let best = 0;
  let bestCorrelation = 0;
  let previous = Infinity;
  let current = autocorrelation(window, mean, variance, minPeriod);
  for (let lag = minPeriod; lag < maxLag; lag++) {
    const following = autocorrelation(window, mean, variance, lag + 1);
    if (current > previous && current >= following && current > bestCorrelation) {
      best = lag;
      bestCorrelation = current;
    }
    previous = current;
    current = following;
  }
  return best;
}

/**
 * The range, median and robust spread of the window a fit saw, kept with the model: computed once
 * per refit (two sorts of a copy), not on every forecast, which runs once per series per score. A
 * stationary regime's forecast error never exceeds the spread of the series itself; 1.4826·MAD
 * estimates that spread without letting a few spikes inflate it.
 */
interface Regime {
  low: number;
  high: number;
  middle: number;
  spread: number;
}

function describeRegime(window: Float64Array): Regime {
  const sorted = Float64Array.from(window).sort();
  const low = sorted[0]!;
  const high = sorted[sorted.length - 1]!;
  const middle = sorted[sorted.length >> 1]!;
  for (let index = 0; index < sorted.length; index++) sorted[index] = Math.abs(sorted[index]! - middle);
  sorted.sort();
  return { low, high, middle, spread: 1.4826 * sorted[sorted.length >> 1]! };
}

/**
 * Clamps a forecast in place: each step's mean into [`lowest`, `highest`], and its interval to at
 * most `widest` either side of that mean. Both the sliding-window forecast (to its window) and the
 * regime-change forecast (to its window's change) are bounded this way.
 */
function clampForecast(forecast: ArimaForecast, lowest: number, highest: number, widest: number): ArimaForecast {
  for (let step = 0; step < forecast.mean.length; step++) {
    const mean = Math.min(highest, Math.max(lowest, forecast.mean[step]!));
    const halfWidth = Math.min((forecast.upper[step]! - forecast.lower[step]!) / 2, widest);
    forecast.mean[step] = mean;
    forecast.lower[step] = mean - halfWidth;
    forecast.upper[step] = mean + halfWidth;
  }
  return forecast;
}

/** Periods the seasonal reference takes its median over. */
const seasonalReferencePeriods = 3;

/** The median of a non-empty list, sorted in place (the upper middle for an even length, as {@link describeRegime}). */
function median(values: number[]): number {
  values.sort((a, b) => a - b);
  return values[values.length >> 1]!;
}

/** The median of three numbers. */
function median3(a: number, b: number, c: number): number {
  return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
}

function autocorrelation(window: Float64Array, mean: number, variance: number, lag: number): number {
  let sum = 0;
  for (let index = lag; index < window.length; index++) sum += (window[index]! - mean) * (window[index - lag]! - mean);
  return sum / variance;
}

/** Checks options once, at construction (programmer errors: the CLI validates user input first). */
export function checkSeriesModelOptions(options: SeriesModelOptions): void {
  assert.ok(Number.isInteger(options.windowSize) && options.windowSize >= 20 && options.windowSize <= maxWindowSize, `windowSize must be 20..${maxWindowSize}`);
  assert.ok(Number.isInteger(options.refitEvery) && options.refitEvery >= 1, 'refitEvery must be a positive integer');
  assert.ok(Number.isInteger(options.minFitSamples) && options.minFitSamples >= 20 && options.minFitSamples <= options.windowSize, 'minFitSamples must be 20..windowSize');
  const fullSearchEvery = options.fullSearchEvery ?? 1;
  assert.ok(Number.isInteger(fullSearchEvery) && fullSearchEvery >= 1, 'fullSearchEvery must be a positive integer');
  const recent = options.recentWindow ?? defaultRecentWindow;
  assert.ok(Number.isInteger(recent) && recent >= 14 && recent <= options.windowSize, 'recentWindow must be 14..windowSize');
}

/**
 * The two work arrays of a fit: the window copied out of its ring, and the seasonally differenced
 * window. A fit runs start to end in one synchronous call, and a fitted model keeps copies of what it
 * needs (the kernels' tails), never these arrays, so one pair serves every model in the process.
 * With 100 series of a 600-sample window that is 9.6 KB instead of 0.96 MB (docs/agent-memory.md).
 * They grow to the longest window asked for, which `maxWindowSize` bounds.
 */
class FitScratch {
  private window = new Float64Array(0);
  private seasonal = new Float64Array(0);

  /** `length` doubles for the window copy; valid until the next call. */
  windowOf(length: number): Float64Array {
    if (this.window.length < length) this.window = new Float64Array(length);
    return this.window.subarray(0, length);
  }

  /** `length` doubles for the seasonally differenced window; a different array from {@link windowOf}'s. */
  seasonalOf(length: number): Float64Array {
    if (this.seasonal.length < length) this.seasonal = new Float64Array(length);
    return this.seasonal.subarray(0, length);
  }
}

const fitScratch = new FitScratch();

/** A sliding-window ARIMA model of one series. */
export class SeriesModel {
  private readonly ring: Float64Array;
  private next = 0;
  private count = 0;
  private sinceFit = 0;
  /** Samples in the window at the last fit (0: none yet). */
  private fittedOn = 0;
  /** Samples observed since the model was made. */
  private observed = 0;
  private model: ArimaModel | undefined;
  private lastValue = NaN;
  /** Seasonal period the current model differences at, or 0 for none. */
  private period = 0;
  /** The orders the last refit chose for the plain and the seasonal fit (undefined: search the whole grid). */
  private plainOrder: ArimaOrder | undefined;
  private seasonalOrder: ArimaOrder | undefined;
  /** Full-window refits since the last whole-grid search ({@link SeriesModelOptions.fullSearchEvery}). */
  private stepwiseRefits = 0;
  /** Refits that searched the whole grid, and those that searched only a neighbourhood (counted as `fits` is, for tests). */
  fullSearches = 0;
  stepwiseSearches = 0;
  /** Fits that threw a kernel error (the model keeps its previous fit, or the naive forecast). */
  fitFailures = 0;
  /** Fits done, for the benchmark's amortised cost. */
  fits = 0;
  /**
   * Consecutive one-step residuals of the same sign, signed: +3 means the last three samples all
   * came in above the forecast. A ramp keeps beating the model in one direction; noise and spikes
   * alternate.
   */
  residualRun = 0;
  /** The window the current model was fitted on, as {@link describeRegime} summarises it. */
  private regime: Regime | undefined;
  /** Samples whose model update robust mode bounded (see {@link SeriesModelOptions.outlierSigmas}). */
  clippedSamples = 0;
  /** z of the central interval level of the forecast being made. */
  private intervalZ = 1.96;

  /**
   * With a `refitPhase` (0 to `refitEvery` - 1), once the window is full the model refits on its
   * own slot of every `refitEvery` samples: when the samples it has observed plus its phase are a
   * multiple of `refitEvery`. Series that start together would otherwise all refit on the same
   * sample, for ever: 100 full-window fits in one burst that holds the agent's event loop and
   * leaves tens of MB of fitting garbage at once. The engine gives each series its own phase.
   * Without one, a refit comes `refitEvery` samples after the last (as `foreshard detect` runs).
   */
  constructor(
    private readonly fitter: ArimaFitter,
    readonly options: SeriesModelOptions = defaultSeriesModelOptions,
    private readonly refitPhase?: number,
  ) {
    checkSeriesModelOptions(options);
    assert.ok(refitPhase === undefined || (Number.isInteger(refitPhase) && refitPhase >= 0 && refitPhase < options.refitEvery), 'refitPhase must be a whole number below refitEvery');
    this.ring = new Float64Array(options.windowSize);
  }

  /** The seasonal period in use (0: none). */
  get seasonalPeriod(): number {
    return this.period;
  }

  /**
   * The seasonal reference for the value `ahead` samples after the latest (0: the latest itself):
   * the median of the values one, two and three periods earlier. A median, not the value one period
   * back, so that a one-off anomaly does not echo as a second one a period later.
   */
  private seasonalReference(ahead: number): number {
    const period = this.period;
    return median3(this.valueAgo(period - ahead), this.valueAgo(2 * period - ahead), this.valueAgo(3 * period - ahead));
  }

  /** The value `lag` samples before the latest one (lag 0 is the latest); needs lag < samples seen. */
  private valueAgo(lag: number): number {
    assert.ok(lag >= 0 && lag < this.count, 'lag beyond the window');
    return this.ring[(this.next - 1 - lag + 2 * this.ring.length) % this.ring.length]!;
  }

  /** The current fitted model, if any. */
  get current(): ArimaModel | undefined {
    return this.model;
  }

  /** Samples observed so far, counted up to the window size. */
  get samples(): number {
    return this.count;
  }

  /** The last value observed (NaN before the first). */
  get last(): number {
    return this.lastValue;
  }

  /** The one-step forecast of the next value: the model's, or the last value before the first fit. */
  predictNext(): number {
    if (!this.model) return this.lastValue;
    return this.model.predictNext() + (this.period > 0 ? this.seasonalReference(1) : 0);
  }

  /**
   * Adds a sample and returns its one-step residual (value minus what was forecast for it), or 0
   * for the very first sample. Refits when due, after the update, so the new model starts from the
   * latest window.
   */
  observe(x: number): number {
    assert.ok(Number.isFinite(x), 'series values must be finite (callers drop or reject others)');
    // In seasonal mode the model sees x_t − x_{t−period}; its one-step error is the same as x's.
    const input = this.period > 0 ? x - this.seasonalReference(0) : x;
    const residual = this.model ? this.updateModel(this.model, input) : Number.isNaN(this.lastValue) ? 0 : x - this.lastValue;
    if (residual > 0) this.residualRun = this.residualRun > 0 ? this.residualRun + 1 : 1;
    else if (residual < 0) this.residualRun = this.residualRun < 0 ? this.residualRun - 1 : -1;
    this.lastValue = x;
    this.ring[this.next] = x;
    this.next = (this.next + 1) % this.ring.length;
    if (this.count < this.ring.length) this.count++;
    this.sinceFit++;
    this.observed++;
    if (this.refitDue()) this.refit();
    return Number.isFinite(residual) ? residual : 0;
  }

  /** One model update; in robust mode an outlier moves the state only to the bound (see the option). */
  private updateModel(model: ArimaModel, input: number): number {
    const sigmas = this.options.outlierSigmas ?? 0;
    if (sigmas <= 0) return model.update(input);
    const predicted = model.predictNext();
    const error = input - predicted;
    const bound = sigmas * Math.sqrt(model.sigma2);
    if (!(Math.abs(error) > bound)) return model.update(input);
    this.clippedSamples++;
    model.update(predicted + Math.sign(error) * bound);
    return error;
  }

  /** The first fit at `minFitSamples`; then every `refitEvery` (on the phase's slot once the window is full), and sooner while the window fills ({@link warmUpGrowth}). */
  private refitDue(): boolean {
    if (this.fittedOn === 0) return this.count >= this.options.minFitSamples;
    if (this.refitPhase !== undefined && this.count === this.ring.length) return (this.observed + this.refitPhase) % this.options.refitEvery === 0;
    if (this.sinceFit >= this.options.refitEvery) return true;
    return this.count < this.ring.length && this.count >= Math.ceil(this.fittedOn * warmUpGrowth);
  }

  private refit(): void {
    this.sinceFit = 0;
    this.fittedOn = this.count;
    const window = fitScratch.windowOf(this.count);
    const start = this.count < this.ring.length ? 0 : this.next;
    for (let index = 0; index < this.count; index++) window[index] = this.ring[(start + index) % this.ring.length]!;
    const regime = describeRegime(window);
    const sigmas = this.options.outlierSigmas ?? 0;
    if (sigmas > 0 && regime.spread > 0) {
      const low = regime.middle - sigmas * regime.spread;
      const high = regime.middle + sigmas * regime.spread;
      for (let index = 0; index < window.length; index++) window[index] = Math.min(high, Math.max(low, window[index]!));
      regime.low = Math.max(regime.low, low);
      regime.high = Math.min(regime.high, high);
    }
    // Stepwise only on a full window: while it fills, each refit sees half as much again as the last.
    const stepwise = this.count === this.ring.length && this.plainOrder !== undefined && this.stepwiseRefits + 1 < (this.options.fullSearchEvery ?? 1);
    this.stepwiseRefits = stepwise ? this.stepwiseRefits + 1 : 0;
    if (stepwise) this.stepwiseSearches++;
    else this.fullSearches++;
    try {
      let model = this.fitter.selectArima(window, this.gridNear(stepwise ? this.plainOrder : undefined));
      this.plainOrder = model.fallback === null ? model.order : undefined;
      let period = 0;
      this.fits++;
      if (this.options.seasonal) ({ model, period } = this.preferSeasonal(window, model, stepwise));
      this.model = model;
      this.period = period;
      this.regime = regime;
    } catch (error) {
      // A kernel error (e.g. a window the fit cannot use) keeps the previous model; it is counted
      // so the agent can report it, and the next refit tries again.
      if ((error as { code?: unknown }).code === undefined) throw error;
      this.fitFailures++;
    }
  }

  /** The grid a refit searches: the options' (or the kernel's default), or the neighbourhood of `order`. */
  private gridNear(order: ArimaOrder | undefined): readonly ArimaOrder[] | undefined {
    if (order === undefined) return this.options.grid;
    return stepwiseGrid(this.options.grid ?? ARIMA_DEFAULT_GRID, order);
  }

  /**
   * Fits the seasonal model, x minus its seasonal reference, at the window's dominant period, and
   * returns it when its one-step error variance beats the plain model's (both forecast x one step
   * ahead, so their innovation variances compare directly).
   */
  private preferSeasonal(window: Float64Array, plain: ArimaModel, stepwise: boolean): { model: ArimaModel; period: number } {
    const period = dominantPeriod(window);
    const span = seasonalReferencePeriods * period;
    // The seasonal fit sees the window less its first three periods; it needs enough of it left.
    if (period === 0 || this.count - span < this.options.minFitSamples) return { model: plain, period: 0 };
    const differenced = fitScratch.seasonalOf(this.count - span);
    for (let index = span; index < this.count; index++) {
      differenced[index - span] = window[index]! - median3(window[index - period]!, window[index - 2 * period]!, window[index - span]!);
    }
    const seasonal = this.fitter.selectArima(differenced, this.gridNear(stepwise ? this.seasonalOrder : undefined));
    this.seasonalOrder = seasonal.fallback === null ? seasonal.order : undefined;
    this.fits++;
    return seasonal.sigma2 < plain.sigma2 ? { model: seasonal, period } : { model: plain, period: 0 };
  }

  /**
   * The regime-change forecast: a model fitted now on only the last `recentWindow` samples, by AIC
   * over {@link recentOrderGrid}. The sliding-window model describes the regime it was fitted on;
   * when its residuals turn anomalous that regime has ended (a disk slowing down, a queue filling)
   * and it would forecast a return to the old level until its next refit. Undefined before the
   * window has filled, or when the kernel cannot fit it (the caller keeps the main forecast).
   *
   * It is bounded twice. It reaches no further ahead than its window reaches back (at most
   * `recentWindow` of the `steps` asked for): 20 samples say little about the 220 after them, and a
   * random walk's interval grown over such a horizon read as a likely breach whenever a burst had
   * widened it (fsync p99 at 8 ms forecast in [-94, 110] ms on a busy test machine). And it stays
   * within the change its window has seen: the mean no further than the window's range from the
   * latest value, the interval no wider than that range either side. A steady ramp rises by about
   * as much over the next window as over the last, so it is still extrapolated to its threshold; a
   * burst that jumped within a few samples is not extrapolated at its peak slope (a cpu_stall_ratio
   * of 0.5 had been forecast at 7 on a healthy node of the soak).
   */
  recentForecast(steps: number, level: number): ArimaForecast | undefined {
    const length = this.recentLength;
    // A running median of three over the samples before the newest: a ramp survives it, a lone
    // spike (a GC pause, one slow fsync) does not, so one outlier is never extrapolated into a
    // trend. The newest sample has no successor to take a median with, so it is left out.
    if (this.count < length + 2) return undefined;
    const window = fitScratch.windowOf(length);
    for (let index = 0; index < length; index++) {
      const lag = length - index;
      window[index] = median3(this.valueAgo(lag + 1), this.valueAgo(lag), this.valueAgo(lag - 1));
    }
    try {
      const model = this.fitter.selectArima(window, recentOrderGrid);
      this.fits++;
      const latest = this.lastValue;
      let lowest = latest;
      let highest = latest;
      for (const value of window) {
        lowest = Math.min(lowest, value);
        highest = Math.max(highest, value);
      }
      const range = highest - lowest;
      return clampForecast(model.forecast(Math.min(steps, length), level), latest - range, latest + range, range);
    } catch (error) {
      if ((error as { code?: unknown }).code === undefined) throw error;
      this.fitFailures++;
      return undefined;
    }
  }

  /**
   * Forecasts `steps` ahead with a central `level` interval; a flat, zero-width one before the first
   * fit. The sliding-window model describes the regime its window has shown, so its forecast is kept
   * within that window's range widened by the range once on each side: an integrated model fitted on
   * a spiky series would otherwise extrapolate one spike into a runaway trend over the horizon.
   * Genuine departures from the regime are the job of {@link recentForecast}.
   */
  forecast(steps: number, level: number): ArimaForecast {
    this.intervalZ = intervalZ(level);
    if (this.model && this.period === 0) return this.boundToWindow(this.model.forecast(steps, level));
    if (this.model) return this.boundToWindow(this.seasonalForecast(this.model.forecast(steps, level)));
    const flat = new Float64Array(steps).fill(Number.isNaN(this.lastValue) ? 0 : this.lastValue);
    return { mean: flat, lower: flat.slice(), upper: flat.slice() };
  }

  private boundToWindow(forecast: ArimaForecast): ArimaForecast {
    const regime = this.regime;
    if (regime === undefined) return forecast;
    const span = regime.high - regime.low;
    return clampForecast(forecast, regime.low - span, regime.high + span, this.halfWidthFor(regime.spread));
  }

  /** Samples the regime-change window holds. */
  get recentLength(): number {
    return this.options.recentWindow ?? defaultRecentWindow;
  }

  /**
   * How many of the newest samples, in a row, lie more than `sigmas` robust σ beyond the fitted
   * window's median toward `direction` (at most `max`); 0 before the first fit.
   */
  departedRun(direction: 'above' | 'below', sigmas: number, max: number): number {
    const regime = this.regime;
    if (regime === undefined) return 0;
    let run = 0;
    while (run < Math.min(max, this.count)) {
      const value = this.valueAgo(run);
      if (!((direction === 'above' ? value - regime.middle : regime.middle - value) > sigmas * regime.spread)) break;
      run++;
    }
    return run;
  }

  /**
   * The trend of a departure: a robust straight line (Theil–Sen) through the last `run` samples,
   * the ones that have left the regime in a row ({@link departedRun}), extrapolated `steps` ahead
   * but no further than twice the run (nor the regime-change window). A ramp that has just left
   * its regime has too few samples for an ARIMA fit of its own, and the regime-change window's fit
   * is dominated by the samples before it, so it forecasts the level the ramp has reached rather
   * than where it is heading. Undefined with fewer than {@link trendMinRun} samples, when the line
   * does not head toward `direction` with a slope of at least `minT` standard errors, and when the
   * newest sample has fallen back more than two scatters from the line (a ramp goes on; noise
   * that happened to line up for a few samples does not). The interval grows with the slope's own
   * uncertainty; the scatter is never taken as smaller than the regime's.
   *
   * Noise at a new level can line up like a ramp: four lognormal samples at 7 ms read 4.9, 6.1,
   * 9.0, 11.9 in a seeded test, which is why it takes five, and the check on the newest.
   */
  trendForecast(run: number, direction: 'above' | 'below', steps: number, level: number, minT: number): ArimaForecast | undefined {
    const regime = this.regime;
    if (regime === undefined || run < trendMinRun) return undefined;
    const values = Array.from({ length: run }, (_, index) => this.valueAgo(run - 1 - index));
    const slopes: number[] = [];
    for (let i = 0; i < run; i++) for (let j = i + 1; j < run; j++) slopes.push((values[j]! - values[i]!) / (j - i));
    const slope = median(slopes);
    const intercept = median(values.map((value, index) => value - slope * index));
    const scatter = Math.max(1.4826 * median(values.map((value, index) => Math.abs(value - intercept - slope * index))), regime.spread);
    const meanIndex = (run - 1) / 2;
    const slopeError = scatter / Math.sqrt(values.reduce((sum, _, index) => sum + (index - meanIndex) ** 2, 0));
    if ((direction === 'above' ? slope : -slope) < minT * slopeError) return undefined;
    const newest = values[run - 1]! - intercept - slope * (run - 1);
    if ((direction === 'above' ? -newest : newest) > 2 * scatter) return undefined;
    const z = intervalZ(level);
    const ahead = Math.min(steps, 2 * run, this.recentLength);
    const mean = new Float64Array(ahead);
    const lower = new Float64Array(ahead);
    const upper = new Float64Array(ahead);
    const end = intercept + slope * (run - 1);
    for (let h = 1; h <= ahead; h++) {
      mean[h - 1] = end + slope * h;
      const halfWidth = z * Math.sqrt(scatter ** 2 + (slopeError * (run - 1 - meanIndex + h)) ** 2);
      lower[h - 1] = mean[h - 1]! - halfWidth;
      upper[h - 1] = mean[h - 1]! + halfWidth;
    }
    return { mean, lower, upper };
  }

  /**
   * Whether the series has left the regime its model was fitted on toward `direction`: the median
   * of its last three samples lies more than `sigmas` robust σ beyond the fitted window's median.
   * A ramp stays out; a spike that has ended is back in, so its echo in the residuals is not taken
   * for a new regime. False before the first fit.
   */
  departed(direction: 'above' | 'below', sigmas: number): boolean {
    const regime = this.regime;
    if (regime === undefined || this.count < 3) return false;
    const level = median3(this.valueAgo(0), this.valueAgo(1), this.valueAgo(2));
    const distance = (direction === 'above' ? level - regime.middle : regime.middle - level);
    return distance > sigmas * regime.spread;
  }

  /** The interval half-width of a spread at the level of the last forecast. */
  private halfWidthFor(spread: number): number {
    return this.intervalZ * spread;
  }

  /**
   * Undoes the seasonal difference: x_{t+h} = y_{t+h} + reference_{t+h}. For h ≤ period the
   * reference is the one the model was fitted with, the median of the observations one, two and
   * three periods back. Beyond the first period it is this forecast's own mean one period back, and
   * y's forecast enters less y's mean: that mean is the median reference's bias on a skewed series
   * (a median of three samples sits below their mean), which the first period has already added.
   * Added again each period it compounded: 30 periods of a 60 s horizon at 250 ms sampling carried a
   * cpu_utilization of 0.3 to a forecast of 1.2. So beyond the first period the forecast repeats the
   * seasonal pattern, plus y's (decaying) departure from its mean. The interval is shifted by the
   * same amount (it ignores the extra variance of the reference, a documented approximation).
   */
  private seasonalForecast(forecast: ArimaForecast): ArimaForecast {
    const steps = forecast.mean.length;
    const bias = this.model?.mean ?? 0;
    const mean = new Float64Array(steps);
    const lower = new Float64Array(steps);
    const upper = new Float64Array(steps);
    for (let step = 0; step < steps; step++) {
      const back = step + 1 - this.period;
      const base = back <= 0 ? this.seasonalReference(step + 1) : mean[back - 1]! - bias;
      mean[step] = forecast.mean[step]! + base;
      lower[step] = forecast.lower[step]! + base;
      upper[step] = forecast.upper[step]! + base;
    }
    return { mean, lower, upper };
  }
}
