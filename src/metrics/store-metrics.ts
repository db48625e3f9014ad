/**
 * The store's own series. The store and replication call the recorder on every operation, fsync
 * and acknowledgement; the sampler takes one reading per interval. Memory is bounded whatever the
 * load: latencies go into fixed-size reservoirs (Vitter's algorithm R), so p99 is exact up to the
 * reservoir's capacity of operations per interval and a uniform-sample estimate beyond it.
 */
import assert from 'node:assert/strict';
import type { Collector, CollectorReading } from './collector.js';
import type { SeriesValues } from './series.js';

/** Latencies kept per interval for the p99; 2048 keeps the estimate within about a rank of 20 at 99%. */
export const STORE_RESERVOIR_CAPACITY = 2048;

/** A fixed-size uniform sample of the values recorded since the last reset. */
export class Reservoir {
  private readonly values: Float64Array;
  private readonly scratch: Float64Array;
  private seenCount = 0;

  constructor(
    readonly capacity: number,
    private readonly random: () => number,
  ) {
    assert.ok(Number.isInteger(capacity) && capacity > 0, 'reservoir capacity must be a positive integer');
    this.values = new Float64Array(capacity);
    this.scratch = new Float64Array(capacity);
  }

  /** Values recorded since the last reset, kept or not. */
  get count(): number {
    return this.seenCount;
  }

  /** Records one value; past capacity it replaces a kept value with probability capacity/count. */
  add(value: number): void {
    this.seenCount += 1;
    if (this.seenCount <= this.capacity) {
      this.values[this.seenCount - 1] = value;
      return;
    }
    const slot = Math.floor(this.random() * this.seenCount);
    if (slot < this.capacity) this.values[slot] = value;
  }

  /** The nearest-rank quantile `q` (0 < q <= 1) of the kept values, or undefined when none were recorded. */
  quantile(q: number): number | undefined {
    assert.ok(q > 0 && q <= 1, 'quantile must be in (0, 1]');
    const kept = Math.min(this.seenCount, this.capacity);
    if (kept === 0) return undefined;
    const sorted = this.scratch.subarray(0, kept);
    sorted.set(this.values.subarray(0, kept));
    sorted.sort();
    return sorted[Math.ceil(q * kept) - 1];
  }

  /** Forgets every value, keeping the allocated memory. */
  reset(): void {
    this.seenCount = 0;
  }
}

/** Cumulative totals since start, for Prometheus counters. */
export interface StoreTotals {
  readonly operations: number;
  readonly operationErrors: number;
  readonly fsyncs: number;
}

/** Options of {@link StoreMetricsRecorder}. */
export interface StoreMetricsOptions {
  readonly reservoirCapacity?: number;
  /** Random source for the reservoirs; injected so tests are deterministic. */
  readonly random?: () => number;
  /** Clock reading when the recorder starts, so the first interval has a throughput. */
  readonly startedAtMs?: number;
}

/** Records the store's operations, fsyncs and replication lag, and turns each interval into series. */
export class StoreMetricsRecorder implements Collector {
  readonly name = 'store';
  private readonly latencies: Reservoir;
  private readonly fsyncDurations: Reservoir;
  private intervalErrors = 0;
  private intervalLagMaxMs: number | undefined;
  private lastLagMs: number | undefined;
  private intervalStartMs: number | undefined;
  private totalOperations = 0;
  private totalErrors = 0;
  private totalFsyncs = 0;

  constructor(options: StoreMetricsOptions = {}) {
    const capacity = options.reservoirCapacity ?? STORE_RESERVOIR_CAPACITY;
    const random = options.random ?? Math.random;
    this.latencies = new Reservoir(capacity, random);
    this.fsyncDurations = new Reservoir(capacity, random);
    this.intervalStartMs = options.startedAtMs;
  }

  /** Records one client operation with its latency; `ok` is false when it failed. */
  recordOperation(latencyMs: number, ok: boolean): void {
    assert.ok(Number.isFinite(latencyMs) && latencyMs >= 0, `latency must be a finite non-negative number, got ${latencyMs}`);
    this.latencies.add(latencyMs);
    this.totalOperations += 1;
    if (!ok) {
      this.intervalErrors += 1;
      this.totalErrors += 1;
    }
  }

  /** Records how long one fsync took. */
  recordFsync(durationMs: number): void {
    assert.ok(Number.isFinite(durationMs) && durationMs >= 0, `fsync duration must be a finite non-negative number, got ${durationMs}`);
    this.fsyncDurations.add(durationMs);
    this.totalFsyncs += 1;
  }

  /** Records the current primary-to-shadow lag (for example received lsn time behind the primary's). */
  recordReplicationLag(lagMs: number): void {
    assert.ok(Number.isFinite(lagMs) && lagMs >= 0, `replication lag must be a finite non-negative number, got ${lagMs}`);
    this.intervalLagMaxMs = Math.max(this.intervalLagMaxMs ?? 0, lagMs);
    this.lastLagMs = lagMs;
  }

  /** Cumulative totals since the recorder started. */
  totals(): StoreTotals {
    return { operations: this.totalOperations, operationErrors: this.totalErrors, fsyncs: this.totalFsyncs };
  }

  /**
   * Ends the current interval at `nowMs` and returns its series. A p99 over an interval without
   * operations is left out, not reported as 0; lag keeps its last value while nothing updates it.
   */
  takeInterval(nowMs: number): SeriesValues {
    const values: SeriesValues = {};
    const operations = this.latencies.count;
    const latencyP99 = this.latencies.quantile(0.99);
    const fsyncP99 = this.fsyncDurations.quantile(0.99);
    if (latencyP99 !== undefined) values.store_latency_ms_p99 = latencyP99;
    if (fsyncP99 !== undefined) values.store_fsync_ms_p99 = fsyncP99;
    values.store_error_rate = operations === 0 ? 0 : this.intervalErrors / operations;
    if (this.intervalStartMs !== undefined && nowMs > this.intervalStartMs) {
      values.store_throughput_ops_per_s = (operations * 1000) / (nowMs - this.intervalStartMs);
    }
    const lagMs = this.intervalLagMaxMs ?? this.lastLagMs;
    if (lagMs !== undefined) values.replication_lag_ms = lagMs;
    this.latencies.reset();
    this.fsyncDurations.reset();
    this.intervalErrors = 0;
    this.intervalLagMaxMs = undefined;
    this.intervalStartMs = nowMs;
    return values;
  }

  /** The {@link Collector} form of {@link takeInterval}; the store is in-process, so it never has a missing source. */
  async sample(nowMs: number): Promise<CollectorReading> {
    return { values: this.takeInterval(nowMs), problems: [] };
  }
}
