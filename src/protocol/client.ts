/**
 * Client ↔ gateway frames (DESIGN.md §5.1), for the gateway and for the client library.
 *
 * Binary WebSocket frames carry CBOR and values are byte strings; text frames carry JSON with the
 * same fields and values are UTF-8 strings. A key may be a text string in either framing, or a
 * byte string in a binary frame; it is hashed and stored as its bytes (UTF-8 for text), so the
 * key "a" is the same key in both framings.
 *
 * Parsing a request never throws for bad input: it returns the error the gateway answers with,
 * `TOO_LARGE` for a frame, key or value over its limit, `BAD_REQUEST` for anything else, together
 * with the request `id` whenever the frame could be read far enough to find one.
 *
 * No `node:` import here: the client library runs in browsers too.
 */
import { decodeCbor, encodeCbor, isPlainObject } from './cbor.js';
import { ProtocolError } from './errors.js';
import {
  DEFAULT_CLIENT_LIMITS,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_REQUEST_ID,
  maxClientFrameBytes,
  type ClientLimits,
} from './limits.js';
import {
  SchemaIssue,
  bytes,
  either,
  literal,
  nullable,
  object,
  oneOf,
  optional,
  string,
  uint,
  validate,
  variants,
  type Schema,
} from './schema.js';

/** A client operation. */
export type ClientOp = 'get' | 'put' | 'del';
/** `binary`: CBOR in binary frames, byte-string values. `text`: JSON in text frames, string values. */
export type ClientFraming = 'binary' | 'text';
/** The error codes a client can receive (§5.1). */
export type ClientErrorCode = 'BAD_REQUEST' | 'UNAUTHORIZED' | 'TOO_LARGE' | 'UNAVAILABLE' | 'TIMEOUT' | 'INTERNAL';
/** Every {@link ClientErrorCode}. */
export const CLIENT_ERROR_CODES = ['BAD_REQUEST', 'UNAUTHORIZED', 'TOO_LARGE', 'UNAVAILABLE', 'TIMEOUT', 'INTERNAL'] as const satisfies readonly ClientErrorCode[];

/** A request as the gateway sees it after parsing: key and value are bytes whatever the framing. */
export interface ClientRequest {
  id: number;
  op: ClientOp;
  key: Uint8Array;
  /** Present exactly for `put`. */
  value?: Uint8Array;
}

/** A request as a client writes it: text or bytes, converted per framing by {@link encodeClientRequest}. */
export interface ClientRequestInput {
  id: number;
  op: ClientOp;
  key: string | Uint8Array;
  value?: string | Uint8Array;
}

/** The `error` of a failure response. */
export interface ClientError {
  code: ClientErrorCode;
  message: string;
  /** With UNAVAILABLE: when a retry has a fair chance. */
  retryAfterMs?: number;
}

/** A success response. `value` is bytes in binary frames and a string in text frames (null: no such key). */
export interface ClientSuccess {
  id: number;
  ok: true;
  shard: number;
  value?: Uint8Array | string | null;
  lsn?: number;
}

/** A failure response. `id` is null only when the frame could not be read far enough to find it. */
export interface ClientFailure {
  id: number | null;
  ok: false;
  error: ClientError;
}

/** Any response. Responses may come out of order; `id` pairs them with requests. */
export type ClientResponse = ClientSuccess | ClientFailure;

/** The outcome of {@link parseClientRequest}: a request, or the failure to answer with. */
export type ParsedClientRequest = { ok: true; request: ClientRequest } | { ok: false; failure: ClientFailure };

const utf8Encoder = new TextEncoder();
const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true });
/** A lone UTF-16 surrogate cannot be written as UTF-8 (RFC 3629 §3), so it is refused, not replaced. */
const LONE_SURROGATE = /\p{Cs}/u;

