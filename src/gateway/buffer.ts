/**
 * The per-shard buffer of DESIGN.md §3 step 1 and §5.1: while a shard's writes are `paused` (or
 * its primary answered `FENCED`), every request for it, read or write, waits here; when the
 * routing table points at a primary with writes open, the buffer is released in arrival order, so
 * the new primary receives the requests in the order the gateway took them. A shard whose primary
 * cannot be reached is held the same way ({@link ShardBuffers.suspend}), and also released now and
 * then to try that primary again, since a link can fail for a moment with no routing change.
 *
 * Bounds: at most `maxBufferedOps` requests and `maxBufferedBytes` key+value bytes per shard (the
 * next one is refused at once), and no request waits longer than `maxPauseMs`. Both end as
 * UNAVAILABLE with `retryAfterMs`; a request refused here was never sent, so a retry is safe.
 */
import { unavailable, type GatewayError } from './errors.js';

/** Bounds of the buffer (from the gateway options). */
export interface ShardBufferLimits {
  maxPauseMs: number;
  maxBufferedOps: number;
  maxBufferedBytes: number;
  retryAfterMs: number;
}

/** Why held requests were let go: the routing table opened the shard, or a lost primary is to be tried again. */
export type Release = 'routed' | 'recheck';

interface Held {
  bytes: number;
  deadlineMs: number;
  resolve(release: Release): void;
  reject(error: GatewayError): void;
}

interface ShardHold {
  /** Held until the routing version is above this (a FENCED answer was seen at this version); -1: no such wait. */
  untilVersionAbove: number;
  /** Whether a FENCED answer is among the waits: then only a newer routing table releases the shard. */
  fenced: boolean;
  /** The timed release of a shard whose primary was lost ({@link ShardBuffers.suspend}). */
  recheck: ReturnType<typeof setTimeout> | undefined;
  queue: Held[];
  /** Index of the first live entry (the queue is compacted when it is half dead). */
  head: number;
  bytes: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Counters for `/metrics`. */
export interface ShardBufferCounters {
  /** Requests held, each counted once however often it is held again. */
  held: number;
  /** Holds of a request held before and let go: a recheck found its primary still lost, or the primary answered FENCED. */
  reheld: number;
  released: number;
  /** Requests let go to try a lost primary again (they may be held again). */
  rechecked: number;
  refusedFull: number;
  expired: number;
}

/** Every shard's buffer. `now` is injectable so tests can drive the clock. */
export class ShardBuffers {
  private readonly holds = new Map<number, ShardHold>();
  readonly counters: ShardBufferCounters = { held: 0, reheld: 0, released: 0, rechecked: 0, refusedFull: 0, expired: 0 };

