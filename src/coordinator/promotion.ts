/**
 * The steps a planned switch and an unplanned failover share (DESIGN §3 steps 3-5): promote a replica
 * at a fresh epoch once it has received through an lsn, retry or move to another caught-up replica
 * at a still-higher epoch when that times out, then point the routing table at the new primary, tell
 * the other shadows to follow it, put the old primary in `recovering`, and close the incident.
 *
 * Safety rests on rules every path below keeps:
 * - a promotion is sent only once the old primary is fenced (its last lsn known), or is dead and every
 *   other replica answered after its death (then the most recent log, by last epoch and lsn, wins);
 * - each epoch is promoted at most once (epochs come from `ShardState.allocateEpoch`), and every
 *   earlier target is fenced at the new epoch, in case it promoted without us hearing it;
 * - the target must hold the old primary's entry at `throughLsn` with its epoch (`throughEpoch`);
 * - once a promotion has been sent, writes never reopen on the fenced old primary at its old epoch.
 * They rely on the data plane taking frames only up to the epoch a shadow was told to follow at,
 * which the simulator in `test/coordinator/sim/` models and checks.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { addStep, closeIncident, openIncident, type Incident, type IncidentKind, type IncidentResult } from './incidents/incident.js';
import { ShardOperation, readReplicaReport, type OperationContext, type PendingCommand } from './operation.js';
import { replicaNodes } from './routing.js';
import type { CommandResultMessage } from './types.js';

/** A switch or failover, from the promotion step on. */
export abstract class PromotingOperation extends ShardOperation {
  readonly background = false;
  protected incident!: Incident;
  protected oldPrimary: string | null = null;
  protected target: string | null = null;
  protected promoteEpoch = 0;
  protected throughLsn = 0;
  /** The epoch of the entry at `throughLsn`, when known: the target must hold that very entry, not just as many. */
  protected throughEpoch: number | null = null;
  protected promoteAttempts = 0;
  /** Set when the promotion re-promotes a replica already found accepting writes. */
  protected adopting = false;
  protected readonly failedTargets = new Set<string>();
  /** Targets that refused NO_REPLICA: they hold nothing, so promoting them again cannot succeed. */
  protected readonly holdsNothing = new Set<string>();
  /** Every replica this operation has told to promote. */
  protected readonly attempted = new Set<string>();
  /** Shadows told to follow the new primary that have not answered yet. */
  private settling: Map<string, number> | null = null;

  /** The next replica to promote after `failedTargets`, or null when none is left. */
  protected abstract nextTarget(ctx: OperationContext): string | null;

  /** The incident this operation writes, while it is open. */
  get openIncident(): Incident | null {
    return this.incident ?? null;
  }

  /** True once the promotion step has been reached (and so the old primary must not reopen at its epoch). */
  get promoting(): boolean {
    return this.target !== null || this.settling !== null;
  }

  /** Routing already points at the new primary; only the shadows' follow answers are awaited. */
  override get replaceable(): boolean {
    return this.settling !== null;
  }

  /** Opens the incident with the score history and drivers known now. */
  protected open(ctx: OperationContext, kind: IncidentKind, reason: string): void {
    const route = ctx.routing.get(this.shard)!;
    const state = ctx.shardState(this.shard);
    this.oldPrimary = route.primary;
    this.incident = openIncident({
      id: ctx.newId('inc'),
      kind,
      shard: this.shard,
      reason,
      nowMs: ctx.nowMs,
      fromNode: route.primary,
      epochBefore: route.epoch,
      scores: state.scoreHistory(),
      shardTop: state.lastTop,
      nodeTop: state.lastNodeTop,
      features: { shard: state.lastFeatures, node: state.lastNodeFeatures },
    });
  }

  /** Records one timestamped step in the incident timeline. */
  protected step(ctx: OperationContext, step: string, node?: string, pending?: PendingCommand | null, detail?: string): void {
    addStep(
      this.incident,
      { atMs: ctx.nowMs, step, ...(node ? { node } : {}), ...(pending ? { cmdId: pending.command.cmdId } : {}), ...(detail ? { detail } : {}) },
      ctx.options.maxIncidentSteps,
    );
  }

  /** Step 1: the routing table marks the shard's writes paused, so gateways buffer them; the open incident is published. */
  protected pauseWrites(ctx: OperationContext): void {
    if (ctx.routing.get(this.shard)!.writes !== 'paused') ctx.routing.update(this.shard, { writes: 'paused' });
    this.step(ctx, 'writes-paused');
    ctx.publishIncident(this.incident);
  }

  /** The lsn (and its entry's epoch) `node` must have received before it may be promoted. */
  protected throughFor(_node: string): { lsn: number; epoch: number | null } {
    return { lsn: this.throughLsn, epoch: this.throughEpoch };
  }

