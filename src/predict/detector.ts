/**
 * The anomaly score of `foreshard detect`: one number in [0,1] per sample of one series, in NAB's
 * result format. It runs the scoring engine's per-series model (`SeriesModel`) and scores its
 * one-step residuals with two terms, plus the suppression a point detector needs:
 *
 * - a **sustained term**: the recent mean of absolute residuals, as in Numenta's anomaly
 *   likelihood, for changes that build over several samples;
 * - a **spike term**: the latest absolute residual alone, so a single wild sample or a level shift
 *   scores at once instead of after the short window has filled;
 * - **suppression of repeats**: for `suppressWindow` samples after a score, a later score counts
 *   only if it is higher. A repeat could only detect what the earlier, higher score already did,
 *   and NAB credits only the earliest detection in a window, while it charges every repeat outside
 *   one.
 *
 * Both terms are judged by their tail probability against their own history of
 * `longWindow` samples, by peaks over threshold (`TailEstimator`): heavy-tailed and recurring errors
 * are learnt as normal, unlike under a Gaussian tail. Each tail goes through Numenta's log scale and
 * the score is the larger of the two. No label is ever seen here; the constants are the few named
 * in `DetectorOptions`.
 */
import assert from 'node:assert/strict';
import { RollingStats, TailEstimator } from './anomaly.js';
import { logScale } from './probability.js';
import { SeriesModel, defaultSeriesModelOptions, type ArimaFitter, type SeriesModelOptions } from './series-model.js';

/** The detector's constants. */
export interface DetectorOptions extends SeriesModelOptions {
  /** Samples in the recent mean of absolute residuals (Numenta's averaging window: 10). */
  shortWindow: number;
  /** Samples of history the residual tails are estimated from. */
  longWindow: number;
  /** Samples after a score during which a lower or equal score is suppressed to 0. */
  suppressWindow: number;
  /** Fraction of the history treated as its tail (peaks over threshold). */
  tailFraction: number;
}

/** The defaults, the same for every series: no per-file tuning. */
export const defaultDetectorOptions: Readonly<DetectorOptions> = Object.freeze({
  ...defaultSeriesModelOptions,
  // Five-minute NAB rows: a window of about three and a half days sees the daily season three times.
  windowSize: 1000,
  shortWindow: 10,
  longWindow: 1000,
  suppressWindow: 100,
  tailFraction: 0.02,
});

/** Largest suppression window accepted. */
export const maxSuppressWindow = 100_000;

/** A streaming anomaly detector for one series. */
export class Detector {
  private readonly model: SeriesModel;
  private readonly recentErrors: RollingStats;
  private readonly spikeTail: TailEstimator;
  private readonly sustainedTail: TailEstimator;
  private readonly recentScores: Float64Array;
  private recentNext = 0;

  constructor(
    fitter: ArimaFitter,
    readonly options: DetectorOptions = defaultDetectorOptions,
  ) {
    assert.ok(Number.isInteger(options.suppressWindow) && options.suppressWindow >= 0 && options.suppressWindow <= maxSuppressWindow, 'bad suppressWindow');
    this.model = new SeriesModel(fitter, options);
    this.recentErrors = new RollingStats(options.shortWindow);
    // Re-estimating the tails every short window keeps the amortised sort cost near O(log n) per sample.
    const tailOptions = { historySize: options.longWindow, tailFraction: options.tailFraction, refreshEvery: options.shortWindow };
    this.spikeTail = new TailEstimator(tailOptions);
    this.sustainedTail = new TailEstimator(tailOptions);
    this.recentScores = new Float64Array(Math.max(1, options.suppressWindow));
  }

  /** Fits that failed and kept the previous model (for diagnostics). */
  get fitFailures(): number {
    return this.model.fitFailures;
  }

  /** Adds one sample and returns its anomaly score in [0,1]. */
  observe(x: number): number {
    const error = Math.abs(this.model.observe(x));
    this.recentErrors.push(error);
    const recent = this.recentErrors.mean;
    // Each statistic is judged against its history *before* it joins, so a burst is not diluted by itself.
    const ready = this.spikeTail.size >= this.options.shortWindow * 2;
    const spike = ready ? logScale(1 - this.spikeTail.tail(error)) : 0;
    const sustained = ready ? logScale(1 - this.sustainedTail.tail(recent)) : 0;
    this.spikeTail.push(error);
    this.sustainedTail.push(recent);
    return this.suppressRepeats(Math.max(spike, sustained));
  }

  private suppressRepeats(score: number): number {
    if (this.options.suppressWindow === 0) return score;
    let recentMax = 0;
    for (let index = 0; index < this.recentScores.length; index++) {
      if (this.recentScores[index]! > recentMax) recentMax = this.recentScores[index]!;
    }
    this.recentScores[this.recentNext] = score;
    this.recentNext = (this.recentNext + 1) % this.recentScores.length;
    return score <= recentMax ? 0 : score;
  }
}
