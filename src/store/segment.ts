/**
 * One log segment: a file `<first lsn, 16 digits>.log` holding a 16-byte header (magic and first
 * lsn) and then framed records with consecutive lsns. Only the last segment of a log is written;
 * the others are sealed and immutable, which is what lets the cold tier compress and move them.
 */
import { decodeFrameAt, type FrameProblem, type LogRecord } from './record.js';

/** Magic at the start of every segment file, followed by the first lsn as u64 LE. */
export const SEGMENT_MAGIC = Buffer.from('FSHDLOG1', 'latin1');
export const SEGMENT_HEADER_BYTES = 16;
const LSN_DIGITS = 16;

/** File name of the hot segment whose first record has `firstLsn`. */
export function segmentFileName(firstLsn: number): string {
  return `${String(firstLsn).padStart(LSN_DIGITS, '0')}.log`;
}

/** File name of a cold (compressed) segment holding lsns `firstLsn..lastLsn`. */
export function coldFileName(firstLsn: number, lastLsn: number): string {
  return `${String(firstLsn).padStart(LSN_DIGITS, '0')}-${String(lastLsn).padStart(LSN_DIGITS, '0')}.log.gz`;
}

/** The first lsn (and, for cold files, the last) encoded in a segment file name, or undefined. */
export function parseSegmentFileName(name: string): { firstLsn: number; lastLsn?: number; cold: boolean } | undefined {
  const hot = /^(\d{16})\.log$/.exec(name);
  if (hot) return { firstLsn: Number(hot[1]), cold: false };
  const cold = /^(\d{16})-(\d{16})\.log\.gz$/.exec(name);
  if (cold) return { firstLsn: Number(cold[1]), lastLsn: Number(cold[2]), cold: true };
  return undefined;
}

/** The header bytes of a segment starting at `firstLsn`. */
export function segmentHeader(firstLsn: number): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(header, 0);
  header.writeUInt32LE(firstLsn % 0x1_0000_0000, 8);
  header.writeUInt32LE(Math.floor(firstLsn / 0x1_0000_0000), 12);
  return header;
}

/** Where and why a segment stops being a clean run of records. */
export interface SegmentProblem {
  offset: number;
  problem: FrameProblem | 'bad-header' | 'lsn-out-of-order' | 'epoch-went-back';
  /** A valid record with a later lsn was found after the problem: corruption, not a torn tail. */
  followedByValidRecords: boolean;
}

/** What a scan of one segment's bytes found. */
export interface SegmentScan {
  firstLsn: number;
  /** lsn of the last good record, or firstLsn - 1 when there is none. */
  lastLsn: number;
  lastEpoch: number;
  /** ts of the last good record (0 when empty): how the cold tier judges a segment's age. */
  lastTs: number;
  recordCount: number;
  /** Byte offset just past the last good record. */
  goodBytes: number;
  problem?: SegmentProblem;
}

/**
 * Scans a segment's bytes, calling `onRecord` for each good record in order, and stops at the first
 * problem. `expectedFirstLsn` is the name's lsn; `previousEpoch` the epoch the previous segment ended at.
 */
export function scanSegment(
  bytes: Buffer,
  expectedFirstLsn: number,
  previousEpoch: number,
  onRecord?: (record: LogRecord, nextOffset: number) => void,
): SegmentScan {
  const scan: SegmentScan = { firstLsn: expectedFirstLsn, lastLsn: expectedFirstLsn - 1, lastEpoch: previousEpoch, lastTs: 0, recordCount: 0, goodBytes: 0 };
  if (bytes.length < SEGMENT_HEADER_BYTES || !bytes.subarray(0, SEGMENT_HEADER_BYTES).equals(segmentHeader(expectedFirstLsn))) {
    scan.problem = { offset: 0, problem: bytes.length < SEGMENT_HEADER_BYTES ? 'torn' : 'bad-header', followedByValidRecords: false };
    scan.problem.followedByValidRecords = hasValidRecordAfter(bytes, SEGMENT_HEADER_BYTES, expectedFirstLsn - 1);
    return scan;
  }
  let offset = SEGMENT_HEADER_BYTES;
  scan.goodBytes = offset;
  while (offset < bytes.length) {
    const decoded = decodeFrameAt(bytes, offset);
    let problem: SegmentProblem['problem'] | undefined;
    if ('problem' in decoded) problem = decoded.problem;
    else if (decoded.record.lsn !== scan.lastLsn + 1) problem = 'lsn-out-of-order';
    else if (decoded.record.epoch < scan.lastEpoch) problem = 'epoch-went-back';
    if (problem !== undefined) {
      scan.problem = { offset, problem, followedByValidRecords: hasValidRecordAfter(bytes, offset + 1, scan.lastLsn) };
      return scan;
    }
    const { record, next } = decoded as { record: LogRecord; next: number };
    onRecord?.(record, next);
    scan.lastLsn = record.lsn;
    scan.lastEpoch = record.epoch;
    scan.lastTs = record.ts;
    scan.recordCount++;
    offset = next;
    scan.goodBytes = offset;
  }
  return scan;
}

/**
 * True when some offset at or after `from` decodes as a valid record with an lsn above `afterLsn`.
 * That is what tells corruption in the middle (good data follows) from a torn tail (nothing does).
 * A torn tail is at most one unsynced batch, so this byte-by-byte search is short there; in the
 * corrupt case it stops at the next record boundary.
 */
export function hasValidRecordAfter(bytes: Buffer, from: number, afterLsn: number): boolean {
  for (let offset = from; offset + 8 <= bytes.length; offset++) {
    const decoded = decodeFrameAt(bytes, offset);
    if ('record' in decoded && decoded.record.lsn > afterLsn) return true;
  }
  return false;
}
