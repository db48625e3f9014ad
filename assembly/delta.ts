// The delta codec kernel (docs/delta-format.md). It produces byte-for-byte the deltas of the
// TypeScript reference in src/kernels/delta-reference.ts; that file explains the encoder's choices.
//
// Memory: the kernel owns one region of linear memory, the only block ever taken from the stub
// runtime's allocator, so it always grows in place. Before growing it, the kernel grows linear
// memory itself within the configured ceiling, so the allocator never has to (it would double the
// memory, or trap when that fails). No managed object is ever allocated. The JS wrapper copies its
// inputs into the region, calls `encode` or `decode`, and copies the result out.
//
// Errors: decoding never traps on bad input; every bound is checked and reported as a status code.
import { xxhash32 } from './lib/delta-checksum';

const DELTA_MAGIC: u32 = 0xfd;
const DELTA_VERSION: u32 = 1;

const OP_INSERT: u32 = 0;
const OP_COPY: u32 = 1;
const OP_RUN: u32 = 2;
const INSERT_LENGTH_MIN: u32 = 1;
const COPY_LENGTH_MIN: u32 = 4;
const RUN_LENGTH_MIN: u32 = 4;

// Encoder choices, the same as the reference's.
const MATCH_WINDOW_BYTES: u32 = 8;
const BASE_STRIDE_BYTES: u32 = 8;
const RUN_EMIT_MIN_BYTES: u32 = 16;
const TABLE_BITS_MIN: u32 = 4;
const TABLE_BITS_MAX: u32 = 22;
const HASH_MULTIPLIER_LOW: u32 = 0x9e3779b1;
const HASH_MULTIPLIER_HIGH: u32 = 0x85ebca77;

/** Decode status codes, turned into typed errors by src/kernels/delta.ts. */
const STATUS_OK: i32 = 0;
const STATUS_TRUNCATED: i32 = 1;
const STATUS_WRONG_BASE_LENGTH: i32 = 3;
const STATUS_CHECKSUM_MISMATCH: i32 = 4;
const STATUS_TARGET_TOO_LARGE: i32 = 5;
const STATUS_MEMORY_LIMIT: i32 = 6;
// Malformed deltas, one status per reason so the error message can say which.
const STATUS_BAD_MAGIC: i32 = 10;
const STATUS_BAD_VERSION: i32 = 11;
const STATUS_BAD_VARINT: i32 = 12;
const STATUS_RESERVED_KIND: i32 = 13;
const STATUS_PAST_TARGET: i32 = 14;
const STATUS_OUTSIDE_BASE: i32 = 15;
const STATUS_TRAILING_BYTES: i32 = 16;

/** Bytes past the region's end that linear memory always covers: the allocator's block rounding. */
const REGION_SLACK_BYTES: u64 = 64;
const PAGE_BYTES: u64 = 65536;

let memoryLimitBytes: u64 = 128 << 20;
let regionPointer: usize = 0;
let regionCapacity: usize = 0;

// The layout of the prepared call, offsets into the region.
let basePointer: usize = 0;
let baseLength: u32 = 0;
let inputPointer: usize = 0;
let inputLength: u32 = 0;
let outputPointer: usize = 0;
let outputCapacity: u32 = 0;
let tablePointer: usize = 0;
let tableBits: u32 = 0;
let resultLength: u32 = 0;

// The output cursor while encoding.
let writeCursor: usize = 0;
let writeEnd: usize = 0;
let writeOverflowed: bool = false;

/** Sets the ceiling on linear memory, in bytes. Memory already grown stays. */
export function configure(limitBytes: u32): void {
  memoryLimitBytes = <u64>limitBytes;
}

/** Where the last result starts. */
export function resultPointer(): usize {
  return outputPointer;
}

/** Length of the last result, in bytes. */
export function resultSize(): u32 {
  return resultLength;
}

/** Makes the region at least `bytes` long; false when that would pass the memory ceiling. */
function reserveRegion(bytes: usize): bool {
  if (regionPointer == 0) regionPointer = heap.alloc(16);
  if (bytes <= regionCapacity) return true;
  const end: u64 = <u64>regionPointer + <u64>bytes + REGION_SLACK_BYTES;
  const pagesTotal: u64 = (end + PAGE_BYTES - 1) / PAGE_BYTES;
  if (pagesTotal * PAGE_BYTES > memoryLimitBytes) return false;
  const pagesMissing = <i32>pagesTotal - memory.size();
  if (pagesMissing > 0 && memory.grow(pagesMissing) < 0) return false;
  const grown = heap.realloc(regionPointer, bytes);
  assert(grown == regionPointer, 'the region is the only heap block, so it grows in place');
  regionCapacity = bytes;
  return true;
}

