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
import { CoordinatorError } from './errors.js';
import type { Incident } from './incidents/incident.js';

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
}

/** One labelled example: 1 when the node failed. */
export interface HistoryPair {
  incidentId: string;
  tsMs: number;
  features: HistoryFeatures;
  outcome: 0 | 1;
}

/** Default limit on pairs kept (the oldest go first). */
export const defaultMaxHistoryPairs = 100_000;

/** The pair an incident yields, or null while its outcome is unknown or it has no score history. */
export function pairFromIncident(incident: Incident): HistoryPair | null {
  const scores = incident.timeline.scores;
  if (scores.length === 0 || incident.closedAtMs === null) return null;
  let outcome: 0 | 1;
  if (incident.kind === 'failover') outcome = 1;
  else if (incident.kind === 'planned-switch' && incident.outcome.nodeFailedWithinHorizon !== null) {
    outcome = incident.outcome.nodeFailedWithinHorizon ? 1 : 0;
  } else return null;
  const last = scores[scores.length - 1]!;
  const top = [...incident.drivers].sort((a, b) => b.share - a.share)[0];
  return {
    incidentId: incident.id,
    tsMs: incident.openedAtMs,
    features: {
      shardP: last.p,
      nodeP: last.nodeP,
      meanShardP: scores.reduce((sum, s) => sum + s.p, 0) / scores.length,
      topSeries: top?.series ?? null,
      topShare: top?.share ?? 0,
    },
    outcome,
  };
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
