/**
 * Synthetic series for load tests and the benchmark (`--synthetic-series <n>`): each is a slow
 * daily-like wave plus noise, so the engine fits and forecasts them as it would real host series.
 * They are named `synthetic_<index>` and published with the real ones.
 */
import assert from 'node:assert/strict';

/** Generates `count` synthetic series, one value each per call. */
export class SyntheticSeries {
  private readonly phases: Float64Array;
  private readonly names: string[];

  constructor(
    readonly count: number,
    private readonly random: () => number = Math.random,
  ) {
    assert.ok(Number.isInteger(count) && count >= 0, 'count must be a non-negative integer');
    this.phases = new Float64Array(count).map(() => random() * 2 * Math.PI);
    this.names = Array.from({ length: count }, (_, index) => `synthetic_${index}`);
  }

  /** One value of every series at `nowMs`. */
  sample(nowMs: number): Record<string, number> {
    const values: Record<string, number> = {};
    const angle = (2 * Math.PI * nowMs) / 300_000; // a five-minute period
    for (let index = 0; index < this.count; index++) {
      values[this.names[index]!] = 0.5 + 0.3 * Math.sin(angle + this.phases[index]!) + 0.05 * (this.random() - 0.5);
    }
    return values;
  }
}
