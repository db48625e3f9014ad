/**
 * The replication frame of DESIGN.md §5.3 as the store sees it, and its validation. Frames come
 * from the network, so every field is checked before the replica looks at it: a bad frame is a
 * typed error, never an assertion.
 */
import { StoreError } from './errors.js';
import { DELTA_MAX_BYTES, KEY_MAX_BYTES, VALUE_MAX_BYTES, type LogRecord } from './record.js';

/** `{shard, epoch, lsn, ts, op, key, value | delta, baseLsn?}` (DESIGN.md §5.3). */
export interface ReplicationFrame {
  shard: number;
  epoch: number;
  lsn: number;
  ts: number;
  op: 'put' | 'del';
  key: Uint8Array;
  value?: Uint8Array;
  delta?: Uint8Array;
  baseLsn?: number;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Checks the shape and the size limits of an untrusted frame; throws BAD_FRAME, KEY_TOO_LARGE or VALUE_TOO_LARGE. */
export function validateFrame(input: unknown): ReplicationFrame {
  const frame = input as Partial<ReplicationFrame> | null;
  const bad = (why: string): never => {
    throw new StoreError('BAD_FRAME', `bad replication frame: ${why}`);
  };
  if (typeof frame !== 'object' || frame === null) return bad('not an object');
  if (!isCount(frame.shard) || !isCount(frame.ts)) bad('shard and ts must be non-negative integers');
  if (!isCount(frame.epoch) || frame.epoch! < 1 || !isCount(frame.lsn) || frame.lsn! < 1) bad('epoch and lsn must be positive integers');
  if (frame.op !== 'put' && frame.op !== 'del') bad('op must be put or del');
  if (!(frame.key instanceof Uint8Array)) bad('key must be bytes');
  if (frame.key!.length > KEY_MAX_BYTES) throw new StoreError('KEY_TOO_LARGE', `key of ${frame.key!.length} bytes exceeds ${KEY_MAX_BYTES}`);
  const hasValue = frame.value !== undefined;
  const hasDelta = frame.delta !== undefined;
  if (frame.op === 'del' && (hasValue || hasDelta)) bad('a del carries no value');
  if (frame.op === 'put' && hasValue === hasDelta) bad('a put carries exactly one of value and delta');
  if (hasValue && !(frame.value instanceof Uint8Array)) bad('value must be bytes');
  if (hasValue && frame.value!.length > VALUE_MAX_BYTES) throw new StoreError('VALUE_TOO_LARGE', `value of ${frame.value!.length} bytes exceeds ${VALUE_MAX_BYTES}`);
  if (hasDelta && (!(frame.delta instanceof Uint8Array) || frame.delta.length > DELTA_MAX_BYTES)) bad('delta must be bytes within the size limit');
  if (hasDelta && (!isCount(frame.baseLsn) || frame.baseLsn! < 1 || frame.baseLsn! >= frame.lsn!)) bad('a delta needs a baseLsn below its lsn');
  return frame as ReplicationFrame;
}

function bytes(view: Uint8Array): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** The log record a received frame is stored as (bytes copied; the caller may reuse its buffers). */
export function frameToRecord(frame: ReplicationFrame, arrivalTs: number): LogRecord {
  const record: LogRecord = { lsn: frame.lsn, epoch: frame.epoch, ts: frame.ts, arrivalTs, op: frame.op, key: Buffer.from(bytes(frame.key)) };
  if (frame.value) record.value = Buffer.from(bytes(frame.value));
  if (frame.delta) {
    record.delta = Buffer.from(bytes(frame.delta));
    record.baseLsn = frame.baseLsn!;
  }
  return record;
}

/** The frame a record is shipped as (views into the record's buffers). */
export function recordToFrame(shard: number, record: LogRecord): ReplicationFrame {
  const frame: ReplicationFrame = { shard, epoch: record.epoch, lsn: record.lsn, ts: record.ts, op: record.op, key: record.key };
  if (record.value) frame.value = record.value;
  if (record.delta) {
    frame.delta = record.delta;
    frame.baseLsn = record.baseLsn!;
  }
  return frame;
}
