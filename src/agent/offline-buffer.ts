/**
 * The bounded buffer of outgoing messages kept while the broker cannot take them (issue 5, "Broker
 * restarts"). It keeps the latest messages: when a new one does not fit under the message or byte
 * limit, the oldest are dropped and counted by kind. Nothing queues without bound, and a long outage
 * costs at most the limits, however long it lasts.
 */
import assert from 'node:assert/strict';

/** One message waiting to be published. */
export interface BufferedMessage {
  /** The message kind, for the dropped counts (`metrics`, `score`, `command-result`). */
  readonly kind: string;
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

/** Drop counts by kind, and the totals. */
export interface OfflineBufferCounts {
  bufferedMessages: number;
  bufferedBytes: number;
  droppedTotal: number;
  droppedByKind: Record<string, number>;
}

/** A FIFO bounded by message count and bytes that drops its oldest entries. */
export class OfflineBuffer {
  private readonly entries: BufferedMessage[] = [];
  /** Index of the oldest live entry; entries before it were taken, compacted now and then. */
  private head = 0;
  private bytes = 0;
  private droppedTotal = 0;
  private readonly droppedByKind = new Map<string, number>();

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {
    assert.ok(Number.isInteger(maxMessages) && maxMessages >= 1, 'maxMessages must be a positive integer');
    assert.ok(Number.isInteger(maxBytes) && maxBytes >= 1, 'maxBytes must be a positive integer');
  }

  /** Messages waiting. */
  get size(): number {
    return this.entries.length - this.head;
  }

  /** Adds `message` as the newest, dropping the oldest until it fits. A message larger than the whole buffer is dropped itself. */
  push(message: BufferedMessage): void {
    if (message.payload.byteLength > this.maxBytes) {
      this.countDrop(message.kind);
      return;
    }
    while (this.size >= this.maxMessages || this.bytes + message.payload.byteLength > this.maxBytes) {
      const oldest = this.shift();
      assert.ok(oldest !== undefined, 'offline buffer over its limits while empty');
      this.countDrop(oldest.kind);
    }
    this.entries.push(message);
    this.bytes += message.payload.byteLength;
  }

  /** Removes and returns the oldest message, or undefined when empty. */
  shift(): BufferedMessage | undefined {
    if (this.head >= this.entries.length) return undefined;
    const message = this.entries[this.head]!;
    this.head += 1;
    this.bytes -= message.payload.byteLength;
    // Compact once the taken prefix is at least half the array, so shifting stays O(1) amortised.
    if (this.head * 2 >= this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
    return message;
  }

  /** Counts for `/metrics`. */
  counts(): OfflineBufferCounts {
    return { bufferedMessages: this.size, bufferedBytes: this.bytes, droppedTotal: this.droppedTotal, droppedByKind: Object.fromEntries(this.droppedByKind) };
  }

  private countDrop(kind: string): void {
    this.droppedTotal += 1;
    this.droppedByKind.set(kind, (this.droppedByKind.get(kind) ?? 0) + 1);
  }
}
