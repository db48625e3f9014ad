/**
 * The coordinator's decision core: `handle(event, nowMs)` takes one input (a birth, a will, a score,
 * a command result, a tick, an operator request) and returns the intents it decides on (send a
 * command, publish routing, publish an incident, record a history pair). It does no I/O and reads no
 * clock, so it runs deterministically under a simulated clock, and the MQTT wiring stays thin.
 *
 * A restarted core first recovers: it adopts the retained routing table, asks every agent that has a
 * retained birth for a replica report, and waits out `commandMaxAgeMs` so that no command of its
 * previous life can still take effect. Then it asks every agent for a fresh replica report and
 * reconciles each shard (see `recovery.ts`).
 *
 * @module
 */
import assert from 'node:assert/strict';
import { ClusterMap, type NodeInfo } from './cluster-map.js';
import { coolDownAvoids, eligibleTargets, nextStreak, switchBlock } from './decisions.js';
import { CoordinatorError } from './errors.js';
import { Failover } from './failover.js';
import { pairFromIncident } from './failure-history.js';
import { closeIncident, copyIncident, type Incident } from './incidents/incident.js';
import { resolveCoordinatorOptions, type CoordinatorOptions } from './options.js';
import { readReplicaReport, ShardOperation, type NodeChange, type PendingCommand } from './operation.js';
import { preReplicateOnScore, type PlacementHost } from './pre-replication.js';
import { PromotingOperation } from './promotion.js';
import { planRebalance, planRepairs, type InFlightMove } from './rebalance.js';
import { ReplicaChange } from './replica-change.js';
import { replicaNodes, RoutingTable } from './routing.js';
import { epochFloorOf, ShardState } from './shard-state.js';
import { CreateShard, planInitialPlacement } from './placement.js';
import { replicaVerdict, restartVerdict } from './recovery.js';
import { PlannedSwitch } from './switch.js';
import type {
  CommandResultMessage,
  CommandType,
  CoordinatorEvent,
  CoordinatorIntent,
  IdSource,
  NodeStateMessage,
  ReplicaReport,
  FittedCalibration,
  RoutingMessage,
  RoutingShard,
  ScoreContribution,
  ScoreMessage,
} from './types.js';

/** Limit on incidents watched for their outcome at once; the oldest watch is labelled unknown past it. */
export const maxOutcomeWatches = 10_000;
/** Attempts at a node's replica report: cheap, and what recovery and repairs are built on. */
export const maxReportAttempts = 10;
/** How long the list of low-risk nodes by load is reused before it is recomputed. */
const lowRiskCacheMs = 1_000;
/**
 * The most extra silence forgiven after the coordinator's own broker outage: the agents' default
 * reconnect backoff cap (`reconnectMaxMs`, src/agent/options.ts), the longest an agent may take to
 * come back after the broker does.
 */
export const LINK_GRACE_CAP_MS = 30_000;

/** Counters of operating events, for logs and `/metrics`. */
export interface CoordinatorStats {
  commandsSent: number;
  commandTimeouts: number;
  unknownResults: number;
  badResults: number;
  staleScores: number;
  unknownNodeMessages: number;
  switchesStarted: number;
  failoversStarted: number;
  switchesWithoutTarget: number;
  movesStarted: number;
  clockSteppedBack: number;
  /** `calibrate` commands sent, and answered ok or refused. */
  calibrationsSent: number;
  calibrationsApplied: number;
  calibrationsRefused: number;
  /** Old primaries found still taking writes at a stale epoch (a hung process that resumed), and fenced. */
  stalePrimariesFenced: number;
}

/** How a core starts. */
export interface CoordinatorCoreInit {
  options?: Partial<CoordinatorOptions>;
  ids: IdSource;
  /** The simulated or real time at start, in ms. */
  startMs: number;
  /**
   * This coordinator's generation, higher than any previous one's (e.g. one more than the generation
   * in the retained `coordinator/state` birth, published before any decision). Epochs it allocates
   * start at `(generation − 1) × 2^20`, above any a previous generation used.
   */
  generation: number;
}

interface OutcomeWatch {
  incident: Incident;
  node: string;
  untilMs: number;
  /** Whether a score of `node` has shown a series past its threshold since the watch began. */
  breached: boolean;
}

/** The decision core. */
export class CoordinatorCore implements PlacementHost {
  readonly options: Readonly<CoordinatorOptions>;
  readonly routing = new RoutingTable();
  readonly cluster: ClusterMap;
  readonly stats: CoordinatorStats = {
    commandsSent: 0, commandTimeouts: 0, unknownResults: 0, badResults: 0, staleScores: 0,
    unknownNodeMessages: 0, switchesStarted: 0, failoversStarted: 0, switchesWithoutTarget: 0, movesStarted: 0, clockSteppedBack: 0,
    calibrationsSent: 0, calibrationsApplied: 0, calibrationsRefused: 0, stalePrimariesFenced: 0,
  };
  /** The calibrations fitted on the failure history; null while the agents keep their priors. */
  private fittedCalibration: FittedCalibration | null = null;
  private clockMs: number;
  private readonly ids: IdSource;
  private readonly shards = new Map<number, ShardState>();
  /** The shards with an operation in flight, so a tick visits those and not every shard. */
  private readonly operating = new Set<ShardState>();
  private readonly pending = new Map<string, PendingCommand>();
  private readonly recoveringByNode = new Map<string, Set<number>>();
  private readonly reportsAwaited = new Set<string>();
  /** The nodes that answered the report round of start-up recovery (see {@link recover}). */
  private readonly reportedInRecovery = new Set<string>();
  /**
   * Replicas the agents report of shards routing does not list, kept only while a restart with an
   * empty routing table recovers: if there are any, the cluster exists and is rebuilt from them.
   */
  private readonly unroutedReports = new Map<number, Map<string, ReplicaReport>>();
  /** Nodes whose report could not be acted on (their shard was busy): asked again on the next sweep of deferred reports. */
  private readonly reportsDeferred = new Set<string>();
  private lastDeferredSweepMs = 0;
  private outcomeWatches: OutcomeWatch[] = [];
  private intents: CoordinatorIntent[] = [];
  private running = false;
  private automationPausedFlag = false;
  /** Whether the coordinator's own broker connection is up (the `link` event); it starts connected. */
  private linkUp = true;
  /** When it last went down. */
  private linkDownAtMs = 0;
  /** When the link last came back, and until when agents may still be reconnecting after it. */
  private linkBack: { atMs: number; graceUntilMs: number } | null = null;
  private switchCount = 0;
  private moveCount = 0;
  private lastRebalanceMs: number;
  private lastReportSweepMs: number;
  private lowRiskCache: { atMs: number; nodes: string[] } | null = null;
  /** When recovery asked for the fresh reports it reconciles from; null while it still waits out old commands. */
  private recoveryAskedAtMs: number | null = null;
  private readonly startMs: number;
  private readonly epochFloor: number;

