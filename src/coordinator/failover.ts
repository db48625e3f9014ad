/**
 * Unplanned failover (DESIGN §3): the primary's will arrived or its heartbeats stopped. Writes pause,
 * and every replica is fenced at a fresh epoch: the old primary stops taking writes, and each shadow
 * stops receiving, so that from its answer on no write of the old primary can be acknowledged through
 * it (`minShadowAcks` is at least 1). Then:
 * - if a replica already reports itself primary at a newer epoch (a promotion whose answer was lost),
 *   it is adopted;
 * - if the old primary answers its fence, it was alive: its last lsn `L` is known, and the switch goes
 *   on as a planned one (healthiest shadow caught up through `L`);
 * - if the old primary is not online (its will arrived, or its heartbeats stopped), once every
 *   shadow (and every recovering old primary set aside by an earlier switch) whose node is not dead
 *   has answered its fence, the replica with the most recent log is promoted: it holds every
 *   acknowledged write, because a write is acknowledged only once a shadow holds it and no shadow
 *   takes a write after its fence. A will does not prove the process dead (a stopped process is
 *   only silent, and may resume), so the fences are what makes passing over it safe, will or not.
 *   A primary that is only silent (no will yet) is passed over only when no other replica is dead,
 *   since a write acknowledged through a shadow that has died since is held by the primary alone;
 * - with no replica left to answer, routing marks the shard unavailable and an incident says so; the
 *   failover waits for a replica to come back.
 * A primary that comes back online before the promotion is waited for: its fence answer gives its
 * last lsn, and the failover goes on as a planned switch.
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
  /** Nodes that answered this round's fence with NO_REPLICA: they hold nothing, so they are promoted only by creating the shard. */
  private readonly absent = new Set<string>();

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
        this.absent.add(pending.node);
        if (pending.node === this.oldPrimary) this.primaryGone = true;
        else this.answers.set(pending.node, emptyReport(this.shard));
      }
    } else {
      this.answers.set(pending.node, report);
      ctx.shardState(this.shard).remember(pending.node, report);
      this.step(ctx, `${type}-answered`, pending.node, pending, `${report.role} epoch ${report.epoch} lsn ${report.receivedLsn}`);
    }
    this.evaluate(ctx);
  }

  /** Unanswered questions are asked again for as long as the node is not known dead. */
  onTimeout(ctx: OperationContext, pending: PendingCommand): void {
    if (this.promoting) return this.onPromotionTimeout(ctx, pending);
    if (pending.command.epoch !== this.queryEpoch || this.answers.has(pending.node)) return;
    if (!this.gone(ctx, pending.node)) this.resend(ctx, pending);
    else this.evaluate(ctx);
  }

  /**
   * A dead replica not yet gone is waited for (see {@link gone}); nothing but time makes it gone,
   * so the answers are looked at again on every tick while the failover has not promoted.
   */
  override onTick(ctx: OperationContext): void {
    if (!this.promoting && !this.unavailable) this.evaluate(ctx);
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
      this.absent.delete(node);
      if (node === this.oldPrimary) this.primaryGone = false;
      this.query(ctx, node);
    }
    // A death needs no new question: every shadow stopped receiving at its fence, so the answers
    // already given stay true.
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
    this.absent.clear();
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
      const best = healthiestCaughtUp(candidates, primaryAnswer.receivedLsn);
      if (best) return best.node;
      return usable(this.oldPrimary!) ? this.oldPrimary : null;
    }
    // Without the old primary's last lsn, only the most recent log is safe to promote, so it is
    // chosen even if its node looks unhealthy, and retried rather than passed over unless it died.
    const answered = this.replicas(ctx).flatMap((node) => {
      const answer = this.answers.get(node);
      if (!answer || node === this.oldPrimary || this.absent.has(node) || this.gone(ctx, node)) return [];
      return [{ node, risk: ctx.cluster.risk(node), receivedLsn: answer.receivedLsn, lastEpoch: answer.lastEpoch ?? 0 }];
    });
    // A replica that answered this failover's fence was alive after it, so its log is final and
    // counts even if a will has come for it since; if it really died, its promotion fails and the
    // failover asks again, by when it is gone.
    const best = highestReceived(answered)?.node ?? null;
    if (best !== null || !this.uncreated(ctx)) return best;
    // No replica exists, and the shard's writes never opened: no write was ever acknowledged, so
    // one of its nodes creates it empty (the routing primary first, as placement chose).
    const creatable = listed.filter((node) => this.absent.has(node) && usable(node));
    return creatable.sort((a, b) => Number(b === listed[0]) - Number(a === listed[0]) || ctx.cluster.risk(a) - ctx.cluster.risk(b))[0] ?? null;
  }

  /** The shard was placed but its creation never opened writes ({@link RoutingShard.created}). */
  private uncreated(ctx: OperationContext): boolean {
    return ctx.routing.get(this.shard)!.created === false;
  }

  protected override createsReplica(ctx: OperationContext, node: string): boolean {
    return this.absent.has(node) && this.uncreated(ctx);
  }

  /** Dead and silent past its heartbeat limit: only then is a replica's log left out ({@link ClusterMap.isGone}). */
  private gone(ctx: OperationContext, node: string): boolean {
    return ctx.cluster.isGone(node, ctx.nowMs, ctx.options.heartbeatTimeoutMs);
  }

  /** Every node that may hold the shard's log: the listed replicas and the recovering old primaries. */
  private replicas(ctx: OperationContext): string[] {
    const listed = replicaNodes(ctx.routing.get(this.shard)!);
    const recovering = [...ctx.shardState(this.shard).recovering].filter((node) => !listed.includes(node)).sort();
    return [...listed, ...recovering];
  }

  private query(ctx: OperationContext, node: string): void {
    if (this.gone(ctx, node)) return;
    const pending = ctx.send(this, node, 'fence', this.shard, this.queryEpoch);
    this.step(ctx, 'fence-sent', node, pending);
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
      // An old primary that is online again is alive: its own fence answer is worth waiting for.
      // Otherwise (silent or dead) the fenced shadows decide, and only the full set of their
      // answers tells which one holds every acknowledged write. A silent one is passed over only
      // while no other replica is dead: a write it had acknowledged through a shadow that died
      // since is held by it alone.
      if (this.oldPrimary !== null && !this.primaryGone && !ctx.cluster.isDead(this.oldPrimary)) {
        if (ctx.cluster.isOnline(this.oldPrimary)) return;
        if (this.replicas(ctx).some((node) => node !== this.oldPrimary && ctx.cluster.isDead(node))) return;
      }
      const waiting = this.replicas(ctx).some((node) => node !== this.oldPrimary && !this.gone(ctx, node) && !this.answers.has(node));
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
