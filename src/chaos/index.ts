/**
 * `src/chaos/`: real faults inside an agent's real paths, for demos and the end-to-end tests
 * (issue 8, `foreshard chaos`). The agent holds one {@link ChaosController} when started with
 * `--allow-chaos`; the store's fsync asks it for a delay and the data port asks it whether a
 * request fails, so the predictor sees a fault only through the series it already reads. Faults
 * come in over `POST /chaos` ({@link serveChaosHttp}), the MQTT `chaos` command
 * ({@link applyChaosCommand}), and, for `hang` and `kill`, as signals from `foreshard chaos`.
 * See docs/chaos.md.
 *
 * @module
 */
export { ChaosController, rampDelayMs, seededRandom, type ChaosControllerOptions, type ChaosState } from './controller.js';
export { WorkerCpuBurner, type CpuBurner } from './cpu-burner.js';
export { ChaosError, isChaosError, type ChaosErrorCode } from './errors.js';
export { CHAOS_FAULT_NAMES, CHAOS_LIMITS, parseAgentFault, type AgentFault, type AgentFaultName, type ChaosFaultName, type LatencyRamp, type ProcessFaultName } from './spec.js';
export { parseChaosArgs, parseRamp, type ChaosArgOptions, type ChaosInvocation } from './args.js';
export { applyChaosCommand, commandFault, processSelfSignals, CHAOS_COMMAND_LIMITS, type ChaosCommandArgs, type SelfSignals } from './command.js';
export { serveChaosHttp } from './http.js';
export { chaosFamilies } from './metrics.js';
