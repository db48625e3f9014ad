/**
 * A shard replica on one host: the log, the state built from it, and its role.
 * - primary: `put`/`del` append and resolve once durable (the acknowledgement); `onFrame` hands
 *   each accepted write to replication at once, so shipping overlaps the local fsync.
 * - shadow: `receive(frame)` stores frames durably in lsn order (receivedLsn) and applies them
 *   `applyDelayMs` later (appliedLsn). Received but unapplied frames are the rollback window.
 * - fenced: a former primary; writes get MOVED with the highest epoch it knows.
 * Every replica refuses lower epochs. Replication drives `promote`, `fence`, `truncateAfter`,
 * `follow` and `rollbackTo`; this file holds no networking.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { writeConflictFile, type ConflictReason } from './conflicts.js';
import { StoreError } from './errors.js';
import { ensureDirectory } from './files.js';
import { Fifo } from './fifo.js';
import { frameToRecord, recordToFrame, validateFrame, type ReplicationFrame } from './frame.js';
import { copyRecord, ShardLog, type LogOpenReport, type LogOptions } from './log.js';
import { readMeta, writeMeta } from './meta.js';
import { resolveReplicaOptions, shardDirectories, type ReplicaOptions, type ReplicaRole, type ShardDirectories } from './options.js';
import { encodeRecord, KEY_MAX_BYTES, VALUE_MAX_BYTES, type LogRecord } from './record.js';
import { listSnapshots, loadLatestSnapshot, writeSnapshot } from './snapshot.js';
import { entryBytes, ShardState } from './state.js';
import { moveSegmentsToCold } from './tier.js';

/** What a durable write returns: its place in the shard's history. */
export interface WriteResult {
  lsn: number;
  epoch: number;
  ts: number;
}

/** What open found and did; logged as `store.open`, and `store.log_cut` when bytes were cut. */
export interface OpenReport {
  shard: number;
  role: ReplicaRole;
  epoch: number;
  snapshotLsn: number;
  damagedSnapshots: string[];
  removedSnapshots: string[];
  replayedRecords: number;
  unappliedRecords: number;
  log: LogOpenReport;
}

/** The key's newest version at the time a write was accepted, for delta encoding by replication. */
export interface PreviousVersion {
  lsn: number;
  value: Buffer;
}

export type FrameListener = (frame: ReplicationFrame, previous: PreviousVersion | undefined) => void;

interface InFlightWrite {
  record: LogRecord;
  charge: number;
  resolve(result: WriteResult): void;
  reject(error: Error): void;
}

interface Unapplied {
  record: LogRecord;
  bytes: number;
}

/** A record's bytes for the rollback-window limit. */
function recordBytes(record: LogRecord): number {
  return 64 + record.key.length + (record.value?.length ?? record.delta?.length ?? 0);
}

/** One shard replica. Create with `Replica.open`. */
export class Replica {
  readonly options: Readonly<ReplicaOptions>;
  readonly dirs: ShardDirectories;
  openReport!: OpenReport;
  private log!: ShardLog;
  private state = new ShardState();
  private roleValue: ReplicaRole;
  private epochValue: number;
  /** Highest lsn accepted into the log queue (assigned on a primary, received on a shadow). */
  private acceptedLsn = 0;
  private lastTs = 0;
  private durableLsn = 0;
  private readonly inFlight = new Fifo<InFlightWrite>();
  private inFlightCharge = 0;
  /** Newest version of each key among writes in flight / frames unapplied, for deltas and their bases. */
  private readonly pendingVersions = new Map<string, { lsn: number; value?: Buffer }>();
  private readonly unapplied = new Fifo<Unapplied>();
  private unappliedBytes = 0;
  private readonly receiveWaiters = new Fifo<{ lsn: number; resolve(): void; reject(error: Error): void }>();
  /** (epoch, first lsn) at every change of epoch in the log, for duplicate and divergence checks. */
  private epochHistory: { epoch: number; firstLsn: number }[] = [];
  private applyTimer: unknown;
  private applyFailure: StoreError | undefined;
  private ioFailure: StoreError | undefined;
  private readonly frameListeners = new Set<FrameListener>();
  private recordsSinceSnapshot = 0;
  private bytesSinceSnapshot = 0;
  private maintenance: Promise<void> | undefined;
  private closed = false;

