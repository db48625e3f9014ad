/**
 * The background operation that changes a shard's set of shadows: add a shadow (pre-replication, a
 * rebalance move, an old primary rejoining, a repair of a shard short of shadows), and remove one (an extra shadow no longer needed, the
 * source of a move). The shard's primary and epoch never change here.
 *
 Two invariants make this safe next to failovers, with writes acknowledged once one shadow has them:
 * - every replica that may follow the primary (and so may hold an acknowledged write) is listed in
 *   routing: a new shadow is listed before it is told to follow, and a removed one is unlisted only
 *   once its agent confirms the drop (a listed node without a replica just answers `NO_REPLICA`);
 * - a shadow is dropped only once another listed shadow holds everything it held: it is first
 *   fenced, so it stops receiving (and acknowledging), and reports its last lsn;
 *   then the other shadows are polled, once a tick, until one has received through that lsn.
 * Before the fence, the removed shadow and the others are polled once a tick until another has
 * received as much as it had (a new shadow copying a large shard may take minutes): fenced at once,
 * it would stop acknowledging writes while nothing else could, and the removal would give up on a
 * copy still under way. This wait gives up only when the others stop making progress.
 *
 * @module
 */
import { readReplicaReport, ShardOperation, type NodeChange, type OperationContext, type OperationKind, type PendingCommand } from './operation.js';
import { replicaVerdict } from './recovery.js';
import type { InFlightMove } from './rebalance.js';
import type { CommandResultMessage, ReplicaReport } from './types.js';

/** What to change. */
export interface ReplicaChangePlan {
  kind: Extract<OperationKind, 'pre-replicate' | 'remove-extra' | 'move' | 'rejoin' | 'repair'>;
  /** The node that gets a new shadow. */
  add: string | null;
  /** The node whose replica goes. */
  remove: string | null;
  /** Whether the added shadow is an extra one from pre-replication. */
  extra: boolean;
}

type Phase = 'adding' | 'warming' | 'fencing' | 'polling' | 'dropping';
const phaseOf: Record<string, Phase> = { follow: 'adding', fence: 'fencing', report: 'polling', drop: 'dropping' };

/**
 * How many times the remaining shadows are polled for catching up before a removal gives up. A shadow
 * that answers it is behind is asked again at the next tick, so this is 50 ticks (10 s at the default
 * 200 ms), time for a lagging shadow to catch up, and not 50 round trips back to back.
 */
export const maxCatchUpPolls = 50;

/** How many ticks in a row the other shadows may make no progress before a removal stops waiting for them. */
export const maxWarmUpTicksWithoutProgress = 50;
/**
 * How close (in entries) another shadow must come to the removed one before the fence. Both keep
 * receiving, so a live one trails by what is in flight; the exact check after the fence closes the gap.
 */
export const warmUpSlackEntries = 256;

/** Adds and/or removes one shadow of one shard. */
export class ReplicaChange extends ShardOperation {
  readonly background = true;
  readonly kind: ReplicaChangePlan['kind'];
  private epoch = 0;
  private primary = '';
  /** The removed shadow's last lsn once fenced; null before. */
  private removedLsn: number | null = null;
  /** The epoch of the removed shadow's last entry, once fenced. */
  private removedLastEpoch = 0;
  /** The step in progress; answers for any other step (late duplicates) are ignored. */
  private phase: Phase = 'adding';

  constructor(
    shard: number,
    readonly plan: ReplicaChangePlan,
  ) {
    super(shard);
    this.kind = plan.kind;
  }

  /** Lists the new shadow and tells it to follow, or starts the wait before removing one. */
  start(ctx: OperationContext): void {
    const route = ctx.routing.get(this.shard)!;
    if (route.primary === null || route.writes !== 'open') return ctx.finish(this);
    this.epoch = route.epoch;
    this.primary = route.primary;
    if (this.plan.add === null) return this.startWarmUp(ctx);
    this.addToRouting(ctx);
    const follow = ctx.send(this, this.plan.add, 'follow', this.shard, this.epoch, { primary: this.primary });
    if (!follow) return ctx.finish(this);
    this.followsUnanswered.add(follow.command.cmdId);
  }

