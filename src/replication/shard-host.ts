/**
 * ShardHost: this node's shard replicas and its data port. Its methods mirror the coordinator's
 * commands (src/protocol/commands.ts): open, fence, unfence, promote, rollback, demote, follow,
 * add-shadow and remove-shadow. Each checks the epoch first (DESIGN.md §2: a replica refuses a
 * lower epoch), changes the replica through the store, and starts or stops the primary side
 * (`ShardPublisher`) or the shadow side (`Follower`) to match the new role.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Replica, type ReplicaRole } from '../store/index.js';
import { emptyStats, type HostContext } from './context.js';
import { DataPort } from './data-port.js';
import { ReplicationError } from './errors.js';
import { Follower, type SnapshotEntry } from './follower.js';
import { resolveShardHostOptions, type ShardHostOptions } from './options.js';
import { ShardPublisher } from './publisher.js';
import type { ServedShard } from './requests.js';
import { installSnapshotFiles } from './snapshot-install.js';
import { TokenBucket } from './token-bucket.js';
import type { PrimaryAddress, PromoteRequest, ReplicaState, ReplicationStats, ShardCommandOutcome, ShardReport } from './types.js';

interface ShardEntry extends ServedShard {
  follower: Follower | undefined;
  /** Set while a snapshot install swaps the replica. */
  installing: boolean;
}

/** This node's replicas and data port. Create with `ShardHost.start`. */
export class ShardHost {
  private readonly shards = new Map<number, ShardEntry>();
  /**
   * The epoch of each fence that came for a shard this node holds no replica of. A `follow` sent
   * before such a fence can arrive after it; creating the shadow then would let the old primary
   * gain acknowledgements at an epoch the fence was meant to close. Kept in memory (a restart is a
   * new session, whose commands are the only ones taken) and bounded by {@link MAX_ABSENT_FLOORS}.
   */
  private readonly absentFloors = new Map<number, number>();
  private readonly context: HostContext;
  private readonly dataPort: DataPort;
  private closed = false;

  private constructor(readonly options: Readonly<ShardHostOptions>) {
    const logger = options.logger;
    this.context = { options, bucket: new TokenBucket(options.replicationBytesPerSecond), stats: emptyStats(), log: (level, event, fields) => logger(level, event, { node: options.node, ...fields }) };
    this.dataPort = new DataPort(this.context, { get: (shard) => this.shards.get(shard) });
  }

  /** Starts the data port; replicas are opened by `openShard` / `openExisting` or the commands. */
  static async start(input: Partial<ShardHostOptions> & Pick<ShardHostOptions, 'dataDir' | 'node'>): Promise<ShardHost> {
    const host = new ShardHost(resolveShardHostOptions(input));
    await host.dataPort.listen();
    host.context.log('info', 'replication.data_port_listening', { url: host.dataUrl });
    return host;
  }

  /** The data port's TCP port. */
  get port(): number {
    return this.dataPort.port;
  }

  /** The data port's URL, as published in the node's birth message. */
  get dataUrl(): string {
    return `${this.options.tls ? 'wss' : 'ws'}://${this.options.host}:${this.port}`;
  }

  /** Shards with a replica here. */
  shardIds(): number[] {
    return [...this.shards.keys()].sort((a, b) => a - b);
  }

  /** The replica of `shard` here, for reads, metrics and tests. */
  replica(shard: number): Replica | undefined {
    return this.shards.get(shard)?.replica;
  }

  /**
   * Opens the replica of `shard` (creating it as `role` at `epoch` if it is new; an existing one
   * keeps the role and epoch in its meta.json). A primary starts serving writes at once; a shadow
   * waits for `follow`.
   */
  async openShard(shard: number, role: Exclude<ReplicaRole, 'fenced'> = 'primary', epoch = 1): Promise<ShardReport> {
    this.requireOpen();
    if (!this.shards.has(shard)) {
      const replica = await this.openReplica(shard, role, epoch, this.options.applyDelayMs);
      const entry: ShardEntry = { replica, publisher: undefined, primary: null, demoted: false, follower: undefined, installing: false };
      this.shards.set(shard, entry);
      this.syncPublisher(entry);
    }
    return this.reportShard(shard);
  }