  private constructor(options: Readonly<ReplicaOptions>, role: ReplicaRole, epoch: number) {
    this.options = options;
    this.dirs = shardDirectories(options.dataDir, options.shard);
    this.roleValue = role;
    this.epochValue = epoch;
  }

  /** Opens (or creates) the replica of `options.shard` under `options.dataDir`, running recovery. */
  static async open(input: Partial<ReplicaOptions> & Pick<ReplicaOptions, 'dataDir' | 'shard'>): Promise<Replica> {
    const options = resolveReplicaOptions(input);
    const dirs = shardDirectories(options.dataDir, options.shard);
    ensureDirectory(dirs.shardDir);
    ensureDirectory(dirs.snapshotDir);
    let meta = readMeta(dirs.metaPath);
    if (!meta) {
      meta = { format: 'foreshard-replica/1', shard: options.shard, role: options.role, epoch: options.epoch };
      writeMeta(dirs.metaPath, meta);
    }
    const replica = new Replica(options, meta.role, meta.epoch);
    replica.recover([]);
    options.logger('info', 'store.open', { ...replica.openReport });
    if (replica.openReport.log.cut) options.logger('warn', 'store.log_cut', { shard: options.shard, ...replica.openReport.log.cut });
    return replica;
  }

  /** The log's fsync hooks: the injected delay on the replica's clock, and the duration callback. */
  private syncHooks(): Pick<LogOptions, 'fsyncDelayMs' | 'onFsync'> {
    const { chaos, onFsync, clock } = this.options;
    return { ...(chaos ? { fsyncDelayMs: () => chaos.fsyncDelayMs(clock.now()) } : {}), ...(onFsync ? { onFsync } : {}) };
  }

  /** Loads the newest good snapshot and replays the log after it; see OpenReport. */
  private recover(removedSnapshots: string[]): void {
    const { snapshot, damaged } = loadLatestSnapshot(this.dirs.snapshotDir);
    this.state = snapshot?.state ?? new ShardState();
    this.epochHistory = [{ epoch: snapshot?.epoch ?? 1, firstLsn: 0 }];
    const replay: LogRecord[] = [];
    const { log, report } = ShardLog.open(
      { logDir: this.dirs.logDir, coldDir: this.dirs.coldDir },
      { fsyncPolicy: this.options.fsyncPolicy, batchMs: this.options.batchMs, segmentMaxBytes: this.options.segmentMaxBytes, maxBatchBytes: this.options.maxBatchBytes, repair: this.options.repair, ...this.syncHooks() },
      this.state.appliedLsn,
      (record) => replay.push(copyRecord(record)),
      { onDurable: (lsn) => this.onDurable(lsn), onError: (error) => this.onLogError(error) },
    );
    // A cut log can end before the newest snapshot (repair cut records the snapshot holds). Its
    // later appends would leave a hole, so drop those snapshots and recover from an older one.
    if (report.lastLsn > 0 && report.lastLsn < this.state.appliedLsn) {
      const stale = listSnapshots(this.dirs.snapshotDir).filter((s) => s.lsn > report.lastLsn);
      for (const s of stale) rmSync(s.path);
      void log.close();
      this.recover([...removedSnapshots, ...stale.map((s) => s.path)]);
      return;
    }
    this.log = log;
    const replayed = this.replay(replay);
    this.acceptedLsn = this.durableLsn = Math.max(log.lastLsn, this.state.appliedLsn);
    this.openReport = {
      shard: this.options.shard, role: this.roleValue, epoch: this.epochValue, snapshotLsn: snapshot?.lsn ?? 0,
      damagedSnapshots: damaged, removedSnapshots, replayedRecords: replayed, unappliedRecords: this.unapplied.length, log: report,
    };
  }

  /** Applies replayed records; on a shadow, those still inside the delay go back to the rollback window. */
  private replay(records: LogRecord[]): number {
    const now = this.options.clock.now();
    let applied = 0;
    for (const record of records) {
      this.noteEpoch(record);
      this.lastTs = Math.max(this.lastTs, record.ts);
      const waiting = this.roleValue === 'shadow' && (this.unapplied.length > 0 || this.applyFailure !== undefined || record.arrivalTs + this.options.applyDelayMs > now);
      if (waiting) {
        this.addUnapplied(record);
        continue;
      }
      try {
        this.state.apply(record);
        applied++;
      } catch (error) {
        this.applyFailure = error as StoreError;
        this.addUnapplied(record);
      }
    }
    if (this.roleValue === 'shadow') this.scheduleApply();
    return applied;
  }

