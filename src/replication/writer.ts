/**
 * The one write path of a data port connection (server side, uWebSockets.js). Every send goes
 * through `send`, which checks uWS's answer (1 sent, 0 buffered under backpressure, 2 dropped)
 * and never lets a frame be lost silently: past uWS's own buffer frames wait in a bounded queue,
 * the queue drains on uWS's `drain` event, and a connection that stays congested past the stall
 * timeout, or whose queue outgrows its limit, is closed (its shadow then reconnects and catches up
 * from the log). Producers ask `congested` and wait with `whenDrained` (the Aedes write.js pattern).
 */
import type { WebSocket } from 'uWebSockets.js';
import { Fifo } from '../store/fifo.js';

/** uWS `send` results. */
const SEND_DROPPED = 2;

/** Buffered bytes in uWS above which a producer should pause (and below which `drain` resumes it). */
export const HIGH_WATER_BYTES = 1024 * 1024;

/** Limits of one connection's write path. */
export interface WriterLimits {
  /** Bytes queued beyond uWS's buffer before the connection is closed. */
  bufferLimitBytes: number;
  /** Congested without any drain progress for this long: the connection is closed. */
  stallTimeoutMs: number;
}

/** Why a writer closed its connection. */
export type WriterCloseReason = 'buffer-limit' | 'stalled';

export class ConnectionWriter {
  private readonly queue = new Fifo<Uint8Array>();
  private queuedBytes = 0;
  /** Frames of the current event-loop turn, sent together by {@link flushBatch}. */
  private batch: Uint8Array[] = [];
  private batchBytes = 0;
  private stallTimer: NodeJS.Timeout | undefined;
  private drainWaiters: (() => void)[] = [];
  private open = true;
  /** Bytes handed to uWS so far. */
  bytesSent = 0;

  constructor(
    private readonly ws: WebSocket<unknown>,
    private readonly limits: WriterLimits,
    private readonly onGiveUp: (reason: WriterCloseReason) => void,
  ) {}

  /** False once the connection closed (the producer stops). */
  get isOpen(): boolean {
    return this.open;
  }

  /** True while the producer should hold off: frames are queued, or uWS holds more than the high-water mark. */
  get congested(): boolean {
    return this.open && (this.queue.length > 0 || this.batchBytes > HIGH_WATER_BYTES || this.ws.getBufferedAmount() > HIGH_WATER_BYTES);
  }

  /** Sends one binary frame, or queues it behind earlier ones; false when the connection is (now) closed. */
  send(bytes: Uint8Array): boolean {
    if (!this.open) return false;
    if (this.queue.length === 0) {
      // Frames sent in the same turn of the event loop (responses resolving together, a burst of
      // replication frames) leave in one corked uWS write, one syscall, after this turn.
      this.batch.push(bytes);
      this.batchBytes += bytes.byteLength;
      if (this.batch.length === 1) setImmediate(() => this.flushBatch());
      return true;
    }
    return this.enqueue(bytes);
  }

  /** Sends this turn's frames now rather than after the turn (before the connection is closed). */
  flushPending(): void {
    if (this.batch.length > 0) this.flushBatch();
  }

  /** Sends this turn's frames in order in one cork; those uWS cannot take now wait in the queue. */
  private flushBatch(): void {
    if (this.batch.length === 0) return; // already sent by flushPending
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    if (!this.open) return;
    this.ws.cork(() => {
      for (const bytes of batch) {
        if (this.queue.length > 0 || !this.trySend(bytes)) {
          if (!this.enqueue(bytes)) return;
        }
      }
    });
    if (!this.congested) this.wake();
  }

  private enqueue(bytes: Uint8Array): boolean {
    this.queue.push(bytes);
    this.queuedBytes += bytes.byteLength;
    this.armStall();
    if (this.queuedBytes > this.limits.bufferLimitBytes) {
      this.giveUp('buffer-limit');
      return false;
    }
    return true;
  }

  /** Resolves once the connection is no longer congested (or closed). */
  whenDrained(): Promise<void> {
    if (!this.congested) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** uWS `drain`: moves queued frames into uWS while it has room, then wakes the producers. */
  onDrain(): void {
    if (!this.open) return;
    while (this.queue.length > 0 && this.ws.getBufferedAmount() <= HIGH_WATER_BYTES) {
      const next = this.queue.peek()!;
      if (!this.trySend(next)) break;
      this.queue.shift();
      this.queuedBytes -= next.byteLength;
    }
    if (this.congested) {
      this.armStall(true);
      return;
    }
    this.clearStall();
    this.wake();
  }

  /** The connection closed (uWS `close`): stop sending, wake producers so they notice. */
  onClosed(): void {
    this.open = false;
    this.clearStall();
    this.queue.retain(() => false);
    this.queuedBytes = 0;
    this.wake();
  }

  /** uWS may refuse a frame when its buffer is at maxBackpressure (2); it is then ours to keep. */
  private trySend(bytes: Uint8Array): boolean {
    const status = this.ws.send(bytes, true, false);
    if (status === SEND_DROPPED) return false;
    this.bytesSent += bytes.byteLength;
    if (this.ws.getBufferedAmount() > HIGH_WATER_BYTES) this.armStall();
    return true;
  }

  private armStall(restart = false): void {
    if (this.stallTimer && !restart) return;
    this.clearStall();
    this.stallTimer = setTimeout(() => this.giveUp('stalled'), this.limits.stallTimeoutMs);
    this.stallTimer.unref();
  }

  private clearStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private giveUp(reason: WriterCloseReason): void {
    if (!this.open) return;
    this.onGiveUp(reason);
    // 1013 "try again later" (RFC 6455 registry): the peer reconnects and resumes from the log.
    this.ws.end(1013, `send ${reason}`);
    this.onClosed();
  }

  private wake(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
