/**
 * The planned switch, DESIGN §3 steps 1-5, as a state machine per shard:
 *
 * 1. routing marks the shard's writes `paused` (gateways buffer them);
 * 2. the primary is fenced with the epoch the switch opens and reports its last lsn `L`
 *    (the shadows are asked for their received lsn at the same time, to pick a caught-up one);
 * 3. the healthiest caught-up shadow is told to promote at that epoch once received through `L`;
 * 4. routing points writes and reads at it, writes open;
 * 5. the old primary is `recovering`, and the incident is written.
 *
 * Timeouts: while the fence is unanswered, the fence is retried; if it never answers, the old primary
 * is promoted again at a fresh epoch, which reopens writes on it and makes a late fence harmless
 * (a replica refuses a lower epoch). Once the fence has answered, the promotion is always completed:
 * by this switch, or, when no replica is left for it to promote, by the failover it hands the shard to.
 *
 * @module
 */
import { candidate, eligibleTargets, healthiestCaughtUp, type Candidate } from './decisions.js';
import { readReplicaReport, type NodeChange, type OperationContext, type PendingCommand } from './operation.js';
import { PromotingOperation } from './promotion.js';
import type { InFlightMove } from './rebalance.js';
import type { CommandResultMessage } from './types.js';

/** A planned switch of one shard. */
export class PlannedSwitch extends PromotingOperation {
  readonly kind = 'switch' as const;
  private fenceEpoch = 0;
  private fenceAttempts = 0;
  private fenced = false;
  /** Set when the fence never answered: then only the old primary may be promoted (it may still hold writes no shadow has). */
  private reopening = false;

  constructor(
    shard: number,
    private readonly reason: string,
    /** The shadow to promote when it can be (an operator's choice, or a rebalancing move's). */
    private readonly requestedTarget: string | null = null,
    /** Shadows not to promote: the nodes the shard left within its cool-down. */
    private readonly avoid: ReadonlySet<string> = new Set(),
  ) {
    super(shard);
  }

  /** Steps 1 and 2. */
  start(ctx: OperationContext): void {
    this.open(ctx, 'planned-switch', this.reason);
    this.pauseWrites(ctx);
    this.fenceEpoch = ctx.shardState(this.shard).allocateEpoch();
    this.sendFence(ctx);
    for (const shadow of ctx.routing.get(this.shard)!.shadows) {
      if (ctx.cluster.isOnline(shadow)) ctx.send(this, shadow, 'report', this.shard, this.fenceEpoch);
    }
  }

  /** The current step's result. */
  onResult(ctx: OperationContext, pending: PendingCommand, message: CommandResultMessage): void {
    if (this.promoting) return this.onPromotionResult(ctx, pending, message);
    const report = readReplicaReport(message.result);
    if (pending.command.type === 'report') {
      if (message.ok && report) ctx.shardState(this.shard).remember(pending.node, report);
      return;
    }
    if (pending.command.type !== 'fence' || pending.node !== this.oldPrimary || this.fenced) return;
    if (!message.ok || !report) {
      // The primary refuses its fence (it has seen a higher epoch, or lost the replica): the map we
      // hold is wrong, and a failover finds out what is true from every replica.
      this.step(ctx, 'fence-refused', pending.node, pending, message.error?.code ?? 'no report');
      if (report) ctx.shardState(this.shard).noteEpoch(report.epoch);
      ctx.startFailover(this.shard, `fence refused by ${pending.node}: ${message.error?.code ?? 'no report'}`);
      return;
    }
    this.fenced = true;
    this.throughLsn = report.receivedLsn;
    this.throughEpoch = report.lastEpoch ?? null;
    this.step(ctx, 'fenced', pending.node, pending, `last lsn ${report.receivedLsn}`);
    const target = this.nextTarget(ctx);
    if (target === null) return this.reopen(ctx, 'no caught-up shadow');
    this.promote(ctx, target, target === this.oldPrimary ? ctx.shardState(this.shard).allocateEpoch() : this.fenceEpoch);
  }