  get role(): ReplicaRole {
    return this.roleValue;
  }

  /** The highest epoch this replica has seen. */
  get epoch(): number {
    return this.epochValue;
  }

  /** Last lsn durable in this replica's log (on a shadow: the received lsn). */
  get receivedLsn(): number {
    return this.durableLsn;
  }

  /** Last lsn applied to the state. */
  get appliedLsn(): number {
    return this.state.appliedLsn;
  }

  /** Last lsn accepted (assigned or received), durable or not. */
  get lastLsn(): number {
    return this.acceptedLsn;
  }

  /** First lsn still in the log (either tier); catch-up below it needs a snapshot. */
  get firstLogLsn(): number {
    return this.log.firstLsn;
  }

  /** The applied value of `key` (a shadow's state lags by applyDelayMs), or undefined. */
  get(key: Uint8Array): Buffer | undefined {
    return this.state.get(key)?.value;
  }

  /** Counters for metrics and tests. */
  stats(): { keys: number; memoryBytes: number; inFlightWrites: number; unappliedFrames: number; unappliedBytes: number; applyFailure?: string } {
    const stats = { keys: this.state.size, memoryBytes: this.state.bytes + this.inFlightCharge, inFlightWrites: this.inFlight.length, unappliedFrames: this.unapplied.length, unappliedBytes: this.unappliedBytes };
    return this.applyFailure ? { ...stats, applyFailure: this.applyFailure.message } : stats;
  }

  /** SHA-256 of the applied state's sorted contents. */
  digest(): string {
    return this.state.digest();
  }

  /** Registers a listener for each write a primary accepts; returns the unsubscribe function. */
  onFrame(listener: FrameListener): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  // ---- primary write path -------------------------------------------------------------------

  /** Writes `key` = `value` on a primary; resolves once durable per the fsync policy. */
  put(key: Uint8Array, value: Uint8Array): Promise<WriteResult> {
    return this.write('put', key, value);
  }

  /** Deletes `key` on a primary; resolves once durable. */
  del(key: Uint8Array): Promise<WriteResult> {
    return this.write('del', key, undefined);
  }

  private write(op: 'put' | 'del', key: Uint8Array, value: Uint8Array | undefined): Promise<WriteResult> {
    try {
      this.checkWritable(key, value);
    } catch (error) {
      return Promise.reject(error);
    }
    const charge = op === 'put' ? entryBytes(key.length, value!.length) : 0;
    const lsn = this.acceptedLsn + 1;
    const ts = Math.max(this.options.clock.now(), this.lastTs);
    const record: LogRecord = { lsn, epoch: this.epochValue, ts, arrivalTs: ts, op, key: Buffer.from(key) };
    if (value) record.value = Buffer.from(value);
    this.log.append(encodeRecord(record), lsn, record.epoch, ts);
    this.acceptedLsn = lsn;
    this.lastTs = ts;
    this.inFlightCharge += charge;
    const name = record.key.toString('latin1');
    const previous = this.latestVersion(name, record.key);
    this.pendingVersions.set(name, record.value ? { lsn, value: record.value } : { lsn });
    // The first write after a promotion starts a new epoch run; replication asks where each run ends.
    this.noteEpoch(record);
    const promise = new Promise<WriteResult>((resolve, reject) => this.inFlight.push({ record, charge, resolve, reject }));
    if (this.frameListeners.size > 0) {
      const frame = recordToFrame(this.options.shard, record);
      for (const listener of this.frameListeners) listener(frame, previous);
    }
    return promise;
  }

