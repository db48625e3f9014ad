/**
 * What a fault is, as data: the faults the agent applies inside its own paths (`disk-latency`,
 * `error-rate`, `cpu-burn`, `clear`), their named limits, and the one validator every way in uses
 * (`POST /chaos` bodies, the CLI, the MQTT command), so a fault is checked the same wherever it
 * comes from. `hang` and `kill` are not here: they are signals sent to the agent's process from
 * outside (src/cli/commands/chaos.ts), since a stopped or killed process cannot apply them itself.
 */
import { ChaosError } from './errors.js';

/** Named limits of fault injection (README, "Limits"; docs/chaos.md). */
export const CHAOS_LIMITS = Object.freeze({
  /** Most injected fsync delay: one minute is already far past every profile's SLO. */
  latencyMsMax: 60_000,
  /** Longest ramp and longest fault duration: one day. */
  durationMsMax: 86_400_000,
  /** Most busy-loop worker threads of one `cpu-burn`. */
  cpuWorkersMax: 16,
  /** Longest `cpu-burn`: it always ends by itself, so a forgotten one cannot hold a host for long. */
  cpuBurnMsMax: 3_600_000,
  /** `cpu-burn` length when none is given. */
  cpuBurnMsDefault: 60_000,
  /** Largest `POST /chaos` body. */
  requestBodyBytesMax: 4096,
});

/** An fsync latency that moves linearly from `fromMs` to `toMs` over `overMs`, then holds at `toMs`. */
export interface LatencyRamp {
  readonly fromMs: number;
  readonly toMs: number;
  readonly overMs: number;
}

/** A fault the agent applies itself. `durationMs`, when given, ends the fault by itself after that long. */
export type AgentFault =
  | { readonly fault: 'disk-latency'; readonly ramp: LatencyRamp; readonly durationMs?: number }
  | { readonly fault: 'error-rate'; readonly probability: number; readonly durationMs?: number }
  | { readonly fault: 'cpu-burn'; readonly workers: number; readonly durationMs: number }
  | { readonly fault: 'clear' };

/** The names of {@link AgentFault}. */
export type AgentFaultName = AgentFault['fault'];

/** Faults sent as signals to the agent's process. */
export type ProcessFaultName = 'hang' | 'kill';

/** Every fault `foreshard chaos` knows, in the order its help lists them. */
export const CHAOS_FAULT_NAMES = ['disk-latency', 'error-rate', 'cpu-burn', 'hang', 'kill', 'clear'] as const;
export type ChaosFaultName = (typeof CHAOS_FAULT_NAMES)[number];

function bad(message: string): ChaosError {
  return new ChaosError('CHAOS_BAD_FAULT', message);
}

function numberIn(value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw bad(`${what} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function optionalDuration(value: unknown): { durationMs?: number } {
  if (value === undefined) return {};
  return { durationMs: numberIn(value, 1, CHAOS_LIMITS.durationMsMax, 'durationMs') };
}

function ramp(value: unknown): LatencyRamp {
  if (typeof value !== 'object' || value === null) throw bad('disk-latency needs ramp: {fromMs, toMs, overMs}');
  const r = value as Record<string, unknown>;
  return {
    fromMs: numberIn(r.fromMs, 0, CHAOS_LIMITS.latencyMsMax, 'ramp.fromMs'),
    toMs: numberIn(r.toMs, 0, CHAOS_LIMITS.latencyMsMax, 'ramp.toMs'),
    overMs: numberIn(r.overMs, 0, CHAOS_LIMITS.durationMsMax, 'ramp.overMs'),
  };
}

/**
 * Checks an untrusted fault description (a parsed `POST /chaos` body) and returns it typed and
 * frozen. Throws `CHAOS_BAD_FAULT` naming the first problem, or `CHAOS_UNSUPPORTED` for `hang`
 * and `kill`, which are signals and never travel as a body.
 */
export function parseAgentFault(input: unknown): AgentFault {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw bad('a fault is a JSON object such as {"fault": "error-rate", "probability": 0.1}');
  const body = input as Record<string, unknown>;
  switch (body.fault) {
    case 'disk-latency':
      return Object.freeze({ fault: 'disk-latency', ramp: Object.freeze(ramp(body.ramp)), ...optionalDuration(body.durationMs) });
    case 'error-rate':
      return Object.freeze({ fault: 'error-rate', probability: numberIn(body.probability, 0, 1, 'probability'), ...optionalDuration(body.durationMs) });
    case 'cpu-burn': {
      const workers = numberIn(body.workers ?? 1, 1, CHAOS_LIMITS.cpuWorkersMax, 'workers');
      if (!Number.isInteger(workers)) throw bad(`workers must be a whole number, got ${workers}`);
      const durationMs = numberIn(body.durationMs ?? CHAOS_LIMITS.cpuBurnMsDefault, 1, CHAOS_LIMITS.cpuBurnMsMax, 'durationMs');
      return Object.freeze({ fault: 'cpu-burn', workers, durationMs });
    }
    case 'clear':
      return Object.freeze({ fault: 'clear' });
    case 'hang':
    case 'kill':
      throw new ChaosError('CHAOS_UNSUPPORTED', `${body.fault} is a signal to the agent's process (\`foreshard chaos <node> ${body.fault}\`), not a request to it`);
    default:
      throw bad(`unknown fault ${JSON.stringify(body.fault)}; the agent applies disk-latency, error-rate, cpu-burn and clear`);
  }
}
