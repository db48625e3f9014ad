/**
 * Operating errors from the collectors and the Prometheus text parser. Each has a stable `code`
 * that callers may switch on; the message is for people and may change.
 */
export type MetricsErrorCode =
  | 'SOURCE_MISSING'
  | 'SOURCE_UNREADABLE'
  | 'SOURCE_MALFORMED'
  | 'SOURCE_TOO_LARGE'
  | 'SOURCE_TIMEOUT'
  | 'SOURCE_HTTP_STATUS'
  | 'EXPOSITION_MALFORMED'
  | 'EXPOSITION_TOO_LARGE';

/** A typed, recoverable metrics error: one source or one payload failed, the agent goes on. */
export class MetricsError extends Error {
  constructor(
    readonly code: MetricsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MetricsError';
  }
}