/** A key or value: a text string (stored as its UTF-8 bytes) or, when allowed, a byte string. */
function textOrBytes(maxBytes: number, allowBytes: boolean): Schema<Uint8Array> {
  const text: Schema<Uint8Array> = {
    description: `string <= ${maxBytes} UTF-8 bytes`,
    parse(input) {
      if (typeof input !== 'string') throw new SchemaIssue(allowBytes ? 'expected string or byte string' : 'expected string');
      // Every UTF-16 unit is at least one UTF-8 byte, so a long string is refused before encoding it.
      if (input.length > maxBytes) throw new SchemaIssue(`longer than ${maxBytes} bytes`, true);
      if (LONE_SURROGATE.test(input)) throw new SchemaIssue('string holds a lone surrogate, not valid Unicode');
      const encoded = utf8Encoder.encode(input);
      if (encoded.byteLength > maxBytes) throw new SchemaIssue(`longer than ${maxBytes} bytes`, true);
      return encoded;
    },
  };
  if (!allowBytes) return text;
  const textOrByteString = either(bytes(maxBytes), text);
  return {
    description: textOrByteString.description,
    // A text string, the common case, goes straight to its parser rather than through a byte-string
    // attempt that fails first (a thrown issue per key was most of the gateway's parse cost); the
    // result and the issues are the same as `either`'s.
    parse: (input) => (typeof input === 'string' ? text.parse(input) : textOrByteString.parse(input)),
  };
}

/** The request schemas for `limits`, built once per limits object. */
const requestSchemas = new WeakMap<ClientLimits, Record<ClientFraming, Schema<ClientRequest>>>();

function requestSchema(limits: ClientLimits, framing: ClientFraming): Schema<ClientRequest> {
  let schemas = requestSchemas.get(limits);
  if (!schemas) {
    const make = (allowBytes: boolean): Schema<ClientRequest> => {
      const key = textOrBytes(limits.maxKeyBytes, allowBytes);
      const value = textOrBytes(limits.maxValueBytes, allowBytes);
      const base = { id: uint(MAX_REQUEST_ID) };
      // `variants` reports an unknown op by name; a value on get or del is ignored (dropped).
      return variants('op', {
        get: object({ ...base, op: literal('get'), key }),
        put: object({ ...base, op: literal('put'), key, value }),
        del: object({ ...base, op: literal('del'), key }),
      }) as Schema<ClientRequest>;
    };
    schemas = { binary: make(true), text: make(false) };
    requestSchemas.set(limits, schemas);
  }
  return schemas[framing];
}

/** Decodes a frame's bytes to a plain value: CBOR for binary frames, UTF-8 JSON for text frames. */
function decodeFrame(frame: Uint8Array | string, framing: ClientFraming, maxBytes: number): unknown {
  if (framing === 'binary') {
    if (typeof frame === 'string') throw new ProtocolError('MALFORMED', 'a binary frame must be bytes');
    return decodeCbor(frame, maxBytes, 'frame');
  }
  const size = typeof frame === 'string' ? frame.length : frame.byteLength;
  if (size > maxBytes) throw new ProtocolError('PAYLOAD_TOO_LARGE', `frame of ${size} bytes is over the limit of ${maxBytes}`);
  try {
    return JSON.parse(typeof frame === 'string' ? frame : strictUtf8Decoder.decode(frame));
  } catch (error) {
    throw new ProtocolError('MALFORMED', `text frame is not UTF-8 JSON: ${(error as Error).message}`);
  }
}

/** The request id in a decoded frame, when it has a usable one. */
function recoverId(decoded: unknown): number | null {
  if (!isPlainObject(decoded)) return null;
  const id = typeof decoded.id === 'bigint' && decoded.id <= BigInt(MAX_REQUEST_ID) ? Number(decoded.id) : decoded.id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : null;
}

function failure(id: number | null, code: ClientErrorCode, message: string): { ok: false; failure: ClientFailure } {
  return { ok: false, failure: { id, ok: false, error: { code, message: message.slice(0, MAX_ERROR_MESSAGE_LENGTH) } } };
}

/**
 * Parses one client frame (the gateway's entry point). Never throws for bad input: returns the
 * failure to send back, with `TOO_LARGE` or `BAD_REQUEST` and the request id when it can be found.
 */
