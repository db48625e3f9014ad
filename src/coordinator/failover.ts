/**
 * Unplanned failover (DESIGN §3): the primary's will arrived or its heartbeats stopped. Writes pause;
 * the old primary is sent a fence and every shadow a report. Then:
 * - if a replica already reports itself primary at a newer epoch (a promotion whose answer was lost),
 *   it is adopted;
 * - if the old primary answers its fence, it was alive: its last lsn `L` is known, and the switch goes
 *   on as a planned one (healthiest shadow caught up through `L`);
 * - if the old primary is dead (its will arrived), once every shadow (and every recovering old
 *   primary set aside by an earlier switch) whose node is not dead has answered, the replica with the
 *   most recent log is promoted: it holds every acknowledged write;
 * - with no replica left to answer, routing marks the shard unavailable and an incident says so; the
 *   failover waits for a replica to come back.
 * A primary that is only suspect is never passed over: it may still be writing, so the failover waits
 * for its fence answer or its will.
 *
 * @module
 */
import { candidate, healthiestCaughtUp, highestReceived, type Candidate } from './decisions.js';
import { closeIncident, openIncident } from './incidents/incident.js';
import { readReplicaReport, type NodeChange, type OperationContext, type PendingCommand } from './operation.js';
import { PromotingOperation } from './promotion.js';
import { replicaNodes } from './routing.js';
import type { CommandResultMessage, ReplicaReport } from './types.js';

/** An unplanned failover of one shard. */
export class Failover extends PromotingOperation {
  readonly kind = 'failover' as const;
  private queryEpoch = 0;
  private readonly answers = new Map<string, ReplicaReport>();
  private unavailable = false;
  /** The old primary's agent says it has no replica of the shard: it holds no writes, like a dead one. */
  private primaryGone = false;

  constructor(
    shard: number,
    private readonly reason: string,
  ) {
    super(shard);
  }

  /** Pauses writes and asks every replica where it stands. */
  start(ctx: OperationContext): void {
    this.open(ctx, 'failover', this.reason);
    this.pauseWrites(ctx);
    this.queryEpoch = ctx.shardState(this.shard).allocateEpoch();
    for (const node of this.replicas(ctx)) this.query(ctx, node);
    this.evaluate(ctx);
  }

  /** An answer from a replica, or a promotion result. */
  onResult(ctx: OperationContext, pending: PendingCommand, message: CommandResultMessage): void {
    if (this.promoting) return this.onPromotionResult(ctx, pending, message);
    const type = pending.command.type;
    if ((type !== 'fence' && type !== 'report') || pending.command.epoch !== this.queryEpoch) return;
    const report = readReplicaReport(message.result);
    if (report) ctx.shardState(this.shard).noteEpoch(report.epoch);
    if (!message.ok || !report) {
      this.step(ctx, `${type}-refused`, pending.node, pending, message.error?.code);
      if (message.error?.code === 'NO_REPLICA') {
        if (pending.node === this.oldPrimary) this.primaryGone = true;
        else this.answers.set(pending.node, emptyReport(this.shard));
      }
    } else {
      this.answers.set(pending.node, report);
      ctx.shardState(this.shard).reports.set(pending.node, report);
      this.step(ctx, `${type}-answered`, pending.node, pending, `${report.role} epoch ${report.epoch} lsn ${report.receivedLsn}`);
    }
    this.evaluate(ctx);
  }

  /** Unanswered questions are asked again for as long as the node is not known dead. */
  onTimeout(ctx: OperationContext, pending: PendingCommand): void {
    if (this.promoting) return this.onPromotionTimeout(ctx, pending);
    if (pending.command.epoch !== this.queryEpoch || this.answers.has(pending.node)) return;
    if (!ctx.cluster.isDead(pending.node)) this.resend(ctx, pending);
    else this.evaluate(ctx);
  }

  /** A death may complete the answers; a node coming back is asked again (its old answer is stale). */
  override onNodeChange(ctx: OperationContext, node: string, change: NodeChange): void {
    if (this.promoting) {
      if (change === 'up') this.onReplicaUp(ctx, node);
      else this.onTargetDown(ctx, node);
      return;
    }
    if (change === 'up') {
      this.answers.delete(node);
      if (node === this.oldPrimary) this.primaryGone = false;
      this.query(ctx, node);
    }
    if (change === 'dead' && node === this.oldPrimary && !this.answers.has(node)) {
      // Shadows kept receiving while the old primary lived, so only answers given after its death
      // tell which log is the most recent.
      this.askAgain(ctx, `old primary ${node} is dead`);
      return;
    }
    this.evaluate(ctx);
  }

  /**
   * A failed promotion sends the failover back to asking every replica: the answers it chose by may
   * be stale (a shadow kept receiving, an old primary came back), and picking the next one from stale
   * answers could pass over the only replica that holds an acknowledged write.
   */
  protected override onPromotionFailed(ctx: OperationContext, why: string): void {
    this.askAgain(ctx, why);
  }

  private askAgain(ctx: OperationContext, why: string): void {
    this.step(ctx, 'asking-again', this.target ?? undefined, null, why);
    this.target = null;
    this.answers.clear();
    this.primaryGone = false;
    this.queryEpoch = ctx.shardState(this.shard).allocateEpoch();
    for (const node of this.replicas(ctx)) this.query(ctx, node);
    this.evaluate(ctx);
  }

  /** Through the old primary's last lsn when it answered; otherwise the target's own log, as it answered. */
  protected override throughFor(node: string): { lsn: number; epoch: number | null } {
    const primaryAnswer = this.oldPrimary === null ? undefined : this.answers.get(this.oldPrimary);
    const answer = primaryAnswer ?? this.answers.get(node);
    return answer ? { lsn: answer.receivedLsn, epoch: answer.lastEpoch ?? null } : { lsn: this.throughLsn, epoch: this.throughEpoch };
  }

