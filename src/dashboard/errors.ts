/**
 * Operating errors of the dashboard and `foreshard status`. Each has a stable `code` the CLI prints
 * as a one-line message (exit 1); the message says what to check.
 */

/** Stable codes of {@link DashboardError}. */
export type DashboardErrorCode =
  /** The MQTT broker refused or did not answer the first connection. */
  | 'BROKER_UNREACHABLE'
  /** The broker refused the subscriptions. */
  | 'SUBSCRIBE_FAILED'
  /** The HTTP server could not listen (port taken, no permission). */
  | 'LISTEN_FAILED';

/** A typed dashboard error. */
export class DashboardError extends Error {
  constructor(
    readonly code: DashboardErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DashboardError';
  }
}
