/**
 * What the agent needs from the shard host (src/replication/: this node's replicas and its data
 * port). The command handlers, the scorer and `/metrics` see only this interface, so they stay the
 * same however replication is built; `openShardHost` in `replication-host.ts` adapts the real one.
 *
 * Every method that mirrors a coordinator command resolves to what the coordinator needs back
 * (`CommandOutcome`), or rejects with an error whose `code` is a command error code of the wire
 * format (`STALE_EPOCH`, `UNKNOWN_SHARD`, `NOT_CAUGHT_UP`, `WRONG_ROLE`, ...).
 */
import type { CommandOutcome, FollowArgs } from '../protocol/index.js';

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
  fence(shard: number, epoch: number): Promise<CommandOutcome>;
  unfence(shard: number, epoch: number): Promise<CommandOutcome>;
  promote(shard: number, epoch: number, args: { throughLsn: number }): Promise<CommandOutcome>;
  rollback(shard: number, epoch: number, args: { toTs: number; throughLsn: number }): Promise<CommandOutcome>;
  demote(shard: number, epoch: number, args: { primary: string | null }): Promise<CommandOutcome>;
  follow(shard: number, epoch: number, args: FollowArgs): Promise<CommandOutcome>;
  addShadow(shard: number, epoch: number, args: FollowArgs): Promise<CommandOutcome>;
  removeShadow(shard: number, epoch: number): Promise<CommandOutcome>;
  /** Every replica this node holds now. */
  replicas(): ReplicaFigures[];
  /** Host-wide numeric figures (connections, bytes shipped, ...), exported to `/metrics` as they are. */
  figures(): Record<string, number>;
  close(): Promise<void>;
}