  /** A step that timed out: retry, then take the safe way out. */
  onTimeout(ctx: OperationContext, pending: PendingCommand): void {
    if (this.promoting) return this.onPromotionTimeout(ctx, pending);
    if (pending.command.type !== 'fence' || this.fenced) return;
    this.step(ctx, 'fence-timeout', pending.node, pending);
    if (this.fenceAttempts < ctx.options.maxStepAttempts) return this.sendFence(ctx);
    this.reopen(ctx, 'fence never answered');
  }

  /** The primary going down turns the switch into a failover; a target going down is replaced. */
  override onNodeChange(ctx: OperationContext, node: string, change: NodeChange): void {
    if (change === 'up') return this.onReplicaUp(ctx, node);
    if (node === this.oldPrimary && !this.promoting) return ctx.startFailover(this.shard, `primary ${node} went down during a switch`);
    this.onTargetDown(ctx, node);
  }

  /** A primary on its way to the requested shadow (a rebalancing move, or an operator's switch). */
  override inFlightMove(ctx: OperationContext): InFlightMove | null {
    const primary = ctx.routing.get(this.shard)?.primary ?? null;
    return this.requestedTarget !== null && primary !== null && primary !== this.requestedTarget ? { kind: 'move-primary', from: primary, to: this.requestedTarget } : null;
  }

  /**
   * The next target, at a fresh epoch. When every one has failed once, it starts over with the
   * best-ranked (a fresh epoch also gets past a refusal for a stale one): a promotion, once sent, is
   * never abandoned by the switch. When none is left at all (the old primary down too, or shadows that
   * hold nothing), only the target coming back would end the wait, with writes paused all along, so a
   * failover takes the shard: it fences every replica afresh and promotes the most recent log.
   */
  protected override onPromotionFailed(ctx: OperationContext, why: string): void {
    let next = this.nextTarget(ctx);
    if (next === null && this.failedTargets.size > 0) {
      this.step(ctx, 'no-other-target', this.target ?? undefined, null, why);
      this.failedTargets.clear();
      next = this.nextTarget(ctx);
    }
    if (next === null) return ctx.startFailover(this.shard, `no replica left to promote in the switch (${why})`);
    this.promote(ctx, next, ctx.shardState(this.shard).allocateEpoch());
  }

  /** The requested target, else the healthiest caught-up shadow, else the old primary once fenced. */
  protected nextTarget(ctx: OperationContext): string | null {
    const route = ctx.routing.get(this.shard)!;
    const untried = (node: string): boolean => !this.failedTargets.has(node) && !this.holdsNothing.has(node);
    const usable = (node: string): boolean => untried(node) && ctx.cluster.isOnline(node);
    if (this.reopening) return this.oldPrimary !== null && usable(this.oldPrimary) ? this.oldPrimary : null;
    if (this.requestedTarget !== null && usable(this.requestedTarget) && route.shadows.includes(this.requestedTarget)) return this.requestedTarget;
    const reports = ctx.shardState(this.shard).reports;
    const eligible = eligibleTargets(route.shadows.filter(untried), this.avoid, ctx.cluster, ctx.options.switchThreshold);
    const candidates: Candidate[] = eligible.map((node) => candidate(node, ctx.cluster.risk(node), reports.get(node)));
    const best = healthiestCaughtUp(candidates, this.throughLsn);
    if (best) return best.node;
    if (this.fenced && this.oldPrimary !== null && usable(this.oldPrimary)) return this.oldPrimary;
    return null;
  }

  private sendFence(ctx: OperationContext): void {
    this.fenceAttempts++;
    const pending = this.oldPrimary === null ? null : ctx.send(this, this.oldPrimary, 'fence', this.shard, this.fenceEpoch);
    this.step(ctx, 'fence-sent', this.oldPrimary ?? undefined, pending, `epoch ${this.fenceEpoch}, attempt ${this.fenceAttempts}`);
    if (!pending) ctx.startFailover(this.shard, 'primary has no session to fence');
  }

  /** Writes reopen on the old primary, promoted again at a fresh epoch so a late fence cannot stop it. */
  private reopen(ctx: OperationContext, why: string): void {
    this.step(ctx, 'reopening', this.oldPrimary ?? undefined, null, why);
    this.reopening = !this.fenced;
    this.promote(ctx, this.oldPrimary!, ctx.shardState(this.shard).allocateEpoch());
  }
}