  /** Throws the typed error a write gets before it is accepted: role, size and memory limits. */
  private checkWritable(key: Uint8Array, value: Uint8Array | undefined): void {
    if (this.closed) throw new StoreError('CLOSED', 'replica is closed');
    if (this.ioFailure) throw this.ioFailure;
    if (this.roleValue !== 'primary') {
      throw new StoreError('MOVED', `shard ${this.options.shard} is not primary here (role ${this.roleValue}, epoch ${this.epochValue})`, { epoch: this.epochValue });
    }
    if (key.length > KEY_MAX_BYTES) throw new StoreError('KEY_TOO_LARGE', `key of ${key.length} bytes exceeds ${KEY_MAX_BYTES}`);
    if (value && value.length > VALUE_MAX_BYTES) throw new StoreError('VALUE_TOO_LARGE', `value of ${value.length} bytes exceeds ${VALUE_MAX_BYTES}`);
    if (this.inFlight.length >= this.options.maxInFlightWrites) {
      throw new StoreError('TOO_MANY_IN_FLIGHT', `shard ${this.options.shard} has ${this.inFlight.length} writes in flight (limit ${this.options.maxInFlightWrites})`);
    }
    // The charge counts a put in full (it does not subtract the value it replaces until applied), so
    // the check errs toward refusing; deletes always pass, so a full shard can be emptied.
    const charge = value ? entryBytes(key.length, value.length) : 0;
    if (value && this.state.bytes + this.inFlightCharge + charge > this.options.memoryLimitBytes) {
      throw new StoreError('SHARD_MEMORY_LIMIT', `shard ${this.options.shard} memory limit of ${this.options.memoryLimitBytes} bytes reached`, { memoryLimitBytes: this.options.memoryLimitBytes });
    }
  }

  private latestVersion(name: string, key: Buffer): PreviousVersion | undefined {
    const pending = this.pendingVersions.get(name);
    if (pending) return pending.value ? { lsn: pending.lsn, value: pending.value } : undefined;
    const entry = this.state.get(key);
    return entry ? { lsn: entry.lsn, value: entry.value } : undefined;
  }

  /** Group-commit progress: everything through `lsn` is durable. */
  private onDurable(lsn: number): void {
    this.durableLsn = lsn;
    while (this.inFlight.length > 0 && this.inFlight.peek()!.record.lsn <= lsn) {
      const write = this.inFlight.shift()!;
      this.state.apply(write.record);
      this.inFlightCharge -= write.charge;
      this.forgetPendingVersion(write.record);
      this.countForSnapshot(write.record);
      write.resolve({ lsn: write.record.lsn, epoch: write.record.epoch, ts: write.record.ts });
    }
    while (this.receiveWaiters.length > 0 && this.receiveWaiters.peek()!.lsn <= lsn) this.receiveWaiters.shift()!.resolve();
    if (this.roleValue === 'shadow') this.applyDue();
    this.maybeSnapshot();
  }

  private onLogError(error: StoreError): void {
    this.ioFailure = error;
    this.options.logger('error', 'store.io_error', { shard: this.options.shard, message: error.message });
    while (this.inFlight.length > 0) this.inFlight.shift()!.reject(error);
    while (this.receiveWaiters.length > 0) this.receiveWaiters.shift()!.reject(error);
  }

  private forgetPendingVersion(record: LogRecord): void {
    const name = record.key.toString('latin1');
    if (this.pendingVersions.get(name)?.lsn === record.lsn) this.pendingVersions.delete(name);
  }

  // ---- shadow receive path ------------------------------------------------------------------

  /**
   * Stores a replication frame durably; resolves with the received lsn once it is. Frames must come
   * in lsn order: a gap throws LSN_GAP (details.expectedLsn) so replication can resync; an lsn
   * already held at the same epoch is ignored (`duplicate: true`); one held at a lower epoch throws
   * LOG_DIVERGED (details.lsn), the cue to `truncateAfter(lsn - 1)`; a lower epoch throws STALE_EPOCH.
   */
  receive(input: unknown): Promise<{ receivedLsn: number; duplicate: boolean }> {
    let record: LogRecord;
    try {
      const frame = validateFrame(input);
      if (this.checkReceivable(frame)) return Promise.resolve({ receivedLsn: this.durableLsn, duplicate: true });
      record = frameToRecord(frame, this.options.clock.now());
    } catch (error) {
      return Promise.reject(error);
    }
    if (record.epoch > this.epochValue) this.adoptEpoch(record.epoch);
    this.log.append(encodeRecord(record), record.lsn, record.epoch, record.ts);
    this.acceptedLsn = record.lsn;
    this.lastTs = Math.max(this.lastTs, record.ts);
    this.noteEpoch(record);
    this.addUnapplied(record);
    return new Promise((resolve, reject) => {
      this.receiveWaiters.push({ lsn: record.lsn, resolve: () => resolve({ receivedLsn: this.durableLsn, duplicate: false }), reject });
    });
  }

