/**
 * The frame every per-shard operation shares: a shard has at most one operation in flight (switch,
 * failover, pre-replication, move, rejoin), so no two decisions ever race on one shard. An operation
 * sends commands through its context and hears back their results and timeouts.
 *
 * @module
 */
import type { ClusterMap } from './cluster-map.js';
import type { Incident } from './incidents/incident.js';
import type { CoordinatorOptions } from './options.js';
import type { InFlightMove } from './rebalance.js';
import type { RoutingTable } from './routing.js';
import type { ShardState } from './shard-state.js';
import type { CommandMessage, CommandResultMessage, CommandType, ReplicaReport } from './types.js';

/** A command sent and not yet answered. */
export interface PendingCommand {
  readonly command: CommandMessage;
  readonly node: string;
  /** 1 for the first send; a resend is a new command (new cmdId) with the next attempt number. */
  readonly attempt: number;
  deadlineMs: number;
  /** Set once the deadline passed; a late answer is still delivered until the command has surely expired. */
  timedOut: boolean;
  /** The routing revision when it was sent: an answer says nothing about shards changed since. */
  readonly routingRevision: number;
  /** The operation that waits for it; null for the core's own commands (node reports). */
  readonly owner: ShardOperation | null;
}

/** What an operation may do. The core implements it; tests may fake it. */
export interface OperationContext {
  readonly options: Readonly<CoordinatorOptions>;
  readonly nowMs: number;
  readonly routing: RoutingTable;
  readonly cluster: ClusterMap;
  shardState(id: number): ShardState;
  /** Sends a command to `node`'s current session; null when the node has no session to send to. */
  send(owner: ShardOperation, node: string, type: CommandType, shard: number, epoch: number, args?: Record<string, unknown>, attempt?: number): PendingCommand | null;
  /** Publishes (a copy of) an incident and stores it. */
  publishIncident(incident: Incident): void;
  /** Watches the old primary's node for the outcome horizon, then labels the incident. */
  watchOutcome(incident: Incident, node: string): void;
  /** Ends `operation`: it leaves its shard and its pending commands are forgotten. */
  finish(operation: ShardOperation): void;
  /** Starts `operation` unless its shard is busy; true when it started. */
  startOperation(operation: ShardOperation): boolean;
  /** Puts `node` aside as a recovering old primary of `shard`, to rejoin as a shadow once healthy. */
  markRecovering(shard: number, node: string): void;
  /** Forgets `node` as a recovering old primary of `shard` (it rejoined, or became primary). */
  clearRecovering(shard: number, node: string): void;
  /** Replaces whatever runs on `shard` with a failover. */
  startFailover(shard: number, reason: string): void;
  /** Counts and logs an operating event. */
  log(level: 'info' | 'warn', code: string, message: string): void;
  newId(prefix: string): string;
}

/** The kinds of operation. */
export type OperationKind = 'switch' | 'failover' | 'pre-replicate' | 'remove-extra' | 'move' | 'rejoin' | 'repair' | 'create';

/** A node event an operation may care about. */
export type NodeChange = 'down' | 'dead' | 'up';

/** A per-shard operation. */
export abstract class ShardOperation {
  abstract readonly kind: OperationKind;
  /** Background operations (moves, pre-replication, rejoin) give way to switches and failovers. */
  abstract readonly background: boolean;

  constructor(readonly shard: number) {}

  /** True when another operation may take over the shard without losing anything: background work, or a switch already done. */
  get replaceable(): boolean {
    return this.background;
  }

  /** Sends the first commands. */
  abstract start(ctx: OperationContext): void;
  /** A result for one of this operation's commands. */
  abstract onResult(ctx: OperationContext, pending: PendingCommand, message: CommandResultMessage): void;
  /** One of this operation's commands went unanswered past its deadline. */
  abstract onTimeout(ctx: OperationContext, pending: PendingCommand): void;
  /** A node of this shard went down, died, or came back. */
  onNodeChange(_ctx: OperationContext, _node: string, _change: NodeChange): void {}
  /** Called when the operation is cancelled to make room for another one. */
  onCancel(_ctx: OperationContext): void {}
  /** Called on every decision tick, for an operation whose next step waits on time alone. */
  onTick(_ctx: OperationContext): void {}
  /** The rebalancing move this operation is making and routing does not show yet; null for none. */
  inFlightMove(_ctx: OperationContext): InFlightMove | null {
    return null;
  }

  /** Resends `pending` as a fresh command (new cmdId, so the agent does not answer from its replay cache). */
  protected resend(ctx: OperationContext, pending: PendingCommand): PendingCommand | null {
    const command = pending.command;
    return ctx.send(this, pending.node, command.type, command.shard!, command.epoch!, command.args, pending.attempt + 1);
  }
}

/** Reads a replica report from a command result, or null when it is not one. */
export function readReplicaReport(value: unknown): ReplicaReport | null {
  if (typeof value !== 'object' || value === null) return null;
  const report = value as Partial<ReplicaReport>;
  const roles = ['primary', 'shadow', 'recovering'];
  const ok =
    Number.isInteger(report.shard) &&
    typeof report.role === 'string' &&
    roles.includes(report.role) &&
    Number.isInteger(report.epoch) &&
    Number.isInteger(report.receivedLsn) &&
    Number.isInteger(report.appliedLsn) &&
    (report.lastEpoch === undefined || Number.isInteger(report.lastEpoch));
  return ok ? (report as ReplicaReport) : null;
}
