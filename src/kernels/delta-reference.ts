/**
 * The pure-TypeScript reference of the delta codec (docs/delta-format.md). It produces byte-for-byte
 * the same deltas as the WebAssembly kernel in assembly/delta.ts, so tests can compare the two, and
 * it is the readable statement of the encoder's choices. It is slower than the kernel: use
 * `encodeDelta` / `decodeDelta` from `./delta.js` on hot paths.
 */
import { KernelError } from './errors.js';

/** First header byte of every delta. */
export const DELTA_MAGIC = 0xfd;
/** Second header byte: the format version this code writes and reads. */
export const DELTA_VERSION = 1;
/** Largest base, target or declared target length accepted by default, in bytes (16 MiB). */
export const DELTA_MAX_VALUE_BYTES_DEFAULT = 16 * 1024 * 1024;
/** Largest header: magic, version, two 5-byte varints and the 4-byte checksum. */
export const DELTA_HEADER_MAX_BYTES = 2 + 5 + 5 + 4;

// Instruction kinds, the low two bits of an instruction's leading varint (docs/delta-format.md §3).
const OP_INSERT = 0;
const OP_COPY = 1;
const OP_RUN = 2;
const INSERT_LENGTH_MIN = 1;
const COPY_LENGTH_MIN = 4;
const RUN_LENGTH_MIN = 4;

// Encoder choices. They are not part of the format, but the kernel uses the same values so that
// both produce identical deltas.
/** Bytes hashed at each indexed base position and compared before a match is extended. */
const MATCH_WINDOW_BYTES = 8;
/** Distance between indexed base positions: a match of 15 bytes or more covers an indexed window. */
const BASE_STRIDE_BYTES = 8;
/** Shortest run of one byte value inside literal text that becomes a run instruction. */
const RUN_EMIT_MIN_BYTES = 16;
const TABLE_BITS_MIN = 4;
const TABLE_BITS_MAX = 22;
const HASH_MULTIPLIER_LOW = 0x9e3779b1;
const HASH_MULTIPLIER_HIGH = 0x85ebca77;

/** Options of the reference codec. */
export interface DeltaReferenceOptions {
  /** Largest base, target or declared target length accepted, in bytes. */
  maxValueBytes?: number;
}

