/**
 * One primary → shadow stream: the frames of one shard to one shadow connection. It starts where
 * the shadow's `resync` asks, sends a snapshot first when the log no longer holds that lsn (or
 * the shadow is too far behind), catches up from the log, then switches to live frames. A stream
 * whose connection is congested drops back from live to catch-up, so a slow shadow costs log
 * reads, never unbounded memory.
 */
import { encodeDataFrame, MAX_SNAPSHOT_CHUNK_BYTES, MAX_SNAPSHOT_CHUNK_ENTRIES, type SnapshotFrame } from '../protocol/index.js';
import type { ReplicationFrame } from '../store/index.js';
import { readSnapshot } from '../store/snapshot.js';
import type { StateEntry } from '../store/state.js';
import { sleep, type HostContext } from './context.js';
import { encodeLiteral } from './outgoing.js';
import type { PendingWrite, ShardPublisher } from './publisher.js';
import type { ConnectionWriter } from './writer.js';

/** Room left in a snapshot chunk for the frame's own fields and CBOR heads. */
const SNAPSHOT_CHUNK_MARGIN_BYTES = 64 * 1024;
/** Per-entry CBOR overhead in a snapshot chunk (map head, field names, lengths, lsn). */
const SNAPSHOT_ENTRY_OVERHEAD_BYTES = 32;

export type StreamPhase = 'snapshot' | 'catch-up' | 'live' | 'idle';

interface SnapshotCursor {
  entries: StateEntry[];
  index: number;
  seq: number;
  lsn: number;
  epoch: number;
}

export class ShadowStream {
  phase: StreamPhase = 'idle';
  /** The next lsn this stream sends. */
  nextLsn = 0;
  private batch: ReplicationFrame[] = [];
  private batchIndex = 0;
  private snapshot: SnapshotCursor | undefined;
  private pumping = false;
  private stopped = false;

  constructor(
    readonly node: string,
    readonly shard: number,
    private readonly publisher: ShardPublisher,
    private readonly writer: ConnectionWriter,
    private readonly context: HostContext,
  ) {}

  /** Starts sending from `fromLsn` (already checked against the shadow's history by the publisher). */
  start(fromLsn: number): void {
    const replica = this.publisher.replica;
    const behind = replica.lastLsn - (fromLsn - 1);
    const logHolds = replica.firstLogLsn > 0 ? replica.firstLogLsn <= fromLsn : replica.lastLsn < fromLsn;
    this.nextLsn = fromLsn;
    if (!logHolds || behind > this.context.options.snapshotCatchUpRecords) this.beginSnapshot();
    else this.phase = 'catch-up';
    void this.pump();
  }

  /** Stops sending (connection closed, shadow re-asked, or the shard left this host). */
  stop(): void {
    this.stopped = true;
    this.phase = 'idle';
    this.batch = [];
    this.snapshot = undefined;
  }

  /** A write the primary just accepted; sent at once when this stream is live and not congested. */
  offerLive(write: PendingWrite): void {
    if (this.stopped || this.phase !== 'live') return;
    if (write.lsn !== this.nextLsn || this.writer.congested) {
      // Either a frame went missing between catch-up and live (it is in the log) or the shadow is
      // slow: read it from the log instead of queueing in memory.
      this.phase = 'catch-up';
      void this.pump();
      return;
    }
    this.sendFrame(write.outgoing().bytes, write.outgoing().literalSize, write.outgoing().isDelta);
    this.nextLsn++;
  }

  private sendFrame(bytes: Uint8Array, literalSize: number, isDelta: boolean): void {
    if (!this.writer.send(bytes)) return;
    const stats = this.context.stats;
    stats.framesSent++;
    stats.frameBytesSent += bytes.length;
    stats.frameBytesLiteralEquivalent += literalSize;
    if (isDelta) stats.deltaFramesSent++;
  }

