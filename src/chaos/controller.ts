/**
 * The agent's fault injector (issue 8, `foreshard chaos`). It holds the active faults and answers
 * the two questions the agent's real paths ask it:
 * - the store's log, before each fsync: how much longer than the real fsync should this one take
 *   ({@link ChaosController.fsyncDelayMs}); so a slow disk shows up in every acknowledged write, in
 *   `store_fsync_ms_p99` and in `store_latency_ms_p99`, exactly as a real one would;
 * - the data port, for each gateway request: should this one fail with an I/O error
 *   ({@link ChaosController.shouldFailRequest}); so it shows up in `store_error_rate`.
 * It never touches a score: the predictor sees a fault only through the series it already reads.
 *
 * The clock and the random source are injected, so the ramp and the sampling are tested exactly.
 */
import type { Logger } from '../common/log.js';
import type { CpuBurner } from './cpu-burner.js';
import { ChaosError } from './errors.js';
import type { AgentFault, LatencyRamp } from './spec.js';
import { mulberry32 as seededRandom } from '../common/random.js';

/** The fsync delay of `ramp` at `nowMs` for a ramp started at `startedAtMs`: linear, then held at `toMs`. */
export function rampDelayMs(ramp: LatencyRamp, startedAtMs: number, nowMs: number): number {
  if (ramp.overMs <= 0) return ramp.toMs;
  const progress = Math.min(1, Math.max(0, (nowMs - startedAtMs) / ramp.overMs));
  return ramp.fromMs + (ramp.toMs - ramp.fromMs) * progress;
}

/** A deterministic random source in [0, 1) (mulberry32), for tests and reproducible runs. */
export { seededRandom };

/** What is injected now, for `GET /chaos`, `/metrics` and the CLI's answer. */
export interface ChaosState {
  /** Names of the active faults. */
  readonly active: readonly ('disk-latency' | 'error-rate' | 'cpu-burn')[];
  readonly diskLatency?: LatencyRamp & { readonly startedAtMs: number; readonly untilMs?: number; readonly currentMs: number };
  readonly errorRate?: { readonly probability: number; readonly startedAtMs: number; readonly untilMs?: number };
  readonly cpuBurn?: { readonly workers: number; readonly running: number; readonly startedAtMs: number; readonly untilMs: number };
  /** fsyncs slowed down since the agent started. */
  readonly delayedFsyncs: number;
  /** Data port requests failed on purpose since the agent started. */
  readonly failedRequests: number;
}

/** What a controller is built from; every part has a real default. */
export interface ChaosControllerOptions {
  readonly clock?: () => number;
  readonly random?: () => number;
  /** Starts and stops the busy-loop threads; absent, `cpu-burn` is refused. */
  readonly burner?: CpuBurner;
  readonly logger?: Logger;
}

interface Timed {
  readonly startedAtMs: number;
  readonly untilMs?: number;
}

const expired = (fault: Timed | undefined, nowMs: number): boolean => fault?.untilMs !== undefined && nowMs >= fault.untilMs;

/** Holds the active faults of one agent; see the module comment. */
export class ChaosController {
  private readonly clock: () => number;
  private readonly random: () => number;
  private diskLatency: (Timed & { ramp: LatencyRamp }) | undefined;
  private errorRate: (Timed & { probability: number }) | undefined;
  private cpuBurn: (Timed & { workers: number; untilMs: number }) | undefined;
  private delayedFsyncs = 0;
  private failedRequests = 0;

