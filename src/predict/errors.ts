/**
 * Operating errors of the scoring engine. Each has a stable `code`; the message is for people.
 */

/** Stable codes of scoring-engine errors. */
export type PredictErrorCode =
  | 'TOO_MANY_SERIES'
  | 'DUPLICATE_SERIES'
  | 'UNKNOWN_SERIES'
  | 'BAD_SERIES_SPEC'
  | 'CALIBRATION_BAD_HISTORY'
  | 'CALIBRATION_HISTORY_TOO_LARGE'
  | 'BAD_CALIBRATION';

/** A typed, recoverable scoring-engine error: the call failed, the engine goes on. */
export class PredictError extends Error {
  constructor(
    readonly code: PredictErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PredictError';
  }
}
