/**
 * The failure history: each labelled incident becomes a (features, outcome) pair, which the scoring
 * engine fits its calibration on (DESIGN §4). A failover is a failure that happened; a planned switch
 * is labelled by whether the old primary's node went down within the horizon after it. The history is
 * stored as JSON lines, loaded at start, and summarised for `/metrics`.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { defaultNodeCalibration, defaultShardCalibration, fitCalibration, type Calibration, type CalibrationSample } from '../predict/calibration.js';
import { CoordinatorError } from './errors.js';
import type { Incident } from './incidents/incident.js';
import type { FittedCalibration, ScoreFeatures } from './types.js';

/** What was known before the incident. */
export interface HistoryFeatures {
  /** The shard's last rollback score before the incident. */
  shardP: number;
  /** The node's last failure probability before the incident. */
  nodeP: number;
  /** Mean rollback score over the timeline's history. */
  meanShardP: number;
  /** The series with the largest share, and that share. */
  topSeries: string | null;
  topShare: number;
  /** What the shard's and the node's last scores were calibrated from (absent from older agents and files). */
  shard?: ScoreFeatures;
  node?: ScoreFeatures;
}

/**
 * One labelled example. `outcome` is 1 when the node failed within the horizon (the node
 * calibration's label); `breached` is 1 when it failed or reported a series past its SLO threshold
 * (the shard calibration's label; absent in files written before it existed).
 */
export interface HistoryPair {
  incidentId: string;
  tsMs: number;
  /** The node the incident moved the shard away from (absent in files written before it existed). */
  node?: string;
  features: HistoryFeatures;
  outcome: 0 | 1;
  breached?: 0 | 1;
}

/** Labelled events (see {@link groupEvents}) with features a fit needs before it replaces the built-in prior. */
export const minCalibrationEvents = 5;

/**
 * Incidents of one node within this long of the event's first are one event: a dead node fails
 * over each of its shards at the same moment, and a slow disk switches them within a second or two.
 */
export const eventWindowMs = 10_000;

/**
 * The pairs grouped into events: per node (or, in older files, per node features, the same for
 * every shard of a node at one moment), an event starts at a pair and takes every later pair of
 * that node less than {@link eventWindowMs} after it. Anchored at the event's own first pair, not at
 * fixed windows of the clock, so a burst is never cut in two at a window's edge; and an event spans
 * at most that long, so a node that keeps failing now and then is never one event.
 */
function groupEvents(pairs: readonly HistoryPair[]): HistoryPair[][] {
  const byNode = new Map<string, HistoryPair[]>();
  for (const pair of pairs) {
    const node = pair.node ?? JSON.stringify(pair.features.node ?? null);
    const list = byNode.get(node);
    if (list) list.push(pair);
    else byNode.set(node, [pair]);
  }
  const events: HistoryPair[][] = [];
  for (const list of byNode.values()) {
    let current: HistoryPair[] = [];
    for (const pair of [...list].sort((a, b) => a.tsMs - b.tsMs)) {
      if (current.length > 0 && pair.tsMs - current[0]!.tsMs >= eventWindowMs) {
        events.push(current);
        current = [];
      }
      current.push(pair);
    }
    if (current.length > 0) events.push(current);
  }
  return events;
}

/** Default limit on pairs kept (the oldest go first). */
export const defaultMaxHistoryPairs = 100_000;

/** The pair an incident yields, or null while its outcome is unknown or it has no score history. */
export function pairFromIncident(incident: Incident): HistoryPair | null {
  const scores = incident.timeline.scores;
  if (scores.length === 0 || incident.closedAtMs === null) return null;
  let outcome: 0 | 1;
  let breached: 0 | 1;
  if (incident.kind === 'failover') outcome = breached = 1;
  else if (incident.kind === 'planned-switch' && incident.outcome.nodeFailedWithinHorizon !== null) {
    outcome = incident.outcome.nodeFailedWithinHorizon ? 1 : 0;
    breached = outcome === 1 || incident.outcome.breachedWithinHorizon === true ? 1 : 0;
  } else return null;
  const last = scores[scores.length - 1]!;
  const top = [...incident.drivers].sort((a, b) => b.share - a.share)[0];
  return {
    incidentId: incident.id,
    tsMs: incident.openedAtMs,
    ...(incident.fromNode ? { node: incident.fromNode } : {}),
    features: {
      shardP: last.p,
      nodeP: last.nodeP,
      meanShardP: scores.reduce((sum, s) => sum + s.p, 0) / scores.length,
      topSeries: top?.series ?? null,
      topShare: top?.share ?? 0,
      ...(incident.features?.shard ? { shard: { ...incident.features.shard } } : {}),
      ...(incident.features?.node ? { node: { ...incident.features.node } } : {}),
    },
    outcome,
    breached,
  };
}

/**
 * Fits the calibrations on the history (DESIGN §4): the shard calibration on the pairs that carry
 * shard features, labelled by `breached`; the node calibration on those with node features,
 * labelled by `outcome`. Each fit shrinks toward the built-in prior, so a short history moves the
 * weights only a little. The pairs of one event (one node, within {@link eventWindowMs}) share one
 * event's weight: a dead node with six primaries is one failure, not six. Null while fewer than
 * {@link minCalibrationEvents} events carry shard features, or while they all ended the same way:
 * the agents keep their priors. The node calibration stays the prior until it has as much.
 *
 * The history holds incidents only, and a planned switch moves the load away from the node it then
 * watches, so the labels lean toward "no breach": the fit corrects scores that were too eager, which
 * is what it is for, but it is not an unbiased estimate of the breach rate.
 */
