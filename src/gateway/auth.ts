/**
 * Client authentication (DESIGN.md §5.1): a bearer token from `Authorization: Bearer <token>`, or
 * from `?token=` for browsers, which cannot set headers on a WebSocket. Tokens are the HMAC-signed
 * `fst1` tokens of src/protocol/tokens.ts, made by `foreshard token create`.
 *
 * A connection with a missing or bad token is still upgraded, and every request on it is answered
 * UNAUTHORIZED: a browser cannot read an HTTP 401 on a failed upgrade, but it can read a frame. The
 * token's expiry is checked again on every request, so an expired token stops working mid-connection.
 */
import { readFileSync } from 'node:fs';
import { MIN_KEY_BYTES, ProtocolError, isProtocolError, verifyToken, type TokenClaims } from '../protocol/index.js';
import { GatewayError } from './errors.js';

/** What the upgrade learned about a connection's credentials. */
export type Credentials = { kind: 'anonymous' } | { kind: 'token'; claims: TokenClaims } | { kind: 'refused'; reason: string };

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The bearer token of an upgrade request: the Authorization header wins over `?token=`. */
export function bearerTokenOf(authorization: string, query: string): string | undefined {
  const match = BEARER.exec(authorization);
  if (match) return match[1];
  const fromQuery = new URLSearchParams(query).get('token');
  return fromQuery === null || fromQuery === '' ? undefined : fromQuery;
}

/** Checks the token of a new connection; with no key (auth off) everyone is anonymous. */
export function credentialsOf(key: Uint8Array | undefined, token: string | undefined, nowMs: number): Credentials {
  if (key === undefined) return { kind: 'anonymous' };
  if (token === undefined) return { kind: 'refused', reason: 'auth is on: send Authorization: Bearer <token> or ?token=<token>' };
  try {
    return { kind: 'token', claims: verifyToken(key, token, nowMs) };
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    return { kind: 'refused', reason: `token refused: ${error.code}` };
  }
}

/** Throws UNAUTHORIZED unless `credentials` allow a request at `nowMs`. */
export function checkCredentials(credentials: Credentials, nowMs: number): void {
  if (credentials.kind === 'anonymous') return;
  if (credentials.kind === 'refused') throw new GatewayError('UNAUTHORIZED', credentials.reason);
  if (nowMs >= credentials.claims.expiresAt) throw new GatewayError('UNAUTHORIZED', 'token refused: TOKEN_EXPIRED');
}

/**
 * Reads a token key file: hex (64 or more hex digits, e.g. from `openssl rand -hex 32`), or else
 * the file's raw bytes. Either way the key must be at least 32 bytes (RFC 2104 §3).
 */
export function loadTokenKey(path: string): Uint8Array {
  const raw = readFileSync(path);
  const text = raw.toString('utf8').trim();
  const key = /^(?:[0-9a-fA-F]{2})+$/.test(text) && text.length >= 2 * MIN_KEY_BYTES ? Buffer.from(text, 'hex') : raw;
  if (key.byteLength < MIN_KEY_BYTES) throw new ProtocolError('BAD_KEY', `token key file ${path} holds ${key.byteLength} bytes; at least ${MIN_KEY_BYTES} are needed`);
  return new Uint8Array(key);
}