  /** Opens every replica found under `<dataDir>/shards/` (an agent restarting); returns their ids. */
  async openExisting(): Promise<number[]> {
    const dir = join(this.options.dataDir, 'shards');
    const ids = existsSync(dir) ? readdirSync(dir).filter((n) => /^\d+$/.test(n)).map(Number) : [];
    for (const id of ids) await this.openShard(id);
    return ids.sort((a, b) => a - b);
  }

  /** `fence`: the primary stops taking writes at `epoch` (>= its own), finishes those in flight, and reports its last lsn. */
  async fence(shard: number, epoch: number): Promise<ShardCommandOutcome> {
    if (!this.shards.has(shard)) this.noteAbsentFloor(shard, epoch);
    const entry = this.entry(shard);
    const result = await entry.replica.fence(epoch);
    this.syncPublisher(entry);
    return { epoch: result.epoch, lastLsn: result.lastLsn };
  }

  /** `unfence`: reopens writes on a primary fenced at exactly `epoch` (a switch was abandoned). */
  async unfence(shard: number, epoch: number): Promise<ShardCommandOutcome> {
    const entry = this.entry(shard);
    const result = entry.replica.unfence(epoch);
    entry.demoted = false;
    entry.primary = null;
    this.syncPublisher(entry);
    return { epoch: result.epoch, lastLsn: result.lastLsn };
  }

  /**
   * `promote`: once this shadow has received through `throughLsn` (waiting up to promoteWaitMs),
   * stops following, applies the whole tail at once, and serves writes at `epoch`.
   */
  async promote(shard: number, epoch: number, throughLsn: number): Promise<ShardCommandOutcome> {
    const entry = this.entry(shard);
    this.requireNewerEpoch(entry, epoch);
    await this.stopFollowingThrough(entry, throughLsn);
    const result = await this.restartFollowerOnFailure(entry, () => entry.replica.promote(epoch, throughLsn));
    entry.primary = null;
    entry.demoted = false;
    this.syncPublisher(entry, true);
    return { epoch: result.epoch, lastLsn: result.lastLsn, receivedLsn: entry.replica.receivedLsn, appliedLsn: entry.replica.appliedLsn };
  }

  /**
   * `rollback`: like promote, but the state is as of time `toTs` (ms): the unapplied tail after
   * it is discarded and saved to a file (`savedTo`). `toTs` must lie inside the rollback window.
   */
  async rollback(shard: number, toTs: number, epoch: number, throughLsn = 0): Promise<ShardCommandOutcome> {
    const entry = this.entry(shard);
    this.requireNewerEpoch(entry, epoch);
    await this.stopFollowingThrough(entry, throughLsn);
    const result = await this.restartFollowerOnFailure(entry, () => entry.replica.rollbackTo(toTs, epoch));
    entry.primary = null;
    entry.demoted = false;
    this.syncPublisher(entry, true);
    const outcome: ShardCommandOutcome = { epoch: result.epoch, lastLsn: result.lastLsn, receivedLsn: entry.replica.receivedLsn, appliedLsn: entry.replica.appliedLsn };
    if (result.path) outcome.savedTo = result.path;
    return outcome;
  }

  /** `demote`: stop serving as primary; writes get MOVED with `epoch` and `primary`. */
  async demote(shard: number, epoch: number, primary: string | null): Promise<ShardCommandOutcome> {
    const entry = this.entry(shard);
    const result = await entry.replica.fence(epoch);
    entry.demoted = true;
    entry.primary = primary;
    this.dropPublisher(entry, `demoted at epoch ${epoch}`);
    return { epoch: result.epoch, lastLsn: result.lastLsn };
  }