  constructor(
    private readonly limits: ShardBufferLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether requests for `shard` are being held (new ones must queue behind them). */
  holding(shard: number): boolean {
    return this.holds.has(shard);
  }

  /** Requests held over every shard. */
  size(): number {
    let total = 0;
    for (const hold of this.holds.values()) total += hold.queue.length - hold.head;
    return total;
  }

  /** Keeps `shard` held until the routing version is above `version` (its primary said FENCED). */
  fence(shard: number, version: number): void {
    const hold = this.open(shard);
    hold.untilVersionAbove = Math.max(hold.untilVersionAbove, version);
    hold.fenced = true;
  }

  /**
   * Holds `shard` because its primary, routed at `version`, cannot be reached: until a newer routing
   * version opens the shard (the coordinator failed it over), or for `recheckMs`, whichever comes
   * first. After `recheckMs` the held requests are let go with `recheck` to try the primary again,
   * unless a FENCED answer also holds the shard; a request that finds it still unreachable comes back.
   */
  suspend(shard: number, version: number, recheckMs: number): void {
    const hold = this.open(shard);
    hold.untilVersionAbove = Math.max(hold.untilVersionAbove, version);
    if (hold.recheck !== undefined) return;
    hold.recheck = setTimeout(() => {
      hold.recheck = undefined;
      if (hold.fenced || this.holds.get(shard) !== hold) return;
      this.release(shard, hold, 'recheck');
    }, recheckMs);
  }

  /**
   * Holds one request of `bytes` key+value bytes for `shard`. Resolves, with why, when the shard is
   * released; rejects with UNAVAILABLE when the buffer is full or the request waited `maxPauseMs`.
   * `again` says the request was held before (the counters count each request once as `held`).
   */
  hold(shard: number, bytes: number, again = false): Promise<Release> {
    const hold = this.open(shard);
    const live = hold.queue.length - hold.head;
    if (live >= this.limits.maxBufferedOps || hold.bytes + bytes > this.limits.maxBufferedBytes) {
      this.counters.refusedFull++;
      return Promise.reject(unavailable(`shard ${shard} is switching and its buffer is full`, this.limits.retryAfterMs));
    }
    this.counters[again ? 'reheld' : 'held']++;
    return new Promise((resolve, reject) => {
      hold.queue.push({ bytes, deadlineMs: this.now() + this.limits.maxPauseMs, resolve, reject });
      hold.bytes += bytes;
      if (hold.timer === undefined) this.arm(shard, hold);
    });
  }

  /**
   * Called on every routing change, per held shard, with whether the shard now has a primary with
   * writes open. Releases the shard in arrival order when it does and no FENCED wait remains.
   */
  update(shard: number, routingVersion: number, open: boolean): void {
    const hold = this.holds.get(shard);
    if (!hold || !open || routingVersion <= hold.untilVersionAbove) return;
    this.release(shard, hold, 'routed');
  }

  /** Refuses everything held for `shard` (the shard became unavailable) with UNAVAILABLE. */
  refuseAll(shard: number, message: string): void {
    const hold = this.holds.get(shard);
    if (!hold) return;
    this.close(shard, hold);
    for (let index = hold.head; index < hold.queue.length; index++) hold.queue[index]!.reject(unavailable(message, this.limits.retryAfterMs));
  }

  /** The shards that hold requests. */
  heldShards(): number[] {
    return [...this.holds.keys()];
  }

  /** Refuses everything (the gateway is closing). */
  closeAll(): void {
    for (const shard of this.heldShards()) this.refuseAll(shard, 'gateway is closing');
  }

  private open(shard: number): ShardHold {
    let hold = this.holds.get(shard);
    if (!hold) {
      hold = { untilVersionAbove: -1, fenced: false, recheck: undefined, queue: [], head: 0, bytes: 0, timer: undefined };
      this.holds.set(shard, hold);
    }
    return hold;
  }

  private close(shard: number, hold: ShardHold): void {
    if (hold.timer !== undefined) clearTimeout(hold.timer);
    if (hold.recheck !== undefined) clearTimeout(hold.recheck);
    hold.timer = undefined;
    hold.recheck = undefined;
    this.holds.delete(shard);
  }

  /** Ends the hold and lets its requests go, in arrival order. */
  private release(shard: number, hold: ShardHold, release: Release): void {
    this.close(shard, hold);
    for (let index = hold.head; index < hold.queue.length; index++) {
      this.counters[release === 'routed' ? 'released' : 'rechecked']++;
      hold.queue[index]!.resolve(release);
    }
  }

  /** One timer per shard, for the oldest request: the queue is in deadline order. */
  private arm(shard: number, hold: ShardHold): void {
    const oldest = hold.queue[hold.head];
    if (!oldest) return;
    hold.timer = setTimeout(() => this.expire(shard, hold), Math.max(0, oldest.deadlineMs - this.now()));
  }

  private expire(shard: number, hold: ShardHold): void {
    hold.timer = undefined;
    const nowMs = this.now();
    while (hold.head < hold.queue.length && hold.queue[hold.head]!.deadlineMs <= nowMs) {
      const entry = hold.queue[hold.head++]!;
      hold.bytes -= entry.bytes;
      this.counters.expired++;
      entry.reject(unavailable(`shard ${shard} did not come back within ${this.limits.maxPauseMs} ms`, this.limits.retryAfterMs));
    }
    if (hold.head > 1024 && hold.head * 2 > hold.queue.length) {
      hold.queue.splice(0, hold.head);
      hold.head = 0;
    }
    // An emptied hold stays in place: the shard is still paused, and later requests must keep waiting.
    this.arm(shard, hold);
  }
}