  /** Step 3: promote `node` at `epoch` once it has received through `throughLsn`. */
  protected promote(ctx: OperationContext, node: string, epoch: number, throughLsn = this.throughFor(node).lsn): void {
    assert.ok(epoch > ctx.routing.get(this.shard)!.epoch, 'a promotion needs a fresh epoch');
    for (const previous of this.attempted) {
      // A previous target may have promoted without us hearing it: fence it at the new epoch.
      if (previous !== node) ctx.send(this, previous, 'fence', this.shard, epoch);
    }
    this.attempted.add(node);
    this.target = node;
    this.promoteEpoch = epoch;
    this.throughLsn = throughLsn;
    this.promoteAttempts = 1;
    const args = this.promoteArgs(ctx, node, throughLsn);
    const pending = ctx.send(this, node, 'promote', this.shard, epoch, args);
    this.step(ctx, 'promote-sent', node, pending, `epoch ${epoch} through lsn ${throughLsn}${args.create === true ? ', creating the shard empty: its writes never opened' : ''}`);
    if (!pending) {
      // Not retarget: a failover may choose this very node again (the most recent log is retried
      // rather than passed over until it is gone), and nothing changes until the node comes back or
      // is gone. Each operation's own failure path decides (a failover asks every replica again).
      this.failedTargets.add(node);
      this.onPromotionFailed(ctx, 'no session');
    }
  }

  /** Handles a result once promoting: the current promote, or a follow after completion. Others are stale. */
  protected onPromotionResult(ctx: OperationContext, pending: PendingCommand, message: CommandResultMessage): void {
    const type = pending.command.type;
    if (this.settling) {
      if (type === 'follow' && this.settling.delete(pending.node)) this.finishIfSettled(ctx);
      return;
    }
    if (type !== 'promote' || pending.node !== this.target || pending.command.epoch !== this.promoteEpoch) return;
    const report = readReplicaReport(message.result);
    if (message.ok) {
      this.step(ctx, 'promoted', pending.node, pending, report ? `lsn ${report.receivedLsn}` : undefined);
      const result: IncidentResult = pending.node === this.oldPrimary ? 'reopened' : this.adopting ? 'adopted' : this.incident.kind === 'failover' ? 'failed-over' : 'switched';
      this.complete(ctx, pending.node, this.promoteEpoch, result, `${pending.node} is primary at epoch ${this.promoteEpoch}`);
      return;
    }
    this.step(ctx, 'promote-refused', pending.node, pending, message.error?.code);
    if (report) ctx.shardState(this.shard).noteEpoch(report.epoch);
    // It holds nothing: a report remembered from when it did (before a removal, say) must not make
    // it the caught-up choice again, or the operation promotes it for ever (storm-lean seed 401).
    if (message.error?.code === 'NO_REPLICA') {
      ctx.shardState(this.shard).forget(pending.node);
      this.holdsNothing.add(pending.node);
    }
    this.failedTargets.add(pending.node);
    this.onPromotionFailed(ctx, message.error?.code ?? 'refused');
  }

  /** Handles a timeout once promoting: retry the promote, or move on to another caught-up replica. */
  protected onPromotionTimeout(ctx: OperationContext, pending: PendingCommand): void {
    const type = pending.command.type;
    if (this.settling) {
      if (type !== 'follow' || !this.settling.has(pending.node)) return;
      if (pending.attempt < ctx.options.maxStepAttempts && ctx.cluster.isOnline(pending.node)) this.resend(ctx, pending);
      else this.settling.delete(pending.node);
      this.finishIfSettled(ctx);
      return;
    }
    if (type !== 'promote' || pending.node !== this.target || pending.command.epoch !== this.promoteEpoch) return;
    this.step(ctx, 'promote-timeout', pending.node, pending);
    if (this.promoteAttempts < ctx.options.maxStepAttempts || !this.hasAlternative(ctx)) {
      // The target may already be primary; retrying at the same epoch is idempotent.
      this.promoteAttempts++;
      this.resend(ctx, pending);
      return;
    }
    this.failedTargets.add(pending.node);
    this.onPromotionFailed(ctx, 'timeout');
  }

  /** The target went down while promoting: try another caught-up replica at a higher epoch. */
  protected onTargetDown(ctx: OperationContext, node: string): void {
    if (this.settling) {
      this.settling.delete(node);
      if (node === this.target) ctx.startFailover(this.shard, `new primary ${node} went down`);
      else this.finishIfSettled(ctx);
      return;
    }
    if (node !== this.target) return;
    this.failedTargets.add(node);
    this.onPromotionFailed(ctx, 'target down');
  }