  /** Moves on to the next step once a command answers. */
  onResult(ctx: OperationContext, pending: PendingCommand, message: CommandResultMessage): void {
    if (!this.stillCurrent(ctx)) return ctx.finish(this);
    const report = readReplicaReport(message.result);
    if (this.phase === 'warming') return this.onWarmUpResult(ctx, pending, message, report);
    if (phaseOf[pending.command.type] !== this.phase) return;
    switch (pending.command.type) {
      case 'follow':
        this.followsUnanswered.delete(pending.command.cmdId);
        if (!message.ok && this.followsUnanswered.size > 0) {
          // Another attempt may still land (this one went to a session the node has left, say, and
          // the resend to its new one is on its way): unlisted, it would follow the primary unseen,
          // and acknowledge writes a failover never fences (storm-slow seeds 467 and 808).
          return this.giveUp(ctx, `${pending.node} refused to follow (${message.error?.code ?? '?'}), but another follow to it is unanswered; it stays listed`);
        }
        if (!message.ok) {
          // A refused follow changed nothing on the agent: a node this change listed can leave routing
          // again, but one listed before may hold a log a failover needs, so it stays.
          ctx.log('warn', 'FOLLOW_REFUSED', `shard ${this.shard}: ${pending.node} refused to follow: ${message.error?.code ?? '?'}`);
          return this.listedByThisChange ? this.removeFromRouting(ctx, pending.node) : ctx.finish(this);
        }
        if (this.plan.kind === 'rejoin') ctx.clearRecovering(this.shard, pending.node);
        return this.plan.remove === null ? ctx.finish(this) : this.startWarmUp(ctx);
      case 'fence':
        if (!message.ok && message.error?.code === 'NO_REPLICA') return this.removeFromRouting(ctx, pending.node);
        if (!message.ok || !report) return ctx.finish(this);
        this.removedLsn = report.receivedLsn;
        this.removedLastEpoch = report.lastEpoch ?? 0;
        this.phase = 'polling';
        return this.pollOthers(ctx, 1);
      case 'report':
        // Only the polls sent after the fence count: a late answer to a question asked before it
        // (the removed replica's own, say) says nothing about what it holds now.
        if (!this.polls.delete(pending)) return;
        if (message.ok && report && this.removedLsn !== null && holdsLogOf(report, this.removedLastEpoch, this.removedLsn)) return this.sendDrop(ctx);
        const why = this.notFollowing(ctx, pending.node, message, report);
        if (why !== null) return this.rejoinInstead(ctx, pending.node, why);
        if (pending.attempt >= maxCatchUpPolls) return this.giveUp(ctx, 'no other shadow caught up');
        this.pollNextTick.push(pending);
        return;
      case 'drop':
        if (message.ok) return this.removeFromRouting(ctx, pending.node);
        ctx.log('warn', 'DROP_REFUSED', `shard ${this.shard}: ${pending.node} refused to drop: ${message.error?.code ?? '?'}`);
        return ctx.finish(this);
      default:
        return;
    }
  }

  /** Retries a step, then gives up; a replica whose removal is unconfirmed stays listed, which is safe. */
  onTimeout(ctx: OperationContext, pending: PendingCommand): void {
    if (this.phase === 'warming') {
      this.warmUpAsked.delete(pending.node); // asked again at the next tick, while the wait lasts
      return;
    }
    if (phaseOf[pending.command.type] !== this.phase) return;
    const limit = pending.command.type === 'report' ? maxCatchUpPolls : ctx.options.maxStepAttempts;
    if (pending.attempt < limit && ctx.cluster.isOnline(pending.node) && this.stillCurrent(ctx)) {
      const again = this.resend(ctx, pending);
      if (again && pending.command.type === 'report') this.polls.add(again);
      if (again && pending.command.type === 'follow') this.followsUnanswered.add(again.command.cmdId);
      return;
    }
    if (pending.command.type !== 'report' || !this.anyPollPending) this.giveUp(ctx, `${pending.command.type} on ${pending.node} unanswered`);
  }

  /** Asks again the shadows that answered they were still behind. */
  override onTick(ctx: OperationContext): void {
    if (this.phase === 'warming') return this.warmUpTick(ctx);
    if (this.pollNextTick.length === 0) return;
    const due = this.pollNextTick.splice(0);
    if (!this.stillCurrent(ctx)) return ctx.finish(this);
    for (const pending of due) {
      const again = this.resend(ctx, pending);
      if (again) this.polls.add(again);
    }
  }

