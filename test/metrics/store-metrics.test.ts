// Proves the store recorder reports what an operator reads on a dashboard: the p99 latency and
// fsync of each interval (exact while the interval fits the reservoir, close beyond it), the error
// rate, the throughput over the interval's real length, and the replication lag; and that its
// memory stays fixed however many operations pass through. The random source is seeded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Reservoir, StoreMetricsRecorder } from '../../src/metrics/store-metrics.js';

function seeded(seed: number): () => number {
  let state = seed;
  return () => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
}

describe('store metrics recorder', () => {
  it('reports p99, error rate, throughput, fsync p99 and lag for one interval', () => {
    const recorder = new StoreMetricsRecorder({ startedAtMs: 0, random: seeded(1) });
    for (let i = 1; i <= 200; i++) recorder.recordOperation(i, i % 20 !== 0);
    for (let i = 1; i <= 100; i++) recorder.recordFsync(i / 10);
    recorder.recordReplicationLag(40);
    recorder.recordReplicationLag(250);
    recorder.recordReplicationLag(90);
    const values = recorder.takeInterval(2000);
    assert.deepEqual(values, {
      store_latency_ms_p99: 198, // nearest rank: the 198th of 1..200
      store_fsync_ms_p99: 9.9,
      store_error_rate: 0.05, // every 20th of 200 failed
      store_throughput_ops_per_s: 100, // 200 operations in 2 s
      replication_lag_ms: 250, // the worst lag of the interval, not the last
    });
  });

  it('starts each interval afresh; an idle interval has no p99 and the lag keeps its last value', () => {
    const recorder = new StoreMetricsRecorder({ startedAtMs: 0, random: seeded(2) });
    recorder.recordOperation(500, false);
    recorder.recordReplicationLag(70);
    recorder.takeInterval(1000);
    const idle = recorder.takeInterval(3000);
    assert.deepEqual(idle, { store_error_rate: 0, store_throughput_ops_per_s: 0, replication_lag_ms: 70 });
    assert.deepEqual(recorder.totals(), { operations: 1, operationErrors: 1, fsyncs: 0 });
  });

  it('has no throughput for a first interval of unknown length', () => {
    const recorder = new StoreMetricsRecorder({ random: seeded(3) });
    recorder.recordOperation(1, true);
    assert.equal(recorder.takeInterval(1000).store_throughput_ops_per_s, undefined);
    recorder.recordOperation(1, true);
    assert.equal(recorder.takeInterval(1500).store_throughput_ops_per_s, 2);
  });

  it('estimates p99 closely past the reservoir capacity, with fixed memory', () => {
    const seed = 42;
    const reservoir = new Reservoir(2048, seeded(seed));
    // 100 000 latencies: 1% slow ones at 100..199 ms, the rest at 1..9 ms, shuffled by the pattern.
    for (let i = 0; i < 100_000; i++) reservoir.add(i % 100 === 7 ? 100 + (i % 100_000) / 1000 : 1 + (i % 9));
    assert.equal(reservoir.count, 100_000);
    const p99 = reservoir.quantile(0.99)!;
    const p98 = reservoir.quantile(0.98)!;
    assert.ok(p98 <= 9, `seed ${seed}: p98 ${p98} should be a fast operation`);
    assert.ok(p99 >= 9 && p99 <= 200, `seed ${seed}: p99 ${p99} out of range`);
  });

  it('treats a negative or non-finite latency as a programmer error', () => {
    const recorder = new StoreMetricsRecorder();
    assert.throws(() => recorder.recordOperation(-1, true), { code: 'ERR_ASSERTION' });
    assert.throws(() => recorder.recordFsync(NaN), { code: 'ERR_ASSERTION' });
    assert.throws(() => recorder.recordReplicationLag(Infinity), { code: 'ERR_ASSERTION' });
  });
});