  /** A replica came back: if it is the target we could not reach, offer it the promotion again. */
  protected onReplicaUp(ctx: OperationContext, node: string): void {
    if (this.settling || node !== this.target) return;
    this.promoteAttempts = 1;
    const pending = ctx.send(this, node, 'promote', this.shard, this.promoteEpoch, this.promoteArgs(ctx, node, this.throughLsn));
    this.step(ctx, 'promote-sent', node, pending, `again, epoch ${this.promoteEpoch}`);
  }

  private hasAlternative(ctx: OperationContext): boolean {
    const saved = new Set(this.failedTargets);
    this.failedTargets.add(this.target!);
    const other = this.nextTarget(ctx);
    this.failedTargets.clear();
    for (const node of saved) this.failedTargets.add(node);
    return other !== null;
  }

  /** The target refused, timed out, went down or had no session: each operation decides what next. */
  protected abstract onPromotionFailed(ctx: OperationContext, why: string): void;

  /**
   * `throughEpoch` lets the agent refuse a log that has as many entries but a different history (a
   * tail of an old epoch nobody acknowledged): the entry at an lsn is identified by its epoch.
   */
  private promoteArgs(ctx: OperationContext, node: string, throughLsn: number): Record<string, unknown> {
    if (throughLsn === 0 && this.createsReplica(ctx, node)) return { throughLsn, create: true };
    const epoch = this.throughFor(node).epoch;
    return epoch === null || throughLsn === 0 ? { throughLsn } : { throughLsn, throughEpoch: epoch };
  }

  /** True when `node` is promoted by creating its replica empty (a shard whose creation never opened writes). */
  protected createsReplica(_ctx: OperationContext, _node: string): boolean {
    return false;
  }

  /** Steps 4-5: routing points at the new primary; shadows follow it; the old primary recovers. */
  protected complete(ctx: OperationContext, primary: string, epoch: number, result: IncidentResult, detail: string): void {
    const route = ctx.routing.get(this.shard)!;
    const state = ctx.shardState(this.shard);
    const others = replicaNodes(route).filter((node) => node !== primary);
    const leaving = this.oldPrimary !== null && this.oldPrimary !== primary ? this.oldPrimary : null;
    // A planned switch whose old primary is the only other copy keeps it as a shadow: dropped, it
    // would leave the new primary with no shadow to acknowledge writes (at least one must), and
    // every write would fail until some node rejoined. Acknowledged at its pace is better than none.
    const keptAsShadow = leaving !== null && this.incident.kind === 'planned-switch' && ctx.cluster.isOnline(leaving) && others.every((node) => node === leaving);
    const shadows = keptAsShadow ? others : others.filter((node) => node !== leaving);
    const dataUrls: Record<string, string> = {};
    for (const node of [primary, ...shadows]) dataUrls[node] = ctx.cluster.get(node)?.dataUrl ?? route.dataUrls[node] ?? '';
    ctx.routing.update(this.shard, {
      primary,
      epoch,
      shadows,
      writes: 'open',
      available: true,
      dataUrls,
      extraShadows: route.extraShadows.filter((node) => shadows.includes(node)),
    });
    state.noteEpoch(epoch);
    ctx.clearRecovering(this.shard, primary);
    this.target = primary;
    this.promoteEpoch = epoch;
    state.lastSwitchMs = ctx.nowMs;
    state.lastSwitch = result === 'reopened' ? 'stayed' : leaving ? 'left' : 'unknown';
    for (const [node, atMs] of state.leftAtMs) if (ctx.nowMs - atMs >= ctx.options.switchCooldownMs) state.leftAtMs.delete(node);
    if (leaving) state.leftAtMs.set(leaving, ctx.nowMs);
    state.streak = 0;
    if (leaving && !keptAsShadow) ctx.markRecovering(this.shard, leaving);
    this.step(ctx, 'routing-updated', primary, null, `epoch ${epoch}, writes open${keptAsShadow ? `; ${leaving} stays as the only shadow` : ''}`);
    this.incident.toNode = primary;
    this.incident.epochAfter = epoch;
    closeIncident(this.incident, ctx.nowMs, result, detail);
    ctx.publishIncident(this.incident);
    if (leaving && this.incident.kind === 'planned-switch') ctx.watchOutcome(this.incident, leaving);
    this.settling = new Map();
    for (const node of shadows) {
      if (ctx.send(this, node, 'follow', this.shard, epoch, { primary })) this.settling.set(node, epoch);
    }
    this.finishIfSettled(ctx);
  }

  private finishIfSettled(ctx: OperationContext): void {
    if (this.settling && this.settling.size === 0) ctx.finish(this);
  }
}

