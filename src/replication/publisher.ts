/**
 * The primary side of one shard: it hears every write the replica accepts (`onFrame`), keeps the
 * ones not yet durable in memory (catch-up reads the log only through its durable end), hands
 * them to the live streams, and counts shadow acks for the write path. It lives while the replica
 * is primary or fenced (a fenced primary still feeds the shadow about to be promoted).
 */
import { Fifo } from '../store/fifo.js';
import type { PreviousVersion, Replica, ReplicationFrame } from '../store/index.js';
import { AckTracker } from './acks.js';
import type { HostContext } from './context.js';
import { ReplicationError } from './errors.js';
import { OutgoingFrame } from './outgoing.js';
import { ShadowStream } from './stream.js';
import type { ShadowProgress } from './types.js';
import type { ConnectionWriter } from './writer.js';

/** A write not yet durable on the primary; encoded for the wire on first use. */
export class PendingWrite {
  private built: OutgoingFrame | undefined;

  constructor(
    private readonly frame: ReplicationFrame,
    private readonly previous: PreviousVersion | undefined,
    private readonly context: HostContext,
  ) {}

  get lsn(): number {
    return this.frame.lsn;
  }

  /** The wire form (delta or literal), built once and shared by every stream. */
  outgoing(): OutgoingFrame {
    this.built ??= OutgoingFrame.build(this.frame, this.previous, this.context.options.deltas, this.context.options.limits);
    return this.built;
  }
}

/** What the publisher answers to a shadow's `resync`. */
export type ResyncAnswer = { kind: 'stream'; stream: ShadowStream } | { kind: 'cut'; fromLsn: number };

export class ShardPublisher {
  readonly acks: AckTracker;
  private readonly pending = new Fifo<PendingWrite>();
  private readonly streams = new Set<ShadowStream>();
  private readonly unsubscribe: () => void;

  constructor(
    readonly replica: Replica,
    private readonly context: HostContext,
  ) {
    this.acks = new AckTracker(replica.options.shard, context.options.minShadowAcks, context.options.ackTimeoutMs, context.stats);
    this.unsubscribe = replica.onFrame((frame, previous) => this.onWrite(frame, previous));
  }

  private onWrite(frame: ReplicationFrame, previous: PreviousVersion | undefined): void {
    const durableLsn = this.replica.receivedLsn;
    while (this.pending.length > 0 && this.pending.peek()!.lsn <= durableLsn) this.pending.shift();
    const write = new PendingWrite(frame, previous, this.context);
    this.pending.push(write);
    for (const stream of this.streams) stream.offerLive(write);
  }

  /** The writes in memory from `lsn` on, in lsn order. */
  pendingFrom(lsn: number): PendingWrite[] {
    return this.pending.toArray().filter((w) => w.lsn >= lsn);
  }

  /**
   * Answers a shadow's `resync`: when the shadow's record at `fromLsn - 1` (epoch `lastEpoch`) is
   * not in this log's history, the logs part earlier and the shadow must cut (Kafka's
   * OffsetsForLeaderEpoch); otherwise a stream starts at `fromLsn`.
   */
  resync(node: string, writer: ConnectionWriter, fromLsn: number, lastEpoch: number | undefined): ResyncAnswer {
    const heldLsn = fromLsn - 1;
    const sharedThrough = lastEpoch === undefined ? this.replica.lastLsn : this.replica.epochEnd(lastEpoch);
    if (heldLsn > sharedThrough) return { kind: 'cut', fromLsn: sharedThrough + 1 };
    const stream = new ShadowStream(node, this.replica.options.shard, this, writer, this.context);
    this.streams.add(stream);
    this.acks.setConnected(node, true);
    stream.start(fromLsn);
    return { kind: 'stream', stream };
  }

  /** A shadow's cumulative ack, capped at what this stream has sent it (or what it held when it started). */
  onAck(stream: ShadowStream, receivedLsn: number, appliedLsn: number): void {
    if (!this.streams.has(stream)) return;
    const vouched = Math.min(receivedLsn, stream.nextLsn - 1);
    this.acks.onAck(stream.node, vouched, Math.min(appliedLsn, vouched));
  }

  /** The stream ended (connection closed or replaced). */
  endStream(stream: ShadowStream): void {
    stream.stop();
    if (!this.streams.delete(stream)) return;
    const stillConnected = [...this.streams].some((s) => s.node === stream.node);
    if (!stillConnected) this.acks.setConnected(stream.node, false);
  }

  /** A stream failed on a log read; it is dropped like a closed connection. */
  failStream(stream: ShadowStream): void {
    this.endStream(stream);
  }

  /** What the primary knows of its shadows. */
  shadows(): ShadowProgress[] {
    const phases = new Map([...this.streams].map((s) => [s.node, s.phase] as const));
    return [...this.acks.progress()].map(([node, state]) => ({ node, connected: state.connected, receivedLsn: state.receivedLsn, appliedLsn: state.appliedLsn, phase: phases.get(node) ?? 'idle' }));
  }

  /** Stops every stream and fails the writes still waiting for acks. */
  close(reason: string): void {
    this.unsubscribe();
    for (const stream of this.streams) stream.stop();
    this.streams.clear();
    this.acks.close(new ReplicationError('CLOSED', `shard ${this.replica.options.shard}: ${reason}`));
  }
}
