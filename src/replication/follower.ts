/**
 * The shadow side of one shard: a link to the primary's data port that asks for frames with
 * `resync`, stores each frame durably through `Replica.receive`, and acknowledges the received lsn
 * (cumulative). It recovers from everything the network or a primary change can do to the stream:
 * - a gap, a bad frame or a delta whose base it lacks: it re-asks from its received lsn + 1;
 * - the primary answering `resync` with a cut, or a frame at a held lsn with another epoch: it
 *   cuts its log there (conflict file: `rejoin` for a former primary, else `resync`) and re-asks;
 * - a snapshot: it installs it (the host swaps the replica) and continues after its lsn;
 * - a lost connection: it reconnects with backoff and re-asks.
 * Frames that arrive while it cuts or installs wait in a bounded queue.
 */
import { Fifo } from '../store/fifo.js';
import { isStoreError, type ConflictReason, type Replica, type StoreError } from '../store/index.js';
import type { DataFrame, ReplicationFrame as WireFrame, ResyncFrame, SnapshotFrame } from '../protocol/index.js';
import { sleep, type HostContext } from './context.js';
import { DataPortLink } from './link.js';
import type { PrimaryAddress, ShardReport } from './types.js';

/** How often a shadow re-sends its ack when nothing else triggers one (it carries the applied lsn). */
export const ACK_REFRESH_MS = 1_000;
/** How often `waitReceived` looks at the received lsn. */
const RECEIVED_POLL_MS = 5;

/** An entry of a snapshot being received. */
export interface SnapshotEntry {
  key: Uint8Array;
  value: Uint8Array;
  lsn: number;
}

/** What the follower needs from its host. */
export interface FollowerHost {
  /** The shard's current replica (a snapshot install replaces it). */
  replica(): Replica;
  /** Replaces the replica's contents with a snapshot at `lsn`; frames then continue from lsn + 1. */
  installSnapshot(entries: SnapshotEntry[], lsn: number, epoch: number): Promise<void>;
}

type LinkState = NonNullable<ShardReport['link']>;

export class Follower {
  state: LinkState = 'connecting';
  /** The conflict file of the last cut, if any. */
  savedTo: string | undefined;
  /** Replication lag: how old the newest frame was (primary's ts to this replica's clock) when it arrived. */
  lagMs = 0;
  private link: DataPortLink | undefined;
  private stopped = false;
  /** After a resync: frames are dropped until the one with this lsn (leftovers of the old stream). */
  private awaitingLsn: number | undefined;
  private busy: Promise<void> | undefined;
  private readonly queue = new Fifo<DataFrame>();
  private queueOverflowed = false;
  private snapshot: { lsn: number; epoch: number; seq: number; bytes: number; entries: SnapshotEntry[] } | undefined;
  private ackScheduled = false;
  private ackTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Aborted by `stop`: ends a reconnect backoff or a resync pause at once. */
  private readonly stopping = new AbortController();

  constructor(
    readonly shard: number,
    private epoch: number,
    readonly primary: PrimaryAddress,
    private readonly cutReason: ConflictReason,
    private readonly host: FollowerHost,
    private readonly context: HostContext,
  ) {}

  /** Starts connecting (and reconnecting until `stop`). */
  start(): void {
    this.running = this.run();
    this.ackTimer = setInterval(() => this.sendAck(), ACK_REFRESH_MS);
    this.ackTimer.unref();
  }

