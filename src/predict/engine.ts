/**
 * The scoring engine of one agent: a model per series, and from them the node failure probability
 * and each shard's rollback score, with their explanations (DESIGN.md §4).
 *
 * Host series (CPU, memory, disk, network) belong to the node; store series belong to one shard.
 * Per series, `observe` costs one O(p+q) model update plus the amortised refit and O(1) for the
 * anomaly likelihood; `score` costs one H-step forecast per series that has a threshold.
 */
import assert from 'node:assert/strict';
import { AnomalyLikelihood, type AnomalyLikelihoodOptions } from './anomaly.js';
import { applyCalibration, defaultNodeCalibration, defaultShardCalibration, type Calibration, type Features } from './calibration.js';
import { PredictError } from './errors.js';
import { defaultFitter } from './kernel.js';
import { breachProbability, logScale, type BreachDirection } from './probability.js';
import { SeriesModel, defaultSeriesModelOptions, type ArimaFitter, type SeriesModelOptions } from './series-model.js';

/** Where a series belongs: its node, or one shard on this node. */
export type SeriesScope = { kind: 'node' } | { kind: 'shard'; shard: number };

/** A series the engine tracks. */
export interface SeriesSpec {
  name: string;
  scope: SeriesScope;
  /** SLO threshold; without one, the series contributes only its anomaly likelihood. */
  threshold?: number;
  /** Which side of the threshold is a breach (default `above`). */
  direction?: BreachDirection;
  /**
   * For a node series that describes the data path every shard on the node shares (the store's
   * latency, fsync, errors): it also counts as each shard's own series, so a slowing disk raises the
   * rollback score of the shards it serves directly, not only through the node's probability.
   */
  sharedWithShards?: boolean;
  /**
   * The series cannot go below 0 (a latency, a rate, a ratio, a count): its explanation shows the
   * forecast and interval clamped at 0, where a Gaussian interval or an extrapolated fall would read
   * "−6 ms". The breach probability is computed from the unclamped forecast, as before.
   */
  nonNegative?: boolean;
}

/** Options of the engine; merged with the defaults once, then frozen. */
export interface EngineOptions {
  /** Forecast horizon H in samples (default 60: 60 s at 1 Hz). */
  horizonSteps: number;
  /** Central level of the prediction intervals the breach probability reads. */
  intervalLevel: number;
  model: SeriesModelOptions;
  anomaly: AnomalyLikelihoodOptions;
  /** Most series one engine tracks. */
  maxSeries: number;
  /** Entries in each explanation's `top` list. */
  maxExplanations: number;
  nodeCalibration: Calibration;
  shardCalibration: Calibration;
  fitter: ArimaFitter;
  /** The breach probability implementation (the WASM kernel by default; the reference for a peer). */
  breachProbability: typeof breachProbability;
  /**
   * Anomaly likelihood at or above which a series' sliding-window model is taken to describe a
   * regime that has ended, so its breach probability also consults the regime-change forecast
   * ({@link SeriesModel.recentForecast}) and keeps the larger of the two. 0 (the default) leaves the
   * decision to the run and departure conditions below: at 0.99 the likelihood, a mean over its
   * 10-sample short window, lagged a real disk ramp by 0.5-1.5 s on the e2e cluster (docs/scoring.md
   * §2.1) without sparing a false trip in the replays or the simulated runs.
   */
  regimeChangeLikelihood: number;
  /**
   * Consecutive one-step residuals on the breach side needed, with the likelihood above, before the
   * regime-change forecast is consulted: a regime that is moving toward the threshold beats the
   * old model in one direction every sample, which a burst of noise does not.
   */
  regimeChangeRun: number;
  /**
   * Samples a series must have before its breach probability counts at all (it is explained from
   * the first sample): its first fits see mostly a cold start's transients (replicas being created,
   * caches cold, every process of the host starting at once), a fit on 30 samples of them held a
   * quiet fsync p99 at 13 ms ± 21 against a 20 ms SLO, and the anomaly likelihood needs a history to
   * judge a regime change against. A young series' start is not a regime leaving its normal.
   */
  minScoredSamples: number;
  /**
   * How far, in robust σ of the fitted window, the series' current level (the median of its last
   * three samples) must lie beyond that window's median, on the breach side, for the regime-change
   * forecast to be consulted: the series must still be out of its old regime, not just echoing a
   * spike that has ended.
   */
  regimeChangeDeparture: number;
  /**
   * How many standard errors the slope of a departure's trend ({@link SeriesModel.trendForecast},
   * consulted once the newest `trendMinRun` samples have all left the regime) must reach before
   * the trend is extrapolated: a level step with noise has a slope of a few errors either way, a
   * ramp of many.
   */
  regimeChangeTrendT: number;
}

