/**
 * What the coordinator remembers per shard beyond the routing table: the run of high scores
 * (hysteresis), the cool-down, the highest epoch ever used, the score history for incidents, the
 * operation in flight, the last replica reports, and old primaries waiting to rejoin.
 *
 * @module
 */
import type { LastSwitch } from './decisions.js';
import type { ShardOperation } from './operation.js';
import type { ScorePoint } from './incidents/incident.js';
import type { ReplicaReport, ScoreContribution, ScoreFeatures } from './types.js';

/** Epochs each coordinator generation may allocate per shard before reaching the next one's range. */
export const epochsPerGeneration = 1 << 20;

/**
 * The first epoch of coordinator generation `generation`. A restarted coordinator cannot always learn
 * the highest epoch its previous life used (the replica that got it may be down), so each generation
 * starts above every epoch a previous one can have used, and logs compared by (last epoch, lsn) stay
 * ordered by time.
 */
export function epochFloorOf(generation: number): number {
  return (generation - 1) * epochsPerGeneration;
}

/** Per-shard decision state. */
export class ShardState {
  /** Scores above `switchThreshold` in a row, from the shard's primary. */
  streak = 0;
  /** When the last switch or failover of this shard finished (or a restart found one in flight). */
  lastSwitchMs = -Infinity;
  /** How that switch ended, as the cool-down reads it. */
  lastSwitch: LastSwitch = 'unknown';
  /** Nodes switches took the primary role from, and when: the shard may not go back to them during the cool-down. One entry per node. */
  readonly leftAtMs = new Map<string, number>();
  /** The highest epoch allocated or reported; the next epoch is one more, so no epoch is used twice. */
  maxEpoch: number;
  /** The one operation in flight on this shard, if any. */
  operation: ShardOperation | null = null;
  /** Old primaries that left the replica set in a switch and may rejoin as shadows. */
  readonly recovering = new Set<string>();
  /**
   * The last report of each replica, by node ({@link remember}). Restart recovery clears them before
   * it asks again; {@link maxEpoch} keeps the epochs they showed (a promotion the previous life made
   * just before it stopped may be reported once and then not again in time).
   */
  readonly reports = new Map<string, ReplicaReport>();
  /** The latest explanation of the shard's score and its node's. */
  lastTop: ScoreContribution[] = [];
  lastNodeTop: ScoreContribution[] = [];
  /** The features of the latest score of the shard and of its node, when the agent sent them. */
  lastFeatures: ScoreFeatures | null = null;
  lastNodeFeatures: ScoreFeatures | null = null;
  private readonly history: ScorePoint[] = [];
  private historyNext = 0;

  constructor(
    readonly id: number,
    epoch: number,
    private readonly historyLength: number,
    /** The first epoch this coordinator generation may use (see {@link epochFloorOf}). */
    private readonly epochFloor = 0,
  ) {
    this.maxEpoch = epoch;
  }

  /** A fresh epoch, higher than any seen, and higher than any a previous coordinator generation used. */
  allocateEpoch(): number {
    this.maxEpoch = Math.max(this.maxEpoch + 1, this.epochFloor);
    return this.maxEpoch;
  }

  /** Keeps `report` as `node`'s last, and notes its epoch. */
  remember(node: string, report: ReplicaReport): void {
    this.reports.set(node, report);
    this.noteEpoch(report.epoch);
  }

  /** Drops `node`'s last report: the node said it holds no replica of the shard. Its epoch stays noted. */
  forget(node: string): void {
    this.reports.delete(node);
  }

  /** Raises the floor for new epochs to a reported one. */
  noteEpoch(epoch: number): void {
    if (epoch > this.maxEpoch) this.maxEpoch = epoch;
  }

  /** Records one score in the bounded history (a ring of `historyLength`). */
  recordScore(point: ScorePoint): void {
    if (this.history.length < this.historyLength) this.history.push(point);
    else this.history[this.historyNext] = point;
    this.historyNext = (this.historyNext + 1) % this.historyLength;
  }

  /** The score history, oldest first. */
  scoreHistory(): ScorePoint[] {
    if (this.history.length < this.historyLength) return [...this.history];
    return [...this.history.slice(this.historyNext), ...this.history.slice(0, this.historyNext)];
  }
}