  /** The primary going down ends the change; the failover takes it from there. */
  override onNodeChange(ctx: OperationContext, node: string, change: NodeChange): void {
    if (change !== 'up' && node === this.primary) ctx.finish(this);
  }

  private anyPollPending = false;
  /** The polls sent after the fence and not yet answered. */
  private readonly polls = new Set<PendingCommand>();
  /** Before the fence: the last lsn each polled replica reported, who has a question pending, and progress. */
  private readonly warmUpLsns = new Map<string, number>();
  private readonly warmUpAsked = new Set<string>();
  private warmUpBest = -1;
  private warmUpIdleTicks = 0;
  /** Polls answered "not yet", to be sent again at the next tick. */
  private readonly pollNextTick: PendingCommand[] = [];
  /** The follows sent to the added node that have no answer yet, timed out or not (one may still arrive). */
  private readonly followsUnanswered = new Set<string>();
  /** True when this change put the added node in routing (it was not listed before). */
  private listedByThisChange = false;

  private stillCurrent(ctx: OperationContext): boolean {
    const route = ctx.routing.get(this.shard)!;
    return route.epoch === this.epoch && route.primary === this.primary;
  }

  /**
   * Why `node`, listed as a shadow, is not following this primary, by its answer to a report (a stale
   * primary, a fenced shadow, a shadow of another epoch, or no replica because its follow never
   * arrived: the core's own rule, replicaVerdict); null when it is, or when the answer says nothing.
   * Such a replica will not catch up by itself, so a removal tells it to follow first: until it does
   * the shard has a shadow fewer than routing says, and a removal that only gave up is started again
   * and keeps the shard busy, so the core's own rejoin for that node may never get it.
   */
  private notFollowing(ctx: OperationContext, node: string, message: CommandResultMessage, report: ReplicaReport | null): string | null {
    if (!message.ok) return message.error?.code === 'NO_REPLICA' ? 'holds no replica' : null;
    if (!report || replicaVerdict(ctx.routing.get(this.shard)!, node, report) === 'ok') return null;
    return `reports ${report.role} at epoch ${report.epoch}`;
  }

  /** A shadow still listed on the node it is leaving. */
  override inFlightMove(ctx: OperationContext): InFlightMove | null {
    const remove = this.plan.remove;
    return remove !== null && ctx.routing.get(this.shard)?.shadows.includes(remove) ? { kind: 'move-shadow', from: remove } : null;
  }

  /** The listed shadows other than the one to remove, on online nodes. */
  private otherShadows(ctx: OperationContext): string[] {
    return ctx.routing.get(this.shard)!.shadows.filter((n) => n !== this.plan.remove && ctx.cluster.isOnline(n));
  }

  private rejoinInstead(ctx: OperationContext, node: string, why: string): void {
    this.giveUp(ctx, `${node} is listed as a shadow but ${why}; it is told to follow first`);
    const extra = ctx.routing.get(this.shard)!.extraShadows.includes(node);
    ctx.startOperation(new ReplicaChange(this.shard, { kind: 'rejoin', add: node, remove: null, extra }));
  }

  private giveUp(ctx: OperationContext, why: string): void {
    ctx.log('warn', 'REPLICA_CHANGE_GAVE_UP', `shard ${this.shard} ${this.kind}: ${why}`);
    ctx.finish(this);
  }

  private startWarmUp(ctx: OperationContext): void {
    const node = this.plan.remove!;
    if (node === this.primary) return ctx.finish(this);
    this.phase = 'warming';
    this.warmUpTick(ctx);
  }

  /** One round of the wait before the fence: asks whoever has no question pending, and counts ticks without progress. */
  private warmUpTick(ctx: OperationContext): void {
    if (!this.stillCurrent(ctx)) return ctx.finish(this);
    if (this.warmUpIdleTicks++ >= maxWarmUpTicksWithoutProgress) return this.giveUp(ctx, `no other shadow got closer to ${this.plan.remove} in ${maxWarmUpTicksWithoutProgress} ticks`);
    const others = this.otherShadows(ctx);
    if (others.length === 0) return this.giveUp(ctx, 'no other shadow to hold its writes');
    for (const node of [this.plan.remove!, ...others]) {
      if (this.warmUpAsked.has(node)) continue;
      if (ctx.send(this, node, 'report', this.shard, this.epoch)) this.warmUpAsked.add(node);
    }
  }

