/**
 * Samples every enabled collector once per `sampleIntervalMs` and merges their series into one
 * metrics sample, the body of the `node/<node>/metrics` payload (DESIGN.md §5.2). The clock and the
 * timer are injected so tests run in simulated time. A source that cannot be read is logged once
 * when it goes missing and once when it comes back, never once per sample.
 */
import assert from 'node:assert/strict';
import { createLogger, type Logger } from '../common/log.js';
import type { Collector, SourceProblem } from './collector.js';
import { MetricsError } from './errors.js';
import type { SeriesValues } from './series.js';

/** Shortest and longest sample interval the sampler accepts; profiles are validated to the same range. */
export const SAMPLE_INTERVAL_MS_MIN = 100;
export const SAMPLE_INTERVAL_MS_MAX = 600_000;
/** Most collectors one sampler runs. */
export const COLLECTORS_MAX = 16;

/** The timer the sampler schedules with; `globalThis` in production, a simulated one in tests. */
export interface Timer {
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** One merged sample: the shape of the MQTT metrics payload. */
export interface MetricsSample {
  readonly ts: number;
  readonly intervalMs: number;
  readonly series: SeriesValues;
}

/** Counters for `/metrics`: what the sampler did and what it could not do. */
export interface SamplerCounters {
  samples: number;
  /** Ticks skipped because the previous sample was still running when they came due. */
  skippedTicks: number;
  /** Source reads that failed, counted per sample and source (the log has one line per outage). */
  sourceFailures: number;
}

/** Options of {@link Sampler}. */
export interface SamplerOptions {
  readonly sampleIntervalMs: number;
  /** In priority order: when two collectors give the same series, the earlier one's value is used. */
  readonly collectors: readonly Collector[];
  readonly clock?: () => number;
  readonly timer?: Timer;
  /** Where the one-per-outage notes go; a `metrics` logger on stderr by default. */
  readonly logger?: Logger;
  readonly onSample?: (sample: MetricsSample) => void;
}

/** Runs the collectors on a fixed cadence; see the module comment. */
export class Sampler {
  readonly counters: SamplerCounters = { samples: 0, skippedTicks: 0, sourceFailures: 0 };
  private readonly clock: () => number;
  private readonly timer: Timer;
  private readonly logger: Logger;
  /** Sources currently unavailable, per collector, so each outage is logged once. */
  private readonly unavailable = new Map<string, Map<string, SourceProblem>>();
  private handle: unknown;
  private nextDueMs = 0;
  private running = false;

  constructor(private readonly options: SamplerOptions) {
    assert.ok(
      Number.isInteger(options.sampleIntervalMs) &&
        options.sampleIntervalMs >= SAMPLE_INTERVAL_MS_MIN &&
        options.sampleIntervalMs <= SAMPLE_INTERVAL_MS_MAX,
      `sampleIntervalMs must be an integer from ${SAMPLE_INTERVAL_MS_MIN} to ${SAMPLE_INTERVAL_MS_MAX}`,
    );
    assert.ok(options.collectors.length <= COLLECTORS_MAX, `at most ${COLLECTORS_MAX} collectors`);
    assert.equal(new Set(options.collectors.map((c) => c.name)).size, options.collectors.length, 'collector names must be unique');
    this.clock = options.clock ?? Date.now;
    this.timer = options.timer ?? { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
    this.logger = options.logger ?? createLogger('metrics');
  }

  /** Sources unavailable at the last sample, with the reason, for `/healthz`. */
  unavailableSources(): SourceProblem[] {
    return [...this.unavailable.values()].flatMap((bySource) => [...bySource.values()]);
  }

  /** Starts sampling now and then every interval. Calling it twice is a programmer error. */
  start(): void {
    assert.ok(!this.running, 'sampler already started');
    this.running = true;
    this.nextDueMs = this.clock();
    this.handle = this.timer.setTimeout(() => void this.tick(), 0);
  }

  /** Stops sampling; a sample in progress completes but schedules nothing more. */
  stop(): void {
    this.running = false;
    if (this.handle !== undefined) this.timer.clearTimeout(this.handle);
    this.handle = undefined;
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    const sample = await this.sampleOnce();
    if (!this.running) return;
    this.options.onSample?.(sample);
    // The next tick keeps the original cadence; ticks that passed while this sample ran are skipped, not queued.
    const nowMs = this.clock();
    this.nextDueMs += this.options.sampleIntervalMs;
    while (this.nextDueMs <= nowMs) {
      this.nextDueMs += this.options.sampleIntervalMs;
      this.counters.skippedTicks += 1;
    }
    this.handle = this.timer.setTimeout(() => void this.tick(), this.nextDueMs - nowMs);
  }

  /** Samples every collector once, now, and merges their series. */
  async sampleOnce(): Promise<MetricsSample> {
    const ts = this.clock();
    const readings = await Promise.all(this.options.collectors.map((collector) => this.read(collector, ts)));
    const series: SeriesValues = {};
    for (const values of readings) {
      for (const [name, value] of Object.entries(values) as [keyof SeriesValues, number][]) {
        if (series[name] === undefined) series[name] = value;
      }
    }
    this.counters.samples += 1;
    return { ts, intervalMs: this.options.sampleIntervalMs, series };
  }

  private async read(collector: Collector, nowMs: number): Promise<SeriesValues> {
    let reading;
    try {
      reading = await collector.sample(nowMs);
    } catch (error) {
      // Collectors report their sources' failures as problems; a MetricsError escaping one still must not stop the others.
      if (!(error instanceof MetricsError)) throw error;
      reading = { values: {}, problems: [{ source: collector.name, code: error.code, message: error.message }] };
    }
    this.noteProblems(collector.name, reading.problems);
    return reading.values;
  }

  private noteProblems(collectorName: string, problems: readonly SourceProblem[]): void {
    const known = this.unavailable.get(collectorName) ?? new Map<string, SourceProblem>();
    const current = new Map(problems.map((problem) => [problem.source, problem]));
    this.counters.sourceFailures += current.size;
    for (const [source, problem] of current) {
      if (known.has(source)) continue;
      this.logger.warn(`${problem.message}; its series are left out until it returns`, { collector: collectorName, source, code: problem.code });
    }
    for (const source of known.keys()) {
      if (!current.has(source)) this.logger.info(`${source} is readable again`, { collector: collectorName, source });
    }
    this.unavailable.set(collectorName, current);
  }
}