  constructor(init: CoordinatorCoreInit) {
    this.options = resolveCoordinatorOptions(init.options);
    this.cluster = new ClusterMap(this.options.maxNodes);
    this.ids = init.ids;
    this.startMs = init.startMs;
    assert.ok(Number.isInteger(init.generation) && init.generation >= 1, 'generation must be a positive integer');
    this.epochFloor = epochFloorOf(init.generation);
    this.clockMs = init.startMs;
    this.lastRebalanceMs = init.startMs;
    this.lastReportSweepMs = init.startMs;
  }

  /** Takes one event at time `nowMs` and returns what to do about it. Operator requests may throw {@link CoordinatorError}. */
  handle(event: CoordinatorEvent, nowMs: number): CoordinatorIntent[] {
    // Command timestamps are wall-clock (agents check their age), and a wall clock may step back:
    // time inside the core never does.
    if (nowMs < this.clockMs) this.stats.clockSteppedBack++;
    this.clockMs = Math.max(this.clockMs, nowMs);
    this.intents = [];
    try {
      this.dispatch(event);
    } finally {
      const routing = this.routing.takePublish(this.nowMs);
      if (routing) this.intents.push({ kind: 'publish-routing', routing });
    }
    return this.intents;
  }

  /** The core's time: the latest `nowMs` it was given. */
  get nowMs(): number {
    return this.clockMs;
  }

  /** True once the restart recovery is over and decisions run. */
  get isRunning(): boolean {
    return this.running;
  }

  /** True while an operator paused automatic switches, pre-replication and rebalancing. */
  get automationPaused(): boolean {
    return this.automationPausedFlag;
  }

  /** Planned switches in flight. */
  get switchesInFlight(): number {
    return this.switchCount;
  }

  /** Replica moves in flight. */
  get movesInFlight(): number {
    return this.moveCount;
  }

  /** The operation in flight on `shard`, if any. */
  operationOf(shard: number): ShardOperation | null {
    return this.shards.get(shard)?.operation ?? null;
  }

  private dispatch(event: CoordinatorEvent): void {
    switch (event.kind) {
      case 'routing': return this.onRouting(event.message);
      case 'node-state': return this.onNodeState(event.node, event.message);
      case 'score': return this.onScore(event.node, event.message);
      case 'metrics':
        this.onHeartbeat(event.node, event.message.intervalMs);
        return;
      case 'cmd-result': return this.onCommandResult(event.node, event.message);
      case 'tick': return this.onTick();
      case 'link': return this.onLink(event.connected);
      case 'manual-switch': return this.manualSwitch(event.shard, event.toNode ?? null);
      case 'set-automation':
        this.automationPausedFlag = event.paused;
        this.log('info', event.paused ? 'AUTOMATION_PAUSED' : 'AUTOMATION_RESUMED', 'by operator');
        return;
      case 'calibration':
        this.fittedCalibration = event.calibration;
        for (const node of this.cluster.all()) if (node.liveness === 'online') this.sendCalibration(node.name);
        return;
    }
  }

  // ---- inputs ----

  private onRouting(message: RoutingMessage): void {
    // Only the retained table read at start matters; later copies are our own publications. The
    // broker sends the same table again on every reconnect: that is not news.
    if (this.running || message.version < this.routing.version) return;
    if (message.version === this.routing.version && this.shards.size > 0) return;
    if (message.shards.length > this.options.maxShards) throw new CoordinatorError('TOO_MANY_SHARDS', `${message.shards.length} shards`);
    this.routing.adopt(message);
    const before = new Map(this.shards);
    this.shards.clear();
    this.operating.clear();
    for (const shard of message.shards) {
      const state = new ShardState(shard.id, shard.epoch, this.options.scoreHistoryLength, this.epochFloor);
      // What recovery has learnt so far (the epochs replicas reported) holds for a newer table too.
      const known = before.get(shard.id);
      if (known) state.noteEpoch(known.maxEpoch);
      this.shards.set(shard.id, state);
      for (const node of shard.recovering ?? []) this.rememberRecovering(shard.id, node);
    }
  }

  private onNodeState(node: string, message: NodeStateMessage): void {
    if (message.state === 'offline') {
      if (!this.cluster.get(node)) {
        // A retained will of a node never seen alive: remember it as dead.
        this.cluster.birth(node, { state: 'online', session: message.session, ts: 0, version: '', profile: '', dataUrl: '' }, this.nowMs);
      }
      if (this.cluster.will(node, message.session, this.nowMs)) this.onNodeDown(node, 'dead');
      return;
    }
    const change = this.cluster.birth(node, message, this.nowMs);
    if (change === 'same' || change === 'stale') return;
    this.askReport(node);
    this.sendCalibration(node);
    if (change === 'restarted') this.notifyNode(node, 'up');
  }