  /** Runs snapshot and catch-up steps until live, pausing on congestion and on the bandwidth cap. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.stopped && this.writer.isOpen && this.phase !== 'live') {
        if (this.writer.congested) {
          await this.writer.whenDrained();
          continue;
        }
        const waitMs = this.phase === 'snapshot' ? this.sendSnapshotChunk() : this.catchUpStep();
        if (waitMs > 0) await sleep(waitMs);
      }
    } catch (error) {
      // A log read failed: this stream cannot go on; the shadow reconnects and asks again.
      this.context.log('error', 'replication.stream_failed', { shard: this.shard, node: this.node, message: (error as Error).message });
      this.stop();
      this.publisher.failStream(this);
    } finally {
      this.pumping = false;
    }
  }

  /** Sends catch-up frames from the log; returns ms to wait for bandwidth (0: go on). */
  private catchUpStep(): number {
    if (this.batchIndex >= this.batch.length) {
      this.batch = this.publisher.replica.readFrom(this.nextLsn, this.context.options.catchUpBatchRecords);
      this.batchIndex = 0;
      if (this.batch.length === 0) {
        this.goLive();
        return 0;
      }
    }
    while (this.batchIndex < this.batch.length && !this.writer.congested) {
      const frame = this.batch[this.batchIndex]!;
      const bytes = encodeLiteral(frame, this.context.options.limits);
      const waitMs = this.context.bucket.take(bytes.length);
      if (waitMs > 0) return waitMs;
      this.sendFrame(bytes, bytes.length, false);
      this.nextLsn = frame.lsn + 1;
      this.batchIndex++;
    }
    return 0;
  }

  /** The log is read through its durable end: the writes still in flight follow from memory. */
  private goLive(): void {
    const pending = this.publisher.pendingFrom(this.nextLsn);
    if (pending.length > 0 && pending[0]!.lsn !== this.nextLsn) return; // more became durable meanwhile: read the log again
    for (const write of pending) {
      const outgoing = write.outgoing();
      this.sendFrame(outgoing.bytes, outgoing.literalSize, outgoing.isDelta);
      this.nextLsn++;
    }
    this.phase = 'live';
    this.context.log('info', 'replication.stream_live', { shard: this.shard, node: this.node, nextLsn: this.nextLsn });
  }

  private beginSnapshot(): void {
    const replica = this.publisher.replica;
    const loaded = readSnapshot(replica.snapshotNow());
    if (!loaded) throw new Error(`snapshot of shard ${this.shard} did not read back`);
    this.snapshot = { entries: loaded.state.allEntries(), index: 0, seq: 0, lsn: loaded.lsn, epoch: replica.epoch };
    this.phase = 'snapshot';
    this.context.log('info', 'replication.snapshot_start', { shard: this.shard, node: this.node, lsn: loaded.lsn, entries: this.snapshot.entries.length });
  }

  /** Sends the next snapshot chunk (bounded in entries and bytes); returns ms to wait for bandwidth. */
  private sendSnapshotChunk(): number {
    const cursor = this.snapshot!;
    const entries: SnapshotFrame['entries'] = [];
    let bytes = 0;
    let end = cursor.index;
    const byteBudget = MAX_SNAPSHOT_CHUNK_BYTES - SNAPSHOT_CHUNK_MARGIN_BYTES;
    while (end < cursor.entries.length && entries.length < MAX_SNAPSHOT_CHUNK_ENTRIES) {
      const entry = cursor.entries[end]!;
      const size = entry.key.length + entry.value.length + SNAPSHOT_ENTRY_OVERHEAD_BYTES;
      if (entries.length > 0 && bytes + size > byteBudget) break;
      entries.push({ key: entry.key, value: entry.value, lsn: entry.lsn });
      bytes += size;
      end++;
    }
    const waitMs = this.context.bucket.take(bytes);
    if (waitMs > 0) return waitMs;
    const done = end >= cursor.entries.length;
    const frame: SnapshotFrame = { type: 'snapshot', shard: this.shard, epoch: cursor.epoch, lsn: cursor.lsn, seq: cursor.seq, entries, done };
    if (!this.writer.send(encodeDataFrame(frame, this.context.options.limits))) return 0;
    cursor.index = end;
    cursor.seq++;
    if (done) {
      this.snapshot = undefined;
      this.nextLsn = cursor.lsn + 1;
      this.phase = 'catch-up';
      this.context.stats.snapshotsSent++;
    }
    return 0;
  }
}