/** Longest horizon accepted, in samples. */
export const maxHorizonSteps = 1000;

/** The engine's defaults. */
export function defaultEngineOptions(): EngineOptions {
  return {
    horizonSteps: 60,
    intervalLevel: 0.95,
    model: defaultSeriesModelOptions,
    anomaly: { shortWindow: 10, longWindow: 600 },
    maxSeries: 1000,
    maxExplanations: 5,
    nodeCalibration: defaultNodeCalibration,
    shardCalibration: defaultShardCalibration,
    fitter: defaultFitter(),
    breachProbability,
    regimeChangeLikelihood: 0,
    regimeChangeRun: 3,
    minScoredSamples: 60,
    regimeChangeDeparture: 3,
    regimeChangeTrendT: 3,
  };
}

/** One series' part in a score: what it is doing, what it is forecast to do, and how much it drove the score. */
export interface Explanation {
  series: string;
  value: number;
  /** Forecast mean at the horizon (or at `steps`), with its interval. */
  forecast: number;
  lower: number;
  upper: number;
  /**
   * How many samples ahead `forecast` is: the horizon, or fewer when a regime change's forecast
   * drove the series (it reaches only as far as the change it has seen).
   */
  steps: number;
  threshold: number | null;
  breachProbability: number;
  anomalyLikelihood: number;
  /** This series' share of the score's total contribution, in [0,1]. */
  share: number;
}

/** A probability with its features and its top contributors. */
export interface ScoredUnit {
  p: number;
  features: Features;
  top: Explanation[];
}

/** The engine's output for one scoring round. */
export interface EngineScore {
  horizonSteps: number;
  node: ScoredUnit;
  shards: Record<string, ScoredUnit>;
}

interface SeriesState {
  spec: SeriesSpec;
  model: SeriesModel;
  likelihood: AnomalyLikelihood;
  lastLikelihood: number;
}

interface Assessment {
  state: SeriesState;
  explanation: Explanation;
  anomaly: number;
}

/**
 * The refit phase of the `index`-th series an engine tracks: the fractional parts of multiples of
 * the golden ratio spread any number of series evenly over the `refitEvery` samples between refits,
 * so the engine's fits come a few per sample instead of all on one (see {@link SeriesModel}).
 */
export function refitPhase(index: number, refitEvery: number): number {
  return Math.floor(((index * 0.6180339887498949) % 1) * refitEvery);
}

/** The scoring engine of one agent. */
export class ScoringEngine {
  readonly options: Readonly<EngineOptions>;
  private readonly series = new Map<string, SeriesState>();
  /** Samples dropped because they were not finite (a collector glitch), per the "count, never swallow" rule. */
  droppedSamples = 0;
  private nodeCalibration: Calibration;
  private shardCalibration: Calibration;

  constructor(options: Partial<EngineOptions> = {}) {
    this.options = Object.freeze({ ...defaultEngineOptions(), ...options });
    const { horizonSteps, intervalLevel, maxSeries, maxExplanations } = this.options;
    assert.ok(Number.isInteger(horizonSteps) && horizonSteps >= 1 && horizonSteps <= maxHorizonSteps, `horizonSteps must be 1..${maxHorizonSteps}`);
    assert.ok(intervalLevel > 0 && intervalLevel < 1, 'intervalLevel must be in (0,1)');
    assert.ok(Number.isInteger(maxSeries) && maxSeries >= 1, 'maxSeries must be a positive integer');
    assert.ok(Number.isInteger(maxExplanations) && maxExplanations >= 1, 'maxExplanations must be a positive integer');
    this.nodeCalibration = this.options.nodeCalibration;
    this.shardCalibration = this.options.shardCalibration;
  }

