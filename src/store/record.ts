/**
 * Record framing of the shard log: `[u32 payload length][u32 CRC-32C][payload]`, little-endian.
 * The checksum covers the length field and the payload, so a corrupt length is caught as surely as
 * a corrupt payload. The payload is a fixed 48-byte header and then the key and the value (or
 * delta) bytes; docs/store-format.md has the byte-by-byte layout.
 */
import assert from 'node:assert/strict';
import { crc32c } from './crc32c.js';

/** Largest key the store accepts, in bytes (DESIGN.md §5.1). */
export const KEY_MAX_BYTES = 1024;
/** Largest value the store accepts, in bytes (DESIGN.md §5.1). */
export const VALUE_MAX_BYTES = 1024 * 1024;
/** A delta is sent only when smaller than its value, plus a little slack for the codec's header. */
export const DELTA_MAX_BYTES = VALUE_MAX_BYTES + 1024;
/** Bytes before the payload: length and checksum. */
export const FRAME_PREFIX_BYTES = 8;
/** Fixed part of every payload. */
export const PAYLOAD_HEADER_BYTES = 48;
/** Largest payload a reader accepts; anything longer is corruption, not a record. */
export const PAYLOAD_MAX_BYTES = PAYLOAD_HEADER_BYTES + KEY_MAX_BYTES + DELTA_MAX_BYTES;
const FORMAT_VERSION = 1;

const KIND_PUT = 1;
const KIND_DEL = 2;
const KIND_PUT_DELTA = 3;

/** One operation of a shard, as stored in the log. */
export interface LogRecord {
  lsn: number;
  epoch: number;
  /** Wall-clock ms at the primary when the write was accepted: the time of point-in-time restore. */
  ts: number;
  /** Wall-clock ms when this replica received it (equal to `ts` on the primary that wrote it). */
  arrivalTs: number;
  op: 'put' | 'del';
  key: Buffer;
  /** The literal value of a put. */
  value?: Buffer;
  /** A put sent as a delta against the key's value at `baseLsn`. */
  delta?: Buffer;
  baseLsn?: number;
}

function writeU64(buffer: Buffer, value: number, offset: number): void {
  assert.ok(Number.isSafeInteger(value) && value >= 0, `u64 field out of range: ${value}`);
  buffer.writeUInt32LE(value % 0x1_0000_0000, offset);
  buffer.writeUInt32LE(Math.floor(value / 0x1_0000_0000), offset + 4);
}

function readU64(buffer: Buffer, offset: number): number {
  return buffer.readUInt32LE(offset) + buffer.readUInt32LE(offset + 4) * 0x1_0000_0000;
}

/** Encodes one record as a complete frame (prefix and payload) ready to append. */
export function encodeRecord(record: LogRecord): Buffer {
  const body = record.op === 'del' ? undefined : (record.delta ?? record.value);
  assert.ok(record.op === 'del' || body !== undefined, 'a put needs a value or a delta');
  assert.ok(record.key.length <= KEY_MAX_BYTES && (body?.length ?? 0) <= DELTA_MAX_BYTES);
  const payloadLength = PAYLOAD_HEADER_BYTES + record.key.length + (body?.length ?? 0);
  const frame = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + payloadLength);
  const p = FRAME_PREFIX_BYTES;
  frame.writeUInt32LE(payloadLength, 0);
  frame[p] = FORMAT_VERSION;
  frame[p + 1] = record.op === 'del' ? KIND_DEL : record.delta ? KIND_PUT_DELTA : KIND_PUT;
  frame.writeUInt16LE(record.key.length, p + 2);
  frame.writeUInt32LE(body?.length ?? 0, p + 4);
  writeU64(frame, record.lsn, p + 8);
  writeU64(frame, record.epoch, p + 16);
  writeU64(frame, record.ts, p + 24);
  writeU64(frame, record.arrivalTs, p + 32);
  writeU64(frame, record.delta ? record.baseLsn ?? 0 : 0, p + 40);
  record.key.copy(frame, p + PAYLOAD_HEADER_BYTES);
  body?.copy(frame, p + PAYLOAD_HEADER_BYTES + record.key.length);
  frame.writeUInt32LE(crc32c(frame, crc32c(frame, 0, 0, 4), FRAME_PREFIX_BYTES), 4);
  return frame;
}

/** Why bytes at an offset are not a record. `torn`: the buffer ends inside the frame. */
export type FrameProblem = 'torn' | 'bad-length' | 'checksum' | 'bad-payload';

/** The record at `offset`, or why there is none. Values are views into `buffer`, not copies. */
export function decodeFrameAt(
  buffer: Buffer,
  offset: number,
): { record: LogRecord; next: number } | { problem: FrameProblem } {
  if (offset + FRAME_PREFIX_BYTES > buffer.length) return { problem: 'torn' };
  const payloadLength = buffer.readUInt32LE(offset);
  if (payloadLength < PAYLOAD_HEADER_BYTES || payloadLength > PAYLOAD_MAX_BYTES) return { problem: 'bad-length' };
  const start = offset + FRAME_PREFIX_BYTES;
  const end = start + payloadLength;
  if (end > buffer.length) return { problem: 'torn' };
  const expected = buffer.readUInt32LE(offset + 4);
  if (crc32c(buffer, crc32c(buffer, 0, offset, offset + 4), start, end) !== expected) return { problem: 'checksum' };
  const record = decodePayload(buffer, start, end);
  return record ? { record, next: end } : { problem: 'bad-payload' };
}

function decodePayload(buffer: Buffer, start: number, end: number): LogRecord | undefined {
  const kind = buffer[start + 1];
  const keyLength = buffer.readUInt16LE(start + 2);
  const bodyLength = buffer.readUInt32LE(start + 4);
  const keyStart = start + PAYLOAD_HEADER_BYTES;
  const valid =
    buffer[start] === FORMAT_VERSION &&
    (kind === KIND_PUT || kind === KIND_DEL || kind === KIND_PUT_DELTA) &&
    keyLength <= KEY_MAX_BYTES &&
    keyStart + keyLength + bodyLength === end &&
    (kind !== KIND_DEL || bodyLength === 0);
  if (!valid) return undefined;
  const record: LogRecord = {
    lsn: readU64(buffer, start + 8),
    epoch: readU64(buffer, start + 16),
    ts: readU64(buffer, start + 24),
    arrivalTs: readU64(buffer, start + 32),
    op: kind === KIND_DEL ? 'del' : 'put',
    key: buffer.subarray(keyStart, keyStart + keyLength),
  };
  const body = buffer.subarray(keyStart + keyLength, end);
  if (kind === KIND_PUT) record.value = body;
  if (kind === KIND_PUT_DELTA) {
    record.delta = body;
    record.baseLsn = readU64(buffer, start + 40);
  }
  return record;
}