  private onHeartbeat(node: string, intervalMs?: number): NodeInfo | null {
    const info = this.cluster.get(node);
    if (!info) {
      this.stats.unknownNodeMessages++;
      return null;
    }
    if (this.cluster.heartbeat(node, this.nowMs, intervalMs)) {
      // Back from silence (a hang, a partition): it may have missed commands, and may even still
      // take writes at an epoch a failover passed over, so it is asked where its replicas stand.
      if (this.running && !this.reportsAwaited.has(node)) this.askReport(node);
      this.notifyNode(node, 'up');
    }
    return info;
  }

  private onScore(node: string, message: ScoreMessage): void {
    const info = this.onHeartbeat(node);
    if (!info || info.liveness !== 'online') return;
    this.noteBreaches(node, message);
    if (message.ts <= info.lastScoreTs) {
      this.stats.staleScores++; // a duplicate or reordered score must not count twice toward a switch
      return;
    }
    info.lastScoreTs = message.ts;
    info.failureP = clampProbability(message.node.p);
    info.failureTop = message.node.top;
    if (info.failureP >= this.options.preReplicateThreshold) info.lowRiskSinceMs = null;
    else info.lowRiskSinceMs ??= this.nowMs;
    for (const shard of this.routing.shardsOn(node)) {
      const route = this.routing.get(shard)!;
      if (route.primary !== node) continue;
      const entry = message.shards[String(shard)];
      if (!entry) continue;
      const state = this.shardState(shard);
      const p = clampProbability(entry.p);
      state.recordScore({ ts: message.ts, p, nodeP: info.failureP });
      state.lastTop = entry.top;
      state.lastNodeTop = info.failureTop;
      state.lastFeatures = entry.features ?? null;
      state.lastNodeFeatures = message.node.features ?? null;
      state.streak = nextStreak(state.streak, p, this.options.switchThreshold);
      if (state.streak >= this.options.switchConsecutive) this.maybeSwitch(state);
    }
    if (!this.running || this.automationPausedFlag) return;
    preReplicateOnScore(this, info);
    this.maybeRejoin(info);
  }

  private onCommandResult(node: string, message: CommandResultMessage): void {
    const pending = this.pending.get(message.cmdId);
    if (!pending || pending.node !== node) {
      this.stats.unknownResults++; // duplicates, answers to a previous life, or late answers after a timeout
      return;
    }
    this.pending.delete(message.cmdId);
    // An answer from the session the command went to is a sign of life like a heartbeat: MQTT
    // delivers one client's messages in order and its will only after them, so an answer that comes
    // after the will was sent after a reconnect. Without this, a node that answered a failover's
    // fence and then lost two scores looked dead and silent, and was passed over with the only
    // longer log (storm-lean seed 4204).
    if (message.error?.code !== 'STALE_SESSION' && pending.command.args['session'] === this.cluster.get(node)?.session) this.onHeartbeat(node);
    if (pending.command.type === 'calibrate') {
      if (message.ok) this.stats.calibrationsApplied++;
      else this.stats.calibrationsRefused++;
      return;
    }
    if (pending.owner === null && pending.command.type === 'fence') {
      // A stale primary's fence (fenceIfStalePrimary): its answer is a replica report like any other.
      const report = readReplicaReport(message.result);
      if (message.ok && report) this.shards.get(report.shard)?.remember(node, report);
      return;
    }
    if (pending.owner === null) return this.onReportResult(pending, message);
    if (this.shards.get(pending.owner.shard)?.operation !== pending.owner) return;
    pending.owner.onResult(this, pending, message);
    this.noteRefusedEpoch(pending, message);
  }

  /**
   * A command at the routing epoch refused STALE_EPOCH by a node that has seen a newer one (a fence
   * of a failover that a previous coordinator life never finished, kept even by a node that held no
   * replica then): that node can never follow at the routing epoch, and a removal or rejoin waiting
   * for it would retry for ever. Like a replica reported past the routing epoch, it means a failover
   * at a fresh epoch, unless a switch or failover already runs on the shard.
   */
  private noteRefusedEpoch(pending: PendingCommand, message: CommandResultMessage): void {
    const seen = message.error?.code === 'STALE_EPOCH' ? message.error.epoch : undefined;
    const shard = pending.command.shard;
    if (seen === undefined || shard === undefined || !this.running) return;
    const route = this.routing.get(shard);
    const state = this.shards.get(shard);
    if (!route || !state || pending.command.epoch !== route.epoch || seen <= route.epoch) return;
    state.noteEpoch(seen);
    if (state.operation !== null && !state.operation.background) return;
    this.startFailover(shard, `${pending.node} refused ${pending.command.type} at epoch ${route.epoch}: it has seen epoch ${seen}`);
  }

  /**
   * The coordinator's own broker connection went down or came back. While it is down every node is
   * silent to it, so no node is suspected on silence. When it is back, the agents are reconnecting
   * too, each after its own backoff (doubling per failed attempt, so it comes back within about the
   * outage's length after the broker, up to the agents' 30 s cap): every online node counts as heard
   * from that much later, and then has the usual heartbeat timeout.
   */
  private onLink(connected: boolean): void {
    if (connected === this.linkUp) return;
    this.linkUp = connected;
    if (!connected) {
      this.linkDownAtMs = this.nowMs;
      this.log('warn', 'BROKER_LINK_DOWN', 'broker connection lost: no node is suspected on silence until it is back');
      return;
    }
    const graceMs = Math.min(this.nowMs - this.linkDownAtMs, LINK_GRACE_CAP_MS);
    this.cluster.countSilenceFrom(this.nowMs + graceMs);
    // Reports asked for during start-up recovery may have been lost with the link: ask again, once
    // the agents are back too (see maybeFinishRecovery).
    this.linkBack = { atMs: this.nowMs, graceUntilMs: this.nowMs + graceMs };
    if (!this.running) this.recoveryAskedAtMs = null;
    this.log('info', 'BROKER_LINK_UP', `broker connection back after ${this.nowMs - this.linkDownAtMs} ms: no node is suspected on silence for ${graceMs + this.options.heartbeatTimeoutMs} ms`);
  }