  constructor(private readonly options: ChaosControllerOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** Starts `fault` (replacing one of the same kind), or clears every fault; resolves to the new state. */
  async apply(fault: AgentFault): Promise<ChaosState> {
    const startedAtMs = this.clock();
    const until = (durationMs: number | undefined) => (durationMs === undefined ? {} : { untilMs: startedAtMs + durationMs });
    switch (fault.fault) {
      case 'disk-latency':
        this.diskLatency = { ramp: fault.ramp, startedAtMs, ...until(fault.durationMs) };
        break;
      case 'error-rate':
        this.errorRate = { probability: fault.probability, startedAtMs, ...until(fault.durationMs) };
        break;
      case 'cpu-burn':
        await this.startCpuBurn(fault.workers, fault.durationMs, startedAtMs);
        break;
      case 'clear':
        return this.clear();
    }
    this.options.logger?.warn('chaos fault injected', { ...fault });
    return this.state();
  }

  /** Removes every fault and stops the CPU burn; resolves to the (empty) state. */
  async clear(): Promise<ChaosState> {
    const had = this.state().active;
    this.diskLatency = undefined;
    this.errorRate = undefined;
    this.cpuBurn = undefined;
    await this.options.burner?.stop();
    if (had.length > 0) this.options.logger?.warn('chaos faults cleared', { cleared: had });
    return this.state();
  }

  /** Milliseconds to add to an fsync that starts at `nowMs` (0 without a disk-latency fault). */
  fsyncDelayMs(nowMs: number): number {
    const fault = this.diskLatency;
    if (fault === undefined) return 0;
    if (expired(fault, nowMs)) {
      this.diskLatency = undefined;
      return 0;
    }
    const delayMs = rampDelayMs(fault.ramp, fault.startedAtMs, nowMs);
    if (delayMs > 0) this.delayedFsyncs += 1;
    return delayMs;
  }

  /** True when this data port request should fail: with the error-rate probability, drawn from the random source. */
  shouldFailRequest(): boolean {
    const fault = this.errorRate;
    if (fault === undefined) return false;
    if (expired(fault, this.clock())) {
      this.errorRate = undefined;
      return false;
    }
    // random() is in [0, 1), so probability 1 fails every request and 0 none.
    const fail = this.random() < fault.probability;
    if (fail) this.failedRequests += 1;
    return fail;
  }

  /** The active faults now (expired ones are dropped first). */
  state(): ChaosState {
    const nowMs = this.clock();
    if (expired(this.diskLatency, nowMs)) this.diskLatency = undefined;
    if (expired(this.errorRate, nowMs)) this.errorRate = undefined;
    if (expired(this.cpuBurn, nowMs)) this.cpuBurn = undefined;
    const { diskLatency, errorRate, cpuBurn } = this;
    return {
      active: [...(diskLatency ? ['disk-latency' as const] : []), ...(errorRate ? ['error-rate' as const] : []), ...(cpuBurn ? ['cpu-burn' as const] : [])],
      ...(diskLatency ? { diskLatency: { ...diskLatency.ramp, startedAtMs: diskLatency.startedAtMs, ...(diskLatency.untilMs === undefined ? {} : { untilMs: diskLatency.untilMs }), currentMs: rampDelayMs(diskLatency.ramp, diskLatency.startedAtMs, nowMs) } } : {}),
      ...(errorRate ? { errorRate: { ...errorRate } } : {}),
      ...(cpuBurn ? { cpuBurn: { ...cpuBurn, running: this.options.burner?.running ?? 0 } } : {}),
      delayedFsyncs: this.delayedFsyncs,
      failedRequests: this.failedRequests,
    };
  }

  /** Stops the CPU burn, for the agent's shutdown. */
  async close(): Promise<void> {
    await this.options.burner?.stop();
  }

  private async startCpuBurn(workers: number, durationMs: number, startedAtMs: number): Promise<void> {
    const burner = this.options.burner;
    if (burner === undefined) throw new ChaosError('CHAOS_UNSUPPORTED', 'this agent has no CPU burner');
    try {
      await burner.start(workers, durationMs);
    } catch (error) {
      await burner.stop();
      throw new ChaosError('CHAOS_CPU_BURN_FAILED', `cannot start ${workers} CPU burn threads: ${(error as Error).message}`);
    }
    this.cpuBurn = { workers, startedAtMs, untilMs: startedAtMs + durationMs };
  }
}
