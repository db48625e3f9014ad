/**
 * Anomaly likelihood in the style of Numenta's (Ahmad et al., "Unsupervised real-time anomaly
 * detection for streaming data", 2017): how unusual the recent one-step forecast errors are against
 * their own longer history.
 *
 * Per sample, the raw error is the magnitude of the one-step residual. Its short-window mean
 * (`shortWindow` samples) is compared with the distribution of that same short mean over the last
 * `longWindow` samples, taken as Gaussian: the likelihood is `1 − Q((short − μ)/σ)`. Only the upper
 * tail matters, since an anomaly makes errors larger, never smaller. Each sample costs O(1) and the
 * state is two fixed ring buffers.
 */
import assert from 'node:assert/strict';
import { normalTail } from './probability.js';

/** Sizes of the anomaly likelihood's windows. */
export interface AnomalyLikelihoodOptions {
  /** Samples in the recent mean of errors (Numenta: 10). */
  shortWindow: number;
  /** Samples of history the recent mean is judged against. */
  longWindow: number;
}

/** Largest window accepted, so the state of one series stays small. */
export const maxAnomalyWindow = 10_000;
/** Running sums are recomputed from the ring buffer this often, so float drift never accumulates. */
const resumEvery = 1024;

/** A fixed-size ring of numbers with its running sum and sum of squares. */
export class RollingStats {
  private readonly values: Float64Array;
  private next = 0;
  private count = 0;
  private sum = 0;
  private sumOfSquares = 0;
  private sinceResum = 0;

  constructor(readonly capacity: number) {
    assert.ok(Number.isInteger(capacity) && capacity >= 1 && capacity <= maxAnomalyWindow, `window must be 1..${maxAnomalyWindow}, got ${capacity}`);
    this.values = new Float64Array(capacity);
  }

  /** Adds `x`, evicting the oldest value once full. */
  push(x: number): void {
    if (this.count === this.capacity) {
      const old = this.values[this.next]!;
      this.sum -= old;
      this.sumOfSquares -= old * old;
    } else {
      this.count++;
    }
    this.values[this.next] = x;
    this.next = (this.next + 1) % this.capacity;
    this.sum += x;
    this.sumOfSquares += x * x;
    if (++this.sinceResum >= resumEvery) this.resum();
  }

  private resum(): void {
    this.sinceResum = 0;
    let sum = 0;
    let sumOfSquares = 0;
    for (let index = 0; index < this.count; index++) {
      sum += this.values[index]!;
      sumOfSquares += this.values[index]! * this.values[index]!;
    }
    this.sum = sum;
    this.sumOfSquares = sumOfSquares;
  }

  get size(): number {
    return this.count;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** Population variance, never negative. */
  get variance(): number {
    if (this.count === 0) return 0;
    const mean = this.sum / this.count;
    return Math.max(0, this.sumOfSquares / this.count - mean * mean);
  }
}

/** Streaming anomaly likelihood of one series' one-step residuals. */
export class AnomalyLikelihood {
  private readonly recent: RollingStats;
  private readonly history: RollingStats;

  constructor(readonly options: AnomalyLikelihoodOptions) {
    assert.ok(options.shortWindow < options.longWindow, 'the short window must be shorter than the long one');
    this.recent = new RollingStats(options.shortWindow);
    this.history = new RollingStats(options.longWindow);
  }

  /**
   * Adds one residual and returns the likelihood in [0,1] that the recent errors are unusual. It is
   * 0.5 (no opinion) until the short window has filled and the history holds a short window more.
   */
  observe(residual: number): number {
    const error = Number.isFinite(residual) ? Math.abs(residual) : 0;
    this.recent.push(error);
    const recentMean = this.recent.mean;
    // Judge the recent mean against history *before* it joins, so a burst is not diluted by itself.
    const likelihood = this.likelihoodOf(recentMean);
    this.history.push(recentMean);
    return likelihood;
  }

