/**
 * A simulated agent: it holds replicas with an lsn-ordered log, answers the coordinator's commands
 * with the rules a real agent must keep (refuse a lower epoch, refuse commands for another session or
 * older than `commandMaxAgeMs`, answer a replayed cmdId from its cache), and loses its in-memory state
 * (but not its logs) when it crashes.
 */
import type { CommandMessage, CommandResultMessage, ReplicaReport } from '../../../src/coordinator/types.js';

/** One operation in a replica's log. `writeId` is unique per client write across the whole run. */
export interface LogEntry {
  lsn: number;
  epoch: number;
  writeId: number;
}

/** A replica in the simulated log model. */
export interface SimReplica {
  shard: number;
  node: string;
  role: 'primary' | 'shadow' | 'recovering';
  /** The highest epoch this replica has seen; it refuses anything lower. */
  epoch: number;
  /** The epoch it was promoted at; it accepts writes only while this equals `epoch`. */
  acceptEpoch: number | null;
  /** The primary a shadow copies from. */
  source: string | null;
  log: LogEntry[];
}

/** What an agent needs from the world. */
export interface AgentHost {
  nowMs(): number;
  commandMaxAgeMs: number;
  /** The replica of `shard` on `node`, if that node holds one (for catching up and cutting tails). */
  replicaOn(node: string, shard: number): SimReplica | undefined;
  /** A replica just became primary: the checker verifies it holds every acknowledged write. */
  onPromoted(replica: SimReplica): void;
  sendResult(node: string, message: CommandResultMessage): void;
}

/** True when `replica` accepts client writes. */
export function acceptsWrites(replica: SimReplica): boolean {
  return replica.role === 'primary' && replica.acceptEpoch === replica.epoch;
}

const maxCachedResults = 4096;

/** A simulated agent. */
export class SimAgent {
  up = true;
  /**
   * Hung (SIGSTOP, a frozen VM): alive, but it does nothing at all, neither answering commands nor
   * taking or streaming writes, until it resumes and carries on where it stopped.
   */
  hung = false;
  /** Which hang of the run this agent is (or was last) in, so a late timer of an earlier one is ignored. */
  hangNumber = 0;
  session: string;
  private lives = 1;
  readonly replicas = new Map<number, SimReplica>();
  /** Epochs fences carried for shards this agent held no replica of (ShardHost's `absentFloors`). */
  private readonly absentFloors = new Map<number, number>();
  private readonly resultCache = new Map<string, CommandResultMessage>();
  private waitingPromotes: CommandMessage[] = [];
  /** Commands that arrived while hung, handled in order when it resumes. */
  private heldWhileHung: CommandMessage[] = [];
  /** How degraded the host is, 0..1: drives its scores. */
  degradation = 0;

  constructor(
    readonly name: string,
    private readonly host: AgentHost,
  ) {
    this.session = `${name}-s1`;
  }

  /** Crash: the process dies; logs survive, everything in memory is gone. */
  crash(): void {
    this.up = false;
    this.hung = false;
    this.heldWhileHung = [];
    this.resultCache.clear();
    this.waitingPromotes = [];
  }

  /** Resumes a hung agent: it handles, in order, what arrived meanwhile (refusing what is too old). */
  resume(): void {
    this.hung = false;
    const held = this.heldWhileHung;
    this.heldWhileHung = [];
    for (const command of held) this.onCommand(command);
  }

  /** Restart with a new session; a primary comes back `recovering` until told otherwise. */
  restart(): void {
    this.up = true;
    this.lives++;
    this.session = `${this.name}-s${this.lives}`;
    for (const replica of this.replicas.values()) {
      if (replica.role === 'primary') replica.role = 'recovering';
    }
  }

  /** Handles one delivered command. */
  onCommand(command: CommandMessage): void {
    if (!this.up) return;
    if (this.hung) {
      if (this.heldWhileHung.length < maxCachedResults) this.heldWhileHung.push(command);
      return;
    }
    const cached = this.resultCache.get(command.cmdId);
    if (cached) return this.host.sendResult(this.name, cached);
    const result = this.execute(command);
    if (result) this.answer(result);
  }

  /** Retries promotions that wait for their shadow to catch up; drops those that expired. */
  tick(): void {
    if (!this.up || this.hung || this.waitingPromotes.length === 0) return;
    const waiting = this.waitingPromotes;
    this.waitingPromotes = [];
    for (const command of waiting) {
      if (this.host.nowMs() - command.ts > this.host.commandMaxAgeMs) {
        this.answer(failure(command, 'NOT_CAUGHT_UP', 'did not receive through the lsn in time'));
        continue;
      }
      const result = this.promote(command);
      if (result) this.answer(result);
    }
  }

  /** The replica report of one replica. */
  report(replica: SimReplica): ReplicaReport {
    const lsn = replica.log.length;
    const role = acceptsWrites(replica) ? 'primary' : replica.role === 'primary' ? 'recovering' : replica.role;
    return { shard: replica.shard, role, epoch: replica.epoch, receivedLsn: lsn, appliedLsn: lsn, lastEpoch: replica.log[lsn - 1]?.epoch ?? 0 };
  }

  private answer(result: CommandResultMessage): void {
    if (this.resultCache.size >= maxCachedResults) this.resultCache.delete(this.resultCache.keys().next().value!);
    this.resultCache.set(result.cmdId, result);
    this.host.sendResult(this.name, result);
  }