  private onWarmUpResult(ctx: OperationContext, pending: PendingCommand, message: CommandResultMessage, report: ReplicaReport | null): void {
    if (pending.command.type !== 'report') return;
    this.warmUpAsked.delete(pending.node);
    const removed = pending.node === this.plan.remove;
    const why = this.notFollowing(ctx, pending.node, message, report);
    // The removed replica holds nothing, or no longer receives: nothing it has can still grow, so the
    // fence (and the exact check after it) can come now.
    if (removed && (!message.ok || !report || why !== null)) return this.fenceRemoved(ctx);
    if (why !== null) return this.rejoinInstead(ctx, pending.node, why);
    if (!message.ok || !report) return;
    this.warmUpLsns.set(pending.node, report.receivedLsn);
    const target = this.warmUpLsns.get(this.plan.remove!);
    const best = Math.max(-1, ...[...this.warmUpLsns].filter(([node]) => node !== this.plan.remove).map(([, lsn]) => lsn));
    if (best > this.warmUpBest) {
      this.warmUpBest = best;
      this.warmUpIdleTicks = 0;
    }
    if (target !== undefined && best >= target - warmUpSlackEntries) this.fenceRemoved(ctx);
  }

  /**
   * Stops the removed shadow from receiving. The routing epoch is enough (a fenced shadow stops
   * altogether) and keeps it able to follow this primary again if the removal gives up.
   */
  private fenceRemoved(ctx: OperationContext): void {
    const node = this.plan.remove!;
    if (node === this.primary) return ctx.finish(this);
    this.phase = 'fencing';
    if (!ctx.send(this, node, 'fence', this.shard, this.epoch)) ctx.finish(this);
  }

  private pollOthers(ctx: OperationContext, attempt: number): void {
    const others = this.otherShadows(ctx);
    this.anyPollPending = false;
    for (const node of others) {
      const pending = ctx.send(this, node, 'report', this.shard, this.epoch, {}, attempt);
      if (pending) {
        this.polls.add(pending);
        this.anyPollPending = true;
      }
    }
    if (!this.anyPollPending) this.giveUp(ctx, 'no other shadow to hold its writes');
  }

  private sendDrop(ctx: OperationContext): void {
    this.phase = 'dropping';
    if (!ctx.send(this, this.plan.remove!, 'drop', this.shard, this.epoch)) ctx.finish(this);
  }

  private addToRouting(ctx: OperationContext): void {
    const node = this.plan.add!;
    const route = ctx.routing.get(this.shard)!;
    if (route.shadows.includes(node)) return;
    this.listedByThisChange = true;
    ctx.routing.update(this.shard, {
      shadows: [...route.shadows, node],
      extraShadows: this.plan.extra ? [...route.extraShadows, node] : [...route.extraShadows],
      dataUrls: { ...route.dataUrls, [node]: ctx.cluster.get(node)?.dataUrl ?? '' },
    });
  }

  private removeFromRouting(ctx: OperationContext, node: string): void {
    const route = ctx.routing.get(this.shard)!;
    if (node !== route.primary && route.shadows.includes(node)) {
      const dataUrls = { ...route.dataUrls };
      delete dataUrls[node];
      ctx.routing.update(this.shard, {
        shadows: route.shadows.filter((n) => n !== node),
        extraShadows: route.extraShadows.filter((n) => n !== node),
        dataUrls,
      });
    }
    ctx.finish(this);
  }
}

/**
 * True when a replica that reports `report` holds every entry of a log that ended at `lsn` with an
 * entry of epoch `lastEpoch`: its own log ends at a newer epoch (whose primary was promoted holding
 * every acknowledged write), or at the same epoch and at least as far. An lsn alone is not enough:
 * a shadow that kept a tail of an older epoch can be as long and still lack the newer entries.
 */
function holdsLogOf(report: ReplicaReport, lastEpoch: number, lsn: number): boolean {
  const own = report.lastEpoch ?? 0;
  return own > lastEpoch || (own === lastEpoch && report.receivedLsn >= lsn);
}
