/**
 * Operating errors of the gateway. A client only ever sees the six codes of DESIGN.md §5.1; this
 * type carries one of them plus the hint a client needs (`retryAfterMs` with UNAVAILABLE).
 */
import type { ClientError, ClientErrorCode, ClientFailure } from '../protocol/index.js';

/** A typed, recoverable gateway error that becomes one failure response. */
export class GatewayError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  /** The wire form of this error (§5.1 `error`). */
  toClientError(): ClientError {
    return this.retryAfterMs === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, retryAfterMs: this.retryAfterMs };
  }
}

/** The failure response for request `id`. */
export function failureOf(id: number | null, error: GatewayError): ClientFailure {
  return { id, ok: false, error: error.toClientError() };
}

/** UNAVAILABLE with a retry hint: the request was not applied, and a retry may succeed. */
export function unavailable(message: string, retryAfterMs: number): GatewayError {
  return new GatewayError('UNAVAILABLE', message, Math.max(0, Math.round(retryAfterMs)));
}