  /** Checks order, epoch, role and delta base of a valid frame; true when it is a duplicate to ignore. */
  private checkReceivable(frame: ReplicationFrame): boolean {
    if (this.closed) throw new StoreError('CLOSED', 'replica is closed');
    if (this.ioFailure) throw this.ioFailure;
    if (this.applyFailure) throw this.applyFailure;
    if (frame.shard !== this.options.shard) throw new StoreError('WRONG_SHARD', `frame for shard ${frame.shard} sent to shard ${this.options.shard}`);
    // Epochs never go back along a log. A shadow told to follow at epoch E still takes the entries
    // older primaries wrote at lower epochs (a new shadow copies the whole log); which sources and
    // which upper epoch it may take them from is replication's rule (src/replication/follower.ts).
    const lastEpoch = this.lastEpoch;
    if (frame.epoch < lastEpoch && frame.lsn > this.acceptedLsn) throw new StoreError('STALE_EPOCH', `frame epoch ${frame.epoch} is below the epoch ${lastEpoch} of this replica's last entry`, { epoch: this.epochValue });
    if (this.roleValue !== 'shadow') throw new StoreError('WRONG_ROLE', `shard ${this.options.shard} is ${this.roleValue} here; only a shadow receives frames`, { role: this.roleValue });
    if (frame.lsn <= this.acceptedLsn) {
      const heldEpoch = this.epochAt(frame.lsn);
      if (frame.epoch === heldEpoch) return true;
      throw new StoreError('LOG_DIVERGED', `lsn ${frame.lsn} is held at epoch ${heldEpoch}, frame has epoch ${frame.epoch}`, { lsn: frame.lsn, heldEpoch });
    }
    if (frame.lsn !== this.acceptedLsn + 1) throw new StoreError('LSN_GAP', `expected lsn ${this.acceptedLsn + 1}, got ${frame.lsn}`, { expectedLsn: this.acceptedLsn + 1 });
    if (frame.delta) {
      const name = Buffer.from(frame.key.buffer, frame.key.byteOffset, frame.key.byteLength).toString('latin1');
      // The base is the key's newest version among unapplied frames, else in the state; a pending del means none.
      const pending = this.pendingVersions.get(name);
      const baseLsn = pending ? (pending.value ? pending.lsn : undefined) : this.state.get(frame.key)?.lsn;
      if (baseLsn !== frame.baseLsn) throw new StoreError('DELTA_BASE_MISMATCH', `delta at lsn ${frame.lsn} is against lsn ${frame.baseLsn}, this replica's newest version is ${baseLsn || 'none'}`, { lsn: frame.lsn });
    }
    const bytes = 64 + frame.key.length + (frame.value?.length ?? frame.delta?.length ?? 0);
    if (this.unappliedBytes + bytes > this.options.maxUnappliedBytes) {
      throw new StoreError('ROLLBACK_WINDOW_FULL', `shard ${this.options.shard} holds ${this.unappliedBytes} unapplied bytes (limit ${this.options.maxUnappliedBytes})`);
    }
    return false;
  }

  private adoptEpoch(epoch: number): void {
    this.epochValue = epoch;
    writeMeta(this.dirs.metaPath, { format: 'foreshard-replica/1', shard: this.options.shard, role: this.roleValue, epoch });
  }

  private noteEpoch(record: LogRecord): void {
    if (record.epoch !== this.epochHistory.at(-1)!.epoch) this.epochHistory.push({ epoch: record.epoch, firstLsn: record.lsn });
  }

  /**
   * The last lsn of this log whose epoch is at most `epoch` (its accepted lsn when every record
   * qualifies). Replication asks it when a shadow rejoins, to find where their logs part (the way
   * Kafka's OffsetsForLeaderEpoch does).
   */
  epochEnd(epoch: number): number {
    const next = this.epochHistory.find((h) => h.epoch > epoch && h.firstLsn > 0);
    return next ? Math.min(next.firstLsn - 1, this.acceptedLsn) : this.acceptedLsn;
  }

  /** The epoch of the last accepted entry; 0 for an empty log. */
  get lastEpoch(): number {
    return this.acceptedLsn === 0 ? 0 : this.epochAt(this.acceptedLsn);
  }

  /** Epoch of the record at `lsn` in this log (for lsns before the snapshot: the snapshot's epoch). */
  epochAt(lsn: number): number {
    for (let i = this.epochHistory.length - 1; i >= 0; i--) if (this.epochHistory[i]!.firstLsn <= lsn) return this.epochHistory[i]!.epoch;
    return this.epochHistory[0]!.epoch;
  }