  /** The calibrations in use: the options' until {@link setCalibration} replaces them. */
  get calibration(): { node: Calibration; shard: Calibration } {
    return { node: this.nodeCalibration, shard: this.shardCalibration };
  }

  /** Scores with these calibrations from the next round on (one fitted on a failure history). */
  setCalibration(node: Calibration, shard: Calibration): void {
    for (const calibration of [node, shard]) {
      const numbers = [calibration.bias, ...Object.values(calibration.weights)];
      if (!numbers.every((value) => typeof value === 'number' && Number.isFinite(value))) throw new PredictError('BAD_CALIBRATION', 'calibration parameters must be finite numbers');
    }
    this.nodeCalibration = Object.freeze({ bias: node.bias, weights: Object.freeze({ ...node.weights }) });
    this.shardCalibration = Object.freeze({ bias: shard.bias, weights: Object.freeze({ ...shard.weights }) });
  }

  /** Number of series tracked. */
  get size(): number {
    return this.series.size;
  }

  /** Starts tracking a series. */
  addSeries(spec: SeriesSpec): void {
    if (this.series.has(spec.name)) throw new PredictError('DUPLICATE_SERIES', `series ${JSON.stringify(spec.name)} is already tracked`);
    if (this.series.size >= this.options.maxSeries) throw new PredictError('TOO_MANY_SERIES', `cannot track ${JSON.stringify(spec.name)}: the limit is ${this.options.maxSeries} series`);
    if (spec.threshold !== undefined && !Number.isFinite(spec.threshold)) throw new PredictError('BAD_SERIES_SPEC', `series ${JSON.stringify(spec.name)}: the threshold must be a finite number`);
    this.series.set(spec.name, {
      spec: { ...spec },
      model: new SeriesModel(this.options.fitter, this.options.model, refitPhase(this.series.size, this.options.model.refitEvery)),
      likelihood: new AnomalyLikelihood(this.options.anomaly),
      lastLikelihood: 0.5,
    });
  }

  /** Adds one sample of a series; a non-finite value is dropped and counted. */
  observe(name: string, value: number): void {
    const state = this.series.get(name);
    if (state === undefined) throw new PredictError('UNKNOWN_SERIES', `series ${JSON.stringify(name)} is not tracked`);
    if (!Number.isFinite(value)) {
      this.droppedSamples++;
      return;
    }
    state.lastLikelihood = state.likelihood.observe(state.model.observe(value));
  }

  /**
   * Scores the node and every shard from the latest samples: the shards that have series of their
   * own, plus `shards` (those the caller holds), which get at least the shared node series.
   */
  score(shards: readonly number[] = []): EngineScore {
    const assessments = [...this.series.values()].filter((state) => !Number.isNaN(state.model.last)).map((state) => this.assess(state));
    const nodeSeries = assessments.filter((a) => a.state.spec.scope.kind === 'node');
    const shared = nodeSeries.filter((a) => a.state.spec.sharedWithShards === true);
    const node = this.combine(nodeSeries, this.nodeCalibration, undefined);
    const byShard = new Map<number, Assessment[]>(shards.map((shard) => [shard, []]));
    for (const assessment of assessments) {
      const scope = assessment.state.spec.scope;
      if (scope.kind === 'shard') byShard.set(scope.shard, [...(byShard.get(scope.shard) ?? []), assessment]);
    }
    const result: Record<string, ScoredUnit> = {};
    for (const [shard, list] of byShard) result[String(shard)] = this.combine([...list, ...shared], this.shardCalibration, { unit: node, series: nodeSeries });
    return { horizonSteps: this.options.horizonSteps, node, shards: result };
  }

