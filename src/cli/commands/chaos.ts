/**
 * `foreshard chaos <node> <fault>` (issue 8): real faults in a local cluster's agent. Where each goes:
 * - `hang` and `kill` are signals to the agent's pid from the cluster's state file (SIGSTOP,
 *   SIGKILL): the process really stops or dies, as a stuck or crashed host's would.
 * - `disk-latency`, `error-rate` and `cpu-burn` are `POST /chaos` to the agent's HTTP port; the
 *   agent applies them in its own store and data port, and only when started with `--allow-chaos`.
 * - `clear` sends SIGCONT first (a hung agent could not answer anything), then clears the rest.
 * A `--broker` cluster has no pids or HTTP ports to reach from here; its faults travel as the
 * signed MQTT `chaos` command, which the coordinator sends.
 */
import { readFileSync } from 'node:fs';
import { procStatFields } from '../../common/proc-stat.js';
import { CHAOS_LIMITS, ChaosError, parseChaosArgs, type AgentFault, type ChaosInvocation, type ChaosState } from '../../chaos/index.js';
import { OperatingError, UsageError, type Command, type ParsedOptions } from '../command.js';
import { clusterTargetOptions, processAlive, readClusterState, type LocalClusterState } from '../cluster-target.js';

/** How long `POST /chaos` may take before the agent counts as unreachable (a hung agent never answers). */
export const CHAOS_HTTP_TIMEOUT_MS = 5_000;

type LocalAgent = LocalClusterState['agents'][number];

function findAgent(state: LocalClusterState, node: string): LocalAgent {
  const agent = state.agents.find((a) => a.node === node);
  if (agent) return agent;
  const known = state.agents.map((a) => a.node).join(', ') || 'none';
  throw new ChaosError('CHAOS_UNKNOWN_NODE', `node ${JSON.stringify(node)} is not in this cluster; its nodes are ${known}`);
}

/** `/proc/<pid>/stat`'s state letter (`T` is stopped), or undefined where there is no /proc. */
function processState(pid: number): string | undefined {
  try {
    return procStatFields(pid)[0]!.charAt(0);
  } catch {
    return undefined;
  }
}

/**
 * Sends `signal` to the agent, after checking the pid still runs an agent: a stale state file must
 * not make us stop or kill whatever process reused the pid.
 */
function signalAgent(agent: LocalAgent, signal: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL'): void {
  if (!processAlive(agent.pid)) throw new ChaosError('CHAOS_AGENT_UNREACHABLE', `the agent of node ${agent.node} (pid ${agent.pid}) is not running`);
  let commandLine: string | undefined;
  try {
    commandLine = readFileSync(`/proc/${agent.pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    commandLine = undefined; // no /proc (not Linux): trust the state file
  }
  if (commandLine !== undefined && !/\bagent\b/.test(commandLine)) {
    throw new ChaosError('CHAOS_AGENT_UNREACHABLE', `pid ${agent.pid} is not node ${agent.node}'s agent any more (${commandLine.trim().slice(0, 120)}); is the cluster state file stale?`);
  }
  process.kill(agent.pid, signal);
}

/** `POST /chaos` with `fault`; resolves to the agent's state, or throws why not. */
async function postFault(agent: LocalAgent, fault: AgentFault): Promise<ChaosState> {
  let response: Response;
  try {
    response = await fetch(`${agent.httpUrl}/chaos`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fault), signal: AbortSignal.timeout(CHAOS_HTTP_TIMEOUT_MS) });
  } catch (error) {
    const hung = processState(agent.pid) === 'T' ? '; it is stopped (hung): `foreshard chaos ' + agent.node + ' clear` resumes it' : '';
    throw new ChaosError('CHAOS_AGENT_UNREACHABLE', `the agent of node ${agent.node} at ${agent.httpUrl} did not answer: ${(error as Error).message}${hung}`);
  }
  const body = (await response.json().catch(() => ({}))) as { ok?: boolean; state?: ChaosState; error?: { code?: string; message?: string } };
  if (response.ok && body.ok === true && body.state) return body.state;
  if (response.status === 403) {
    throw new ChaosError('CHAOS_NOT_ALLOWED', `node ${agent.node}'s agent refuses faults: start it with --allow-chaos (\`foreshard up\` does for its agents when asked)`);
  }
  throw new OperatingError(body.error?.code ?? 'CHAOS_AGENT_ERROR', `node ${agent.node}'s agent answered ${response.status}: ${body.error?.message ?? response.statusText}`);
}

/** One line for people saying what is now injected. */
export function describeFault(fault: AgentFault): string {
  const lasting = (durationMs: number | undefined): string => (durationMs === undefined ? ' until cleared' : ` for ${durationMs / 1000} s`);
  switch (fault.fault) {
    case 'disk-latency':
      return `every fsync is delayed by ${fault.ramp.fromMs} ms rising to ${fault.ramp.toMs} ms over ${fault.ramp.overMs / 1000} s, then holding,${lasting(fault.durationMs)}`;
    case 'error-rate':
      return `${fault.probability * 100}% of data port requests fail with an I/O error${lasting(fault.durationMs)}`;
    case 'cpu-burn':
      return fault.workers === 1 ? `1 busy thread burns CPU for ${fault.durationMs / 1000} s` : `${fault.workers} busy threads burn CPU for ${fault.durationMs / 1000} s`;
    case 'clear':
      return 'every fault is cleared';
  }
}

