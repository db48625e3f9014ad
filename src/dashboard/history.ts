/**
 * A bounded ring of score points: the dashboard keeps the last N points of every node and shard, so
 * its memory stays flat however long it runs. Each point carries the model revision that added it,
 * so the server can push only the points a browser has not seen yet.
 */

/** One rollback score sample, with the forecast of its top driver when the score named one. */
export interface ScorePoint {
  /** The sample time from the agent (ms since the Unix epoch). */
  ts: number;
  /** The score (shard) or failure probability (node), 0..1. */
  p: number;
  /** The node that reported it (for a shard: the node holding the replica). */
  node: string;
  /** The top explanation entry's series and numbers, when there was one. */
  series?: string;
  value?: number;
  forecast?: number;
  lower?: number;
  upper?: number;
  /** How far ahead the forecast is, in seconds, when short of the horizon (a regime change's forecast). */
  forecastS?: number;
  threshold?: number;
  /** The model revision that added this point. */
  rev: number;
}

/** A fixed-capacity ring: pushing past capacity drops the oldest point. */
export class PointRing {
  private readonly points: ScorePoint[] = [];
  private start = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
  }

  /** Points held now. */
  get size(): number {
    return this.points.length;
  }

  push(point: ScorePoint): void {
    if (this.points.length < this.capacity) {
      this.points.push(point);
      return;
    }
    this.points[this.start] = point;
    this.start = (this.start + 1) % this.capacity;
  }

  /** The newest point, if any. */
  last(): ScorePoint | undefined {
    if (this.points.length === 0) return undefined;
    return this.points[(this.start + this.points.length - 1) % this.points.length];
  }

  /** Every point, oldest first. */
  toArray(): ScorePoint[] {
    return [...this.points.slice(this.start), ...this.points.slice(0, this.start)];
  }

  /** The points added after revision `rev`, oldest first (scans back from the newest, so it is cheap for a small delta). */
  since(rev: number): ScorePoint[] {
    const out: ScorePoint[] = [];
    const n = this.points.length;
    for (let i = n - 1; i >= 0; i--) {
      const point = this.points[(this.start + i) % n]!;
      if (point.rev <= rev) break;
      out.push(point);
    }
    return out.reverse();
  }
}