  /**
   * `follow`: this replica becomes (or stays) a shadow of `primary` at `epoch`. A former primary
   * is fenced first; the part of its log its successor never received is cut into a conflict file
   * (reason `rejoin`) once the link learns where the two logs part.
   */
  async follow(shard: number, epoch: number, primary: PrimaryAddress, applyDelayMs?: number): Promise<ShardCommandOutcome> {
    const entry = this.entry(shard);
    if (epoch < entry.replica.epoch) throw staleEpoch(entry, epoch);
    if (entry.follower && entry.follower.primary.dataUrl === primary.dataUrl && applyDelayMs === undefined) {
      entry.follower.setEpoch(epoch);
      return this.outcome(entry);
    }
    await entry.follower?.stop();
    entry.follower = undefined;
    const wasPrimary = entry.replica.role !== 'shadow';
    if (entry.replica.role === 'primary') {
      if (epoch === entry.replica.epoch) throw new ReplicationError('WRONG_ROLE', `shard ${shard} is the open primary at epoch ${epoch}; fence or demote it first`);
      await entry.replica.fence(epoch);
    }
    this.dropPublisher(entry, `following ${primary.node}`);
    await entry.replica.follow(epoch);
    if (applyDelayMs !== undefined && applyDelayMs !== entry.replica.options.applyDelayMs) await this.reopen(entry, applyDelayMs);
    entry.primary = primary.node;
    entry.demoted = true;
    entry.follower = new Follower(shard, epoch, primary, wasPrimary ? 'rejoin' : 'resync', this.followerHost(entry), this.context);
    entry.follower.start();
    return this.outcome(entry);
  }

  /** `add-shadow`: creates this node's replica of `shard` and follows `primary`. */
  async addShadow(shard: number, epoch: number, primary: PrimaryAddress, applyDelayMs?: number): Promise<ShardCommandOutcome> {
    const existing = this.shards.get(shard);
    if (existing && existing.replica.role !== 'shadow') throw new ReplicationError('SHARD_EXISTS', `shard ${shard} already has a ${existing.replica.role} replica on node ${this.options.node}`);
    if (!existing) {
      this.takeAbsentFloor(shard, epoch);
      const replica = await this.openReplica(shard, 'shadow', epoch, applyDelayMs ?? this.options.applyDelayMs);
      this.shards.set(shard, { replica, publisher: undefined, primary: primary.node, demoted: true, follower: undefined, installing: false });
    }
    return this.follow(shard, epoch, primary, applyDelayMs);
  }

  /** `remove-shadow`: stops following and deletes this node's replica of `shard` (data and conflict files). */
  async removeShadow(shard: number, epoch: number): Promise<void> {
    const entry = this.entry(shard);
    if (epoch < entry.replica.epoch) throw staleEpoch(entry, epoch);
    if (entry.replica.role === 'primary') throw new ReplicationError('WRONG_ROLE', `shard ${shard} is primary on node ${this.options.node}; it is not a shadow to remove`);
    await entry.follower?.stop();
    this.dropPublisher(entry, 'removed');
    this.shards.delete(shard);
    await entry.replica.close();
    rmSync(entry.replica.dirs.shardDir, { recursive: true, force: true });
  }

  // ---- the coordinator's command set (src/protocol/commands.ts) ------------------------------

  /**
   * After a restart nobody has told this node what its replicas are: a primary comes back
   * `recovering` (fenced at its own epoch, so it takes no write) until the coordinator promotes it
   * again or tells it to follow. Shadows have no follower yet, so they report `recovering` too.
   */
  async recoverAfterRestart(): Promise<number[]> {
    const fenced: number[] = [];
    for (const [shard, entry] of this.shards) {
      if (entry.replica.role !== 'primary') continue;
      await entry.replica.fence(entry.replica.epoch);
      this.syncPublisher(entry);
      fenced.push(shard);
    }
    return fenced;
  }

  /** The replica of `shard` as the coordinator reads it; throws UNKNOWN_SHARD. */
  replicaState(shard: number): ReplicaState {
    const entry = this.entry(shard);
    const replica = entry.replica;
    const role = replica.role === 'primary' ? 'primary' : replica.role === 'shadow' && entry.follower !== undefined ? 'shadow' : 'recovering';
    return { shard, role, epoch: replica.epoch, receivedLsn: replica.receivedLsn, appliedLsn: replica.appliedLsn, lastEpoch: replica.lastEpoch };
  }

  /** Every replica here, as the coordinator reads them. */
  replicaStates(): ReplicaState[] {
    return this.shardIds().map((id) => this.replicaState(id));
  }