  private addUnapplied(record: LogRecord): void {
    const bytes = recordBytes(record);
    this.unapplied.push({ record, bytes });
    this.unappliedBytes += bytes;
    const name = record.key.toString('latin1');
    this.pendingVersions.set(name, record.op === 'put' ? { lsn: record.lsn, value: Buffer.alloc(0) } : { lsn: record.lsn });
  }

  /** Applies unapplied frames that are durable and whose delay has passed, then re-arms the timer. */
  private applyDue(): void {
    const now = this.options.clock.now();
    const throughLsn = this.durableLsn;
    this.applyWhile((record) => record.lsn <= throughLsn && record.arrivalTs + this.options.applyDelayMs <= now);
    this.scheduleApply();
  }

  /** Applies unapplied frames from the oldest while `ready` holds; stops for good at an apply failure. */
  private applyWhile(ready: (record: LogRecord) => boolean): void {
    while (this.applyFailure === undefined && this.unapplied.length > 0 && ready(this.unapplied.peek()!.record)) {
      const { record, bytes } = this.unapplied.peek()!;
      try {
        this.state.apply(record);
      } catch (error) {
        // The frame stays unapplied and the state unchanged; replication must resync from appliedLsn.
        this.applyFailure = error as StoreError;
        this.options.logger('error', 'store.apply_failed', { shard: this.options.shard, lsn: record.lsn, message: (error as Error).message });
        return;
      }
      this.unapplied.shift();
      this.unappliedBytes -= bytes;
      this.forgetPendingVersion(record);
      this.countForSnapshot(record);
    }
  }

  private scheduleApply(): void {
    if (this.applyTimer !== undefined) this.options.clock.clearTimer(this.applyTimer);
    this.applyTimer = undefined;
    const head = this.unapplied.peek();
    if (!head || this.closed || this.applyFailure || head.record.lsn > this.durableLsn) return;
    const waitMs = Math.max(0, head.record.arrivalTs + this.options.applyDelayMs - this.options.clock.now());
    this.applyTimer = this.options.clock.setTimer(() => {
      this.applyTimer = undefined;
      this.applyDue();
      this.maybeSnapshot();
    }, waitMs);
  }

  /** The rollback window: frames received but not yet applied, oldest first. */
  rollbackWindow(): ReplicationFrame[] {
    return this.unapplied.toArray().map((u) => recordToFrame(this.options.shard, u.record));
  }

  // ---- role changes -------------------------------------------------------------------------

  private requireEpoch(epoch: number, allowEqual: boolean): void {
    assert.ok(Number.isSafeInteger(epoch) && epoch >= 1, 'epoch must be a positive integer');
    if (epoch < this.epochValue || (!allowEqual && epoch === this.epochValue)) {
      throw new StoreError('STALE_EPOCH', `epoch ${epoch} is not above this replica's epoch ${this.epochValue}`, { epoch: this.epochValue });
    }
  }

  private setRole(role: ReplicaRole, epoch: number): void {
    this.roleValue = role;
    this.epochValue = epoch;
    writeMeta(this.dirs.metaPath, { format: 'foreshard-replica/1', shard: this.options.shard, role, epoch });
  }

  /**
   * Fences the replica at `epoch` (>= its own): a primary stops taking writes (they get MOVED),
   * finishes the writes in flight, and reports its last lsn. Durable across restarts.
   */
  async fence(epoch: number): Promise<{ epoch: number; lastLsn: number }> {
    this.requireEpoch(epoch, true);
    this.setRole(this.roleValue === 'primary' ? 'fenced' : this.roleValue, epoch);
    await this.log.flush();
    return { epoch: this.epochValue, lastLsn: this.acceptedLsn };
  }

  /**
   * Reopens writes on a primary fenced at exactly `epoch` (a switch abandoned before any shadow
   * was promoted). Any other epoch is refused: a higher one means another primary may exist.
   */
  unfence(epoch: number): { epoch: number; lastLsn: number } {
    if (this.roleValue !== 'fenced') throw new StoreError('WRONG_ROLE', `shard ${this.options.shard} is ${this.roleValue}, not fenced`);
    if (epoch !== this.epochValue) throw new StoreError('STALE_EPOCH', `unfence at epoch ${epoch}, but the replica is at epoch ${this.epochValue}`, { epoch: this.epochValue });
    this.setRole('primary', epoch);
    return { epoch, lastLsn: this.acceptedLsn };
  }

