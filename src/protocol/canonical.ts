/**
 * Deterministically encoded CBOR (RFC 8949 §4.2.1, "core deterministic encoding"), the form that
 * command signatures are computed over. It is written by hand, not by cbor-x, so that the bytes are
 * defined by the RFC and by this file alone, and a peer in any language can reproduce them:
 *
 * - every length and integer argument in its shortest form (§4.2.1, preferred serialization §4.1);
 * - definite lengths only;
 * - map entries sorted by the bytewise lexicographic order of their encoded keys (§4.2.1), which
 *   for text keys means shorter keys first, then by UTF-8 bytes;
 * - a JavaScript number that is a safe integer is a CBOR integer (major type 0 or 1; JS has one
 *   number type, so 1.0 and 1 are the same value and -0 is 0); any other number is the shortest of
 *   float16, float32 and float64 that keeps its value exactly (§4.2.1), NaN is 0xf97e00 (§4.2.2);
 * - `undefined` fields are left out, as on the wire.
 */
import { invariant } from './errors.js';
import { isPlainObject } from './cbor.js';

const utf8 = new TextEncoder();
const scratch = new DataView(new ArrayBuffer(8));

class ByteWriter {
  private chunks: Uint8Array[] = [];
  length = 0;

  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.byteLength;
  }

  /** Writes a major type with its argument in the shortest form (RFC 8949 §3, §4.2.1). */
  head(majorType: number, argument: number): void {
    invariant(Number.isSafeInteger(argument) && argument >= 0, 'CBOR argument must be a safe uint');
    const major = majorType << 5;
    if (argument < 24) this.push(Uint8Array.of(major | argument));
    else if (argument < 0x100) this.push(Uint8Array.of(major | 24, argument));
    else if (argument < 0x10000) this.push(Uint8Array.of(major | 25, argument >> 8, argument & 0xff));
    else if (argument < 0x1_0000_0000) {
      scratch.setUint32(0, argument);
      this.push(Uint8Array.of(major | 26, ...new Uint8Array(scratch.buffer, 0, 4)));
    } else {
      scratch.setBigUint64(0, BigInt(argument));
      this.push(Uint8Array.of(major | 27, ...new Uint8Array(scratch.buffer, 0, 8)));
    }
  }

  finish(): Uint8Array {
    const output = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      output.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return output;
  }
}

/**
 * The IEEE 754 half-precision bits of `value` when float16 holds it exactly, else -1. Node 20 has
 * no Float16Array, so this reads the float32 bits (the caller checked float32 holds it exactly).
 */
function float16Bits(value: number): number {
  scratch.setFloat32(0, value);
  const bits = scratch.getUint32(0);
  const sign = (bits >>> 31) << 15;
  const exponent = ((bits >>> 23) & 0xff) - 127;
  const mantissa = bits & 0x7fffff;
  if (exponent >= -14 && exponent <= 15) {
    if ((mantissa & 0x1fff) !== 0) return -1; // needs more than float16's 10 mantissa bits
    return sign | ((exponent + 15) << 10) | (mantissa >>> 13);
  }
  if (exponent < -14 && exponent >= -24) {
    // A float16 subnormal is m * 2^-24 with m in 1..1023.
    const scaled = Math.abs(value) * 2 ** 24;
    return Number.isInteger(scaled) ? sign | scaled : -1;
  }
  return -1;
}

function writeFloat(writer: ByteWriter, value: number): void {
  if (Number.isNaN(value)) return writer.push(Uint8Array.of(0xf9, 0x7e, 0x00));
  if (value === Infinity) return writer.push(Uint8Array.of(0xf9, 0x7c, 0x00));
  if (value === -Infinity) return writer.push(Uint8Array.of(0xf9, 0xfc, 0x00));
  if (Math.fround(value) === value) {
    const half = float16Bits(value);
    if (half >= 0) return writer.push(Uint8Array.of(0xf9, half >> 8, half & 0xff));
    scratch.setFloat32(0, value);
    return writer.push(Uint8Array.of(0xfa, ...new Uint8Array(scratch.buffer, 0, 4)));
  }
  scratch.setFloat64(0, value);
  writer.push(Uint8Array.of(0xfb, ...new Uint8Array(scratch.buffer, 0, 8)));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.byteLength, b.byteLength);
  for (let index = 0; index < length; index++) if (a[index] !== b[index]) return a[index]! - b[index]!;
  return a.byteLength - b.byteLength;
}

function writeMap(writer: ByteWriter, value: Record<string, unknown>, depth: number): void {
  const entries: { key: Uint8Array; value: unknown }[] = [];
  for (const key of Object.keys(value)) {
    if (value[key] === undefined) continue;
    const keyWriter = new ByteWriter();
    writeItem(keyWriter, key, depth + 1);
    entries.push({ key: keyWriter.finish(), value: value[key] });
  }
  entries.sort((a, b) => compareBytes(a.key, b.key));
  writer.head(5, entries.length);
  for (const entry of entries) {
    writer.push(entry.key);
    writeItem(writer, entry.value, depth + 1);
  }
}

/** Deepest nesting the canonical encoder follows. */
export const MAX_CANONICAL_DEPTH = 32;

function writeItem(writer: ByteWriter, value: unknown, depth: number): void {
  invariant(depth <= MAX_CANONICAL_DEPTH, `value nests deeper than ${MAX_CANONICAL_DEPTH}`);
  if (value === null) return writer.push(Uint8Array.of(0xf6));
  if (value === true) return writer.push(Uint8Array.of(0xf5));
  if (value === false) return writer.push(Uint8Array.of(0xf4));
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) return writeFloat(writer, value);
    return value >= 0 ? writer.head(0, value) : writer.head(1, -1 - value);
  }
  if (typeof value === 'string') {
    const encoded = utf8.encode(value);
    writer.head(3, encoded.byteLength);
    return writer.push(encoded);
  }
  if (value instanceof Uint8Array) {
    writer.head(2, value.byteLength);
    return writer.push(Uint8Array.from(value));
  }
  if (Array.isArray(value)) {
    writer.head(4, value.length);
    for (const item of value) writeItem(writer, item, depth + 1);
    return;
  }
  invariant(isPlainObject(value), `cannot canonically encode ${Object.prototype.toString.call(value)}`);
  writeMap(writer, value, depth);
}

/** Encodes `value` as deterministic CBOR (RFC 8949 §4.2.1) with the rules above. */
export function encodeCanonicalCbor(value: unknown): Uint8Array {
  const writer = new ByteWriter();
  writeItem(writer, value, 0);
  return writer.finish();
}