// @ts-ignore: decorator
@inline function align8(value: usize): usize {
  return (value + 7) & ~(<usize>7);
}

// @ts-ignore: decorator
@inline function varintLength(value: u32): u32 {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

function headerLength(base: u32, target: u32): u32 {
  return 2 + varintLength(target) + varintLength(base) + 4;
}

function literalOnlyLength(target: u32): u32 {
  return target == 0 ? 0 : varintLength((target - INSERT_LENGTH_MIN) << 2) + target;
}

function tableBitsFor(base: u32): u32 {
  const entries: u64 = (<u64>base + BASE_STRIDE_BYTES - 1) / BASE_STRIDE_BYTES;
  let bits = TABLE_BITS_MIN;
  while (bits < TABLE_BITS_MAX && (<u64>1 << bits) < entries * 2) bits++;
  return bits;
}

/**
 * Lays out base, target, output and hash table for `encode`, growing memory if needed. Returns where
 * the base goes (the target follows at `+ baseLength` rounded up to 8), or 0 past the memory ceiling.
 */
export function encodePrepare(base: u32, target: u32): usize {
  baseLength = base;
  inputLength = target;
  outputCapacity = headerLength(base, target) + literalOnlyLength(target);
  tableBits = tableBitsFor(base);
  const inputOffset = align8(base);
  const outputOffset = align8(inputOffset + target);
  const tableOffset = align8(outputOffset + outputCapacity);
  if (!reserveRegion(tableOffset + ((<usize>1 << tableBits) << 2))) return 0;
  basePointer = regionPointer;
  inputPointer = regionPointer + inputOffset;
  outputPointer = regionPointer + outputOffset;
  tablePointer = regionPointer + tableOffset;
  return basePointer;
}

/** Where the target (for `encode`) or the delta (for `decode`) goes. */
export function inputPointerOf(): usize {
  return inputPointer;
}

// --- encoding -------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function writeByte(value: u32): void {
  if (writeCursor >= writeEnd) {
    writeOverflowed = true;
    return;
  }
  store<u8>(writeCursor, <u8>value);
  writeCursor++;
}

