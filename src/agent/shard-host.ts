/**
 * What the agent needs from the shard host (src/replication/: this node's replicas and its data
 * port). The command handlers, the scorer and `/metrics` see only this interface, so they stay the
 * same however replication is built; `openReplicationHost` in `replication-host.ts` adapts the real one.
 *
 * The methods that mirror a coordinator command (src/protocol/commands.ts) resolve to the replica's
 * report, or reject with an error whose `code` is a command error code of the wire format
 * (`STALE_EPOCH`, `NO_REPLICA`, `NOT_CAUGHT_UP`, `DIVERGED`, `IS_PRIMARY`, `BAD_REQUEST`, ...).
 */
import type { FollowArgs, PromoteArgs, ReplicaReport } from '../protocol/index.js';

/** One replica on this node, as `/metrics`, the scorer and `/healthz` read it. */
export interface ReplicaFigures {
  shard: number;
  role: string;
  epoch: number;
  receivedLsn: number;
  appliedLsn: number;
  /** Primary to this shadow, or this primary to its slowest shadow; absent when unknown. */
  replicationLagMs?: number;
  /** Further numeric figures of the replica (bytes, connected shadows, ...), exported as they are. */
  figures?: Record<string, number>;
}

/** The shard host as the agent uses it. */
export interface AgentShardHost {
  /** The data port's URL as other nodes and gateways reach it, for the birth. */
  readonly dataUrl: string;
  /** `fence`: epoch to max(own, `epoch`); a primary below it stops writes, a shadow stops receiving. */
  fence(shard: number, epoch: number): Promise<ReplicaReport>;
  /** `promote`, waiting at most `waitMs` for the replica to receive through `args.throughLsn`. */
  promote(shard: number, epoch: number, args: Omit<PromoteArgs, 'session'>, waitMs: number): Promise<ReplicaReport>;
  /** `follow`: become (or create) a shadow of `args.primary` at `epoch`. */
  follow(shard: number, epoch: number, args: Omit<FollowArgs, 'session'>): Promise<ReplicaReport>;
  /** `drop`: delete the replica (missing is fine); refused `IS_PRIMARY` while it takes writes. */
  drop(shard: number, epoch: number): Promise<void>;
  /** `report`: one replica (rejects `NO_REPLICA` when missing), or every replica. */
  report(shard?: number): ReplicaReport[];
  /** Every replica this node holds now. */
  replicas(): ReplicaFigures[];
  /** Host-wide numeric figures (connections, bytes shipped, ...), exported to `/metrics` as they are. */
  figures(): Record<string, number>;
  close(): Promise<void>;
}
