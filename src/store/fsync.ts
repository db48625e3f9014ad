/**
 * fsync policies and the group-commit scheduler of the log. An append is acknowledged (its promise
 * resolves) only once the policy's durability is reached:
 * - `always`: every write is followed by an fdatasync before it is acknowledged. Appends that arrive
 *   while a sync is running share the next one, so throughput still scales with concurrency.
 * - `batch`: appends collect for `batchMs`, then one write and one fdatasync cover them all.
 * - `none`: one write per `batchMs`, never an fsync. UNSAFE: an acknowledged write survives a
 *   process crash (it is in the page cache) but not a power loss or kernel crash.
 */
import assert from 'node:assert/strict';

export type FsyncPolicy = 'always' | 'batch' | 'none';
export const FSYNC_POLICIES: readonly FsyncPolicy[] = ['always', 'batch', 'none'];

/** Runs `flushOnce` according to the policy whenever work is pending, one flush at a time. */
export class GroupCommit {
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly policy: FsyncPolicy,
    private readonly batchMs: number,
    /** Writes (and, unless the policy is `none`, syncs) one batch of pending appends. */
    private readonly flushOnce: () => Promise<void>,
    private readonly hasPending: () => boolean,
  ) {
    assert.ok(FSYNC_POLICIES.includes(policy), `unknown fsync policy ${policy}`);
    assert.ok(batchMs >= 0);
  }

  /** Called after an append: makes sure a flush will run. */
  request(): void {
    if (this.timer !== undefined || this.running !== undefined) return;
    if (this.policy === 'always') this.timer = setImmediate(() => this.fire());
    else this.timer = setTimeout(() => this.fire(), this.batchMs);
  }

  /** Flushes everything pending now, without waiting for the batch timer. */
  async drain(): Promise<void> {
    while (this.running !== undefined || this.hasPending()) {
      if (this.running === undefined) {
        this.cancelTimer();
        this.start();
      }
      await this.running;
    }
  }

  /** Stops the timer; pending work stays pending. */
  cancelTimer(): void {
    if (this.timer === undefined) return;
    if (this.policy === 'always') clearImmediate(this.timer as NodeJS.Immediate);
    else clearTimeout(this.timer as NodeJS.Timeout);
    this.timer = undefined;
  }

  private fire(): void {
    this.timer = undefined;
    if (this.running === undefined) this.start();
  }

  private start(): void {
    this.running = this.flushOnce().finally(() => {
      this.running = undefined;
      // Appends that arrived during this flush form the next group.
      if (this.hasPending()) this.request();
    });
  }
}
