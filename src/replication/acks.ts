/**
 * Write acknowledgement on a primary (DESIGN.md §2): a write is answered only once at least
 * `minShadowAcks` shadows have acknowledged its lsn as durably received. Acks are cumulative, so
 * the writes waiting form an lsn-ordered queue and are released from its head. Each write has a
 * deadline; past it the write fails UNAVAILABLE (too few shadows connected) or TIMEOUT (enough
 * connected, too slow), and never succeeds early. Deadlines grow with lsn, so one timer on the
 * head serves them all.
 */
import assert from 'node:assert/strict';
import { Fifo } from '../store/fifo.js';
import { ReplicationError } from './errors.js';

interface Waiter {
  lsn: number;
  deadlineMs: number;
  settled: boolean;
  resolve(): void;
  reject(error: Error): void;
}

/** A shadow's acknowledged progress, as the primary tracks it. */
export interface ShadowAckState {
  receivedLsn: number;
  appliedLsn: number;
  connected: boolean;
}

export class AckTracker {
  private readonly shadows = new Map<string, ShadowAckState>();
  private readonly waiters = new Fifo<Waiter>();
  private timer: NodeJS.Timeout | undefined;
  private closedError: Error | undefined;
  private lastWaitLsn = 0;
  constructor(
    private readonly shard: number,
    private readonly minShadowAcks: number,
    private readonly ackTimeoutMs: number,
    /** Where released and failed writes are counted (the host's stats). */
    private readonly counters: { writesAcknowledged: number; writesUnavailable: number; writesTimedOut: number },
  ) {}

  /** Every shadow that has connected at this epoch. */
  progress(): ReadonlyMap<string, Readonly<ShadowAckState>> {
    return this.shadows;
  }

  /** Shadows connected now. */
  connectedCount(): number {
    let count = 0;
    for (const s of this.shadows.values()) if (s.connected) count++;
    return count;
  }

  /** Marks a shadow connected (a stream started) or gone; what it acknowledged stays acknowledged. */
  setConnected(node: string, connected: boolean): void {
    const state = this.shadows.get(node) ?? { receivedLsn: 0, appliedLsn: 0, connected };
    state.connected = connected;
    this.shadows.set(node, state);
  }

  /** A shadow's cumulative ack; releases the writes it completes. */
  onAck(node: string, receivedLsn: number, appliedLsn: number): void {
    const state = this.shadows.get(node);
    if (!state) return;
    state.receivedLsn = Math.max(state.receivedLsn, receivedLsn);
    state.appliedLsn = Math.max(state.appliedLsn, appliedLsn);
    this.release();
  }

  /** Resolves once `lsn` is acknowledged by minShadowAcks shadows; rejects at the deadline. */
  wait(lsn: number, nowMs = performance.now()): Promise<void> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.ackCount(lsn) >= this.minShadowAcks) {
      this.counters.writesAcknowledged++;
      return Promise.resolve();
    }
    assert.ok(lsn >= this.lastWaitLsn, 'writes wait in lsn order');
    this.lastWaitLsn = lsn;
    return new Promise((resolve, reject) => {
      this.waiters.push({ lsn, deadlineMs: nowMs + this.ackTimeoutMs, settled: false, resolve, reject });
      this.armTimer();
    });
  }

  /** Fails every waiting write with `error` (the shard was fenced away, or the host closes). */
  close(error: Error): void {
    this.closedError = error;
    while (this.waiters.length > 0) this.settle(this.waiters.shift()!, error);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private ackCount(lsn: number): number {
    let count = 0;
    for (const s of this.shadows.values()) if (s.receivedLsn >= lsn) count++;
    return count;
  }

  private release(): void {
    while (this.waiters.length > 0) {
      const head = this.waiters.peek()!;
      if (!head.settled && this.ackCount(head.lsn) < this.minShadowAcks) break;
      this.waiters.shift();
      if (!head.settled) {
        this.counters.writesAcknowledged++;
        this.settle(head);
      }
    }
    if (this.waiters.length === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private armTimer(): void {
    if (this.timer || this.waiters.length === 0) return;
    const waitMs = Math.max(0, this.waiters.peek()!.deadlineMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.expire(performance.now());
      this.armTimer();
    }, waitMs);
  }

  private expire(nowMs: number): void {
    const connected = this.connectedCount();
    while (this.waiters.length > 0 && this.waiters.peek()!.deadlineMs <= nowMs) {
      const waiter = this.waiters.shift()!;
      const acks = this.ackCount(waiter.lsn);
      const tooFew = connected < this.minShadowAcks;
      if (tooFew) this.counters.writesUnavailable++;
      else this.counters.writesTimedOut++;
      this.settle(
        waiter,
        new ReplicationError(
          tooFew ? 'UNAVAILABLE' : 'TIMEOUT',
          `shard ${this.shard} lsn ${waiter.lsn}: ${acks} of ${this.minShadowAcks} shadow acks after ${this.ackTimeoutMs} ms (${connected} shadows connected); the write may or may not be durable`,
          { lsn: waiter.lsn, acks, connected },
        ),
      );
    }
  }

  private settle(waiter: Waiter, error?: Error): void {
    if (waiter.settled) return;
    waiter.settled = true;
    if (error) waiter.reject(error);
    else waiter.resolve();
  }
}