  private execute(command: CommandMessage): CommandResultMessage | null {
    if (command.args.session !== this.session) return failure(command, 'STALE_SESSION', 'for another session');
    if (this.host.nowMs() - command.ts > this.host.commandMaxAgeMs) return failure(command, 'EXPIRED', 'too old');
    switch (command.type) {
      case 'report': {
        const replicas = [...this.replicas.values()].filter((r) => command.shard === undefined || r.shard === command.shard);
        if (command.shard !== undefined) {
          const replica = replicas[0];
          return replica ? success(command, this.report(replica)) : failure(command, 'NO_REPLICA', 'no such replica');
        }
        return success(command, { replicas: replicas.map((r) => this.report(r)) });
      }
      case 'fence': return this.fence(command);
      case 'promote': return this.promote(command);
      case 'follow': return this.follow(command);
      case 'drop': return this.drop(command);
      case 'calibrate': return success(command, {});
    }
  }

  private fence(command: CommandMessage): CommandResultMessage {
    const replica = this.replicas.get(command.shard!);
    if (!replica) {
      this.absentFloors.set(command.shard!, Math.max(this.absentFloors.get(command.shard!) ?? 0, command.epoch!));
      return failure(command, 'NO_REPLICA', 'no such replica');
    }
    replica.epoch = Math.max(replica.epoch, command.epoch!);
    if (replica.role === 'primary' && !acceptsWrites(replica)) replica.role = 'recovering';
    if (replica.role === 'shadow') {
      // A fenced shadow stops receiving altogether, so raising its epoch can never make it accept a
      // primary promoted at that epoch; it waits for a follow.
      replica.role = 'recovering';
      replica.source = null;
    }
    return success(command, this.report(replica));
  }

  private promote(command: CommandMessage): CommandResultMessage | null {
    const epoch = command.epoch!;
    const throughLsn = Number(command.args.throughLsn ?? 0);
    if (!this.replicas.has(command.shard!) && command.args.create === true && throughLsn === 0) {
      const floor = this.absentFloors.get(command.shard!) ?? 0;
      if (epoch < floor) return failure(command, 'STALE_EPOCH', `seen epoch ${floor}`, undefined, floor);
      this.absentFloors.delete(command.shard!);
      this.replicas.set(command.shard!, { shard: command.shard!, node: this.name, role: 'recovering', epoch: 0, acceptEpoch: null, source: null, log: [] });
    }
    const replica = this.replicas.get(command.shard!);
    if (!replica) return failure(command, 'NO_REPLICA', 'no such replica');
    if (epoch < replica.epoch) return failure(command, 'STALE_EPOCH', `seen epoch ${replica.epoch}`, this.report(replica), replica.epoch);
    if (acceptsWrites(replica) && replica.acceptEpoch === epoch) return success(command, this.report(replica));
    if (replica.log.length < throughLsn) {
      this.waitingPromotes.push(command);
      return null;
    }
    const throughEpoch = command.args.throughEpoch;
    if (typeof throughEpoch === 'number' && throughLsn > 0 && replica.log[throughLsn - 1]!.epoch !== throughEpoch) {
      return failure(command, 'DIVERGED', `entry ${throughLsn} is of epoch ${replica.log[throughLsn - 1]!.epoch}`, this.report(replica));
    }
    replica.role = 'primary';
    replica.epoch = epoch;
    replica.acceptEpoch = epoch;
    replica.source = null;
    this.host.onPromoted(replica);
    return success(command, this.report(replica));
  }

  private follow(command: CommandMessage): CommandResultMessage {
    const epoch = command.epoch!;
    const primary = String(command.args.primary);
    if (primary === this.name) return failure(command, 'BAD_REQUEST', 'cannot follow itself');
    let replica = this.replicas.get(command.shard!);
    if (replica && epoch < replica.epoch) return failure(command, 'STALE_EPOCH', `seen epoch ${replica.epoch}`, this.report(replica), replica.epoch);
    if (!replica) {
      const floor = this.absentFloors.get(command.shard!) ?? 0;
      if (epoch < floor) return failure(command, 'STALE_EPOCH', `seen epoch ${floor}`, undefined, floor);
      this.absentFloors.delete(command.shard!);
      replica = { shard: command.shard!, node: this.name, role: 'shadow', epoch, acceptEpoch: null, source: primary, log: [] };
      this.replicas.set(replica.shard, replica);
    }
    replica.role = 'shadow';
    replica.epoch = epoch;
    replica.acceptEpoch = null;
    replica.source = primary;
    const source = this.host.replicaOn(primary, replica.shard);
    if (source) replica.log.length = commonPrefix(replica.log, source.log); // the cut tail goes to a conflict file
    return success(command, this.report(replica));
  }

  private drop(command: CommandMessage): CommandResultMessage {
    const replica = this.replicas.get(command.shard!);
    if (!replica) return success(command, {});
    if (acceptsWrites(replica)) return failure(command, 'IS_PRIMARY', 'accepts writes');
    if (command.epoch! < replica.epoch) return failure(command, 'STALE_EPOCH', `seen epoch ${replica.epoch}`, undefined, replica.epoch);
    this.replicas.delete(command.shard!);
    return success(command, {});
  }
}

/** The length of the longest common prefix of two logs. */
export function commonPrefix(a: readonly LogEntry[], b: readonly LogEntry[]): number {
  const length = Math.min(a.length, b.length);
  let index = 0;
  while (index < length && a[index]!.writeId === b[index]!.writeId) index++;
  return index;
}

function success(command: CommandMessage, result: unknown): CommandResultMessage {
  return { cmdId: command.cmdId, ok: true, result };
}

function failure(command: CommandMessage, code: string, message: string, result?: unknown, epoch?: number): CommandResultMessage {
  // As the real agent does, a STALE_EPOCH refusal carries the epoch the replica (or its absent floor) is at.
  const error = epoch === undefined ? { code, message } : { code, message, epoch };
  return result === undefined ? { cmdId: command.cmdId, ok: false, error } : { cmdId: command.cmdId, ok: false, result, error };
}