  private onTick(): void {
    this.expireCommands();
    // Silence is only news while the coordinator can hear: with its own link down, every node is silent.
    if (this.linkUp) for (const node of this.cluster.sweepHeartbeats(this.nowMs, this.options.heartbeatTimeoutMs)) this.onNodeDown(node.name, 'down');
    // Recovery reconciles from the replicas' reports, which cannot arrive while the link is down.
    if (!this.running && this.linkUp) this.maybeFinishRecovery();
    if (this.running && this.operating.size > 0) {
      // By shard id, as a walk over every shard would visit them; a copy, since a tick may end or replace operations.
      for (const state of [...this.operating].sort((a, b) => a.id - b.id)) state.operation?.onTick(this);
    }
    this.labelOutcomes();
    if (this.running && this.reportsDeferred.size > 0 && this.nowMs - this.lastDeferredSweepMs >= this.options.stepTimeoutMs) {
      this.lastDeferredSweepMs = this.nowMs;
      for (const node of [...this.reportsDeferred]) if (!this.reportsAwaited.has(node)) this.askReport(node);
      this.reportsDeferred.clear();
    }
    const reportIntervalMs = this.options.reportIntervalMs;
    if (this.running && reportIntervalMs > 0 && this.nowMs - this.lastReportSweepMs >= reportIntervalMs) {
      this.lastReportSweepMs = this.nowMs;
      for (const node of this.cluster.all()) if (node.liveness === 'online' && !this.reportsAwaited.has(node.name)) this.askReport(node.name);
    }
    if (this.running && !this.automationPausedFlag && this.nowMs - this.lastRebalanceMs >= this.options.rebalanceIntervalMs) {
      this.lastRebalanceMs = this.nowMs;
      this.rebalancePass();
    }
  }

  /**
   * A command past its deadline times out once (its owner retries or moves on); its entry stays until
   * the agent would refuse it as too old, so a late answer still counts (a late promote answer may be
   * the only news that a replica became primary).
   */
  private expireCommands(): void {
    for (const [cmdId, pending] of this.pending) {
      if (pending.deadlineMs > this.nowMs) continue;
      if (pending.timedOut) {
        this.pending.delete(cmdId);
        continue;
      }
      pending.timedOut = true;
      pending.deadlineMs = pending.command.ts + this.options.commandMaxAgeMs + this.options.stepTimeoutMs;
      this.stats.commandTimeouts++;
      if (pending.command.type === 'calibrate') continue; // the node gets the next fit, or this one again at its next birth
      if (pending.owner === null) {
        if (this.reportsAwaited.has(pending.node) && pending.attempt < maxReportAttempts) this.askReport(pending.node, pending.attempt + 1);
        else this.reportsAwaited.delete(pending.node);
      } else if (this.shards.get(pending.owner.shard)?.operation === pending.owner) {
        pending.owner.onTimeout(this, pending);
      }
    }
  }

  // ---- node changes ----

  private onNodeDown(node: string, change: 'down' | 'dead'): void {
    this.lowRiskCache = null;
    for (const watch of this.outcomeWatches) {
      if (watch.node === node && watch.incident.outcome.nodeFailedWithinHorizon === null) this.labelOutcome(watch, true);
    }
    this.outcomeWatches = this.outcomeWatches.filter((watch) => watch.incident.outcome.nodeFailedWithinHorizon === null);
    if (!this.running) return;
    for (const shard of this.recoveringShardsOf(node)) this.shardState(shard).operation?.onNodeChange(this, node, change);
    for (const shard of [...this.routing.shardsOn(node)]) {
      const state = this.shardState(shard);
      state.operation?.onNodeChange(this, node, change);
      const route = this.routing.get(shard)!;
      if (route.primary === node && (state.operation === null || state.operation.replaceable)) {
        this.startFailover(shard, change === 'dead' ? `will of primary ${node}` : `heartbeats of primary ${node} stopped`);
      }
    }
  }

  private notifyNode(node: string, change: NodeChange): void {
    this.lowRiskCache = null;
    if (!this.running) return;
    for (const shard of [...this.routing.shardsOn(node), ...this.recoveringShardsOf(node)]) this.shardState(shard).operation?.onNodeChange(this, node, change);
  }

  /** Shards where `node` is a recovering old primary that routing no longer lists. */
  private recoveringShardsOf(node: string): number[] {
    const shards = this.recoveringByNode.get(node);
    if (!shards) return [];
    return [...shards].filter((shard) => this.shardState(shard).recovering.has(node) && !this.routing.shardsOn(node).has(shard));
  }

  // ---- replica reports (restart recovery and restarted agents) ----

  /** Sends the fitted calibrations to `node`, when there are any. */
  private sendCalibration(node: string): void {
    const fitted = this.fittedCalibration;
    if (fitted === null) return;
    if (this.sendCommand(null, node, 'calibrate', undefined, undefined, { ...fitted }, 1)) this.stats.calibrationsSent++;
  }

  private askReport(node: string, attempt = 1): void {
    this.reportsAwaited.add(node);
    // Not sent (the node is offline): not awaited either, or it would never be asked again once back.
    if (this.sendCommand(null, node, 'report', undefined, undefined, {}, attempt) === null) this.reportsAwaited.delete(node);
  }