  /**
   * `fence(E)`: the replica's epoch becomes max(own, E). A primary promoted below E stops taking
   * writes (it still streams its tail to shadows, so a switch target can catch up), and a shadow
   * stops receiving; both are `recovering` until told to promote or follow.
   */
  async fenceAt(shard: number, epoch: number): Promise<ReplicaState> {
    if (!this.shards.has(shard)) this.noteAbsentFloor(shard, epoch);
    const entry = this.entry(shard);
    await entry.follower?.stop();
    entry.follower = undefined;
    if (epoch > entry.replica.epoch) await entry.replica.fence(epoch);
    this.syncPublisher(entry);
    return this.replicaState(shard);
  }

  /**
   * `promote(E)`: refused STALE_EPOCH below the replica's epoch, idempotent at it when already
   * primary. Waits (up to `waitMs`) until received through `throughLsn`, refuses DIVERGED when the
   * entry there is of another epoch than `throughEpoch`, then applies the whole tail at once and
   * takes writes at E. `create` makes an empty replica when there is none.
   */
  async promoteAt(shard: number, epoch: number, request: PromoteRequest, waitMs: number): Promise<ReplicaState> {
    this.requireOpen();
    if (!this.shards.has(shard) && request.create === true && request.throughLsn === 0) {
      // As for a follow: a create below a fence this node got while it held nothing comes from an
      // older decision (a failover has moved the shard on since) and must not make a primary.
      this.takeAbsentFloor(shard, epoch);
      await this.openShard(shard, 'primary', epoch);
      return this.replicaState(shard);
    }
    const entry = this.entry(shard);
    const replica = entry.replica;
    if (epoch < replica.epoch) throw staleEpoch(entry, epoch);
    if (replica.role === 'primary' && replica.epoch === epoch) return this.replicaState(shard);
    if (replica.role === 'primary') {
      await replica.fence(epoch); // a primary of an older epoch is promoted again at a fresh one
      this.syncPublisher(entry);
    }
    if (replica.receivedLsn < request.throughLsn) {
      if (!entry.follower || !(await entry.follower.waitReceived(request.throughLsn, Math.max(0, waitMs)))) {
        throw new ReplicationError('NOT_CAUGHT_UP', `shard ${shard} received through lsn ${entry.replica.receivedLsn}; promotion needs ${request.throughLsn}`, { receivedLsn: entry.replica.receivedLsn });
      }
    }
    const held = request.throughLsn > 0 ? entry.replica.epochAt(request.throughLsn) : undefined;
    if (request.throughEpoch !== undefined && held !== undefined && held !== request.throughEpoch) {
      throw new ReplicationError('DIVERGED', `shard ${shard} holds lsn ${request.throughLsn} at epoch ${held}, not ${request.throughEpoch}`, { epoch: entry.replica.epoch });
    }
    await entry.follower?.stop();
    entry.follower = undefined;
    await entry.replica.promote(epoch, request.throughLsn, true);
    entry.primary = null;
    entry.demoted = false;
    this.syncPublisher(entry, true);
    return this.replicaState(shard);
  }

  /**
   * `follow(E)`: refused below the replica's epoch; creates the replica when missing; copies from
   * `primary`, cutting a divergent tail to a conflict file once the link learns where the logs part.
   * The follower takes frames of epoch <= E only, from a source at an epoch of at least its own.
   */
  async followAt(shard: number, epoch: number, primary: PrimaryAddress, applyDelayMs?: number): Promise<ReplicaState> {
    this.requireOpen();
    if (primary.node === this.options.node) throw new ReplicationError('BAD_REQUEST', `node ${primary.node} cannot follow itself`);
    const existing = this.shards.get(shard);
    if (existing && epoch < existing.replica.epoch) throw staleEpoch(existing, epoch);
    if (existing?.replica.role === 'primary') {
      await existing.replica.fence(epoch);
      this.syncPublisher(existing);
    }
    const outcome = existing ? await this.follow(shard, epoch, primary, applyDelayMs) : await this.addShadow(shard, epoch, primary, applyDelayMs);
    const state = this.replicaState(shard);
    return outcome.savedTo === undefined ? state : { ...state, savedTo: outcome.savedTo };
  }

