/**
 * The clock a replica reads (ts of writes, arrival times) and the timers it sets (delayed apply).
 * Injected, so tests and simulations run shadows in simulated time with `ManualClock`.
 */
import assert from 'node:assert/strict';

export interface Clock {
  /** Wall-clock milliseconds since the Unix epoch. */
  now(): number;
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

/** The real clock: Date.now and setTimeout. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface ManualTimer {
  id: number;
  dueMs: number;
  callback: () => void;
}

/** A clock that moves only when told to; `advance` fires due timers in due order. */
export class ManualClock implements Clock {
  private timers: ManualTimer[] = [];
  private nextId = 1;

  constructor(private nowMs = 1_700_000_000_000) {}

  /** The simulated wall-clock time in ms. */
  now(): number {
    return this.nowMs;
  }

  /** Schedules `callback` at now + delayMs (simulated). */
  setTimer(callback: () => void, delayMs: number): unknown {
    assert.ok(delayMs >= 0);
    const timer = { id: this.nextId++, dueMs: this.nowMs + delayMs, callback };
    this.timers.push(timer);
    return timer.id;
  }

  /** Cancels a timer from `setTimer`. */
  clearTimer(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    assert.ok(ms >= 0);
    const target = this.nowMs + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.dueMs <= target).sort((a, b) => a.dueMs - b.dueMs || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.nowMs = Math.max(this.nowMs, due.dueMs);
      due.callback();
    }
    this.nowMs = target;
  }
}