/** Bytes the LEB128 varint of `value` (an unsigned 32-bit integer) takes. */
export function varintLength(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

/**
 * The largest delta `encodeDelta` can return for a target of `targetLength` bytes against a base of
 * `baseLength` bytes: the header plus the target as one insert instruction.
 */
export function maxDeltaLength(baseLength: number, targetLength: number): number {
  return headerLength(baseLength, targetLength) + literalOnlyLength(targetLength);
}

function headerLength(baseLength: number, targetLength: number): number {
  return 2 + varintLength(targetLength) + varintLength(baseLength) + 4;
}

function literalOnlyLength(targetLength: number): number {
  return targetLength === 0 ? 0 : varintLength((targetLength - INSERT_LENGTH_MIN) * 4) + targetLength;
}

/** XXH32 with seed 0 of `bytes` (the target checksum of the header), as an unsigned integer. */
export function xxhash32(bytes: Uint8Array): number {
  const length = bytes.length;
  let position = 0;
  let hash: number;
  if (length >= 16) {
    let v1 = (PRIME32_1 + PRIME32_2) | 0;
    let v2 = PRIME32_2;
    let v3 = 0;
    let v4 = -PRIME32_1 | 0;
    for (; position + 16 <= length; position += 16) {
      v1 = xxhashRound(v1, readU32(bytes, position));
      v2 = xxhashRound(v2, readU32(bytes, position + 4));
      v3 = xxhashRound(v3, readU32(bytes, position + 8));
      v4 = xxhashRound(v4, readU32(bytes, position + 12));
    }
    hash = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    hash = PRIME32_5;
  }
  hash = (hash + length) | 0;
  for (; position + 4 <= length; position += 4) {
    hash = Math.imul(rotl((hash + Math.imul(readU32(bytes, position), PRIME32_3)) | 0, 17), PRIME32_4);
  }
  for (; position < length; position++) {
    hash = Math.imul(rotl((hash + Math.imul(bytes[position]!, PRIME32_5)) | 0, 11), PRIME32_1);
  }
  hash = Math.imul(hash ^ (hash >>> 15), PRIME32_2);
  hash = Math.imul(hash ^ (hash >>> 13), PRIME32_3);
  return (hash ^ (hash >>> 16)) >>> 0;
}

const PRIME32_1 = 0x9e3779b1 | 0;
const PRIME32_2 = 0x85ebca77 | 0;
const PRIME32_3 = 0xc2b2ae3d | 0;
const PRIME32_4 = 0x27d4eb2f | 0;
const PRIME32_5 = 0x165667b1 | 0;

function xxhashRound(accumulator: number, lane: number): number {
  return Math.imul(rotl((accumulator + Math.imul(lane, PRIME32_2)) | 0, 13), PRIME32_1);
}

function rotl(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

function readU32(bytes: Uint8Array, position: number): number {
  return bytes[position]! | (bytes[position + 1]! << 8) | (bytes[position + 2]! << 16) | (bytes[position + 3]! << 24);
}

/** Appends to a fixed-capacity buffer; past the capacity it only records that it overflowed. */
class DeltaWriter {
  readonly bytes: Uint8Array;
  length = 0;
  overflowed = false;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }

  varint(value: number): void {
    if (this.length + varintLength(value) > this.bytes.length) {
      this.overflowed = true;
      return;
    }
    while (value >= 0x80) {
      this.bytes[this.length++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.bytes[this.length++] = value;
  }

  byte(value: number): void {
    if (this.length + 1 > this.bytes.length) this.overflowed = true;
    else this.bytes[this.length++] = value;
  }

  slice(source: Uint8Array, start: number, end: number): void {
    if (this.length + (end - start) > this.bytes.length) this.overflowed = true;
    else {
      this.bytes.set(source.subarray(start, end), this.length);
      this.length += end - start;
    }
  }
}

function checkValueLength(what: string, length: number, maxValueBytes: number): void {
  if (length > maxValueBytes) {
    throw new KernelError('INPUT_TOO_LARGE', `delta ${what} of ${length} bytes is over the limit of ${maxValueBytes} bytes`);
  }
}

/** Reference of `encodeDelta`: the delta that turns `base` into `target` (docs/delta-format.md). */
export function encodeDeltaReference(base: Uint8Array, target: Uint8Array, options: DeltaReferenceOptions = {}): Uint8Array {
  const maxValueBytes = options.maxValueBytes ?? DELTA_MAX_VALUE_BYTES_DEFAULT;
  checkValueLength('base', base.length, maxValueBytes);
  checkValueLength('target', target.length, maxValueBytes);
  const header = headerLength(base.length, target.length);
  const writer = new DeltaWriter(header + literalOnlyLength(target.length));
  writer.byte(DELTA_MAGIC);
  writer.byte(DELTA_VERSION);
  writer.varint(target.length);
  writer.varint(base.length);
  const checksum = xxhash32(target);
  for (let shift = 0; shift < 32; shift += 8) writer.byte((checksum >>> shift) & 0xff);
  writeInstructions(writer, base, target);
  if (writer.overflowed) {
    // Copies did not pay for themselves: one insert of the whole target is the promised bound.
    writer.overflowed = false;
    writer.length = header;
    writeInsert(writer, target, 0, target.length);
  }
  assert(!writer.overflowed, 'the literal-only delta fits its own capacity');
  return writer.bytes.slice(0, writer.length);
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`delta reference: assertion failed: ${message}`);
}

function tableBitsFor(baseLength: number): number {
  const entries = Math.ceil(baseLength / BASE_STRIDE_BYTES);
  let bits = TABLE_BITS_MIN;
  while (bits < TABLE_BITS_MAX && 1 << bits < entries * 2) bits++;
  return bits;
}

function windowHash(bytes: Uint8Array, position: number, bits: number): number {
  const low = readU32(bytes, position);
  const high = readU32(bytes, position + 4);
  return ((Math.imul(low, HASH_MULTIPLIER_LOW) + Math.imul(high, HASH_MULTIPLIER_HIGH)) | 0) >>> (32 - bits);
}

/** Indexes the base: slot → 1 + the first base position at a stride whose window hashes there. */
function indexBase(base: Uint8Array, bits: number): Uint32Array {
  const table = new Uint32Array(1 << bits);
  for (let position = 0; position + MATCH_WINDOW_BYTES <= base.length; position += BASE_STRIDE_BYTES) {
    const slot = windowHash(base, position, bits);
    if (table[slot] === 0) table[slot] = position + 1;
  }
  return table;
}

function windowEqual(base: Uint8Array, basePosition: number, target: Uint8Array, targetPosition: number): boolean {
  if (basePosition < 0 || basePosition + MATCH_WINDOW_BYTES > base.length) return false;
  for (let index = 0; index < MATCH_WINDOW_BYTES; index++) {
    if (base[basePosition + index] !== target[targetPosition + index]) return false;
  }
  return true;
}

/**
 * Greedy matching. At each target position it tries, in order: the base position that continues
 * the last copy as if the bytes between were substituted, the position right after the last copy
 * (as if they were inserted), and the hashed window. A hit is extended both ways.
 */
function writeInstructions(writer: DeltaWriter, base: Uint8Array, target: Uint8Array): void {
  const bits = tableBitsFor(base.length);
  const table = indexBase(base, bits);
  let literalStart = 0;
  let lastCopyEnd = 0;
  let position = 0;
  while (position + MATCH_WINDOW_BYTES <= target.length && !writer.overflowed) {
    let candidate = lastCopyEnd + (position - literalStart);
    if (!windowEqual(base, candidate, target, position)) {
      candidate = lastCopyEnd;
      if (position === literalStart || !windowEqual(base, candidate, target, position)) {
        candidate = table[windowHash(target, position, bits)]! - 1;
        if (!windowEqual(base, candidate, target, position)) {
          position++;
          continue;
        }
      }
    }
    let forward = MATCH_WINDOW_BYTES;
    while (candidate + forward < base.length && position + forward < target.length && base[candidate + forward] === target[position + forward]) forward++;
    let backward = 0;
    while (position - backward > literalStart && candidate - backward > 0 && base[candidate - backward - 1] === target[position - backward - 1]) backward++;
    writeLiteral(writer, target, literalStart, position - backward);
    writeCopy(writer, candidate - backward, backward + forward, lastCopyEnd);
    lastCopyEnd = candidate + forward;
    position += forward;
    literalStart = position;
  }
  writeLiteral(writer, target, literalStart, target.length);
}

/** Writes target[start, end) as inserts, with runs of one byte value as run instructions. */
function writeLiteral(writer: DeltaWriter, target: Uint8Array, start: number, end: number): void {
  let pending = start;
  let position = start;
  while (position < end) {
    const value = target[position]!;
    let runEnd = position + 1;
    while (runEnd < end && target[runEnd] === value) runEnd++;
    if (runEnd - position >= RUN_EMIT_MIN_BYTES) {
      writeInsert(writer, target, pending, position);
      writer.varint(((runEnd - position - RUN_LENGTH_MIN) * 4 + OP_RUN) >>> 0);
      writer.byte(value);
      pending = runEnd;
    }
    position = runEnd;
  }
  writeInsert(writer, target, pending, end);
}

function writeInsert(writer: DeltaWriter, target: Uint8Array, start: number, end: number): void {
  if (end === start) return;
  writer.varint(((end - start - INSERT_LENGTH_MIN) * 4 + OP_INSERT) >>> 0);
  writer.slice(target, start, end);
}

function writeCopy(writer: DeltaWriter, baseStart: number, length: number, lastCopyEnd: number): void {
  const distance = baseStart - lastCopyEnd;
  writer.varint(((length - COPY_LENGTH_MIN) * 4 + OP_COPY) >>> 0);
  writer.varint(((distance << 1) ^ (distance >> 31)) >>> 0);
}

/** Reads a delta front to back; every read checks its bounds and throws a typed error. */
class DeltaReader {
  position = 0;

  constructor(readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.position;
  }

  byte(): number {
    if (this.position >= this.bytes.length) throw truncated();
    return this.bytes[this.position++]!;
  }

  /** An unsigned LEB128 varint of at most 5 bytes whose value fits 32 bits. */
  varint(): number {
    let value = 0;
    for (let index = 0; index < 5; index++) {
      const byte = this.byte();
      if (index === 4 && byte > 0x0f) throw malformed('a varint does not fit 32 bits');
      value += (byte & 0x7f) * 2 ** (7 * index);
      if (byte < 0x80) return value;
    }
    throw malformed('a varint does not fit 32 bits');
  }
}

function truncated(): KernelError {
  return new KernelError('DELTA_TRUNCATED', 'delta ends before its last instruction');
}

function malformed(reason: string): KernelError {
  return new KernelError('DELTA_MALFORMED', `malformed delta: ${reason}`);
}

/** Reference of `decodeDelta`: applies `delta` to `base` and checks the result against the header. */
export function decodeDeltaReference(base: Uint8Array, delta: Uint8Array, options: DeltaReferenceOptions = {}): Uint8Array {
  const maxValueBytes = options.maxValueBytes ?? DELTA_MAX_VALUE_BYTES_DEFAULT;
  checkValueLength('base', base.length, maxValueBytes);
  checkValueLength('delta', delta.length, maxDeltaLength(maxValueBytes, maxValueBytes));
  const reader = new DeltaReader(delta);
  if (reader.byte() !== DELTA_MAGIC) throw malformed('bad magic byte');
  const version = reader.byte();
  if (version !== DELTA_VERSION) throw malformed(`unknown version ${version}`);
  const targetLength = reader.varint();
  checkValueLength('target', targetLength, maxValueBytes);
  const baseLength = reader.varint();
  let checksum = 0;
  for (let shift = 0; shift < 32; shift += 8) checksum += reader.byte() * 2 ** shift;
  if (baseLength !== base.length) {
    throw new KernelError('DELTA_WRONG_BASE', `delta expects a base of ${baseLength} bytes, got ${base.length}`);
  }
  const target = new Uint8Array(targetLength);
  applyInstructions(reader, base, target);
  if (xxhash32(target) !== checksum) {
    throw new KernelError('DELTA_WRONG_BASE', 'target checksum mismatch: the delta was made against another base, or is corrupt');
  }
  return target;
}

function applyInstructions(reader: DeltaReader, base: Uint8Array, target: Uint8Array): void {
  let output = 0;
  let lastCopyEnd = 0;
  while (output < target.length) {
    const head = reader.varint();
    const kind = head % 4;
    const field = Math.floor(head / 4);
    if (kind === OP_INSERT) {
      const length = field + INSERT_LENGTH_MIN;
      if (length > target.length - output) throw malformed('an instruction runs past the target length');
      if (length > reader.remaining) throw truncated();
      target.set(reader.bytes.subarray(reader.position, reader.position + length), output);
      reader.position += length;
      output += length;
    } else if (kind === OP_COPY) {
      const length = field + COPY_LENGTH_MIN;
      if (length > target.length - output) throw malformed('an instruction runs past the target length');
      const zigzag = reader.varint();
      const start = lastCopyEnd + (zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2);
      if (start < 0 || start + length > base.length) throw malformed('a copy reads outside the base');
      target.set(base.subarray(start, start + length), output);
      lastCopyEnd = start + length;
      output += length;
    } else if (kind === OP_RUN) {
      const length = field + RUN_LENGTH_MIN;
      if (length > target.length - output) throw malformed('an instruction runs past the target length');
      target.fill(reader.byte(), output, output + length);
      output += length;
    } else {
      throw malformed('reserved instruction kind 3');
    }
  }
  if (reader.remaining !== 0) throw malformed('bytes after the last instruction');
}