  /** `drop(E)`: deletes the replica; refused IS_PRIMARY while it takes writes. Missing is fine. */
  async drop(shard: number, epoch: number): Promise<void> {
    this.requireOpen();
    const entry = this.shards.get(shard);
    if (!entry) return;
    if (entry.replica.role === 'primary') throw new ReplicationError('IS_PRIMARY', `shard ${shard} takes writes on node ${this.options.node}`);
    if (epoch < entry.replica.epoch) throw staleEpoch(entry, epoch);
    await this.removeShadow(shard, entry.replica.epoch);
  }

  /** Every replica's role, epoch, lsns, lag and rollback window (and a primary's shadows). */
  report(): ShardReport[] {
    return this.shardIds().map((id) => this.reportShard(id));
  }

  /** One replica's report; throws UNKNOWN_SHARD. */
  reportShard(shard: number): ShardReport {
    const entry = this.entry(shard);
    const replica = entry.replica;
    const stats = replica.stats();
    const report: ShardReport = {
      shard, role: replica.role, epoch: replica.epoch, primary: entry.primary, receivedLsn: replica.receivedLsn, appliedLsn: replica.appliedLsn,
      lastLsn: replica.lastLsn, lagMs: entry.follower?.lagMs ?? 0, rollbackWindowFrames: stats.unappliedFrames, rollbackWindowBytes: stats.unappliedBytes,
    };
    if (entry.follower?.savedTo) report.lastConflictFile = entry.follower.savedTo;
    if (entry.follower) report.link = entry.follower.state;
    if (entry.publisher) report.shadows = entry.publisher.shadows();
    return report;
  }

  /** Cumulative counters for /metrics. */
  stats(): ReplicationStats {
    return { ...this.context.stats, shards: this.shards.size, connections: this.dataPort.connectionCount };
  }

  /** Stops following, closes the data port and every replica. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.shards.values()].map((entry) => entry.follower?.stop()));
    for (const entry of this.shards.values()) this.dropPublisher(entry, 'host closing');
    this.dataPort.close();
    for (const entry of this.shards.values()) await entry.replica.close();
    this.shards.clear();
  }

  // ---- helpers ------------------------------------------------------------------------------

  private requireOpen(): void {
    if (this.closed) throw new ReplicationError('CLOSED', `shard host ${this.options.node} is closed`);
  }

  /** Before a replica of `shard` is created at `epoch`: refuses an epoch below a fence it got while absent, and forgets that fence. */
  private takeAbsentFloor(shard: number, epoch: number): void {
    const floor = this.absentFloors.get(shard) ?? 0;
    if (epoch < floor) throw new ReplicationError('STALE_EPOCH', `epoch ${epoch} is below ${floor}, which a fence of shard ${shard} carried before this node held it`, { epoch: floor });
    this.absentFloors.delete(shard);
  }

  private noteAbsentFloor(shard: number, epoch: number): void {
    if (!this.absentFloors.has(shard) && this.absentFloors.size >= MAX_ABSENT_FLOORS) this.absentFloors.delete(this.absentFloors.keys().next().value!);
    this.absentFloors.set(shard, Math.max(this.absentFloors.get(shard) ?? 0, epoch));
  }

  private entry(shard: number): ShardEntry {
    this.requireOpen();
    const entry = this.shards.get(shard);
    if (!entry) throw new ReplicationError('UNKNOWN_SHARD', `node ${this.options.node} holds no replica of shard ${shard}`);
    return entry;
  }

  private requireNewerEpoch(entry: ShardEntry, epoch: number): void {
    if (epoch <= entry.replica.epoch) throw staleEpoch(entry, epoch);
  }

  private openReplica(shard: number, role: ReplicaRole, epoch: number, applyDelayMs: number): Promise<Replica> {
    const { options } = this;
    return Replica.open({
      fsyncPolicy: options.fsyncPolicy, batchMs: options.batchMs, ...options.replica,
      dataDir: options.dataDir, shard, role, epoch, applyDelayMs, clock: options.clock, logger: options.logger,
      ...(options.chaos ? { chaos: options.chaos } : {}),
      ...(options.metrics ? { onFsync: (durationMs: number) => options.metrics!.recordFsync(durationMs) } : {}),
    });
  }