function writeVarint(value: u32): void {
  if (writeCursor + varintLength(value) > writeEnd) {
    writeOverflowed = true;
    return;
  }
  while (value >= 0x80) {
    store<u8>(writeCursor++, <u8>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  store<u8>(writeCursor++, <u8>value);
}

function writeInsert(start: usize, end: usize): void {
  if (end == start) return;
  const length = <u32>(end - start);
  writeVarint(((length - INSERT_LENGTH_MIN) << 2) | OP_INSERT);
  if (writeOverflowed || writeCursor + length > writeEnd) {
    writeOverflowed = true;
    return;
  }
  memory.copy(writeCursor, start, length);
  writeCursor += length;
}

/** Writes target bytes [start, end) as inserts, with long runs of one value as run instructions. */
function writeLiteral(start: usize, end: usize): void {
  let pending = start;
  let position = start;
  while (position < end) {
    const value = load<u8>(position);
    let runEnd = position + 1;
    while (runEnd < end && load<u8>(runEnd) == value) runEnd++;
    if (runEnd - position >= RUN_EMIT_MIN_BYTES) {
      writeInsert(pending, position);
      writeVarint(((<u32>(runEnd - position) - RUN_LENGTH_MIN) << 2) | OP_RUN);
      writeByte(value);
      pending = runEnd;
    }
    position = runEnd;
  }
  writeInsert(pending, end);
}

function writeCopy(baseStart: u32, length: u32, lastCopyEnd: u32): void {
  const distance = <i32>(baseStart - lastCopyEnd);
  writeVarint(((length - COPY_LENGTH_MIN) << 2) | OP_COPY);
  writeVarint(<u32>((distance << 1) ^ (distance >> 31)));
}

// @ts-ignore: decorator
@inline function windowHash(pointer: usize, shift: u32): u32 {
  return (load<u32>(pointer) * HASH_MULTIPLIER_LOW + load<u32>(pointer, 4) * HASH_MULTIPLIER_HIGH) >> shift;
}

/** Fills the table: slot → 1 + the first base position at the stride whose window hashes there. */
function indexBase(): void {
  memory.fill(tablePointer, 0, (<usize>1 << tableBits) << 2);
  if (baseLength < MATCH_WINDOW_BYTES) return;
  const shift = 32 - tableBits;
  const last = baseLength - MATCH_WINDOW_BYTES;
  for (let position: u32 = 0; position <= last; position += BASE_STRIDE_BYTES) {
    const slot = tablePointer + (<usize>windowHash(basePointer + position, shift) << 2);
    if (load<u32>(slot) == 0) store<u32>(slot, position + 1);
  }
}

// @ts-ignore: decorator
@inline function windowEqual(candidate: i64, targetPosition: u32): bool {
  // One range check covers the 8-byte load from the base; the caller keeps the target in range.
  if (candidate < 0 || candidate + MATCH_WINDOW_BYTES > <i64>baseLength) return false;
  return load<u64>(basePointer + <usize>candidate) == load<u64>(inputPointer + targetPosition);
}

/** Length of the common prefix of base[from..] and target[from..], 8 bytes at a time. */
function forwardMatch(baseFrom: u32, targetFrom: u32): u32 {
  const room = min(baseLength - baseFrom, inputLength - targetFrom);
  let length: u32 = 0;
  const a = basePointer + baseFrom;
  const b = inputPointer + targetFrom;
  while (length + 8 <= room) {
    const difference = load<u64>(a + length) ^ load<u64>(b + length);
    if (difference != 0) return length + (<u32>ctz<u64>(difference) >> 3);
    length += 8;
  }
  while (length < room && load<u8>(a + length) == load<u8>(b + length)) length++;
  return length;
}

/** The greedy matcher of the reference's `writeInstructions`, over linear memory. */
function writeInstructions(): void {
  const shift = 32 - tableBits;
  let literalStart: u32 = 0;
  let lastCopyEnd: u32 = 0;
  let position: u32 = 0;
  while (position + MATCH_WINDOW_BYTES <= inputLength && !writeOverflowed) {
    let candidate: i64 = <i64>lastCopyEnd + <i64>(position - literalStart);
    if (!windowEqual(candidate, position)) {
      candidate = <i64>lastCopyEnd;
      if (position == literalStart || !windowEqual(candidate, position)) {
        const slot = tablePointer + (<usize>windowHash(inputPointer + position, shift) << 2);
        candidate = <i64>load<u32>(slot) - 1;
        if (!windowEqual(candidate, position)) {
          position++;
          continue;
        }
      }
    }
    const matchBase = <u32>candidate;
    const forward = MATCH_WINDOW_BYTES + forwardMatch(matchBase + MATCH_WINDOW_BYTES, position + MATCH_WINDOW_BYTES);
    let backward: u32 = 0;
    while (
      position - backward > literalStart &&
      matchBase - backward > 0 &&
      load<u8>(basePointer + matchBase - backward - 1) == load<u8>(inputPointer + position - backward - 1)
    ) backward++;
    writeLiteral(inputPointer + literalStart, inputPointer + position - backward);
    writeCopy(matchBase - backward, backward + forward, lastCopyEnd);
    lastCopyEnd = matchBase + forward;
    position += forward;
    literalStart = position;
  }
  writeLiteral(inputPointer + literalStart, inputPointer + inputLength);
}

/** Encodes the prepared base and target; returns the delta's length (the delta is at `resultPointer`). */
export function encode(): u32 {
  writeCursor = outputPointer;
  writeEnd = outputPointer + outputCapacity;
  writeOverflowed = false;
  writeByte(DELTA_MAGIC);
  writeByte(DELTA_VERSION);
  writeVarint(inputLength);
  writeVarint(baseLength);
  store<u32>(writeCursor, xxhash32(inputPointer, inputLength));
  writeCursor += 4;
  const instructionsStart = writeCursor;
  indexBase();
  writeInstructions();
  if (writeOverflowed) {
    // Copies did not pay for themselves: one insert of the whole target is the promised bound.
    writeOverflowed = false;
    writeCursor = instructionsStart;
    writeInsert(inputPointer, inputPointer + inputLength);
    assert(!writeOverflowed, 'the literal-only delta fits the output capacity');
  }
  resultLength = <u32>(writeCursor - outputPointer);
  return resultLength;
}

// --- decoding -------------------------------------------------------------------------------

/**
 * Lays out base and delta for `decode`, growing memory if needed. Returns where the base goes (the
 * delta follows at `inputPointerOf()`), or 0 past the memory ceiling.
 */
export function decodePrepare(base: u32, delta: u32): usize {
  baseLength = base;
  inputLength = delta;
  const inputOffset = align8(base);
  if (!reserveRegion(inputOffset + delta)) return 0;
  basePointer = regionPointer;
  inputPointer = regionPointer + inputOffset;
  return basePointer;
}

// The read cursor while decoding; a varint read past the end sets `readStatus`.
let readCursor: usize = 0;
let readEnd: usize = 0;
let readStatus: i32 = STATUS_OK;

/** Reads an unsigned LEB128 varint of at most 5 bytes that fits 32 bits; on failure sets `readStatus`. */
function readVarint(): u32 {
  let value: u32 = 0;
  for (let index: u32 = 0; index < 5; index++) {
    if (readCursor >= readEnd) {
      readStatus = STATUS_TRUNCATED;
      return 0;
    }
    const byte = <u32>load<u8>(readCursor++);
    if (index == 4 && byte > 0x0f) break;
    value |= (byte & 0x7f) << (7 * index);
    if (byte < 0x80) return value;
  }
  readStatus = STATUS_BAD_VARINT;
  return 0;
}

function readByte(): u32 {
  if (readCursor >= readEnd) {
    readStatus = STATUS_TRUNCATED;
    return 0;
  }
  return <u32>load<u8>(readCursor++);
}

/**
 * Decodes the prepared delta against the prepared base, growing memory for the target if needed.
 * Returns a status; on STATUS_OK the target is at `resultPointer` and `resultSize` long.
 */
export function decode(maxTargetLength: u32): i32 {
  readCursor = inputPointer;
  readEnd = inputPointer + inputLength;
  readStatus = STATUS_OK;
  resultLength = 0;
  const magic = readByte();
  if (readStatus != STATUS_OK) return readStatus;
  if (magic != DELTA_MAGIC) return STATUS_BAD_MAGIC;
  const version = readByte();
  if (readStatus != STATUS_OK) return readStatus;
  if (version != DELTA_VERSION) return STATUS_BAD_VERSION;
  const targetLength = readVarint();
  if (readStatus != STATUS_OK) return readStatus;
  if (targetLength > maxTargetLength) return STATUS_TARGET_TOO_LARGE;
  const declaredBaseLength = readVarint();
  if (readStatus != STATUS_OK) return readStatus;
  if (readEnd - readCursor < 4) return STATUS_TRUNCATED;
  const checksum = load<u32>(readCursor);
  readCursor += 4;
  if (declaredBaseLength != baseLength) return STATUS_WRONG_BASE_LENGTH;
  const outputOffset = align8(inputPointer - regionPointer + inputLength);
  if (!reserveRegion(outputOffset + targetLength)) return STATUS_MEMORY_LIMIT;
  outputPointer = regionPointer + outputOffset;
  const status = applyInstructions(targetLength);
  if (status != STATUS_OK) return status;
  if (xxhash32(outputPointer, targetLength) != checksum) return STATUS_CHECKSUM_MISMATCH;
  resultLength = targetLength;
  return STATUS_OK;
}

/** Runs the instruction stream into the output; every length and offset is checked first. */
function applyInstructions(targetLength: u32): i32 {
  let output: u32 = 0;
  let lastCopyEnd: i64 = 0;
  while (output < targetLength) {
    const head = readVarint();
    if (readStatus != STATUS_OK) return readStatus;
    const kind = head & 3;
    const field = head >> 2;
    const room = targetLength - output;
    if (kind == OP_INSERT) {
      const length = field + INSERT_LENGTH_MIN;
      if (length > room) return STATUS_PAST_TARGET;
      if (<usize>length > readEnd - readCursor) return STATUS_TRUNCATED;
      memory.copy(outputPointer + output, readCursor, length);
      readCursor += length;
      output += length;
    } else if (kind == OP_COPY) {
      const length = field + COPY_LENGTH_MIN;
      if (length > room) return STATUS_PAST_TARGET;
      const zigzag = readVarint();
      if (readStatus != STATUS_OK) return readStatus;
      const start: i64 = lastCopyEnd + <i64>(<i32>((zigzag >> 1) ^ (0 - (zigzag & 1))));
      if (start < 0 || start + <i64>length > <i64>baseLength) return STATUS_OUTSIDE_BASE;
      memory.copy(outputPointer + output, basePointer + <usize>start, length);
      lastCopyEnd = start + <i64>length;
      output += length;
    } else if (kind == OP_RUN) {
      const length = field + RUN_LENGTH_MIN;
      if (length > room) return STATUS_PAST_TARGET;
      const value = readByte();
      if (readStatus != STATUS_OK) return readStatus;
      memory.fill(outputPointer + output, <u8>value, length);
      output += length;
    } else {
      return STATUS_RESERVED_KIND;
    }
  }
  return readCursor == readEnd ? STATUS_OK : STATUS_TRAILING_BYTES;
}