  /**
   * Makes a shadow (or a fenced former primary) the primary at `epoch`, once it has received
   * through `throughLsn`: applies its whole received tail at once, ignoring the delay, and opens
   * writes. Throws NOT_CAUGHT_UP (details.receivedLsn) when it has not received that far yet.
   */
  async promote(epoch: number, throughLsn: number, allowEqualEpoch = false): Promise<{ epoch: number; lastLsn: number }> {
    // The coordinator fences a replica at the epoch it may later promote it at; the caller allows that.
    this.requireEpoch(epoch, allowEqualEpoch);
    if (this.roleValue === 'primary') throw new StoreError('WRONG_ROLE', `shard ${this.options.shard} is already primary`);
    await this.log.flush();
    if (this.durableLsn < throughLsn) {
      throw new StoreError('NOT_CAUGHT_UP', `received through lsn ${this.durableLsn}, promotion needs ${throughLsn}`, { receivedLsn: this.durableLsn });
    }
    this.applyWhile(() => true);
    if (this.applyFailure) throw this.applyFailure;
    this.setRole('primary', epoch);
    this.clearApplyTimer();
    this.options.logger('info', 'store.promoted', { shard: this.options.shard, epoch, lastLsn: this.acceptedLsn });
    return { epoch, lastLsn: this.acceptedLsn };
  }

  /** Turns a fenced former primary (or a shadow) into a shadow of the primary at `epoch`. */
  async follow(epoch: number): Promise<void> {
    this.requireEpoch(epoch, true);
    if (this.roleValue === 'primary') throw new StoreError('WRONG_ROLE', `fence shard ${this.options.shard} before it follows another primary`);
    await this.log.flush();
    this.setRole('shadow', epoch);
    this.scheduleApply();
  }

  /**
   * Cuts every record after `lsn` from the log (both tiers), saves them to a conflict file under
   * `conflicts/`, and rebuilds the state without them. Used by a former primary that rejoins (its
   * log past its successor's received lsn) and by replication to resync after LOG_DIVERGED or
   * APPLY_FAILED. Not allowed on an open primary: fence it first.
   */
  async truncateAfter(lsn: number, reason: ConflictReason): Promise<{ cutCount: number; fromLsn?: number; toLsn?: number; path?: string }> {
    assert.ok(Number.isSafeInteger(lsn) && lsn >= 0);
    if (this.roleValue === 'primary') throw new StoreError('WRONG_ROLE', `fence shard ${this.options.shard} before truncating its log`);
    await this.log.flush();
    await this.maintenance;
    const cut = this.log.truncateAfter(lsn);
    let path: string | undefined;
    if (cut.length > 0) path = writeConflictFile(this.dirs.conflictDir, this.options.shard, reason, cut, this.options.clock.now());
    this.rebuildThrough(lsn);
    const result = cut.length > 0 ? { cutCount: cut.length, fromLsn: cut[0]!.lsn, toLsn: cut.at(-1)!.lsn, path: path! } : { cutCount: 0 };
    this.options.logger(cut.length > 0 ? 'warn' : 'info', 'store.truncated', { shard: this.options.shard, afterLsn: lsn, reason, ...result });
    return result;
  }

  /** Resets the in-memory side to the log after a truncation at `lsn`. */
  private rebuildThrough(lsn: number): void {
    this.clearApplyTimer();
    this.applyFailure = undefined;
    this.unapplied.retain((u) => u.record.lsn <= lsn);
    this.unappliedBytes = this.unapplied.toArray().reduce((sum, u) => sum + u.bytes, 0);
    this.pendingVersions.clear();
    for (const u of this.unapplied.toArray()) this.pendingVersions.set(u.record.key.toString('latin1'), u.record.op === 'put' ? { lsn: u.record.lsn, value: Buffer.alloc(0) } : { lsn: u.record.lsn });
    if (this.state.appliedLsn > lsn) {
      // Snapshots past the cut hold cut records; the state is rebuilt from an older one plus the log.
      for (const s of listSnapshots(this.dirs.snapshotDir).filter((s) => s.lsn > lsn)) rmSync(s.path);
      const { snapshot } = loadLatestSnapshot(this.dirs.snapshotDir, (snapshotLsn) => snapshotLsn <= lsn);
      this.state = snapshot?.state ?? new ShardState();
      for (const record of this.log.records(this.state.appliedLsn + 1, lsn)) this.state.apply(copyRecord(record));
    }
    this.epochHistory = this.epochHistory.filter((h) => h.firstLsn <= lsn);
    this.acceptedLsn = this.durableLsn = Math.max(this.log.lastLsn, this.state.appliedLsn);
    this.scheduleApply();
  }