  /** Which replica to promote, given the answers so far. */
  protected nextTarget(ctx: OperationContext): string | null {
    const usable = (node: string): boolean => !this.failedTargets.has(node) && ctx.cluster.isOnline(node);
    const primaryAnswer = this.oldPrimary === null ? undefined : this.answers.get(this.oldPrimary);
    const listed = replicaNodes(ctx.routing.get(this.shard)!);
    if (primaryAnswer) {
      // Only shadows that follow the old primary can be caught up through its last lsn.
      const shadows = listed.filter((node) => node !== this.oldPrimary && usable(node));
      const candidates: Candidate[] = shadows.map((node) => candidate(node, ctx.cluster.risk(node), this.answers.get(node)));
      const best = healthiestCaughtUp(candidates, primaryAnswer.receivedLsn, 1.01);
      if (best) return best.node;
      return usable(this.oldPrimary!) ? this.oldPrimary : null;
    }
    // Without the old primary's last lsn, only the most recent log is safe to promote, so it is
    // chosen even if its node looks unhealthy, and retried rather than passed over unless it died.
    const answered = this.replicas(ctx).flatMap((node) => {
      const answer = this.answers.get(node);
      if (!answer || node === this.oldPrimary || ctx.cluster.isDead(node)) return [];
      return [{ node, risk: ctx.cluster.risk(node), receivedLsn: answer.receivedLsn, lastEpoch: answer.lastEpoch ?? 0 }];
    });
    return highestReceived(answered)?.node ?? null;
  }

  /** Every node that may hold the shard's log: the listed replicas and the recovering old primaries. */
  private replicas(ctx: OperationContext): string[] {
    const listed = replicaNodes(ctx.routing.get(this.shard)!);
    const recovering = [...ctx.shardState(this.shard).recovering].filter((node) => !listed.includes(node)).sort();
    return [...listed, ...recovering];
  }

  private query(ctx: OperationContext, node: string): void {
    if (ctx.cluster.isDead(node)) return;
    const type = node === this.oldPrimary ? 'fence' : 'report';
    const pending = ctx.send(this, node, type, this.shard, this.queryEpoch);
    this.step(ctx, `${type}-sent`, node, pending);
  }

  private evaluate(ctx: OperationContext): void {
    if (this.promoting) return;
    const route = ctx.routing.get(this.shard)!;
    const adopted = this.newerPrimary(route.epoch);
    if (adopted) {
      // Promote it again at a fresh epoch: the fences of this failover may have raised other
      // replicas' epochs past the one it was promoted at, and they must be able to follow it.
      this.step(ctx, 'adopting', adopted.node, null, `already primary at epoch ${adopted.epoch}`);
      this.adopting = true;
      this.promote(ctx, adopted.node, ctx.shardState(this.shard).allocateEpoch());
      return;
    }
    const primaryAnswer = this.oldPrimary === null ? undefined : this.answers.get(this.oldPrimary);
    if (primaryAnswer) {
      this.throughLsn = primaryAnswer.receivedLsn;
      this.throughEpoch = primaryAnswer.lastEpoch ?? null;
    } else {
      // The old primary may still be writing unless it is dead; and only the full set of
      // answers tells which shadow holds every acknowledged write.
      if (this.oldPrimary !== null && !ctx.cluster.isDead(this.oldPrimary) && !this.primaryGone) return;
      const waiting = this.replicas(ctx).some((node) => node !== this.oldPrimary && !ctx.cluster.isDead(node) && !this.answers.has(node));
      if (waiting) return;
    }
    let target = this.nextTarget(ctx);
    if (target === null && this.failedTargets.size > 0) {
      // Every candidate failed once; with fresh answers, each deserves another try.
      this.failedTargets.clear();
      target = this.nextTarget(ctx);
    }
    if (target === null) return this.markUnavailable(ctx);
    this.promote(ctx, target, ctx.shardState(this.shard).allocateEpoch());
  }

  private newerPrimary(routingEpoch: number): { node: string; epoch: number } | null {
    let best: { node: string; epoch: number } | null = null;
    for (const [node, answer] of this.answers) {
      if (answer.role === 'primary' && answer.epoch > routingEpoch && (best === null || answer.epoch > best.epoch)) best = { node, epoch: answer.epoch };
    }
    return best;
  }

  private markUnavailable(ctx: OperationContext): void {
    if (this.unavailable) return;
    this.unavailable = true;
    const route = ctx.routing.get(this.shard)!;
    ctx.routing.update(this.shard, { primary: null, shadows: replicaNodes(route), writes: 'paused', available: false });
    this.step(ctx, 'unavailable', undefined, null, 'no replica left to promote');
    const lost = this.incident;
    lost.kind = 'unavailable';
    closeIncident(lost, ctx.nowMs, 'unavailable', 'no replica of the shard is alive; writes stay paused until one returns');
    ctx.publishIncident(lost);
    // The wait for a replica to return is a new incident, closed when one is promoted.
    this.incident = openIncident({
      id: ctx.newId('inc'),
      kind: 'failover',
      shard: this.shard,
      reason: `recovery of unavailable shard ${this.shard}`,
      nowMs: ctx.nowMs,
      fromNode: this.oldPrimary,
      epochBefore: route.epoch,
      scores: [],
      shardTop: [],
      nodeTop: [],
      features: { shard: null, node: null },
    });
  }
}

function emptyReport(shard: number): ReplicaReport {
  return { shard, role: 'recovering', epoch: 0, receivedLsn: 0, appliedLsn: 0 };
}