  private assess(state: SeriesState): Assessment {
    const { horizonSteps, intervalLevel } = this.options;
    const threshold = state.spec.threshold;
    let forecast = state.model.forecast(horizonSteps, intervalLevel);
    const settled = state.model.samples >= this.options.minScoredSamples;
    // A young series is explained but not scored (see minScoredSamples): before its first fit it has
    // no forecast, only its last value, and its first fits see mostly a cold start's transients.
    let breach = threshold === undefined || !settled || state.model.current === undefined ? 0 : this.breachOf(forecast, threshold, state);
    const direction = state.spec.direction ?? 'above';
    const run = direction === 'above' ? state.model.residualRun : -state.model.residualRun;
    // The regime has changed when the series keeps beating its model in one direction while out
    // of its old regime: then the regime-change window's forecast is consulted. A model that
    // follows a ramp closely is beaten by it only now and then, so that run breaks while the ramp
    // goes on; when the newest samples have all left the regime in a row, the trend of those
    // samples is consulted too (SeriesModel.trendForecast), which a level step does not have.
    if (threshold !== undefined && settled && state.lastLikelihood >= this.options.regimeChangeLikelihood) {
      const departedRun = state.model.departedRun(direction, this.options.regimeChangeDeparture, state.model.recentLength);
      const beaten = run >= this.options.regimeChangeRun && state.model.departed(direction, this.options.regimeChangeDeparture);
      // Either may be shorter than the horizon; its explanation then shows its own last step.
      const candidates = [
        beaten ? state.model.recentForecast(horizonSteps, intervalLevel) : undefined,
        state.model.trendForecast(departedRun, direction, horizonSteps, intervalLevel, this.options.regimeChangeTrendT),
      ];
      for (const candidate of candidates) {
        const candidateBreach = candidate === undefined ? 0 : this.breachOf(candidate, threshold, state);
        if (candidate !== undefined && candidateBreach > breach) {
          forecast = candidate;
          breach = candidateBreach;
        }
      }
    }
    const last = forecast.mean.length - 1;
    const shown = state.spec.nonNegative === true ? (x: number): number => Math.max(0, x) : (x: number): number => x;
    return {
      state,
      anomaly: logScale(state.lastLikelihood),
      explanation: {
        series: state.spec.name,
        value: state.model.last,
        forecast: shown(forecast.mean[last]!),
        lower: shown(forecast.lower[last]!),
        upper: shown(forecast.upper[last]!),
        steps: forecast.mean.length,
        threshold: threshold ?? null,
        breachProbability: breach,
        anomalyLikelihood: state.lastLikelihood,
        share: 0,
      },
    };
  }

  private breachOf(forecast: { mean: Float64Array; lower: Float64Array; upper: Float64Array }, threshold: number, state: SeriesState): number {
    return this.options.breachProbability(forecast.mean, forecast.lower, forecast.upper, threshold, state.spec.direction ?? 'above', this.options.intervalLevel);
  }

  /**
   * Combines series into one calibrated probability. Features: the noisy-OR of the breach
   * probabilities (any series breaching), the largest log-scaled anomaly likelihood, and for a shard
   * the node's failure probability. Each series' contribution is its weighted breach and anomaly
   * terms; a shard's node term is spread over the node's series by their shares.
   */
  private combine(list: readonly Assessment[], calibration: Calibration, node: { unit: ScoredUnit; series: readonly Assessment[] } | undefined): ScoredUnit {
    let noBreach = 1;
    let anomaly = 0;
    for (const assessment of list) {
      noBreach *= 1 - assessment.explanation.breachProbability;
      anomaly = Math.max(anomaly, assessment.anomaly);
    }
    const features: Features = { breach: 1 - noBreach, anomaly };
    if (node) features.node = node.unit.p;
    const weightOf = (name: 'breach' | 'anomaly' | 'node') => Math.max(0, calibration.weights[name] ?? 0);
    const contributions = list.map((a) => ({
      explanation: a.explanation,
      amount: weightOf('breach') * a.explanation.breachProbability + weightOf('anomaly') * a.anomaly,
    }));
    if (node) {
      for (const entry of node.unit.top) contributions.push({ explanation: entry, amount: weightOf('node') * node.unit.p * entry.share });
    }
    // A shared node series (the store's) can arrive twice: as the shard's own and through the node.
    const bySeries = new Map<string, { explanation: Explanation; amount: number }>();
    for (const c of contributions) {
      const seen = bySeries.get(c.explanation.series);
      if (seen) seen.amount += c.amount;
      else bySeries.set(c.explanation.series, { ...c });
    }
    const total = contributions.reduce((sum, c) => sum + c.amount, 0);
    const top = [...bySeries.values()]
      .map((c) => ({ ...c.explanation, share: total > 0 ? c.amount / total : 0 }))
      .sort((a, b) => b.share - a.share)
      .slice(0, this.options.maxExplanations);
    return { p: applyCalibration(calibration, features), features, top };
  }
}
