/**
 * The one CBOR codec every part uses (DESIGN.md §5). It wraps cbor-x and settles, once, what goes on
 * the wire so that any conforming decoder (RFC 8949) reads our payloads as plain values:
 *
 * - Objects are plain maps with string keys (major type 5). cbor-x's record and structure
 *   extensions are off (`useRecords: false`), as are packing and tag 259 for maps.
 * - Byte strings are major type 2, never tag 64 (`tagUint8Array: false`).
 * - Whole numbers are CBOR integers (major types 0 and 1) in preferred, shortest form (RFC 8949
 *   §3.1, §4.1). cbor-x writes safe integers of magnitude 2^32 and above as float64, so we hand it
 *   those as `bigint`, which it writes with an 8-byte argument (0x1b / 0x3b). Non-integers stay
 *   float64 (0xfb).
 * - `undefined` fields are left out rather than written as the `undefined` simple value (0xf7).
 * - On decode, 8-byte integers come back as `bigint`; the schemas turn safe ones into `number`.
 *
 * This module uses no `node:` import so the browser client can use it.
 */
import { Decoder, Encoder } from 'cbor-x';
import { ProtocolError, invariant } from './errors.js';

/** cbor-x reads `useTag259ForMaps` but its type declarations omit it. */
type EncoderOptions = NonNullable<ConstructorParameters<typeof Encoder>[0]> & { useTag259ForMaps?: boolean };

const encoderOptions: EncoderOptions = {
  useRecords: false,
  mapsAsObjects: true,
  useTag259ForMaps: false,
  tagUint8Array: false,
  // Preferred serialization: a map header as short as its entry count allows (RFC 8949 §4.1).
  variableMapSize: true,
  pack: false,
  structuredClone: false,
};
const encoder = new Encoder(encoderOptions);

const decoder = new Decoder({
  useRecords: false,
  mapsAsObjects: true,
  // Decoded byte strings are copies, not views: uWebSockets.js frees a message's buffer when its
  // handler returns, and a stored value must outlive it.
  copyBuffers: true,
});

/**
 * cbor-x reads a "break" byte (0xff) outside an indefinite-length item, which is not well-formed
 * (RFC 8949 §3.2.1), as one shared empty object that would pass for an empty map. We learn its
 * identity once and refuse it wherever a map is expected.
 */
const STRAY_BREAK: unknown = decoder.decode(Uint8Array.of(0xff));

/** True for a plain map decoded into an object (not an array, byte string, Date, Tag, Map or stray break). */
export function isPlainObject(input: unknown): input is Record<string, unknown> {
  if (typeof input !== 'object' || input === null || input === STRAY_BREAK) return false;
  const prototype = Object.getPrototypeOf(input) as unknown;
  return prototype === Object.prototype || prototype === null;
}

const TWO_POW_32 = 2 ** 32;
/** Deepest nesting {@link toWireValue} follows; our payloads nest a handful of levels. */
export const MAX_ENCODE_DEPTH = 32;

/**
 * Rewrites a value into what cbor-x must see to produce our wire form: safe integers of magnitude
 * 2^32 or more become `bigint`, `undefined` fields are dropped. Only the data model of §5 is allowed
 * (plain objects, arrays, strings, finite or non-finite numbers, booleans, null, byte strings);
 * anything else is a programmer error.
 */
export function toWireValue(value: unknown, depth = 0): unknown {
  invariant(depth <= MAX_ENCODE_DEPTH, `payload nests deeper than ${MAX_ENCODE_DEPTH}`);
  switch (typeof value) {
    case 'number':
      return Number.isSafeInteger(value) && (value >= TWO_POW_32 || value <= -TWO_POW_32) ? BigInt(value) : value;
    case 'string':
    case 'boolean':
      return value;
    case 'object': {
      if (value === null || value instanceof Uint8Array) return value;
      if (Array.isArray(value)) return value.map((item) => toWireValue(item, depth + 1));
      invariant(isPlainObject(value), `cannot encode ${Object.prototype.toString.call(value)}: only plain objects go on the wire`);
      const output: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        const field = value[key];
        if (field !== undefined) output[key] = toWireValue(field, depth + 1);
      }
      return output;
    }
    default:
      invariant(false, `cannot encode a ${typeof value}: not in the wire data model`);
  }
}

/** Encodes a plain value as CBOR with the rules above. */
export function encodeCbor(value: unknown): Uint8Array {
  return encoder.encode(toWireValue(value));
}

/**
 * Decodes exactly one CBOR data item from `bytes` after checking its size. Too many bytes give
 * `PAYLOAD_TOO_LARGE` without decoding; anything that is not exactly one well-formed item (bad
 * header, truncated, trailing bytes, nesting deeper than the stack) gives `MALFORMED`.
 */
export function decodeCbor(bytes: Uint8Array, maxBytes: number, what = 'payload'): unknown {
  if (bytes.byteLength > maxBytes) {
    throw new ProtocolError('PAYLOAD_TOO_LARGE', `${what} of ${bytes.byteLength} bytes is over the limit of ${maxBytes}`);
  }
  if (bytes.byteLength === 0) throw new ProtocolError('MALFORMED', `${what} is empty`);
  let decoded: unknown;
  try {
    decoded = decoder.decode(bytes);
  } catch (error) {
    // cbor-x throws plain Errors (and RangeError on stack overflow) for every malformed input.
    throw new ProtocolError('MALFORMED', `${what} is not well-formed CBOR: ${(error as Error).message}`);
  }
  if (decoded === STRAY_BREAK) throw new ProtocolError('MALFORMED', `${what} is a stray break byte`);
  return decoded;
}
