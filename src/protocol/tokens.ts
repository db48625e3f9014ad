/**
 * Bearer tokens for the gateway and the data port (DESIGN.md §5.1): `Authorization: Bearer
 * <token>` or `?token=<token>`. A token is three dot-separated parts, all URL-safe:
 *
 *     fst1.<base64url(JSON {"sub": <subject>, "exp": <expiry, ms since the Unix epoch>})>.<base64url(HMAC)>
 *
 * The HMAC is HMAC-SHA256 (RFC 2104) with the token key over the ASCII bytes of the first two parts
 * including the dot (`fst1.<payload>`); base64url is RFC 4648 §5 without padding. The `fst1` prefix
 * names the format and keeps these MACs apart from command signatures.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ProtocolError } from './errors.js';
import { MAX_TOKEN_LENGTH, MAX_TOKEN_SUBJECT_LENGTH } from './limits.js';
import { checkKey } from './signing.js';

/** The first part of every token: the format and its version. */
export const TOKEN_PREFIX = 'fst1';
/** A subject: printable ASCII without spaces, e.g. `client:alice` or `gateway:gw-1`. */
export const TOKEN_SUBJECT_PATTERN = /^[\x21-\x7e]+$/;

/** What a token asserts. */
export interface TokenClaims {
  /** Who holds it. */
  sub: string;
  /** When it stops being valid, in ms since the Unix epoch. */
  expiresAt: number;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function mac(key: Uint8Array, signedPart: string): Buffer {
  return createHmac('sha256', key).update(signedPart, 'ascii').digest();
}

function checkClaims(claims: TokenClaims): void {
  const { sub, expiresAt } = claims;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_TOKEN_SUBJECT_LENGTH || !TOKEN_SUBJECT_PATTERN.test(sub)) {
    throw new ProtocolError('TOKEN_MALFORMED', `token subject must be 1..${MAX_TOKEN_SUBJECT_LENGTH} printable ASCII characters without spaces`);
  }
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0) throw new ProtocolError('TOKEN_MALFORMED', 'token expiry must be a whole number of ms since the Unix epoch');
}

/** Makes a token for `sub` that expires at `expiresAt` (ms since the Unix epoch). */
export function createToken(key: Uint8Array, claims: TokenClaims): string {
  checkKey(key, 'token key');
  checkClaims(claims);
  const payload = Buffer.from(JSON.stringify({ sub: claims.sub, exp: claims.expiresAt }), 'utf8').toString('base64url');
  const signedPart = `${TOKEN_PREFIX}.${payload}`;
  const token = `${signedPart}.${mac(key, signedPart).toString('base64url')}`;
  if (token.length > MAX_TOKEN_LENGTH) throw new ProtocolError('TOKEN_MALFORMED', `token would be longer than ${MAX_TOKEN_LENGTH} characters`);
  return token;
}

/**
 * Verifies `token` at `nowMs` and returns its claims. Throws `TOKEN_MALFORMED`,
 * `TOKEN_BAD_SIGNATURE` (checked before the payload is read, with a timing-safe compare) or
 * `TOKEN_EXPIRED`.
 */
export function verifyToken(key: Uint8Array, token: string, nowMs: number): TokenClaims {
  checkKey(key, 'token key');
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw new ProtocolError('TOKEN_MALFORMED', 'token is missing or too long');
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX || !BASE64URL.test(parts[1]!) || !BASE64URL.test(parts[2]!)) {
    throw new ProtocolError('TOKEN_MALFORMED', `token is not ${TOKEN_PREFIX}.<payload>.<mac>`);
  }
  const given = Buffer.from(parts[2]!, 'base64url');
  const expected = mac(key, `${parts[0]}.${parts[1]}`);
  if (given.byteLength !== expected.byteLength || !timingSafeEqual(given, expected)) {
    throw new ProtocolError('TOKEN_BAD_SIGNATURE', 'token signature does not verify');
  }
  let payload: { sub?: unknown; exp?: unknown };
  try {
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { sub?: unknown; exp?: unknown };
  } catch {
    throw new ProtocolError('TOKEN_MALFORMED', 'token payload is not JSON');
  }
  const claims = { sub: payload?.sub, expiresAt: payload?.exp } as TokenClaims;
  checkClaims(claims);
  if (nowMs >= claims.expiresAt) throw new ProtocolError('TOKEN_EXPIRED', `token for ${claims.sub} expired at ${new Date(claims.expiresAt).toISOString()}`);
  return claims;
}