  private likelihoodOf(recentMean: number): number {
    if (this.recent.size < this.options.shortWindow || this.history.size < this.options.shortWindow * 2) return 0.5;
    const mean = this.history.mean;
    // A floor on σ relative to the typical error keeps a near-constant history from turning every
    // wiggle into a certainty, and an absolute one covers an all-zero history.
    const sigma = Math.max(Math.sqrt(this.history.variance), 0.05 * mean, 1e-12);
    return 1 - normalTail((recentMean - mean) / sigma);
  }
}

/** Options of a tail estimator. */
export interface TailEstimatorOptions {
  /** Samples of history the tail is estimated from. */
  historySize: number;
  /** Fraction of the history above the peaks-over-threshold level (e.g. 0.02). */
  tailFraction: number;
  /** Samples between re-estimates of the level and the mean excess (an O(n log n) sort). */
  refreshEvery: number;
}

/**
 * The tail probability P(X ≥ x) of a non-negative statistic (e.g. an absolute residual) against
 * its own recent history, by peaks over threshold (Siffer et al., "Anomaly detection in streams with
 * extreme value theory", KDD 2017, with an exponential rather than a generalised Pareto excess):
 * below the level `u` (the `1 − tailFraction` quantile) it is the empirical fraction; above it,
 * `tailFraction · exp(−(x − u)/β)` with β the mean excess over `u`. Unlike a Gaussian tail, this
 * learns heavy-tailed and recurring errors (a square wave's jumps) as normal, while a value far past
 * anything seen still gets a vanishing probability.
 */
export class TailEstimator {
  private readonly history: Float64Array;
  private readonly sorted: Float64Array;
  private next = 0;
  private count = 0;
  private sinceRefresh = 0;
  private level = 0;
  private meanExcess = 0;
  private sortedCount = 0;

  constructor(readonly options: TailEstimatorOptions) {
    assert.ok(Number.isInteger(options.historySize) && options.historySize >= 10 && options.historySize <= maxAnomalyWindow, `historySize must be 10..${maxAnomalyWindow}`);
    assert.ok(options.tailFraction > 0 && options.tailFraction < 0.5, 'tailFraction must be in (0, 0.5)');
    assert.ok(Number.isInteger(options.refreshEvery) && options.refreshEvery >= 1, 'refreshEvery must be a positive integer');
    this.history = new Float64Array(options.historySize);
    this.sorted = new Float64Array(options.historySize);
  }

  /** Samples in the history so far. */
  get size(): number {
    return this.count;
  }

  /** P(X ≥ x) against the history before `x`; 1 while the history is shorter than 10 samples. */
  tail(x: number): number {
    if (this.sortedCount < 10) return 1;
    if (x <= this.level) return Math.max(this.options.tailFraction, this.empiricalTail(x));
    const scale = this.meanExcess > 0 ? this.meanExcess : Math.max(this.level, 1e-12) * 1e-3;
    return this.options.tailFraction * Math.exp(-(x - this.level) / scale);
  }

  private empiricalTail(x: number): number {
    // Binary search for the first sorted value ≥ x.
    let low = 0;
    let high = this.sortedCount;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.sorted[middle]! < x) low = middle + 1;
      else high = middle;
    }
    return (this.sortedCount - low) / this.sortedCount;
  }

  /** Adds `x` to the history, re-estimating the tail when due. */
  push(x: number): void {
    this.history[this.next] = x;
    this.next = (this.next + 1) % this.history.length;
    if (this.count < this.history.length) this.count++;
    if (++this.sinceRefresh >= this.options.refreshEvery || this.sortedCount < 10) this.refresh();
  }

  private refresh(): void {
    this.sinceRefresh = 0;
    const sorted = this.sorted.subarray(0, this.count);
    sorted.set(this.history.subarray(0, this.count));
    sorted.sort();
    this.sortedCount = this.count;
    const levelIndex = Math.min(this.count - 1, Math.floor((1 - this.options.tailFraction) * this.count));
    this.level = sorted[levelIndex]!;
    let excess = 0;
    let peaks = 0;
    for (let index = levelIndex + 1; index < this.count; index++) {
      excess += sorted[index]! - this.level;
      peaks++;
    }
    this.meanExcess = peaks > 0 ? excess / peaks : 0;
  }
}
