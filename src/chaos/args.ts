/**
 * The command line of `foreshard chaos <node> <fault> [fault arguments]`, parsed into what to do.
 * Pure, so every usage error is tested without a cluster: each names the argument and shows a
 * correct example, since an operator types these in the middle of a demo or an incident drill.
 */
import { ChaosError } from './errors.js';
import { CHAOS_FAULT_NAMES, CHAOS_LIMITS, parseAgentFault, type AgentFault, type ChaosFaultName } from './spec.js';

/** What `foreshard chaos` was asked to do. */
export interface ChaosInvocation {
  readonly node: string;
  /** An agent fault for `POST /chaos` (`clear` also resumes a hung process), or a process signal. */
  readonly action: AgentFault | { readonly fault: 'hang' } | { readonly fault: 'kill' };
}

/** The fault options as the CLI parsed them (strings, or undefined when absent). */
export interface ChaosArgOptions {
  readonly ramp?: string | boolean | undefined;
  readonly workers?: string | boolean | undefined;
  readonly duration?: string | boolean | undefined;
}

/** Which options each fault takes; any other is a usage error rather than silently ignored. */
const OPTIONS_OF: Readonly<Record<ChaosFaultName, readonly (keyof ChaosArgOptions)[]>> = {
  'disk-latency': ['ramp', 'duration'],
  'error-rate': ['duration'],
  'cpu-burn': ['workers', 'duration'],
  hang: [],
  kill: [],
  clear: [],
};

const RAMP_PATTERN = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/;

function usage(message: string): ChaosError {
  return new ChaosError('CHAOS_USAGE', message);
}

/** `--ramp <from-ms>:<to-ms>/<seconds>`, e.g. `1:200/60`. */
export function parseRamp(text: string): { fromMs: number; toMs: number; overMs: number } {
  const match = RAMP_PATTERN.exec(text);
  if (!match) throw usage(`--ramp must be <from-ms>:<to-ms>/<seconds>, e.g. --ramp 1:200/60, got ${JSON.stringify(text)}`);
  const [fromMs, toMs, seconds] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const max = CHAOS_LIMITS.latencyMsMax;
  if (fromMs > max || toMs > max) throw usage(`--ramp latencies must be at most ${max} ms, got ${text}`);
  if (seconds * 1000 > CHAOS_LIMITS.durationMsMax) throw usage(`--ramp must last at most ${CHAOS_LIMITS.durationMsMax / 1000} s, got ${seconds} s`);
  return { fromMs, toMs, overMs: Math.round(seconds * 1000) };
}

function seconds(raw: string, name: string, maxMs: number): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0 || value * 1000 > maxMs) {
    throw usage(`--${name} must be a number of seconds above 0 and at most ${maxMs / 1000}, got ${JSON.stringify(raw)}`);
  }
  return Math.round(value * 1000);
}

function probability(raw: string | undefined): number {
  const value = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw usage(`error-rate needs a probability from 0 to 1, e.g. \`error-rate 0.2\`, got ${raw === undefined ? 'none' : JSON.stringify(raw)}`);
  }
  return value;
}

function workers(raw: string | undefined): number {
  if (raw === undefined) return 1;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > CHAOS_LIMITS.cpuWorkersMax) {
    throw usage(`--workers must be a whole number from 1 to ${CHAOS_LIMITS.cpuWorkersMax}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const text = (value: string | boolean | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

/** Builds the agent fault of `fault` from its argument and options (already checked for stray ones). */
function agentFault(fault: 'disk-latency' | 'error-rate' | 'cpu-burn' | 'clear', argument: string | undefined, options: ChaosArgOptions): AgentFault {
  const durationText = text(options.duration);
  switch (fault) {
    case 'disk-latency': {
      const ramp = text(options.ramp);
      if (ramp === undefined) throw usage('disk-latency needs --ramp <from-ms>:<to-ms>/<seconds>, e.g. --ramp 1:200/60 (a constant 50 ms is --ramp 50:50/0)');
      return parseAgentFault({ fault, ramp: parseRamp(ramp), ...(durationText === undefined ? {} : { durationMs: seconds(durationText, 'duration', CHAOS_LIMITS.durationMsMax) }) });
    }
    case 'error-rate':
      return parseAgentFault({ fault, probability: probability(argument), ...(durationText === undefined ? {} : { durationMs: seconds(durationText, 'duration', CHAOS_LIMITS.durationMsMax) }) });
    case 'cpu-burn':
      return parseAgentFault({ fault, workers: workers(text(options.workers)), durationMs: durationText === undefined ? CHAOS_LIMITS.cpuBurnMsDefault : seconds(durationText, 'duration', CHAOS_LIMITS.cpuBurnMsMax) });
    case 'clear':
      return parseAgentFault({ fault });
  }
}

/**
 * Parses `<node> <fault> [argument]` and the fault options. Throws `CHAOS_USAGE` for anything
 * missing, unknown, out of range or not meant for that fault.
 */
export function parseChaosArgs(positionals: readonly string[], options: ChaosArgOptions = {}): ChaosInvocation {
  const [node, faultName, argument, ...extra] = positionals;
  if (node === undefined || faultName === undefined) throw usage(`give a node and a fault: foreshard chaos <node> <${CHAOS_FAULT_NAMES.join('|')}>`);
  if (!(CHAOS_FAULT_NAMES as readonly string[]).includes(faultName)) throw usage(`unknown fault ${JSON.stringify(faultName)}; the faults are ${CHAOS_FAULT_NAMES.join(', ')}`);
  const fault = faultName as ChaosFaultName;
  const takesArgument = fault === 'error-rate';
  const stray = takesArgument ? extra[0] : (argument ?? extra[0]);
  if (stray !== undefined) throw usage(`unexpected argument ${JSON.stringify(stray)} after ${fault}`);
  for (const name of ['ramp', 'workers', 'duration'] as const) {
    if (options[name] !== undefined && !OPTIONS_OF[fault].includes(name)) throw usage(`--${name} does not apply to ${fault}${OPTIONS_OF[fault].length > 0 ? `; it takes ${OPTIONS_OF[fault].map((o) => `--${o}`).join(', ')}` : ''}`);
  }
  if (fault === 'hang' || fault === 'kill') return { node, action: { fault } };
  try {
    return { node, action: agentFault(fault, argument, options) };
  } catch (error) {
    // A range the agent would refuse is a usage error here: the operator typed it.
    if (error instanceof ChaosError && error.code === 'CHAOS_BAD_FAULT') throw usage(error.message);
    throw error;
  }
}
