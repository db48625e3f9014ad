/**
 * Operating errors of the shard store. Each has a stable `code` that callers (the replication
 * layer, the agent, the CLI) switch on; the message is for people and may change.
 */
export type StoreErrorCode =
  | 'KEY_TOO_LARGE'
  | 'VALUE_TOO_LARGE'
  | 'SHARD_MEMORY_LIMIT'
  | 'TOO_MANY_IN_FLIGHT'
  | 'ROLLBACK_WINDOW_FULL'
  | 'BAD_FRAME'
  | 'WRONG_SHARD'
  | 'STALE_EPOCH'
  | 'LSN_GAP'
  | 'LOG_DIVERGED'
  | 'DELTA_BASE_MISMATCH'
  | 'APPLY_FAILED'
  | 'MOVED'
  | 'WRONG_ROLE'
  | 'NOT_CAUGHT_UP'
  | 'ROLLBACK_OUTSIDE_WINDOW'
  | 'LOG_CORRUPT'
  | 'SNAPSHOT_CORRUPT'
  | 'NOT_FOUND'
  | 'OUT_EXISTS'
  | 'BAD_TARGET'
  | 'IO_ERROR'
  | 'CLOSED';

/** A typed, recoverable store error. Only the call that threw failed; the replica goes on. */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    /** Machine-readable details, e.g. `{ epoch }` on MOVED or `{ expectedLsn }` on LSN_GAP. */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/** True when `error` is a StoreError with the given code. */
export function isStoreError(error: unknown, code?: StoreErrorCode): error is StoreError {
  return error instanceof StoreError && (code === undefined || error.code === code);
}
