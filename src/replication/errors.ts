/**
 * Operating errors of replication and the data port. Each has a stable `code` that the agent maps
 * to a command result and the gateway to a client error; the message is for people.
 * Store errors (`StoreError`) pass through unchanged: their codes are stable too.
 */
import { isStoreError } from '../store/index.js';
import type { CommandErrorCode } from '../protocol/index.js';

export type ReplicationErrorCode =
  /** This node holds no replica of the shard. */
  | 'UNKNOWN_SHARD'
  /** The command's epoch is below the replica's. */
  | 'STALE_EPOCH'
  /** The replica's role does not allow the operation (e.g. follow on an open primary). */
  | 'WRONG_ROLE'
  /** promote/rollback: the shadow did not receive through `throughLsn` within promoteWaitMs. */
  | 'NOT_CAUGHT_UP'
  /** Too few shadows were connected to acknowledge a write in time; it may or may not be durable. */
  | 'UNAVAILABLE'
  /** Enough shadows were connected, but too few acknowledged in time; it may or may not be durable. */
  | 'TIMEOUT'
  /** The shard already has a replica here (add-shadow). */
  | 'SHARD_EXISTS'
  /** A data port URL that is not ws:// or wss://. */
  | 'BAD_URL'
  /** The host or the link is closed. */
  | 'CLOSED'
  /** promote: the replica's entry at `throughLsn` is of another epoch than `throughEpoch`. */
  | 'DIVERGED'
  /** drop: the replica takes writes. */
  | 'IS_PRIMARY'
  /** A command that makes no sense for this node (e.g. follow itself). */
  | 'BAD_REQUEST';

/** A typed, recoverable replication error. Only the call that threw failed; the host goes on. */
export class ReplicationError extends Error {
  constructor(
    readonly code: ReplicationErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'ReplicationError';
  }
}

/** True when `error` is a ReplicationError with the given code. */
export function isReplicationError(error: unknown, code?: ReplicationErrorCode): error is ReplicationError {
  return error instanceof ReplicationError && (code === undefined || error.code === code);
}

/** The command-result code (DESIGN.md §5.2) for an error thrown by a ShardHost command method. */
export function commandErrorCode(error: unknown): CommandErrorCode {
  if (isReplicationError(error) || isStoreError(error)) {
    const code = (error as { code: string }).code;
    if (code === 'STALE_EPOCH' || code === 'NOT_CAUGHT_UP' || code === 'DIVERGED' || code === 'IS_PRIMARY' || code === 'BAD_REQUEST') return code;
    if (code === 'UNKNOWN_SHARD') return 'NO_REPLICA';
    if (code === 'WRONG_ROLE' || code === 'MOVED' || code === 'SHARD_EXISTS') return 'BAD_REQUEST';
  }
  return 'FAILED';
}
