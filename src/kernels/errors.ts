/**
 * Operating errors from the kernels. Each has a stable `code` that callers may switch on; the
 * message is for people and may change.
 */
export type KernelErrorCode =
  | 'DELTA_MALFORMED'
  | 'DELTA_TRUNCATED'
  | 'DELTA_WRONG_BASE'
  | 'INPUT_TOO_LARGE'
  | 'MEMORY_LIMIT'
  | 'SERIES_TOO_SHORT'
  | 'SERIES_NOT_FINITE'
  | 'BAD_ORDER'
  | 'FIT_FAILED'
  | 'KERNEL_UNAVAILABLE';

/** A typed, recoverable kernel error. The process goes on; only this call failed. */
export class KernelError extends Error {
  constructor(
    readonly code: KernelErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KernelError';
  }
}