/** `clear`: resumes a hung agent, then clears its faults; an agent without --allow-chaos has none to clear. */
async function clearAgent(agent: LocalAgent): Promise<{ resumed: boolean; state?: ChaosState; note: string }> {
  const wasStopped = processState(agent.pid) === 'T';
  signalAgent(agent, 'SIGCONT');
  const resumed = wasStopped ? 'resumed (SIGCONT) and ' : '';
  try {
    const state = await postFault(agent, { fault: 'clear' });
    return { resumed: wasStopped, state, note: `${resumed}every fault is cleared` };
  } catch (error) {
    if (error instanceof ChaosError && error.code === 'CHAOS_NOT_ALLOWED') return { resumed: wasStopped, note: `${resumed}no injected faults (the agent does not allow them)` };
    throw error;
  }
}

async function deliver(invocation: ChaosInvocation, agent: LocalAgent): Promise<{ line: string; json: Record<string, unknown> }> {
  const { node, action } = invocation;
  const base = { node, fault: action.fault, pid: agent.pid };
  switch (action.fault) {
    case 'hang':
      signalAgent(agent, 'SIGSTOP');
      return { line: `${node}: hung (SIGSTOP to pid ${agent.pid}); \`foreshard chaos ${node} clear\` resumes it`, json: base };
    case 'kill':
      signalAgent(agent, 'SIGKILL');
      return { line: `${node}: killed (SIGKILL to pid ${agent.pid})`, json: base };
    case 'clear': {
      const cleared = await clearAgent(agent);
      return { line: `${node}: ${cleared.note}`, json: { ...base, resumed: cleared.resumed, ...(cleared.state ? { state: cleared.state } : {}) } };
    }
    default: {
      const state = await postFault(agent, action);
      return { line: `${node}: ${describeFault(action)}; \`foreshard chaos ${node} clear\` ends it`, json: { ...base, state } };
    }
  }
}

/** The command line, with its problems as usage errors (exit 2). */
function parseInvocation(positionals: string[], options: ParsedOptions): ChaosInvocation {
  try {
    return parseChaosArgs(positionals, options);
  } catch (error) {
    if (error instanceof ChaosError && error.code === 'CHAOS_USAGE') throw new UsageError(error.message);
    throw error;
  }
}

const FAULT_HELP = [
  'Faults (each acts inside the agent\'s real paths, never on its score):',
  '  disk-latency --ramp <from-ms>:<to-ms>/<seconds> [--duration <s>]',
  '      Every fsync of the node\'s store (and so every acknowledged write) is delayed by a latency',
  '      that rises linearly from <from-ms> to <to-ms> over <seconds>, then holds. --ramp 1:200/60;',
  '      a constant 50 ms is --ramp 50:50/0. Raises store_fsync_ms_p99 and store_latency_ms_p99.',
  '  error-rate <p> [--duration <s>]',
  '      A fraction p (0..1) of the node\'s data port requests fail with an I/O error, before the',
  '      store applies them; the gateway sees an agent error (INTERNAL). Raises store_error_rate.',
  '  cpu-burn [--workers <n>] [--duration <s>]',
  `      n busy-loop threads (1..${CHAOS_LIMITS.cpuWorkersMax}, default 1) in the agent for <s> seconds (default ${CHAOS_LIMITS.cpuBurnMsDefault / 1000},`,
  `      at most ${CHAOS_LIMITS.cpuBurnMsMax / 1000}); they always stop by themselves. Raises cpu_utilization.`,
  '  hang      SIGSTOP to the agent\'s process: it answers nothing until `clear`.',
  '  kill      SIGKILL to the agent\'s process.',
  '  clear     SIGCONT (resumes a hung agent), then removes every fault.',
  'Without --duration, disk-latency and error-rate last until `clear`. A new fault of a kind',
  'replaces the one before it.',
  '',
  'Delivery: with --data-dir, hang/kill/clear signal the agent\'s pid from cluster.json, and the',
  'other faults go to the agent\'s HTTP port (POST /chaos), which it serves only when started with',
  '--allow-chaos (otherwise 403, exit 1). A --broker cluster can only get faults through the signed',
  'MQTT `chaos` command, which the coordinator sends; this command cannot reach it.',
].join('\n');

/** `foreshard chaos`: inject a real fault into one agent of a local cluster. */
export const chaosCommand: Command = {
  name: 'chaos',
  summary: 'inject real faults into an agent: disk-latency, error-rate, cpu-burn, hang, kill, clear',
  usage: '<node> <disk-latency|error-rate|cpu-burn|hang|kill|clear> [fault arguments] [--data-dir <dir>]',
  details: FAULT_HELP,
  options: {
    ramp: { type: 'string', description: 'disk-latency: fsync delay ramp, e.g. 1:200/60', valueName: '<from-ms>:<to-ms>/<s>' },
    workers: { type: 'string', description: 'cpu-burn: busy threads (1 if not given)', valueName: '<n>' },
    duration: { type: 'string', description: 'seconds until the fault ends by itself (cpu-burn: 60 if not given)', valueName: '<s>' },
    json: { type: 'boolean', description: 'print what was done and the agent\'s fault state as JSON', default: false },
    ...clusterTargetOptions,
  },
  async run(positionals, options: ParsedOptions) {
    const invocation = parseInvocation(positionals, options);
    if (typeof options.broker === 'string') {
      throw new ChaosError('CHAOS_BROKER_UNSUPPORTED', `--broker clusters take faults only as the signed MQTT chaos command, which the coordinator sends; \`foreshard chaos\` reaches local clusters (--data-dir)`);
    }
    const state = readClusterState(String(options['data-dir']));
    const agent = findAgent(state, invocation.node);
    const done = await deliver(invocation, agent);
    process.stdout.write((options.json === true ? JSON.stringify(done.json) : done.line) + '\n');
    return 0;
  },
};
