// Proves the sampler runs on its cadence under a simulated clock and timer, merges collectors in
// priority order, logs a missing source once per outage (not once per sample) and once when it
// returns, skips ticks a slow sample overran instead of queueing them, and exposes what it did as
// Prometheus families. A real ProcCollector over the no-PSI fixture shows the one-note rule end to end.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from '../../src/common/log.js';
import type { Collector, CollectorReading } from '../../src/metrics/collector.js';
import { metricsFamilies } from '../../src/metrics/exposition.js';
import { ProcCollector } from '../../src/metrics/proc.js';
import { parseExposition, writeExposition } from '../../src/metrics/prometheus.js';
import { Sampler, type MetricsSample, type Timer } from '../../src/metrics/sampler.js';
import { StoreMetricsRecorder } from '../../src/metrics/store-metrics.js';
import { fixturePath } from './fixtures.js';

/** A simulated clock and timer: `advance` runs due callbacks in time order and lets their promises settle. */
class SimulatedTime implements Timer {
  nowMs = 0;
  private nextId = 0;
  private readonly pending = new Map<number, { dueMs: number; callback: () => void }>();

  setTimeout(callback: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { dueMs: this.nowMs + delayMs, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  async advance(ms: number): Promise<void> {
    const endMs = this.nowMs + ms;
    for (;;) {
      await this.settle();
      const due = [...this.pending.entries()].filter(([, t]) => t.dueMs <= endMs).sort(([, a], [, b]) => a.dueMs - b.dueMs)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.nowMs = Math.max(this.nowMs, due[1].dueMs);
      due[1].callback();
    }
    this.nowMs = endMs;
  }

  // A running sampler always schedules its next tick once a sample completes, which for a real
  // procfs read takes real I/O; wait for that (briefly, in real time) before moving the clock on.
  private async settle(): Promise<void> {
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    for (let waitedMs = 0; this.pending.size === 0 && waitedMs < 100; waitedMs++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = {
    lines,
    debug: () => undefined,
    info: (message: string) => void lines.push(`info ${message}`),
    warn: (message: string) => void lines.push(`warn ${message}`),
    error: (message: string) => void lines.push(`error ${message}`),
    child: () => logger,
  };
  return logger;
}

function fixedCollector(name: string, reading: () => CollectorReading): Collector {
  return { name, sample: async () => reading() };
}

describe('sampler', () => {
  it('samples now and then every interval, merging collectors in priority order', async () => {
    const time = new SimulatedTime();
    const samples: MetricsSample[] = [];
    const sampler = new Sampler({
      sampleIntervalMs: 1000,
      collectors: [
        fixedCollector('first', () => ({ values: { cpu_utilization: 0.5 }, problems: [] })),
        fixedCollector('second', () => ({ values: { cpu_utilization: 0.9, memory_pressure: 0.2 }, problems: [] })),
      ],
      clock: () => time.nowMs,
      timer: time,
      logger: recordingLogger(),
      onSample: (sample) => samples.push(sample),
    });
    sampler.start();
    await time.advance(3500);
    sampler.stop();
    await time.advance(5000);
    assert.deepEqual(samples.map((s) => s.ts), [0, 1000, 2000, 3000]);
    assert.deepEqual(samples[0], { ts: 0, intervalMs: 1000, series: { cpu_utilization: 0.5, memory_pressure: 0.2 } });
    assert.equal(sampler.counters.samples, 4);
  });

  it('logs a missing source once per outage and once when it returns', async () => {
    const time = new SimulatedTime();
    const logger = recordingLogger();
    let psiPresent = false;
    const collector = fixedCollector('proc', () => ({
      values: { cpu_utilization: 0.1 },
      problems: psiPresent ? [] : [{ source: '/proc/pressure/io', code: 'SOURCE_MISSING', message: '/proc/pressure/io is not present on this host' }],
    }));
    const sampler = new Sampler({ sampleIntervalMs: 1000, collectors: [collector], clock: () => time.nowMs, timer: time, logger });
    sampler.start();
    await time.advance(9500);
    assert.equal(logger.lines.length, 1, logger.lines.join('\n'));
    assert.match(logger.lines[0]!, /^warn \/proc\/pressure\/io is not present on this host; its series are left out/);
    assert.equal(sampler.counters.sourceFailures, 10, 'every failed read is still counted');
    assert.equal(sampler.unavailableSources().length, 1);
    psiPresent = true;
    await time.advance(5000);
    assert.deepEqual(logger.lines.slice(1), ['info /proc/pressure/io is readable again']);
    assert.equal(sampler.unavailableSources().length, 0);
    sampler.stop();
  });

  it('over a procfs without PSI, logs each pressure file once however many samples pass', async () => {
    const time = new SimulatedTime();
    const logger = recordingLogger();
    const samples: MetricsSample[] = [];
    const sampler = new Sampler({
      sampleIntervalMs: 5000,
      collectors: [new ProcCollector({ root: fixturePath('proc-no-psi') })],
      clock: () => time.nowMs,
      timer: time,
      logger,
      onSample: (sample) => samples.push(sample),
    });
    sampler.start();
    await time.advance(30_000);
    sampler.stop();
    assert.equal(samples.length, 7);
    // The three files are read concurrently, so their notes may come in any order: each must come once.
    assert.deepEqual(
      logger.lines.map((line) => line.replace(fixturePath('proc-no-psi'), '<root>').split(';')[0]).sort(),
      ['warn <root>/pressure/cpu is not present on this host', 'warn <root>/pressure/io is not present on this host', 'warn <root>/pressure/memory is not present on this host'],
    );
    assert.equal(samples.at(-1)!.series.memory_pressure, 0.75);
    assert.equal(samples.at(-1)!.series.io_stall_ratio, undefined);
  });

  it('skips the ticks a slow sample overran, keeping the cadence', async () => {
    const time = new SimulatedTime();
    const samples: MetricsSample[] = [];
    const slow: Collector = {
      name: 'slow',
      sample: async () => {
        time.nowMs += 2500; // the read takes two and a half intervals
        return { values: {}, problems: [] };
      },
    };
    const sampler = new Sampler({ sampleIntervalMs: 1000, collectors: [slow], clock: () => time.nowMs, timer: time, logger: recordingLogger(), onSample: (s) => samples.push(s) });
    sampler.start();
    await time.advance(5900);
    sampler.stop();
    assert.deepEqual(samples.map((s) => s.ts), [0, 3000]); // 1000, 2000, 4000 and 5000 came due mid-sample
    assert.equal(sampler.counters.skippedTicks, 4);
  });

  it('refuses an interval outside its limits and duplicate collector names', () => {
    const collector = fixedCollector('a', () => ({ values: {}, problems: [] }));
    assert.throws(() => new Sampler({ sampleIntervalMs: 10, collectors: [] }), { code: 'ERR_ASSERTION' });
    assert.throws(() => new Sampler({ sampleIntervalMs: 1000, collectors: [collector, collector] }), { code: 'ERR_ASSERTION' });
  });

  it('exposes the latest sample, store totals and its counters as parseable Prometheus text', async () => {
    const time = new SimulatedTime();
    const store = new StoreMetricsRecorder({ startedAtMs: 0 });
    store.recordOperation(12, true);
    store.recordOperation(30, false);
    const sampler = new Sampler({
      sampleIntervalMs: 1000,
      collectors: [store, fixedCollector('proc', () => ({ values: { cpu_utilization: 0.25 }, problems: [{ source: 'a "quoted"\\source', code: 'SOURCE_MISSING', message: 'gone' }] }))],
      clock: () => (time.nowMs += 1000),
      timer: time,
      logger: recordingLogger(),
    });
    const sample = await sampler.sampleOnce();
    const text = writeExposition(
      metricsFamilies({ sample, storeTotals: store.totals(), samplerCounters: sampler.counters, unavailableSources: sampler.unavailableSources() }),
    );
    const parsed = parseExposition(text);
    assert.equal(parsed.get('foreshard_cpu_utilization')!.samples[0]!.value, 0.25);
    assert.equal(parsed.get('foreshard_store_latency_ms_p99')!.samples[0]!.value, 30);
    assert.equal(parsed.get('foreshard_store_error_rate')!.samples[0]!.value, 0.5);
    assert.equal(parsed.get('foreshard_store_operation_errors_total')!.type, 'counter');
    assert.equal(parsed.get('foreshard_metrics_samples_total')!.samples[0]!.value, 1);
    assert.deepEqual(parsed.get('foreshard_metrics_source_unavailable')!.samples[0]!.labels, { source: 'a "quoted"\\source', code: 'SOURCE_MISSING' });
  });
});