  private onReportResult(pending: PendingCommand, message: CommandResultMessage): void {
    this.reportsAwaited.delete(pending.node);
    const replicas = readReportList(message.result);
    if (!message.ok || replicas === null) {
      this.stats.badResults++;
      return;
    }
    if (!this.running) this.reportedInRecovery.add(pending.node);
    const reported = new Set<number>();
    for (const report of replicas) {
      const state = this.shards.get(report.shard);
      if (!state) {
        this.noteUnrouted(pending.node, report);
        continue;
      }
      state.remember(pending.node, report);
      reported.add(report.shard);
      // A replica routing does not list is an old primary set aside (perhaps by a previous life of
      // this coordinator): it still holds a log, so failovers consider it and it may rejoin.
      const unlisted = !this.routing.shardsOn(pending.node).has(report.shard);
      if (unlisted && report.receivedLsn > 0 && this.routing.revisionOf(report.shard) <= pending.routingRevision) this.markRecovering(report.shard, pending.node);
      this.fenceIfStalePrimary(pending.node, report);
    }
    // A listed shard the node does not report is one it holds no replica of: a report remembered
    // from when it did would make it look caught up to a switch.
    for (const shard of this.routing.shardsOn(pending.node)) if (!reported.has(shard)) this.shards.get(shard)?.forget(pending.node);
    if (this.running) this.reconcileNode(pending.node, reported, pending.routingRevision);
  }

  /**
   * A replica that still takes writes at an epoch below its shard's is an old primary that missed its
   * fence: a process that hung and resumed after a failover had passed it over. No write of it can be
   * acknowledged (its shadows were fenced), but it must stop taking them: it is fenced at the
   * shard's epoch, and then recovers like any old primary set aside. Not for a replica routing names
   * primary or shadow: reconcileNode handles those (a failover, or a `follow`, which fences it
   * first), and a fence sent on a report that predates a `follow` would undo it.
   */
  private fenceIfStalePrimary(node: string, report: ReplicaReport): void {
    const route = this.routing.get(report.shard);
    if (!route || report.role !== 'primary' || report.epoch >= route.epoch) return;
    if (replicaNodes(route).includes(node)) return;
    this.stats.stalePrimariesFenced++;
    this.log('warn', 'STALE_PRIMARY', `${node} still took writes for shard ${report.shard} at epoch ${report.epoch} < ${route.epoch}; fencing it`);
    this.sendCommand(null, node, 'fence', report.shard, route.epoch, {}, 1);
  }

  /** After an agent restart: a primary that no longer accepts writes fails over; a lost shadow follows again. */
  private reconcileNode(node: string, reported: ReadonlySet<number>, asOfRevision: number): void {
    for (const shard of [...this.routing.shardsOn(node)]) {
      const route = this.routing.get(shard)!;
      const state = this.shardState(shard);
      if (this.routing.revisionOf(shard) > asOfRevision) continue; // the report predates a change of this shard
      if (state.operation !== null && !state.operation.replaceable) {
        this.reportsDeferred.add(node); // ask again once the shard is free
        continue;
      }
      const verdict = replicaVerdict(route, node, reported.has(shard) ? state.reports.get(node) : undefined);
      if (verdict === 'failover') this.startFailover(shard, `primary ${node} no longer accepts writes at epoch ${route.epoch}`);
      else if (verdict === 'follow') {
        // A listed "shadow" that still takes writes as a primary, or that holds no replica at all,
        // comes before background work (which may be counting on it as a shadow), so it replaces
        // any; otherwise (a shadow fenced by a removal, say) it waits for the shard.
        const rejoin = new ReplicaChange(shard, { kind: 'rejoin', add: node, remove: null, extra: route.extraShadows.includes(node) });
        const stalePrimary = reported.has(shard) && state.reports.get(node)?.role === 'primary';
        if ((stalePrimary || !reported.has(shard)) && state.operation?.replaceable) this.replaceOperation(state, rejoin);
        else if (!this.startOperation(rejoin)) this.reportsDeferred.add(node);
      }
    }
  }

  /**
   * Restart recovery in two steps: first wait out `commandMaxAgeMs`, so no command of the previous
   * life can still take effect; then ask every agent for a fresh report (earlier ones may predate a
   * late promotion) and reconcile once all answered, or once they had their retries. Only while the
   * link is up (onTick); after a broker outage, the ask waits until every online node has sent a
   * score or metrics again (the births the broker sends on reconnect are retained, not news) or the
   * reconnect grace is over, so an agent still backing off is not taken for one without replicas.
   */
  private maybeFinishRecovery(): void {
    if (this.nowMs - this.startMs < this.options.commandMaxAgeMs) return;
    if (this.recoveryAskedAtMs === null) {
      const back = this.linkBack;
      if (back !== null && this.nowMs < back.graceUntilMs && !this.cluster.allOnlineSampledSince(back.atMs)) return;
      this.recoveryAskedAtMs = this.nowMs;
      for (const state of this.shards.values()) state.reports.clear();
      this.unroutedReports.clear();
      this.reportsAwaited.clear();
      this.reportedInRecovery.clear();
      for (const node of this.cluster.all()) if (node.liveness !== 'offline') this.askReport(node.name);
      return;
    }
    const patienceMs = this.options.stepTimeoutMs * this.options.maxStepAttempts;
    if (this.reportsAwaited.size > 0 && this.nowMs - this.recoveryAskedAtMs < patienceMs) return;
    if (this.routing.size > 0) this.recover();
    else if (this.unroutedReports.size > 0) this.rebuildRouting();
    else this.createCluster(); // nothing to reconcile: a new cluster, once enough nodes are up
  }

  private noteUnrouted(node: string, report: ReplicaReport): void {
    if (this.running || this.routing.size > 0) return;
    const known = this.unroutedReports.get(report.shard);
    if (known) known.set(node, report);
    else if (this.unroutedReports.size < this.options.maxShards) this.unroutedReports.set(report.shard, new Map([[node, report]]));
  }