export function parseClientRequest(frame: Uint8Array | string, framing: ClientFraming, limits: ClientLimits = DEFAULT_CLIENT_LIMITS): ParsedClientRequest {
  let decoded: unknown;
  try {
    decoded = decodeFrame(frame, framing, maxClientFrameBytes(limits, framing === 'binary'));
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return failure(null, error.code === 'PAYLOAD_TOO_LARGE' ? 'TOO_LARGE' : 'BAD_REQUEST', error.message);
  }
  const id = recoverId(decoded);
  try {
    return { ok: true, request: validate(requestSchema(limits, framing), decoded, 'request') };
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return failure(id, error.code === 'FIELD_TOO_LARGE' ? 'TOO_LARGE' : 'BAD_REQUEST', error.message);
  }
}

function textOf(value: string | Uint8Array): string {
  return typeof value === 'string' ? value : strictUtf8Decoder.decode(value);
}

function bytesOf(value: string | Uint8Array): Uint8Array {
  return typeof value === 'string' ? utf8Encoder.encode(value) : value;
}

/**
 * Encodes a request for `framing` (the client library's side). In a text frame a byte key or value
 * must be valid UTF-8; otherwise a `MALFORMED` ProtocolError tells the caller to use binary frames.
 */
export function encodeClientRequest(request: ClientRequestInput, framing: ClientFraming): Uint8Array | string {
  const { id, op, key, value } = request;
  if (framing === 'binary') return encodeCbor({ id, op, key, value: value === undefined ? undefined : bytesOf(value) });
  try {
    return JSON.stringify({ id, op, key: textOf(key), value: value === undefined ? undefined : textOf(value) });
  } catch {
    throw new ProtocolError('MALFORMED', 'key or value is not valid UTF-8; send it in a binary frame');
  }
}

/**
 * Encodes a response for `framing` (the gateway's side). A stored value that is not valid UTF-8
 * cannot go in a text frame: the client gets `BAD_REQUEST` saying to read it over a binary frame,
 * rather than a silently altered value.
 */
export function encodeClientResponse(response: ClientResponse, framing: ClientFraming): Uint8Array | string {
  const wire = response.ok
    ? response
    : { ...response, error: { ...response.error, message: response.error.message.slice(0, MAX_ERROR_MESSAGE_LENGTH) } };
  if (framing === 'binary') {
    if (wire.ok && typeof wire.value === 'string') return encodeCbor({ ...wire, value: bytesOf(wire.value) });
    return encodeCbor(wire);
  }
  if (!wire.ok || wire.value === undefined || wire.value === null || typeof wire.value === 'string') return JSON.stringify(wire);
  try {
    return JSON.stringify({ ...wire, value: strictUtf8Decoder.decode(wire.value) });
  } catch {
    const message = 'the value is not valid UTF-8, so it cannot go in a text frame; read it over a binary frame';
    return JSON.stringify({ id: wire.id, ok: false, error: { code: 'BAD_REQUEST', message } } satisfies ClientFailure);
  }
}

const errorSchema: Schema<ClientError> = object({
  code: oneOf(CLIENT_ERROR_CODES),
  message: string({ maxLength: MAX_ERROR_MESSAGE_LENGTH }),
  retryAfterMs: optional(uint()),
});

function responseSchema(limits: ClientLimits, framing: ClientFraming): Schema<ClientResponse> {
  const value: Schema<Uint8Array | string> = framing === 'binary' ? bytes(limits.maxValueBytes) : string({ maxLength: limits.maxValueBytes });
  return variants('ok', {
    true: object({ id: uint(MAX_REQUEST_ID), ok: literal(true), shard: uint(), value: optional(nullable(value)), lsn: optional(uint()) }),
    false: object({ id: nullable(uint(MAX_REQUEST_ID)), ok: literal(false), error: errorSchema }),
  }) as Schema<ClientResponse>;
}

/** Parses a response frame (the client library's side); throws a {@link ProtocolError} on a bad one. */
export function parseClientResponse(frame: Uint8Array | string, framing: ClientFraming, limits: ClientLimits = DEFAULT_CLIENT_LIMITS): ClientResponse {
  const decoded = decodeFrame(frame, framing, maxClientFrameBytes(limits, framing === 'binary'));
  return validate(responseSchema(limits, framing), decoded, 'response');
}
