/**
 * Operating errors of fault injection. Each has a stable `code` that the CLI prints, the agent's
 * `POST /chaos` answers with, and tests switch on; the message is for people and may change.
 */

/** Stable codes of {@link ChaosError}. */
export type ChaosErrorCode =
  /** A `foreshard chaos` command line is malformed (the CLI exits 2 with the usage hint). */
  | 'CHAOS_USAGE'
  /** A fault description is malformed or out of its limits (bad ramp, probability, worker count, ...). */
  | 'CHAOS_BAD_FAULT'
  /** The agent was started without `--allow-chaos`, so it refuses every fault. */
  | 'CHAOS_NOT_ALLOWED'
  /** The fault exists, but not on this path (for example `hang` over HTTP, or `memory` at all). */
  | 'CHAOS_UNSUPPORTED'
  /** The `POST /chaos` body is over its size limit or not JSON. */
  | 'CHAOS_BAD_REQUEST'
  /** The agent cannot be reached, or its process is gone, or the pid is not an agent's. */
  | 'CHAOS_AGENT_UNREACHABLE'
  /** The node is not in the local cluster's state file. */
  | 'CHAOS_UNKNOWN_NODE'
  /** The cluster was named by `--broker`; faults travel only through a local cluster's pids and HTTP ports. */
  | 'CHAOS_BROKER_UNSUPPORTED'
  /** Worker threads for `cpu-burn` could not be started. */
  | 'CHAOS_CPU_BURN_FAILED';

/** A typed, recoverable fault-injection error. */
export class ChaosError extends Error {
  constructor(
    readonly code: ChaosErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ChaosError';
  }
}

/** True when `error` is a {@link ChaosError}. */
export function isChaosError(error: unknown): error is ChaosError {
  return error instanceof ChaosError;
}