  /**
   * No routing table (neither retained nor saved: the broker restarted and the coordinator's data
   * directory was lost), but the agents hold replicas: creating the cluster again would be refused
   * by every replica at a higher epoch and leave those shards paused. So the table is rebuilt from
   * the reports instead: each reported shard on the nodes that hold it, its primary the replica that
   * takes writes at the highest epoch, old primaries set aside as recovering. Then the restart
   * reconciles it like any other table: a primary that does not hold the shard's highest epoch
   * fails over to the replica with the newest log.
   */
  private rebuildRouting(): void {
    const rebuilt: RoutingShard[] = [];
    for (const [id, reports] of [...this.unroutedReports].sort((a, b) => a[0] - b[0])) {
      const entries = [...reports].sort((a, b) => (a[0] < b[0] ? -1 : 1));
      const epoch = Math.max(...entries.map(([, report]) => report.epoch));
      const primaries = entries.filter(([, report]) => report.role === 'primary').sort((a, b) => b[1].epoch - a[1].epoch);
      const primary = primaries[0]?.[0] ?? entries[0]![0];
      const shadows = entries.filter(([node, report]) => node !== primary && report.role === 'shadow').map(([node]) => node);
      const recovering = entries.filter(([node, report]) => node !== primary && report.role !== 'shadow').map(([node]) => node);
      const dataUrls = Object.fromEntries([primary, ...shadows].map((node) => [node, this.cluster.get(node)?.dataUrl ?? '']));
      rebuilt.push({ id, epoch, primary, shadows, writes: 'open', dataUrls, available: true, extraShadows: [], recovering });
    }
    for (const shard of rebuilt) {
      this.routing.create(shard);
      const state = new ShardState(shard.id, shard.epoch, this.options.scoreHistoryLength, this.epochFloor);
      for (const [node, report] of this.unroutedReports.get(shard.id)!) {
        state.remember(node, report);
      }
      this.shards.set(shard.id, state);
      for (const node of shard.recovering) this.rememberRecovering(shard.id, node);
    }
    this.unroutedReports.clear();
    this.log('warn', 'ROUTING_REBUILT', `${rebuilt.length} shards rebuilt from the agents' replica reports: no routing table was retained or saved`);
    this.recover();
  }

  /** With no retained routing table and `shardCount` set, places the shards and starts creating them. */
  private createCluster(): void {
    const online = this.cluster.all().filter((n) => n.liveness === 'online');
    const shards = this.options.shardCount > 0 ? planInitialPlacement(this.options.shardCount, this.options.shadowsPerShard, online) : null;
    if (shards === null) return;
    if (shards.length > this.options.maxShards) throw new CoordinatorError('TOO_MANY_SHARDS', `${shards.length} shards`);
    for (const shard of shards) {
      this.routing.create(shard);
      this.shards.set(shard.id, new ShardState(shard.id, shard.epoch, this.options.scoreHistoryLength, this.epochFloor));
    }
    this.running = true;
    for (const shard of shards) this.replaceOperation(this.shardState(shard.id), new CreateShard(shard.id));
    this.log('info', 'CLUSTER_CREATED', `${shards.length} shards on ${online.length} nodes`);
  }

  /**
   * Reconciles every shard after a restart. By now no command of the previous life can take effect,
   * so the reports are final: a primary still accepting writes at the routing epoch keeps them (and
   * writes reopen if a switch had paused them); anything else goes through a failover, which adopts a
   * promotion already made, completes one whose fence was answered, or promotes the best shadow.
   * Shards touched this way start their cool-down now, so no duplicate switch follows.
   */
  private recover(): void {
    this.running = true;
    this.reportsAwaited.clear();
    this.routing.touch(); // the table may have come from our own file, not from the broker
    for (const shard of this.routing.ids()) {
      const route = this.routing.get(shard)!;
      const state = this.shardState(shard);
      let verdict = restartVerdict(route, state.reports, state.maxEpoch);
      // A replica that did not report may be one the previous life promoted at a newer epoch (the
      // table with it was never retained): writes kept at the routing epoch would be acknowledged
      // beside it and lost to its newer log when it returns. A failover moves the shard to an epoch
      // of this life's, above any the previous one used (three-node seed 12103).
      const silent = [...replicaNodes(route), ...state.recovering].filter((node) => !this.reportedInRecovery.has(node));
      let reason = 'coordinator restart found no primary accepting writes at the routing epoch';
      if (verdict !== 'failover' && silent.length > 0) {
        verdict = 'failover';
        reason = `coordinator restart: ${silent.join(', ')} did not report, and may hold a newer epoch`;
      }
      if (verdict === 'keep') continue;
      state.lastSwitchMs = this.nowMs; // no duplicate switch: the cool-down starts now
      state.lastSwitch = 'unknown';
      if (verdict === 'reopen') {
        this.routing.update(shard, { writes: 'open' });
        this.log('info', 'REOPENED_AFTER_RESTART', `shard ${shard}: primary ${route.primary} was never fenced`);
      } else {
        this.startFailover(shard, reason);
      }
    }
    for (const node of this.cluster.all()) {
      if (node.liveness !== 'online') this.onNodeDown(node.name, node.liveness === 'offline' ? 'dead' : 'down');
    }
  }

  // ---- decisions ----

  private maybeSwitch(state: ShardState): void {
    if (!this.running) return;
    const route = this.routing.get(state.id)!;
    if (route.primary === null || route.writes !== 'open') return;
    const operation = state.operation;
    const block = switchBlock({
      automationPaused: this.automationPausedFlag,
      busy: operation !== null && !operation.background,
      lastSwitchMs: state.lastSwitchMs,
      lastSwitch: state.lastSwitch,
      nowMs: this.nowMs,
      switchesInFlight: this.switchCount,
      options: this.options,
    });
    if (block !== null) return;
    const avoid = coolDownAvoids({ leftAtMs: state.leftAtMs, nowMs: this.nowMs, options: this.options });
    if (eligibleTargets(route.shadows, avoid, this.cluster, this.options.switchThreshold).length === 0) {
      this.stats.switchesWithoutTarget++;
      return;
    }
    this.replaceOperation(state, new PlannedSwitch(state.id, `rollback score above ${this.options.switchThreshold} for ${state.streak} updates`, null, avoid));
  }

