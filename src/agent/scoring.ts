/**
 * Feeds the agent's samples into the scoring engine (src/predict/) and turns its output into the
 * `node/<node>/score` message (DESIGN.md §4, §5.2): the node's failure probability and the rollback
 * score of every shard this node holds, each with its explanation.
 *
 * Which series count where: every sampled series (host, the store's own, synthetic) belongs to the
 * node; the store's own series (`store_*`: latency, fsync, errors, throughput) describe the data path
 * every shard on this node shares, so they also count as each held shard's own series; and each
 * replica adds its own replication lag as a series of its shard, named
 * `shard.<id>.replication_lag_ms`. The engine folds the node's probability into every shard's score,
 * so a shard whose own series are quiet still rises with its node.
 *
 * SLO thresholds come from the profile: a series with `max` breaches above it, one with only `min`
 * below it. Series without an SLO still move the score through their anomaly likelihood, but they
 * are left out of the `top` lists on the wire, whose entries must name a threshold; so the shares of
 * a `top` list may sum to less than 1.
 */
import type { Profile, SloThreshold } from '../profiles/index.js';
import { isSeriesName } from '../metrics/index.js';
import { ScoringEngine, maxHorizonSteps, type EngineOptions, type Explanation, type ScoredUnit, type SeriesSpec } from '../predict/engine.js';
import type { Calibration } from '../predict/calibration.js';
import { PredictError } from '../predict/errors.js';
import { maxWindowSize, defaultSeriesModelOptions } from '../predict/series-model.js';
import { MAX_EXPLANATION_ENTRIES, MAX_SHARDS_PER_SCORE, type CalibrationParameters, type ExplainedProbability, type ExplanationEntry, type Score, type ScoreFeatures } from '../protocol/index.js';
import type { ReplicaFigures } from './shard-host.js';

/** Most series the agent's engine tracks: node series (≤ 512, the metrics payload limit) plus shard series. */
export const MAX_SCORED_SERIES = 4096;

/** The series name of a shard's own replication lag. */
export function shardLagSeries(shard: number): string {
  return `shard.${shard}.replication_lag_ms`;
}

/** Samples before an agent's first fit of a series: enough for the AIC grid, soon after start. */
export const agentMinFitSamples = 30;

/**
 * An agent's full-window models search their whole order grid at one refit in this many, and the
 * last order's neighbours at the others (SeriesModelOptions.fullSearchEvery). The whole-grid fits
 * are nearly all of a steady agent's prediction cost: with 100 series of 600 samples, 73% of the
 * engine's time was the kernel's Nelder-Mead searching 18 orders, and this cuts the engine's time
 * per sample by about 40% (docs/agent-memory.md, eighth round). On the NAB corpus the same setting
 * costs the detector 0.1 to 0.3 points (`foreshard eval --full-search-every 10`).
 */
export const agentFullSearchEvery = 10;

/** Counters for `/metrics`. */
export interface ScorerCounters {
  /** Samples fed to the engine, one per series per tick. */
  observations: number;
  /** Series the engine refused to track (over {@link MAX_SCORED_SERIES}). */
  refusedSeries: number;
  /** Non-finite samples the engine dropped. */
  droppedSamples: number;
  /** Explanation entries left out of the wire message because a number was not finite. */
  droppedExplanations: number;
  /** The calibrations in use. */
  calibration: ScorerCalibration;
}

/** The calibrations a scorer uses, and the labelled incidents they were fitted on (0: the built-in priors). */
export interface ScorerCalibration {
  node: Calibration;
  shard: Calibration;
  pairs: number;
}

/** The engine options a profile implies (horizon in samples, window, refit cadence, order grid). */
export function engineOptionsFor(profile: Profile): Partial<EngineOptions> {
  const { sampleIntervalMs } = profile.sampling;
  const { horizonS, windowSamples, refitEvery, arimaGrid } = profile.prediction;
  const windowSize = Math.max(20, Math.min(maxWindowSize, windowSamples));
  const grid = arimaGrid.p.flatMap((p) => arimaGrid.d.flatMap((d) => arimaGrid.q.map((q) => ({ p, d, q }))));
  return {
    horizonSteps: Math.max(1, Math.min(maxHorizonSteps, Math.ceil((horizonS * 1000) / sampleIntervalMs))),
    maxSeries: MAX_SCORED_SERIES,
    maxExplanations: MAX_EXPLANATION_ENTRIES,
    model: {
      ...defaultSeriesModelOptions,
      windowSize,
      refitEvery: Math.max(1, Math.min(refitEvery, windowSize)),
      // 30 samples (30 s at 1 Hz) before the first fit, so a new agent forecasts within a minute.
      minFitSamples: Math.min(agentMinFitSamples, windowSize),
      grid,
      fullSearchEvery: agentFullSearchEvery,
    },
  };
}

/** The threshold and direction of a series from its SLO, when it has one. */
function sloSpec(slo: SloThreshold | undefined): Pick<SeriesSpec, 'threshold' | 'direction'> {
  if (slo?.max !== undefined) return { threshold: slo.max, direction: 'above' };
  if (slo?.min !== undefined) return { threshold: slo.min, direction: 'below' };
  return {};
}

