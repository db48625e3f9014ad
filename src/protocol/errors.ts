/**
 * Operating errors of the wire formats. Every bad payload, topic, signature or token becomes a
 * {@link ProtocolError} with a stable `code` that callers count and switch on; the message is for
 * people and may change.
 *
 * This file, like every module the client library imports (`cbor`, `schema`, `limits`, `client`),
 * uses no `node:` import, so the client can run in a browser (issue 7). Programmer errors in these
 * modules go through {@link invariant}, which throws the same way `node:assert` does.
 */

/** Stable codes of {@link ProtocolError}. */
export type ProtocolErrorCode =
  /** The payload is larger than its kind allows; it was not decoded. */
  | 'PAYLOAD_TOO_LARGE'
  /** The bytes are not one well-formed CBOR (or JSON) item. */
  | 'MALFORMED'
  /** The payload decoded but does not have the shape of its kind. */
  | 'SCHEMA'
  /** One field (a key, a value, a list) is longer than its named limit. */
  | 'FIELD_TOO_LARGE'
  /** A topic, cluster id or node id breaks the topic rules. */
  | 'BAD_TOPIC'
  /** A command's HMAC does not verify. */
  | 'BAD_SIGNATURE'
  /** A command's timestamp is outside the accepted clock skew. */
  | 'STALE_COMMAND'
  /** A command id was already seen inside the skew window. */
  | 'REPLAYED_COMMAND'
  /** The replay guard is full of unexpired command ids; it fails closed. */
  | 'REPLAY_GUARD_FULL'
  /** A signing or token key is too short. */
  | 'BAD_KEY'
  /** A bearer token is not in the token format. */
  | 'TOKEN_MALFORMED'
  /** A bearer token's HMAC does not verify. */
  | 'TOKEN_BAD_SIGNATURE'
  /** A bearer token is past its expiry. */
  | 'TOKEN_EXPIRED';

/** A typed, recoverable protocol error. The process goes on; only this payload is dropped. */
export class ProtocolError extends Error {
  /** Where in the payload the problem is, e.g. `shards[3].epoch`, when known. */
  readonly path: string | undefined;

  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
    path?: string,
  ) {
    super(path === undefined || path === '' ? message : `${path}: ${message}`);
    this.name = 'ProtocolError';
    this.path = path;
  }
}

/** True when `error` is a {@link ProtocolError}, optionally with the given code. */
export function isProtocolError(error: unknown, code?: ProtocolErrorCode): error is ProtocolError {
  return error instanceof ProtocolError && (code === undefined || error.code === code);
}

/** A failed programmer assumption, thrown by {@link invariant}; it is never caught as an operating error. */
export class InvariantError extends Error {
  override readonly name = 'AssertionError';
  readonly code = 'ERR_ASSERTION';
}

/**
 * Asserts a programmer assumption (like `assert` from `node:assert`, which the browser lacks).
 * A failure is a bug in the caller, never bad input from a peer.
 */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}
