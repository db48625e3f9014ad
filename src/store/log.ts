/**
 * The segmented append-only log of one shard: hot segments in `log/`, compressed sealed segments in
 * `cold/`. Appends are queued and written by the group commit (one write and at most one fdatasync
 * per batch); `onDurable(lsn)` reports progress in lsn order. Recovery on open is here too: a torn
 * tail is cut and reported, corruption followed by good records refuses to open unless `repair`.
 */
import assert from 'node:assert/strict';
import {
  closeSync, fdatasync, fsyncSync, ftruncateSync, openSync, readdirSync, readFileSync, rmSync, write, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { StoreError } from './errors.js';
import { ensureDirectory, fsyncDirectory, TEMP_SUFFIX, writeFileAtomic } from './files.js';
import { GroupCommit, type FsyncPolicy } from './fsync.js';
import type { LogRecord } from './record.js';
import { parseSegmentFileName, scanSegment, segmentFileName, segmentHeader, type SegmentProblem } from './segment.js';

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);

export interface LogDirectories {
  logDir: string;
  coldDir: string;
}

export interface LogOptions {
  fsyncPolicy: FsyncPolicy;
  batchMs: number;
  /** A segment is sealed and a new one started once it passes this size. */
  segmentMaxBytes: number;
  /** Upper bound on the bytes of one group-commit write. */
  maxBatchBytes: number;
  /** Cut at corruption that is followed by good records (losing them) instead of refusing to open. */
  repair: boolean;
  /** Extra milliseconds the next fsync takes (an injected slow disk); absent or 0 for none. */
  fsyncDelayMs?: () => number;
  /** Called with each fsync's duration in ms, the injected delay included. */
  onFsync?: (durationMs: number) => void;
}

/** What recovery did to the log; `cut` is set whenever bytes were removed. */
export interface LogOpenReport {
  hotSegments: number;
  coldSegments: number;
  firstLsn: number;
  lastLsn: number;
  removedTempFiles: number;
  cut?: { segment: string; offset: number; bytesCut: number; problem: SegmentProblem['problem']; kind: 'torn-tail' | 'repaired-corruption'; segmentsRemoved: number };
}

interface HotSegment {
  firstLsn: number;
  lastLsn: number;
  lastEpoch: number;
  lastTs: number;
  path: string;
  bytes: number;
}

/** A cold segment: sealed, gzip-compressed, immutable. */
export interface ColdSegment {
  firstLsn: number;
  lastLsn: number;
  path: string;
}

interface LogCallbacks {
  onDurable(lsn: number): void;
  onError(error: StoreError): void;
}

