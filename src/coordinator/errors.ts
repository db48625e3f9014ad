/**
 * Operating errors of the coordinator: a manual request it cannot run, or input it must refuse.
 * Each has a stable `code`; the message is for people and may change.
 *
 * @module
 */

/** The stable codes of {@link CoordinatorError}. */
export type CoordinatorErrorCode =
  | 'UNKNOWN_SHARD'
  | 'UNKNOWN_NODE'
  | 'SHARD_BUSY'
  | 'NO_TARGET'
  | 'NOT_READY'
  | 'TOO_MANY_SHARDS'
  | 'TOO_MANY_NODES'
  | 'BAD_INCIDENT_FILE'
  | 'BAD_HISTORY_FILE';

/** A typed, recoverable coordinator error. The process goes on; only this request failed. */
export class CoordinatorError extends Error {
  constructor(
    readonly code: CoordinatorErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CoordinatorError';
  }
}