export function fitFromHistory(pairs: readonly HistoryPair[]): FittedCalibration | null {
  const shardSamples = weightedSamples(pairs.filter((pair) => pair.features.shard), (pair) => {
    const shard = pair.features.shard!;
    return { features: { breach: shard.breach, anomaly: shard.anomaly, node: shard.node ?? 0 }, outcome: (pair.breached ?? pair.outcome) === 1 };
  });
  const nodeSamples = weightedSamples(pairs.filter((pair) => pair.features.node), (pair) => {
    const node = pair.features.node!;
    return { features: { breach: node.breach, anomaly: node.anomaly }, outcome: pair.outcome === 1 };
  });
  if (!fittable(shardSamples)) return null;
  const plain = (calibration: Calibration) => ({ bias: calibration.bias, weights: { ...calibration.weights } });
  const shard = fitCalibration(shardSamples.samples, { prior: defaultShardCalibration });
  const node = fittable(nodeSamples) ? fitCalibration(nodeSamples.samples, { prior: defaultNodeCalibration }) : defaultNodeCalibration;
  return { node: plain(node), shard: plain(shard), pairs: shardSamples.samples.length };
}

interface WeightedSamples {
  samples: CalibrationSample[];
  events: number;
  /** Events with a positive and with a negative outcome. */
  positive: number;
  negative: number;
}

/** One sample per pair, each of an event's k pairs weighing 1/k, so an event counts once. */
function weightedSamples(pairs: readonly HistoryPair[], sample: (pair: HistoryPair) => CalibrationSample): WeightedSamples {
  const events = groupEvents(pairs);
  const result: WeightedSamples = { samples: [], events: events.length, positive: 0, negative: 0 };
  for (const group of events) {
    const samples = group.map(sample);
    if (samples.some((s) => s.outcome)) result.positive++;
    if (samples.some((s) => !s.outcome)) result.negative++;
    for (const s of samples) result.samples.push({ ...s, weight: 1 / samples.length });
  }
  return result;
}

/**
 * Enough events, and both outcomes among them: a history of failures alone (or of quiet switches
 * alone) says how often incidents end one way, not which scores tell them apart, and fitted on it the
 * bias would move every score of the cluster, the quiet ones included.
 */
function fittable(samples: WeightedSamples): boolean {
  return samples.events >= minCalibrationEvents && samples.positive > 0 && samples.negative > 0;
}

/** Counts and calibration quality, for `/metrics`. */
export interface HistorySummary {
  pairs: number;
  failures: number;
  /** Mean squared error of `shardP` against the outcome; NaN with no pairs. */
  brierScore: number;
}

/** The history in memory, with its file. */
export class FailureHistory {
  private readonly list: HistoryPair[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly maxPairs = defaultMaxHistoryPairs) {
    assert.ok(maxPairs >= 1, 'maxPairs must be at least 1');
  }

  /** Adds a pair once per incident; false for a duplicate. */
  add(pair: HistoryPair): boolean {
    if (this.seen.has(pair.incidentId)) return false;
    this.seen.add(pair.incidentId);
    this.list.push(pair);
    if (this.list.length > this.maxPairs) this.seen.delete(this.list.shift()!.incidentId);
    return true;
  }

  /** Every pair, oldest first. */
  pairs(): readonly HistoryPair[] {
    return this.list;
  }

  /** `(p, outcome)` points for fitting a calibration map. */
  calibrationPoints(): { p: number; outcome: 0 | 1 }[] {
    return this.list.map((pair) => ({ p: pair.features.shardP, outcome: pair.outcome }));
  }

  /** Counts and the Brier score of the raw scores. */
  summary(): HistorySummary {
    const failures = this.list.filter((pair) => pair.outcome === 1).length;
    const squared = this.list.reduce((sum, pair) => sum + (pair.features.shardP - pair.outcome) ** 2, 0);
    return { pairs: this.list.length, failures, brierScore: this.list.length === 0 ? NaN : squared / this.list.length };
  }

  /** Appends one pair to the JSON-lines file at `path`. */
  async append(path: string, pair: HistoryPair): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await appendFile(path, JSON.stringify(pair) + '\n');
  }

  /** Rewrites the whole file at `path` (compaction after trimming). */
  async save(path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, this.list.map((pair) => JSON.stringify(pair) + '\n').join(''));
  }

  /** Loads the file at `path` (missing: empty). A malformed line is a `BAD_HISTORY_FILE` error. */
  static async load(path: string, maxPairs = defaultMaxHistoryPairs): Promise<FailureHistory> {
    const history = new FailureHistory(maxPairs);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return history;
      throw error;
    }
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    lines.forEach((line, index) => history.add(parsePair(line, `${path}:${index + 1}`)));
    return history;
  }
}

function parsePair(line: string, where: string): HistoryPair {
  let value: Partial<HistoryPair>;
  try {
    value = JSON.parse(line) as Partial<HistoryPair>;
  } catch {
    throw new CoordinatorError('BAD_HISTORY_FILE', `${where}: not JSON`);
  }
  const f = value.features;
  const ok =
    typeof value.incidentId === 'string' &&
    typeof value.tsMs === 'number' &&
    (value.outcome === 0 || value.outcome === 1) &&
    typeof f === 'object' &&
    f !== null &&
    typeof f.shardP === 'number' &&
    typeof f.nodeP === 'number';
  if (!ok) throw new CoordinatorError('BAD_HISTORY_FILE', `${where}: not a history pair`);
  return value as HistoryPair;
}