/** Segment files of a shard's log in lsn order, both tiers; removes leftovers of interrupted moves. */
export function listSegments(dirs: LogDirectories, clean: boolean): { hot: { firstLsn: number; path: string }[]; cold: ColdSegment[]; removedTempFiles: number } {
  let removedTempFiles = 0;
  const hot: { firstLsn: number; path: string }[] = [];
  const cold: ColdSegment[] = [];
  for (const dir of [dirs.logDir, dirs.coldDir]) {
    for (const name of readdirSafe(dir)) {
      const path = join(dir, name);
      if (name.endsWith(TEMP_SUFFIX)) {
        if (clean) rmSync(path, { force: true });
        removedTempFiles++;
        continue;
      }
      const parsed = parseSegmentFileName(name);
      if (!parsed) continue;
      if (parsed.cold) cold.push({ firstLsn: parsed.firstLsn, lastLsn: parsed.lastLsn!, path });
      else hot.push({ firstLsn: parsed.firstLsn, path });
    }
  }
  hot.sort((a, b) => a.firstLsn - b.firstLsn);
  cold.sort((a, b) => a.firstLsn - b.firstLsn);
  // A move to the cold tier renames the compressed file into place before it removes the hot file;
  // when both exist, the cold copy is complete and the hot one is the leftover.
  const coldFirsts = new Set(cold.map((c) => c.firstLsn));
  const keptHot = hot.filter((h) => {
    if (!coldFirsts.has(h.firstLsn)) return true;
    if (clean) rmSync(h.path, { force: true });
    return false;
  });
  return { hot: keptHot, cold, removedTempFiles };
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Records of a cold segment, decompressed. A cold file is written atomically, so any problem is corruption. */
export function readColdSegment(segment: ColdSegment): LogRecord[] {
  const records: LogRecord[] = [];
  let bytes: Buffer;
  try {
    bytes = gunzipSync(readFileSync(segment.path));
  } catch (error) {
    throw new StoreError('LOG_CORRUPT', `cold segment ${segment.path} does not decompress: ${(error as Error).message}`, { path: segment.path });
  }
  const scan = scanSegment(bytes, segment.firstLsn, 0, (r) => records.push(r));
  if (scan.problem || scan.lastLsn !== segment.lastLsn) {
    throw new StoreError('LOG_CORRUPT', `cold segment ${segment.path} is damaged at offset ${scan.problem?.offset ?? scan.goodBytes}`, { path: segment.path });
  }
  return records;
}

/** The segmented log of one shard. */
export class ShardLog {
  private readonly commit: GroupCommit;
  private queue: { frame: Buffer; lsn: number; epoch: number; ts: number }[] = [];
  private failure: StoreError | undefined;
  private fd: number | undefined;
  /** Last lsn handed to the file (written, maybe not yet synced). */
  private writtenLsn: number;

  private constructor(
    private readonly dirs: LogDirectories,
    private readonly options: LogOptions,
    private hot: HotSegment[],
    private cold: ColdSegment[],
    private readonly callbacks: LogCallbacks,
  ) {
    this.commit = new GroupCommit(options.fsyncPolicy, options.batchMs, () => this.flushOnce(), () => this.queue.length > 0);
    this.writtenLsn = this.lastLsn;
    const active = hot.at(-1);
    if (active) this.fd = openSync(active.path, 'r+');
  }

  /**
   * Opens (creating if needed) the log, verifies every hot segment, cuts a torn tail, and calls
   * `onRecord` for every record with lsn > `replayAfterLsn` in order, reading the cold tier too
   * when the replay starts there.
   */
  static open(
    dirs: LogDirectories,
    options: LogOptions,
    replayAfterLsn: number,
    onRecord: (record: LogRecord) => void,
    callbacks: LogCallbacks,
  ): { log: ShardLog; report: LogOpenReport } {
    ensureDirectory(dirs.logDir);
    ensureDirectory(dirs.coldDir);
    const listed = listSegments(dirs, true);
    for (const segment of listed.cold) {
      if (segment.lastLsn > replayAfterLsn) for (const r of readColdSegment(segment)) if (r.lsn > replayAfterLsn) onRecord(r);
    }
    const { hot, cut } = recoverHotSegments(listed.hot, options.repair, replayAfterLsn, onRecord);
    fsyncDirectory(dirs.logDir);
    const log = new ShardLog(dirs, options, hot, listed.cold, callbacks);
    const report: LogOpenReport = {
      hotSegments: hot.length,
      coldSegments: listed.cold.length,
      firstLsn: listed.cold[0]?.firstLsn ?? hot[0]?.firstLsn ?? 0,
      lastLsn: log.lastLsn,
      removedTempFiles: listed.removedTempFiles,
    };
    if (cut) report.cut = cut;
    return { log, report };
  }

  /** lsn of the last record in the log (queued ones included), 0 when the log is empty. */
  get lastLsn(): number {
    return this.queue.at(-1)?.lsn ?? this.hot.at(-1)?.lastLsn ?? this.cold.at(-1)?.lastLsn ?? 0;
  }

  /** lsn of the first record still held in either tier (0 when empty). */
  get firstLsn(): number {
    return this.cold[0]?.firstLsn ?? this.hot[0]?.firstLsn ?? 0;
  }

  /** Queues a framed record for the next group commit. `onDurable` reports it once durable. */
  append(frame: Buffer, lsn: number, epoch: number, ts: number): void {
    if (this.failure) throw this.failure;
    assert.equal(lsn, this.lastLsn + 1, 'log appends must have consecutive lsns');
    this.queue.push({ frame, lsn, epoch, ts });
    this.commit.request();
  }

  /** Resolves once everything appended so far is durable (or rejects with the I/O failure). */
  async flush(): Promise<void> {
    await this.commit.drain();
    if (this.failure) throw this.failure;
  }

  private async flushOnce(): Promise<void> {
    if (this.failure || this.queue.length === 0) return;
    let count = 0;
    let bytes = 0;
    while (count < this.queue.length && (count === 0 || bytes + this.queue[count]!.frame.length <= this.options.maxBatchBytes)) {
      bytes += this.queue[count]!.frame.length;
      count++;
    }
    const batch = this.queue.slice(0, count);
    try {
      const active = this.activeSegmentFor(batch[0]!.lsn);
      const data = batch.length === 1 ? batch[0]!.frame : Buffer.concat(batch.map((b) => b.frame), bytes);
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await writeAsync(this.fd!, data, written, data.length - written, active.bytes + written);
        written += bytesWritten;
      }
      this.queue.splice(0, count);
      const last = batch.at(-1)!;
      Object.assign(active, { bytes: active.bytes + data.length, lastLsn: last.lsn, lastEpoch: last.epoch, lastTs: last.ts });
      this.writtenLsn = last.lsn;
      if (this.options.fsyncPolicy !== 'none') await this.sync();
      this.callbacks.onDurable(last.lsn);
    } catch (error) {
      // After a failed write the file's tail is unknown: stop appending until the replica reopens,
      // which runs recovery and cuts whatever part of the batch did land.
      this.failure = new StoreError('IO_ERROR', `log write failed: ${(error as Error).message}`, { cause: (error as Error).message });
      this.queue = [];
      this.callbacks.onError(this.failure);
    }
  }

  /**
   * One fdatasync, timed. An injected delay is awaited inside the timed span, so a slow disk made
   * by `foreshard chaos` looks to the metrics and to every waiting write exactly like a real one.
   */
  private async sync(): Promise<void> {
    const startedMs = performance.now();
    const delayMs = this.options.fsyncDelayMs?.() ?? 0;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    await fdatasyncAsync(this.fd!);
    this.options.onFsync?.(performance.now() - startedMs);
  }

  /** The segment the next batch goes to; seals the current one and starts another when it is full. */
  private activeSegmentFor(firstLsn: number): HotSegment {
    const current = this.hot.at(-1);
    if (current && this.fd !== undefined && current.bytes < this.options.segmentMaxBytes) return current;
    if (this.fd !== undefined) {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = undefined;
    }
    const path = join(this.dirs.logDir, segmentFileName(firstLsn));
    const fd = openSync(path, 'wx');
    const header = segmentHeader(firstLsn);
    writeSync(fd, header);
    fsyncSync(fd);
    fsyncDirectory(this.dirs.logDir);
    this.fd = fd;
    const segment: HotSegment = { firstLsn, lastLsn: firstLsn - 1, lastEpoch: 0, lastTs: 0, path, bytes: header.length };
    this.hot.push(segment);
    return segment;
  }

  /** Records with `fromLsn <= lsn <= toLsn` from both tiers, in lsn order (only what is written). */
  *records(fromLsn: number, toLsn = Number.MAX_SAFE_INTEGER): Generator<LogRecord> {
    for (const segment of this.cold) {
      if (segment.lastLsn < fromLsn || segment.firstLsn > toLsn) continue;
      for (const r of readColdSegment(segment)) if (r.lsn >= fromLsn && r.lsn <= toLsn) yield r;
    }
    for (const segment of [...this.hot]) {
      if (segment.lastLsn < fromLsn || segment.firstLsn > toLsn) continue;
      const records: LogRecord[] = [];
      scanSegment(readFileSync(segment.path).subarray(0, segment.bytes), segment.firstLsn, 0, (r) => records.push(r));
      for (const r of records) if (r.lsn >= fromLsn && r.lsn <= toLsn) yield r;
    }
  }

  /**
   * Removes every record after `lsn` from both tiers and returns them (copied), oldest first.
   * The caller must have flushed: nothing may be queued or in flight.
   */
  truncateAfter(lsn: number): LogRecord[] {
    assert.equal(this.queue.length, 0, 'truncateAfter needs a flushed log');
    const coldHit = this.cold.find((c) => c.firstLsn <= lsn && c.lastLsn > lsn);
    if (coldHit) this.thaw(coldHit);
    const cut: LogRecord[] = [];
    for (const c of this.cold.filter((c) => c.firstLsn > lsn)) {
      for (const record of readColdSegment(c)) cut.push(record);
      rmSync(c.path);
    }
    this.cold = this.cold.filter((c) => c.firstLsn <= lsn);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    const kept: HotSegment[] = [];
    for (const segment of this.hot) {
      if (segment.lastLsn <= lsn) {
        kept.push(segment);
        continue;
      }
      const bytes = readFileSync(segment.path).subarray(0, segment.bytes);
      let keepBytes = segment.firstLsn > lsn ? 0 : bytes.length;
      const scan = scanSegment(bytes, segment.firstLsn, 0, (r, next) => {
        if (r.lsn > lsn) cut.push(copyRecord(r));
        else keepBytes = next;
      });
      assert.ok(scan.lastLsn === segment.lastLsn, 'a written segment must scan cleanly');
      if (segment.firstLsn > lsn) {
        rmSync(segment.path);
        continue;
      }
      const fd = openSync(segment.path, 'r+');
      ftruncateSync(fd, keepBytes);
      fsyncSync(fd);
      closeSync(fd);
      const lastKept = cut.length > 0 ? lsn : segment.lastLsn;
      kept.push({ ...segment, bytes: keepBytes, lastLsn: lastKept });
    }
    this.hot = kept;
    fsyncDirectory(this.dirs.logDir);
    fsyncDirectory(this.dirs.coldDir);
    const active = this.hot.at(-1);
    if (active) this.fd = openSync(active.path, 'r+');
    this.writtenLsn = this.lastLsn;
    cut.sort((a, b) => a.lsn - b.lsn);
    return cut;
  }

  /** Brings a cold segment back to the hot tier (a truncation needs to cut inside it). */
  private thaw(segment: ColdSegment): void {
    const bytes = gunzipSync(readFileSync(segment.path));
    const path = join(this.dirs.logDir, segmentFileName(segment.firstLsn));
    writeFileAtomic(path, [bytes]);
    rmSync(segment.path);
    fsyncDirectory(this.dirs.coldDir);
    const scan = scanSegment(bytes, segment.firstLsn, 0);
    this.cold = this.cold.filter((c) => c !== segment);
    this.hot.unshift({ firstLsn: segment.firstLsn, lastLsn: scan.lastLsn, lastEpoch: scan.lastEpoch, lastTs: scan.lastTs, path, bytes: bytes.length });
    this.hot.sort((a, b) => a.firstLsn - b.firstLsn);
  }

  /** Sealed hot segments (all but the active one) whose newest record is older than `beforeTs`. */
  sealedSegmentsOlderThan(beforeTs: number): { firstLsn: number; lastLsn: number; path: string }[] {
    return this.hot.slice(0, -1).filter((s) => s.lastTs < beforeTs && s.lastLsn >= s.firstLsn);
  }

  /** Records that a sealed hot segment is now a cold one (the file move is done by the tier). */
  markCold(firstLsn: number, cold: ColdSegment): void {
    const index = this.hot.findIndex((s) => s.firstLsn === firstLsn);
    assert.ok(index >= 0 && index < this.hot.length - 1, 'only a sealed hot segment can move to the cold tier');
    this.hot.splice(index, 1);
    this.cold.push(cold);
    this.cold.sort((a, b) => a.firstLsn - b.firstLsn);
  }

  /** Paths and lsn ranges of both tiers, for tools and reports. */
  describe(): { hot: { firstLsn: number; lastLsn: number; path: string; bytes: number }[]; cold: ColdSegment[] } {
    return { hot: this.hot.map((s) => ({ firstLsn: s.firstLsn, lastLsn: s.lastLsn, path: s.path, bytes: s.bytes })), cold: [...this.cold] };
  }

  /** Flushes and closes the active segment. */
  async close(): Promise<void> {
    await this.commit.drain();
    this.commit.cancelTimer();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Verifies the hot segments in order. Returns the good segments, and the cut it made: a torn tail
 * (a problem in the last segment with nothing valid after it) is always cut; anything else is
 * corruption followed by good records, which throws LOG_CORRUPT unless `repair` is set.
 */
function recoverHotSegments(
  files: { firstLsn: number; path: string }[],
  repair: boolean,
  replayAfterLsn: number,
  onRecord: (record: LogRecord) => void,
): { hot: HotSegment[]; cut?: LogOpenReport['cut'] } {
  const hot: HotSegment[] = [];
  let epoch = 0;
  for (let index = 0; index < files.length; index++) {
    const file = files[index]!;
    const previous = hot.at(-1);
    const bytes = readFileSync(file.path);
    // A missing stretch of lsns between segments is corruption too; test it before replaying any record.
    const gap = previous !== undefined && file.firstLsn !== previous.lastLsn + 1;
    const scan = gap ? scanSegment(Buffer.alloc(0), file.firstLsn, epoch) : scanSegment(bytes, file.firstLsn, epoch, (r) => r.lsn > replayAfterLsn && onRecord(r));
    if (!scan.problem && !gap) {
      hot.push({ firstLsn: file.firstLsn, lastLsn: scan.lastLsn, lastEpoch: scan.lastEpoch, lastTs: scan.lastTs, path: file.path, bytes: bytes.length });
      epoch = scan.lastEpoch;
      continue;
    }
    const later = files.slice(index + 1);
    const problem: SegmentProblem = gap
      ? { offset: 0, problem: 'lsn-out-of-order', followedByValidRecords: true }
      : { ...scan.problem!, followedByValidRecords: scan.problem!.followedByValidRecords || later.length > 0 };
    if (problem.followedByValidRecords && !repair) {
      throw new StoreError(
        'LOG_CORRUPT',
        `log segment ${file.path} is corrupt at offset ${problem.offset} (${problem.problem}) and good records follow; refusing to open (open with repair to cut there and lose them)`,
        { path: file.path, offset: problem.offset, problem: problem.problem, lastGoodLsn: gap ? previous!.lastLsn : scan.lastLsn },
      );
    }
    const keepBytes = gap ? 0 : scan.goodBytes;
    const cut = { segment: file.path, offset: keepBytes, bytesCut: bytes.length - keepBytes, problem: problem.problem, kind: problem.followedByValidRecords ? 'repaired-corruption' as const : 'torn-tail' as const, segmentsRemoved: later.length };
    for (const f of later) rmSync(f.path);
    if (keepBytes <= segmentHeader(0).length) rmSync(file.path);
    else {
      const fd = openSync(file.path, 'r+');
      ftruncateSync(fd, keepBytes);
      fsyncSync(fd);
      closeSync(fd);
      hot.push({ firstLsn: file.firstLsn, lastLsn: scan.lastLsn, lastEpoch: scan.lastEpoch, lastTs: scan.lastTs, path: file.path, bytes: keepBytes });
    }
    return { hot, cut };
  }
  return { hot };
}

/** A record whose bytes are its own, not views into a segment's read buffer (which they would pin). */
export function copyRecord(record: LogRecord): LogRecord {
  const copy: LogRecord = { ...record, key: Buffer.from(record.key) };
  if (record.value) copy.value = Buffer.from(record.value);
  if (record.delta) copy.delta = Buffer.from(record.delta);
  return copy;
}