  /**
   * Stops following: drops the link and waits for a cut or install in progress to finish. The link
   * is dropped, not closed with a handshake: nothing the primary sends from now on is used, and a
   * primary that is hung (the usual reason a failover fences its shadows) never answers a close, so
   * a handshake cost every fence CLOSE_HANDSHAKE_TIMEOUT_MS (500 ms) of the failover.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    clearInterval(this.ackTimer);
    this.link?.terminate();
    this.stopping.abort(); // a primary that is gone keeps the loop in its backoff, up to reconnectDelayMaxMs
    await this.busy;
    await this.running;
  }

  /** Resolves true once the replica has durably received through `lsn`, false after `timeoutMs`. */
  async waitReceived(lsn: number, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.host.replica().receivedLsn < lsn) {
      if (performance.now() >= deadline || this.stopped) return false;
      await sleep(RECEIVED_POLL_MS);
    }
    return true;
  }

  /** Drops the connection without stopping (tests: a network cut; the follower reconnects). */
  dropConnection(): void {
    this.link?.terminate();
  }

  private async run(): Promise<void> {
    const { options } = this.context;
    let delayMs = options.reconnectDelayMs;
    let reason: ResyncFrame['reason'] = 'connect';
    while (!this.stopped) {
      try {
        const { closed } = await this.connect();
        delayMs = options.reconnectDelayMs;
        this.sendResync(reason);
        reason = 'reconnect';
        await closed;
      } catch (error) {
        this.context.log('warn', 'replication.link_failed', { shard: this.shard, primary: this.primary.node, url: this.primary.dataUrl, message: (error as Error).message });
      }
      this.link = undefined;
      if (this.stopped) break;
      this.state = 'connecting';
      await sleep(delayMs, this.stopping.signal);
      delayMs = Math.min(delayMs * 2, options.reconnectDelayMaxMs);
    }
  }

  /** Opens the link; `closed` settles when it closes (wrapped: an async function would adopt a bare promise). */
  private async connect(): Promise<{ closed: Promise<void> }> {
    const { options } = this.context;
    let onClosed!: () => void;
    const closed = new Promise<void>((resolve) => (onClosed = resolve));
    const link = await DataPortLink.connect(
      { url: this.primary.dataUrl, role: 'shadow', node: options.node, ...(options.token === undefined ? {} : { token: options.token }), limits: options.limits, connectTimeoutMs: options.linkTimeoutMs, sendBufferLimitBytes: options.sendBufferLimitBytes },
      {
        onFrame: (frame, bytes) => {
          this.context.stats.frameBytesReceived += bytes;
          this.onFrame(frame);
        },
        onBadFrame: (error) => this.onBadFrame(error),
        onClose: () => onClosed(),
      },
    );
    if (this.stopped) link.close();
    this.link = link;
    this.state = 'syncing';
    return { closed };
  }

  private sendResync(reason: ResyncFrame['reason']): void {
    const replica = this.host.replica();
    const fromLsn = replica.lastLsn + 1;
    const frame: ResyncFrame = { type: 'resync', shard: this.shard, epoch: Math.max(this.epoch, replica.epoch), fromLsn, reason };
    if (fromLsn > 1) frame.lastEpoch = replica.epochAt(fromLsn - 1);
    this.awaitingLsn = fromLsn;
    this.snapshot = undefined;
    if (this.link?.send(frame)) this.context.stats.resyncsSent++;
  }

  private onFrame(frame: DataFrame): void {
    if (this.stopped) return;
    if (this.busy) {
      if (this.queue.length < this.context.options.maxQueuedFramesWhileInstalling) this.queue.push(frame);
      else this.queueOverflowed = true;
      return;
    }
    this.handle(frame);
  }

  private handle(frame: DataFrame): void {
    switch (frame.type) {
      case 'frame':
        return this.onReplicationFrame(frame);
      case 'snapshot':
        return this.onSnapshotChunk(frame);
      case 'resync':
        // The primary's log parts from ours at frame.fromLsn: cut there and ask again.
        return this.exclusive(async () => {
          await this.cut(frame.fromLsn);
          this.sendResync('epoch');
        });
      case 'error':
        this.context.log('warn', 'replication.primary_refused', { shard: this.shard, primary: this.primary.node, code: frame.code, message: frame.message });
        // MOVED / UNKNOWN_SHARD: the primary is not (yet) serving the shard; reconnect with backoff.
        this.link?.close();
        return;
      default:
        this.onBadFrame(new Error(`a ${frame.type} frame is not expected by a shadow`));
    }
  }

  private onBadFrame(error: Error): void {
    this.context.stats.badFrames++;
    this.context.log('warn', 'replication.bad_frame', { shard: this.shard, primary: this.primary.node, message: error.message });
    if (this.awaitingLsn === undefined) this.sendResync('gap');
  }

  private onReplicationFrame(frame: WireFrame): void {
    if (frame.shard !== this.shard) return this.onBadFrame(new Error(`frame for shard ${frame.shard} on the link of shard ${this.shard}`));
    if (frame.epoch > this.epoch) {
      // An entry of an epoch this shadow was not told to follow: its source was promoted again, and
      // only the coordinator may say whether this shadow belongs to that epoch (a follow command).
      this.context.log('warn', 'replication.frame_above_follow_epoch', { shard: this.shard, primary: this.primary.node, frameEpoch: frame.epoch, followEpoch: this.epoch });
      this.link?.close();
      return;
    }
    if (this.awaitingLsn !== undefined) {
      if (frame.lsn !== this.awaitingLsn) return; // a leftover of the stream before the resync
      this.awaitingLsn = undefined;
    }
    this.state = 'streaming';
    this.context.stats.framesReceived++;
    this.lagMs = Math.max(0, this.context.options.clock.now() - frame.ts);
    this.context.options.metrics?.recordReplicationLag(this.lagMs);
    this.host.replica().receive(frame).then(
      () => this.ackSoon(),
      (error: Error) => this.onReceiveError(error),
    );
  }

  private onReceiveError(error: Error): void {
    if (this.stopped || this.awaitingLsn !== undefined) return; // already re-asking
    if (!isStoreError(error)) throw error;
    const replica = this.host.replica();
    this.context.log('warn', 'replication.receive_refused', { shard: this.shard, code: error.code, message: error.message });
    switch ((error as StoreError).code) {
      case 'LOG_DIVERGED':
        this.awaitingLsn = -1;
        return this.exclusive(async () => {
          await this.cut(Number(error.details['lsn']));
          this.sendResync('epoch');
        });
      case 'APPLY_FAILED':
        this.awaitingLsn = -1;
        return this.exclusive(async () => {
          await this.cut(replica.appliedLsn + 1);
          this.sendResync('gap');
        });
      case 'ROLLBACK_WINDOW_FULL':
        this.awaitingLsn = -1;
        return this.exclusive(async () => {
          await sleep(this.context.options.reconnectDelayMaxMs, this.stopping.signal);
          if (!this.stopped) this.sendResync('gap');
        });
      case 'STALE_EPOCH':
        // The primary streams at an epoch below ours: it is not the primary any more.
        this.link?.close();
        return;
      case 'WRONG_ROLE':
      case 'CLOSED':
      case 'IO_ERROR':
        return;
      default:
        this.context.stats.badFrames++;
        this.sendResync('gap');
    }
  }

  private onSnapshotChunk(frame: SnapshotFrame): void {
    if (frame.seq === 0) this.snapshot = { lsn: frame.lsn, epoch: frame.epoch, seq: -1, bytes: 0, entries: [] };
    const snapshot = this.snapshot;
    if (!snapshot || frame.seq !== snapshot.seq + 1 || frame.lsn !== snapshot.lsn) return this.onBadFrame(new Error(`snapshot chunk ${frame.seq} out of order`));
    snapshot.seq = frame.seq;
    this.awaitingLsn = undefined;
    for (const entry of frame.entries) {
      snapshot.bytes += entry.key.length + entry.value.length;
      snapshot.entries.push({ key: entry.key, value: entry.value, lsn: entry.lsn ?? frame.lsn });
    }
    if (snapshot.bytes > this.context.options.maxSnapshotBytes) {
      this.snapshot = undefined;
      this.context.log('error', 'replication.snapshot_too_large', { shard: this.shard, limit: this.context.options.maxSnapshotBytes });
      this.link?.close();
      return;
    }
    if (!frame.done) return;
    this.snapshot = undefined;
    this.state = 'installing-snapshot';
    this.exclusive(async () => {
      await this.host.installSnapshot(snapshot.entries, snapshot.lsn, snapshot.epoch);
      this.context.stats.snapshotsInstalled++;
      this.awaitingLsn = snapshot.lsn + 1;
      this.state = 'streaming';
      this.ackSoon();
    });
  }

  /** Cuts the replica's log from `fromLsn` on (a conflict file keeps what was cut). */
  private async cut(fromLsn: number): Promise<void> {
    const replica = this.host.replica();
    if (replica.lastLsn < fromLsn) return;
    const result = await replica.truncateAfter(fromLsn - 1, this.cutReason);
    if (result.path) {
      this.savedTo = result.path;
      this.context.stats.conflictFiles++;
    }
  }

  /** Runs an async step (cut, install) with incoming frames held back until it ends. */
  private exclusive(task: () => Promise<void>): void {
    this.busy = task()
      .catch((error: Error) => {
        this.context.log('error', 'replication.follow_step_failed', { shard: this.shard, message: error.message });
        this.link?.close();
      })
      .finally(() => {
        this.busy = undefined;
        this.drainQueue();
      });
  }

  private drainQueue(): void {
    while (this.queue.length > 0 && !this.busy && !this.stopped) this.handle(this.queue.shift()!);
    if (this.queueOverflowed && !this.busy) {
      this.queueOverflowed = false;
      this.sendResync('gap');
    }
  }

  private ackSoon(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      this.sendAck();
    });
  }

  private sendAck(): void {
    if (!this.link || this.stopped) return;
    const replica = this.host.replica();
    // Cumulative: a refused send (full buffer) is made good by the next one.
    this.link.send({ type: 'ack', shard: this.shard, epoch: Math.max(this.epoch, replica.epoch), receivedLsn: replica.receivedLsn, appliedLsn: replica.appliedLsn });
  }

  /** The follower's epoch (raised by a later follow command). */
  setEpoch(epoch: number): void {
    this.epoch = Math.max(this.epoch, epoch);
  }
}
