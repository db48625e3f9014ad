/**
 * The MQTT way in: a signed coordinator `chaos` command (DESIGN.md §5.2, `node/<node>/cmd`) turned
 * into a fault. The command dispatcher (src/agent/commands.ts) calls {@link applyChaosCommand} from
 * its `chaos` handler; this module owns what each fault name means, so the wire format can name
 * faults its own way (`cpu`, `disk-errors`, `crash`, ...) while the CLI's names also work.
 *
 * Every command fault ends by itself after `durationMs` (the coordinator may not be there to clear
 * it). `hang` and `kill` act on the agent's own process: a stopped process cannot resume itself, so
 * `hang` first starts a small detached process that sends SIGCONT when the duration is over.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { ChaosController, ChaosState } from './controller.js';
import { ChaosError } from './errors.js';
import { CHAOS_LIMITS, parseAgentFault, type AgentFault } from './spec.js';

/** Arguments of a `chaos` command: the wire's `{fault, durationMs, intensity?}`, plus optional precise fields. */
export interface ChaosCommandArgs {
  readonly fault: string;
  /** How long the fault lasts; 0 means until a `clear` (not allowed for `hang`, which nothing could clear). */
  readonly durationMs: number;
  /** Strength in [0, 1]; see {@link applyChaosCommand} for what it means per fault. */
  readonly intensity?: number;
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly rampMs?: number;
  readonly probability?: number;
  readonly workers?: number;
}

/** Named limits of the command path. */
export const CHAOS_COMMAND_LIMITS = Object.freeze({
  /** The fsync delay that intensity 1 ramps to. */
  fullLatencyMs: 1000,
  /** Longest `hang` by command. */
  hangMsMax: 600_000,
  /**
   * How long `hang` and `kill` wait before acting on their own process, so the dispatcher can
   * publish the command's result first.
   */
  selfSignalDelayMs: 250,
});

/** How the agent signals its own process; tests inject a recorder. */
export interface SelfSignals {
  kill(): void;
  /** Stops this process for `durationMs`; a helper process resumes it. */
  hang(durationMs: number): Promise<void>;
}

/** The real self-signals of the running process. */
export const processSelfSignals: SelfSignals = {
  kill: () => {
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), CHAOS_COMMAND_LIMITS.selfSignalDelayMs);
  },
  hang: async (durationMs) => {
    const resumeAfterMs = CHAOS_COMMAND_LIMITS.selfSignalDelayMs + durationMs;
    const source = `setTimeout(() => { try { process.kill(${process.pid}, 'SIGCONT'); } catch {} }, ${resumeAfterMs});`;
    const resumer = spawn(process.execPath, ['-e', source], { detached: true, stdio: 'ignore' });
    // Stopping ourselves without a running resumer would hang the agent for good.
    await new Promise<void>((resolve, reject) => {
      resumer.once('spawn', resolve);
      resumer.once('error', (error) => reject(new ChaosError('CHAOS_UNSUPPORTED', `cannot start the process that would resume this agent: ${error.message}`)));
    });
    resumer.unref();
    setTimeout(() => process.kill(process.pid, 'SIGSTOP'), CHAOS_COMMAND_LIMITS.selfSignalDelayMs);
  },
};

/** 0 on the wire means "until cleared". */
const duration = (args: ChaosCommandArgs): { durationMs?: number } => (args.durationMs > 0 ? { durationMs: args.durationMs } : {});

/** The agent fault a command asks for, or undefined for `hang`/`kill`; see {@link applyChaosCommand}. */
export function commandFault(args: ChaosCommandArgs): AgentFault | undefined {
  const intensity = args.intensity;
  switch (args.fault) {
    case 'disk-latency':
    case 'store-latency': {
      const toMs = args.toMs ?? Math.round((intensity ?? 0.2) * CHAOS_COMMAND_LIMITS.fullLatencyMs);
      const overMs = args.rampMs ?? Math.floor(args.durationMs / 2);
      return parseAgentFault({ fault: 'disk-latency', ramp: { fromMs: args.fromMs ?? 1, toMs, overMs }, ...duration(args) });
    }
    case 'error-rate':
    case 'disk-errors':
      return parseAgentFault({ fault: 'error-rate', probability: args.probability ?? intensity ?? 0.1, ...duration(args) });
    case 'cpu-burn':
    case 'cpu': {
      const workers = args.workers ?? Math.max(1, Math.round((intensity ?? 0.5) * availableParallelism()));
      const durationMs = Math.min(args.durationMs > 0 ? args.durationMs : CHAOS_LIMITS.cpuBurnMsDefault, CHAOS_LIMITS.cpuBurnMsMax);
      return parseAgentFault({ fault: 'cpu-burn', workers: Math.min(workers, CHAOS_LIMITS.cpuWorkersMax), durationMs });
    }
    case 'clear':
      return parseAgentFault({ fault: 'clear' });
    case 'hang':
    case 'kill':
    case 'crash':
      return undefined;
    default:
      throw new ChaosError('CHAOS_UNSUPPORTED', `the agent cannot inject ${JSON.stringify(args.fault)} faults; it injects disk-latency, error-rate, cpu-burn, hang, kill and clear`);
  }
}

/**
 * Applies a coordinator `chaos` command to `controller`, which is undefined when the agent runs
 * without `--allow-chaos` (then it throws `CHAOS_NOT_ALLOWED`). Faults by name (wire name / CLI name):
 * - `disk-latency` / `store-latency`: fsync delay ramps from `fromMs` (1) to `toMs`
 *   (intensity × 1000 ms, default 200) over `rampMs` (half the duration), then holds.
 * - `error-rate` / `disk-errors`: a fraction `probability` (else intensity, default 0.1) of data port requests fail.
 * - `cpu-burn` / `cpu`: `workers` (else intensity × cores, at least 1) busy threads.
 * - `hang`: SIGSTOP of this process for `durationMs` (1 ms to 10 min); `kill` / `crash`: SIGKILL.
 * - `clear`: every fault ends.
 * Resolves to the controller's state; throws a {@link ChaosError} for a fault it cannot apply.
 */
export async function applyChaosCommand(controller: ChaosController | undefined, args: ChaosCommandArgs, self: SelfSignals = processSelfSignals): Promise<ChaosState> {
  if (controller === undefined) throw new ChaosError('CHAOS_NOT_ALLOWED', 'this agent was started without --allow-chaos, so it refuses every fault');
  const fault = commandFault(args);
  if (fault !== undefined) return controller.apply(fault);
  if (args.fault === 'hang') {
    if (!(args.durationMs >= 1 && args.durationMs <= CHAOS_COMMAND_LIMITS.hangMsMax)) {
      throw new ChaosError('CHAOS_BAD_FAULT', `hang by command needs durationMs from 1 to ${CHAOS_COMMAND_LIMITS.hangMsMax}: nothing could resume the agent otherwise`);
    }
    await self.hang(args.durationMs);
  } else {
    self.kill();
  }
  return controller.state();
}