  /**
   * Promotes a shadow at `epoch` to its state as of time `T` (ms): frames with ts <= T are applied,
   * the unapplied tail after T is cut and saved to a conflict file (reason `rollback`). T must lie
   * inside the rollback window (throws ROLLBACK_OUTSIDE_WINDOW otherwise: use restore).
   */
  async rollbackTo(T: number, epoch: number): Promise<{ epoch: number; lastLsn: number; discarded: number; path?: string }> {
    this.requireEpoch(epoch, false);
    if (this.roleValue !== 'shadow') throw new StoreError('WRONG_ROLE', `rollback needs a shadow; shard ${this.options.shard} is ${this.roleValue}`);
    await this.log.flush();
    if (this.state.appliedTs > T) {
      throw new StoreError('ROLLBACK_OUTSIDE_WINDOW', `state already holds writes up to ${new Date(this.state.appliedTs).toISOString()}, after T`, { appliedTs: this.state.appliedTs });
    }
    this.applyWhile((record) => record.ts <= T);
    if (this.applyFailure) throw this.applyFailure;
    const keepLsn = this.state.appliedLsn;
    // Cut as a fenced replica would (truncateAfter refuses primaries), then open writes.
    const cut = await this.truncateAfter(keepLsn, 'rollback');
    this.setRole('primary', epoch);
    this.clearApplyTimer();
    const result = { epoch, lastLsn: this.acceptedLsn, discarded: cut.cutCount };
    return cut.path ? { ...result, path: cut.path } : result;
  }

  private clearApplyTimer(): void {
    if (this.applyTimer !== undefined) this.options.clock.clearTimer(this.applyTimer);
    this.applyTimer = undefined;
  }

  // ---- catch-up, snapshots, tiers ------------------------------------------------------------

  /** Up to `maxRecords` frames from `fromLsn` on (durable ones only), for catch-up of a shadow. */
  readFrom(fromLsn: number, maxRecords: number): ReplicationFrame[] {
    assert.ok(maxRecords > 0);
    const frames: ReplicationFrame[] = [];
    for (const record of this.log.records(fromLsn, this.durableLsn)) {
      frames.push(recordToFrame(this.options.shard, copyRecord(record)));
      if (frames.length >= maxRecords) break;
    }
    return frames;
  }

  private countForSnapshot(record: LogRecord): void {
    this.recordsSinceSnapshot++;
    this.bytesSinceSnapshot += recordBytes(record);
  }

  private maybeSnapshot(): void {
    if (this.recordsSinceSnapshot < this.options.snapshotEveryRecords && this.bytesSinceSnapshot < this.options.snapshotEveryBytes) return;
    this.snapshotNow();
    if (this.options.coldAfterMs > 0 && this.maintenance === undefined) {
      this.maintenance = this.moveColdSegments().then(
        () => undefined,
        (error: Error) => this.options.logger('error', 'store.cold_move_failed', { shard: this.options.shard, message: error.message }),
      ).finally(() => (this.maintenance = undefined));
    }
  }

  /** Writes a snapshot of the applied state now; returns its path. */
  snapshotNow(): string {
    const path = writeSnapshot(this.dirs.snapshotDir, this.state.allEntries(), this.state.appliedLsn, this.epochValue, this.state.appliedTs, this.options.snapshotsRetained);
    this.recordsSinceSnapshot = 0;
    this.bytesSinceSnapshot = 0;
    return path;
  }

  /** Moves sealed segments older than coldAfterMs (by their newest record's ts) to the cold tier. */
  async moveColdSegments(olderThanTs = this.options.clock.now() - this.options.coldAfterMs): Promise<number> {
    return moveSegmentsToCold(this.log, { logDir: this.dirs.logDir, coldDir: this.dirs.coldDir }, olderThanTs);
  }

  /** Both tiers' segments, for tools and tests. */
  describeLog(): ReturnType<ShardLog['describe']> {
    return this.log.describe();
  }

  /** Flushes what is in flight, stops timers and closes files. Unapplied frames stay in the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearApplyTimer();
    await this.maintenance;
    await this.log.close();
  }
}