  /** Reopens a replica with another apply delay (options are fixed per open). */
  private async reopen(entry: ShardEntry, applyDelayMs: number): Promise<void> {
    const { shard } = entry.replica.options;
    await entry.replica.close();
    entry.replica = await this.openReplica(shard, 'shadow', entry.replica.epoch, applyDelayMs);
  }

  /** A primary or fenced replica has a publisher; `fresh` replaces it (a new epoch has new shadows). */
  private syncPublisher(entry: ShardEntry, fresh = false): void {
    const serves = entry.replica.role === 'primary' || (entry.replica.role === 'fenced' && !entry.demoted);
    if (fresh || !serves) this.dropPublisher(entry, fresh ? 'new epoch' : `role ${entry.replica.role}`);
    if (serves && !entry.publisher) entry.publisher = new ShardPublisher(entry.replica, this.context);
  }

  private dropPublisher(entry: ShardEntry, reason: string): void {
    entry.publisher?.close(reason);
    entry.publisher = undefined;
  }

  /** Waits until the follower received through `throughLsn`, then stops it (promote, rollback). */
  private async stopFollowingThrough(entry: ShardEntry, throughLsn: number): Promise<void> {
    const follower = entry.follower;
    if (!follower) return;
    if (!(await follower.waitReceived(throughLsn, this.options.promoteWaitMs))) {
      throw new ReplicationError('NOT_CAUGHT_UP', `shard ${follower.shard} received through lsn ${entry.replica.receivedLsn} after ${this.options.promoteWaitMs} ms; promotion needs ${throughLsn}`, { receivedLsn: entry.replica.receivedLsn });
    }
    await follower.stop();
    entry.follower = undefined;
    this.followerParked.set(entry, follower);
  }

  private readonly followerParked = new WeakMap<ShardEntry, Follower>();

  /** Runs a role change; if it fails, the shadow goes back to following its primary. */
  private async restartFollowerOnFailure<T>(entry: ShardEntry, change: () => Promise<T>): Promise<T> {
    try {
      return await change();
    } catch (error) {
      const parked = this.followerParked.get(entry);
      if (parked && entry.replica.role === 'shadow') {
        entry.follower = new Follower(parked.shard, entry.replica.epoch, parked.primary, 'resync', this.followerHost(entry), this.context);
        entry.follower.start();
      }
      throw error;
    } finally {
      this.followerParked.delete(entry);
    }
  }

  private followerHost(entry: ShardEntry): { replica(): Replica; installSnapshot(entries: SnapshotEntry[], lsn: number, epoch: number): Promise<void> } {
    return {
      replica: () => entry.replica,
      installSnapshot: async (entries, lsn, epoch) => {
        const { shard, applyDelayMs } = entry.replica.options;
        entry.installing = true;
        try {
          await entry.replica.close();
          installSnapshotFiles(this.options.dataDir, shard, entries, lsn, Math.max(epoch, entry.replica.epoch));
          entry.replica = await this.openReplica(shard, 'shadow', epoch, applyDelayMs);
        } finally {
          entry.installing = false;
        }
        this.context.log('info', 'replication.snapshot_installed', { shard, lsn, entries: entries.length });
      },
    };
  }

  private outcome(entry: ShardEntry): ShardCommandOutcome {
    const outcome: ShardCommandOutcome = { epoch: entry.replica.epoch, receivedLsn: entry.replica.receivedLsn, appliedLsn: entry.replica.appliedLsn };
    if (entry.follower?.savedTo) outcome.savedTo = entry.follower.savedTo;
    return outcome;
  }
}

/** How many absent shards' fence epochs a host keeps (the coordinator's default shard limit). */
const MAX_ABSENT_FLOORS = 4096;

function staleEpoch(entry: ShardEntry, epoch: number): ReplicationError {
  return new ReplicationError('STALE_EPOCH', `epoch ${epoch} is not above shard ${entry.replica.options.shard}'s epoch ${entry.replica.epoch}`, { epoch: entry.replica.epoch });
}