/** Turns samples into scores; see the module comment. */
export class Scorer {
  private readonly engine: ScoringEngine;
  /** Tracked series and the side of their threshold that is a breach. */
  private readonly known = new Map<string, 'above' | 'below'>();
  private readonly refused = new Set<string>();
  private readonly counts = { observations: 0, refusedSeries: 0, droppedExplanations: 0 };
  private calibrationPairs = 0;

  constructor(
    private readonly profile: Profile,
    engineOverrides: Partial<EngineOptions> = {},
  ) {
    this.engine = new ScoringEngine({ ...engineOptionsFor(profile), ...engineOverrides });
  }

  /** Feeds one tick: the node's series and each replica's lag. */
  observe(series: Readonly<Record<string, number>>, replicas: readonly ReplicaFigures[]): void {
    for (const [name, value] of Object.entries(series)) {
      const slo = isSeriesName(name) ? this.profile.slo[name] : undefined;
      // Every series of the catalogue is a latency, rate, ratio or count; synthetic ones may be anything.
      this.feed({ name, scope: { kind: 'node' }, sharedWithShards: name.startsWith('store_'), nonNegative: isSeriesName(name), ...sloSpec(slo) }, value);
    }
    for (const replica of replicas) {
      if (replica.replicationLagMs === undefined) continue;
      const spec: SeriesSpec = { name: shardLagSeries(replica.shard), scope: { kind: 'shard', shard: replica.shard }, nonNegative: true, ...sloSpec(this.profile.slo.replication_lag_ms) };
      this.feed(spec, replica.replicationLagMs);
    }
  }

  /** The score message for `heldShards` (the shards this node holds now) at `ts`. */
  score(ts: number, heldShards: readonly number[]): Score {
    const held = heldShards.slice(0, MAX_SHARDS_PER_SCORE);
    const result = this.engine.score(held);
    const node = this.explained(result.node, result.horizonSteps);
    const shards: Record<string, ExplainedProbability> = {};
    for (const shard of held) shards[String(shard)] = this.explained(result.shards[String(shard)]!, result.horizonSteps);
    return { ts, horizonS: this.profile.prediction.horizonS, node, shards };
  }

  /** The calibrations in use, and how many labelled incidents the coordinator fitted them on (0: the built-in priors). */
  calibration(): ScorerCalibration {
    return { ...this.engine.calibration, pairs: this.calibrationPairs };
  }

  /** Applies the calibrations of a `calibrate` command (fitted by the coordinator on its failure history). */
  setCalibration(node: CalibrationParameters, shard: CalibrationParameters, pairs: number): void {
    this.engine.setCalibration(node, shard);
    this.calibrationPairs = pairs;
  }

  /** Counters for `/metrics`. */
  counters(): ScorerCounters {
    return { ...this.counts, droppedSamples: this.engine.droppedSamples, calibration: this.calibration() };
  }

  private feed(spec: SeriesSpec, value: number): void {
    if (!this.known.has(spec.name)) {
      if (this.refused.has(spec.name)) return;
      try {
        this.engine.addSeries(spec);
      } catch (error) {
        if (!(error instanceof PredictError)) throw error;
        // Counted and remembered, so a refused series costs one attempt, not one per tick.
        if (this.refused.size < MAX_SCORED_SERIES) this.refused.add(spec.name);
        this.counts.refusedSeries += 1;
        return;
      }
      this.known.set(spec.name, spec.direction ?? 'above');
    }
    this.engine.observe(spec.name, value);
    this.counts.observations += 1;
  }

  private explained(unit: ScoredUnit, horizonSteps: number): ExplainedProbability {
    const top: ExplanationEntry[] = [];
    for (const explanation of unit.top) {
      const entry = toEntry(explanation, this.known.get(explanation.series) ?? 'above', horizonSteps, this.profile.sampling.sampleIntervalMs);
      if (entry === undefined) {
        if (explanation.threshold !== null) this.counts.droppedExplanations += 1;
        continue;
      }
      top.push(entry);
    }
    const features: ScoreFeatures = { breach: clamp01(unit.features.breach ?? 0), anomaly: clamp01(unit.features.anomaly ?? 0) };
    if (unit.features.node !== undefined) features.node = clamp01(unit.features.node);
    return { p: clamp01(unit.p), top, features };
  }
}

function clamp01(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

/**
 * The wire form of one explanation, or undefined when it has no threshold or a number is not
 * finite. A forecast short of the horizon says how far ahead it is (`forecastS`).
 */
function toEntry(explanation: Explanation, direction: 'above' | 'below', horizonSteps: number, sampleIntervalMs: number): ExplanationEntry | undefined {
  const { series, value, forecast, lower, upper, threshold, steps } = explanation;
  if (threshold === null || ![value, forecast, lower, upper, threshold].every(Number.isFinite)) return undefined;
  return {
    series,
    value,
    forecast,
    lower,
    upper,
    ...(steps < horizonSteps ? { forecastS: (steps * sampleIntervalMs) / 1000 } : {}),
    threshold,
    direction,
    breachProbability: clamp01(explanation.breachProbability),
    anomalyLikelihood: clamp01(explanation.anomalyLikelihood),
    share: clamp01(explanation.share),
  };
}