  private manualSwitch(shard: number, toNode: string | null): void {
    const route = this.routing.get(shard);
    if (!route) throw new CoordinatorError('UNKNOWN_SHARD', `no shard ${shard}`);
    if (!this.running) throw new CoordinatorError('NOT_READY', 'the coordinator is still recovering');
    const state = this.shardState(shard);
    if (route.primary === null || route.writes !== 'open' || (state.operation !== null && !state.operation.background)) {
      throw new CoordinatorError('SHARD_BUSY', `shard ${shard} is switching or unavailable`);
    }
    if (toNode !== null && !route.shadows.includes(toNode)) throw new CoordinatorError('UNKNOWN_NODE', `${toNode} holds no shadow of shard ${shard}`);
    const candidates = toNode === null ? route.shadows : [toNode];
    if (!candidates.some((n) => this.cluster.isOnline(n))) throw new CoordinatorError('NO_TARGET', `no online shadow of shard ${shard}`);
    this.replaceOperation(state, new PlannedSwitch(shard, 'requested by operator', toNode));
  }

  private maybeRejoin(node: NodeInfo): void {
    const shards = this.recoveringByNode.get(node.name);
    if (!shards || node.failureP >= this.options.maxTargetRisk) return;
    for (const shard of [...shards]) {
      const state = this.shardState(shard);
      const route = this.routing.get(shard)!;
      const rejoined = route.shadows.includes(node.name) && state.operation === null;
      if (!state.recovering.has(node.name) || route.primary === node.name || rejoined) {
        this.clearRecovering(shard, node.name);
        continue;
      }
      if (state.operation !== null || route.primary === null || route.writes !== 'open') continue;
      this.startOperation(new ReplicaChange(shard, { kind: 'rejoin', add: node.name, remove: null, extra: false }));
    }
    if (shards.size === 0) this.recoveringByNode.delete(node.name);
  }

  /** Moves still under way, each as its operation tells it: switches to a chosen shadow not yet done, shadows not yet dropped. */
  private movesUnderWay(): InFlightMove[] {
    const moves: InFlightMove[] = [];
    for (const state of this.operating) {
      const move = state.operation?.inFlightMove(this) ?? null;
      if (move !== null) moves.push(move);
    }
    return moves;
  }

  private rebalancePass(): void {
    const busy = (shard: number): boolean => this.shardState(shard).operation !== null;
    const repairs = planRepairs({
      routing: this.routing,
      cluster: this.cluster,
      busy,
      budget: this.options.maxMovesInFlight - this.moveCount,
      shadowsPerShard: this.options.shadowsPerShard,
      nowMs: this.nowMs,
      repairAfterMs: this.options.repairAfterMs,
      targets: this.lowRiskNodesByLoad(),
    });
    for (const repair of repairs) this.startOperation(new ReplicaChange(repair.shard, { kind: 'repair', add: repair.to, remove: null, extra: false }));
    if (!this.options.rebalance) return;
    const budget = this.options.maxMovesInFlight - this.moveCount;
    const moves = planRebalance({
      routing: this.routing,
      cluster: this.cluster,
      busy: (shard) => this.shardState(shard).operation !== null || this.shardState(shard).recovering.size > 0,
      budget,
      maxTargetRisk: this.options.maxTargetRisk,
      inFlight: this.movesUnderWay(),
    });
    for (const move of moves) {
      if (move.kind === 'move-shadow') {
        this.startOperation(new ReplicaChange(move.shard, { kind: 'move', add: move.to, remove: move.from, extra: false }));
      } else if (this.switchCount < this.options.maxSwitchesInFlight) {
        this.startOperation(new PlannedSwitch(move.shard, `rebalance primaries onto ${move.to}`, move.to));
      }
    }
  }

  // ---- operations (the OperationContext and PlacementHost the operations use) ----

  /** The state of `id`; it must be a shard of the routing table. */
  shardState(id: number): ShardState {
    const state = this.shards.get(id);
    assert.ok(state, `unknown shard ${id}`);
    return state;
  }

  /** Starts `operation` unless its shard is busy. */
  startOperation(operation: ShardOperation): boolean {
    const state = this.shardState(operation.shard);
    if (state.operation !== null) return false;
    this.replaceOperation(state, operation);
    return true;
  }

  /** Replaces whatever runs on `shard` with a failover (unless one runs already). */
  startFailover(shard: number, reason: string): void {
    const state = this.shardState(shard);
    if (state.operation instanceof Failover && !state.operation.replaceable) return;
    this.replaceOperation(state, new Failover(shard, reason));
  }

  /** Ends `operation`; its outstanding commands' answers will be ignored. */
  finish(operation: ShardOperation): void {
    const state = this.shardState(operation.shard);
    if (state.operation !== operation) return;
    this.setOperation(state, null);
  }

  /** Sends a command for `owner`. */
  send(owner: ShardOperation, node: string, type: CommandType, shard: number, epoch: number, args: Record<string, unknown> = {}, attempt = 1): PendingCommand | null {
    return this.sendCommand(owner, node, type, shard, epoch, args, attempt);
  }

  /** Publishes a copy of `incident`, and its history pair once it is labelled. */
  publishIncident(incident: Incident): void {
    this.intents.push({ kind: 'publish-incident', incident: copyIncident(incident) });
    const pair = pairFromIncident(incident);
    if (pair) this.intents.push({ kind: 'record-history', pair });
  }

  /** Watches `node` for `outcomeHorizonMs` to label the incident. */
  watchOutcome(incident: Incident, node: string): void {
    if (this.outcomeWatches.length >= maxOutcomeWatches) this.outcomeWatches.shift();
    this.outcomeWatches.push({ incident, node, untilMs: this.nowMs + this.options.outcomeHorizonMs, breached: false });
  }

  /** Remembers `node` as a recovering old primary of `shard`. */
  markRecovering(shard: number, node: string): void {
    this.rememberRecovering(shard, node);
    const route = this.routing.get(shard)!;
    if (!route.recovering.includes(node)) this.routing.update(shard, { recovering: [...route.recovering, node] });
  }

