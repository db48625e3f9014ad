/**
 * The replication bandwidth cap: a token bucket in bytes shared by every catch-up and snapshot
 * stream of a host. Live frames are never held back by it (that would hold client writes), but
 * they spend tokens too, so background catch-up yields to them.
 */
import assert from 'node:assert/strict';

export class TokenBucket {
  private tokens: number;
  private refilledAtMs: number;

  /** `bytesPerSecond` 0 means no cap; the burst is one second's worth. */
  constructor(
    private readonly bytesPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    assert.ok(bytesPerSecond >= 0);
    this.tokens = bytesPerSecond;
    this.refilledAtMs = now();
  }

  /** Spends `bytes` if the bucket holds them; otherwise returns the ms to wait before asking again. */
  take(bytes: number): number {
    if (this.bytesPerSecond === 0) return 0;
    this.refill();
    if (this.tokens >= Math.min(bytes, this.bytesPerSecond)) {
      this.tokens -= bytes;
      return 0;
    }
    return Math.max(1, Math.ceil(((Math.min(bytes, this.bytesPerSecond) - this.tokens) * 1000) / this.bytesPerSecond));
  }

  /** Spends `bytes` unconditionally (live frames); the balance may go negative. */
  spend(bytes: number): void {
    if (this.bytesPerSecond === 0) return;
    this.refill();
    this.tokens -= bytes;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.bytesPerSecond, this.tokens + ((now - this.refilledAtMs) * this.bytesPerSecond) / 1000);
    this.refilledAtMs = now;
  }
}