  /** Forgets `node` as a recovering old primary of `shard`, in routing too. */
  clearRecovering(shard: number, node: string): void {
    this.shardState(shard).recovering.delete(node);
    this.recoveringByNode.get(node)?.delete(shard);
    const route = this.routing.get(shard)!;
    if (route.recovering.includes(node)) this.routing.update(shard, { recovering: route.recovering.filter((n) => n !== node) });
  }

  private rememberRecovering(shard: number, node: string): void {
    this.shardState(shard).recovering.add(node);
    let shards = this.recoveringByNode.get(node);
    if (!shards) this.recoveringByNode.set(node, (shards = new Set()));
    shards.add(shard);
  }

  /** Online nodes below `maxTargetRisk`, fewest replicas first. */
  lowRiskNodesByLoad(): readonly string[] {
    if (this.lowRiskCache && this.nowMs - this.lowRiskCache.atMs < lowRiskCacheMs) return this.lowRiskCache.nodes;
    const nodes = this.cluster
      .all()
      .filter((n) => n.liveness === 'online' && n.failureP < this.options.maxTargetRisk)
      .map((n) => ({ name: n.name, load: this.routing.shardsOn(n.name).size }))
      .sort((a, b) => a.load - b.load || (a.name < b.name ? -1 : 1))
      .map((n) => n.name);
    this.lowRiskCache = { atMs: this.nowMs, nodes };
    return nodes;
  }

  /** Counts and logs an operating event. */
  log(level: 'info' | 'warn', code: string, message: string): void {
    this.intents.push({ kind: 'log', level, code, message });
  }

  /** A new identifier. */
  newId(prefix: string): string {
    return this.ids.next(prefix);
  }

  private replaceOperation(state: ShardState, operation: ShardOperation): void {
    const previous = state.operation;
    if (previous !== null) {
      previous.onCancel(this);
      if (previous instanceof PromotingOperation) this.abandon(previous, operation);
    }
    this.setOperation(state, operation);
    if (operation.kind === 'switch') this.stats.switchesStarted++;
    else if (operation.kind === 'failover') this.stats.failoversStarted++;
    else if (operation.kind !== 'create') this.stats.movesStarted++;
    operation.start(this);
  }

  private abandon(previous: PromotingOperation, next: ShardOperation): void {
    const incident = previous.openIncident;
    if (incident && incident.outcome.result === 'open') {
      closeIncident(incident, this.nowMs, 'abandoned', `replaced by a ${next.kind}`);
      this.publishIncident(incident);
    }
  }

  private setOperation(state: ShardState, operation: ShardOperation | null): void {
    const count = (op: ShardOperation | null, delta: number): void => {
      if (op === null) return;
      if (op.kind === 'switch') this.switchCount += delta;
      else if (op.kind === 'pre-replicate' || op.kind === 'remove-extra' || op.kind === 'move' || op.kind === 'repair') this.moveCount += delta;
    };
    count(state.operation, -1);
    count(operation, 1);
    state.operation = operation;
    if (operation === null) this.operating.delete(state);
    else this.operating.add(state);
  }

  private sendCommand(owner: ShardOperation | null, node: string, type: CommandType, shard: number | undefined, epoch: number | undefined, args: Record<string, unknown>, attempt: number): PendingCommand | null {
    const info = this.cluster.get(node);
    if (!info || info.liveness === 'offline') return null;
    const command = {
      cmdId: this.ids.next('cmd'),
      type,
      ...(shard === undefined ? {} : { shard }),
      ...(epoch === undefined ? {} : { epoch }),
      args: { ...args, session: info.session },
      ts: this.nowMs,
    };
    const pending: PendingCommand = {
      command, node, attempt, owner, timedOut: false, deadlineMs: this.nowMs + this.options.stepTimeoutMs, routingRevision: this.routing.revision,
    };
    this.pending.set(command.cmdId, pending);
    this.stats.commandsSent++;
    this.intents.push({ kind: 'send-command', node, command });
    return pending;
  }

  private labelOutcomes(): void {
    if (this.outcomeWatches.length === 0 || this.outcomeWatches[0]!.untilMs > this.nowMs) return;
    const remaining: OutcomeWatch[] = [];
    for (const watch of this.outcomeWatches) {
      if (watch.untilMs <= this.nowMs) this.labelOutcome(watch, false);
      else remaining.push(watch);
    }
    this.outcomeWatches = remaining;
  }

  private labelOutcome(watch: OutcomeWatch, failed: boolean): void {
    watch.incident.outcome.nodeFailedWithinHorizon = failed;
    watch.incident.outcome.breachedWithinHorizon = failed || watch.breached;
    this.publishIncident(watch.incident);
  }

  /** Marks the outcome watches on `node` breached when its score shows a series past its SLO threshold. */
  private noteBreaches(node: string, message: ScoreMessage): void {
    if (this.outcomeWatches.length === 0) return;
    const watches = this.outcomeWatches.filter((watch) => watch.node === node && !watch.breached);
    if (watches.length === 0) return;
    const units = [message.node, ...Object.values(message.shards)];
    if (!units.some((unit) => unit.top.some(pastThreshold))) return;
    for (const watch of watches) watch.breached = true;
  }
}

/** Whether an explanation's latest value is on the breach side of its threshold. */
function pastThreshold(entry: ScoreContribution): boolean {
  return entry.direction === 'below' ? entry.value < entry.threshold : entry.value > entry.threshold;
}

function clampProbability(p: number): number {
  return Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 1;
}

function readReportList(value: unknown): ReplicaReport[] | null {
  const replicas = (value as { replicas?: unknown } | null)?.replicas;
  if (!Array.isArray(replicas)) return null;
  const reports = replicas.map(readReplicaReport);
  return reports.every((r) => r !== null) ? (reports as ReplicaReport[]) : null;
}

