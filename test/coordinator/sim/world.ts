/**
 * The coordinator simulator: a simulated clock and event queue, simulated agents with a log model
 * (the data-plane rules it assumes of the replication layer: frames carry their epoch, a shadow takes
 * frames from the primary it follows only while their epoch is at most the epoch it was told to follow
 * at, and stops taking any from a source that has seen a lower epoch than itself),
 * clients writing to whatever replica accepts writes (as a stale gateway might), and an MQTT-like
 * network that loses, delays and duplicates messages. Faults: agent crashes and restarts, agent hangs
 * (the process stops and later resumes where it was: its will may come while it still holds its
 * replicas, and it may take writes again after it resumes), one node down or hung at a time (the
 * failure model `minShadowAcks = 1` tolerates), degrading hosts whose scores rise, coordinator
 * restarts that keep only what a broker retains, and cuts of the coordinator's broker connection,
 * after which the broker sends what it retains again. The broker retains each node's birth or will
 * as published, so a late will of an earlier session can replace a newer birth (which the agent
 * then publishes again).
 *
 * The checker runs inside: after every event, at most one replica per shard accepts writes at the
 * highest accepting epoch; on every acknowledged write, the replica that acknowledged it is that
 * newest primary; and on every promotion, the new primary holds every acknowledged write. Those are
 * the only moments the properties can change, so this checks them at every simulated instant.
 */
import { CoordinatorCore } from '../../../src/coordinator/coordinator.js';
import { CoordinatorError } from '../../../src/coordinator/errors.js';
import type { CoordinatorOptions } from '../../../src/coordinator/options.js';
import type { Incident } from '../../../src/coordinator/incidents/incident.js';
import { CounterIds, type CommandMessage, type CommandResultMessage, type CoordinatorEvent, type CoordinatorIntent, type NodeStateMessage, type RoutingMessage, type RoutingShard, type ScoreContribution, type ScoreEntry } from '../../../src/coordinator/types.js';
import { acceptsWrites, SimAgent, type AgentHost, type SimReplica } from './agent.js';
import { Prng } from './prng.js';
import { EventQueue } from './queue.js';

/** Everything a simulated run varies. Rates are per tick unless named otherwise. */
export interface SimConfig {
  seed: number;
  nodes: number;
  shards: number;
  shadowsPerShard: number;
  tickMs: number;
  scoreIntervalMs: number;
  lossRate: number;
  duplicateRate: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Chance per tick per shard that a client writes. */
  writeRate: number;
  /** Chance per tick that a shadow misses a frame (data-plane lag). */
  lagRate: number;
  framesPerTick: number;
  crashRatePerS: number;
  restartAfterMs: number;
  /** Chance per second that an agent hangs; it resumes after up to `hangMaxMs`. */
  hangRatePerS: number;
  hangMaxMs: number;
  willDelayMs: number;
  degradeRatePerS: number;
  coordinatorRestartRatePerS: number;
  /** Chance per second that the coordinator's broker connection is cut, for up to `linkCutMaxMs` ({@link SimWorld.cutCoordinatorLink}). */
  linkCutRatePerS: number;
  linkCutMaxMs: number;
  /** Chance per second of an operator's command: a manual switch (to a listed shadow or any), or automation paused or resumed. */
  manualRatePerS?: number;
  /** Check the properties after every event (off for the scale run). */
  check: boolean;
  coordinator: Partial<CoordinatorOptions>;
  /** Initial placement: the nodes of each shard, primary first (default round-robin). */
  placement?: (shard: number, nodes: readonly string[]) => string[];
  /** Start with empty agents and no retained routing: the coordinator creates the cluster (`shardCount`). */
  createCluster?: boolean;
  /** Also publish each agent's metrics (with `intervalMs`) next to its score, as real agents do. */
  sendMetrics?: boolean;
  /** Scripted scores: the failure probability of `node` now (used for its shards too), or null for the default. */
  scoreOf?: (node: string, nowMs: number) => number | null;
  /** Scripted faults: true drops `node`'s score (and metrics) published now. */
  dropScore?: (node: string, nowMs: number) => boolean;
  /** Scripted faults: true drops this command on its way to `node`. */
  dropCommand?: (node: string, command: CommandMessage, nowMs: number) => boolean;
  /** Debugging: called with a line for every command, result and fault. */
  trace?: (line: string) => void;
}

/** How far back {@link SimWorld.unsettled} looks for a command storm. */
const quietWindowMs = 10_000;

/** Sensible defaults for small property runs. */
export const defaultSimConfig: SimConfig = {
  seed: 1, nodes: 5, shards: 8, shadowsPerShard: 1, tickMs: 100, scoreIntervalMs: 1000,
  lossRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 20, writeRate: 0.3, lagRate: 0.2, framesPerTick: 3,
  crashRatePerS: 0, restartAfterMs: 8000, hangRatePerS: 0, hangMaxMs: 8000, willDelayMs: 1500, degradeRatePerS: 0, coordinatorRestartRatePerS: 0,
  linkCutRatePerS: 0, linkCutMaxMs: 10_000, check: true, coordinator: {},
};

/** The explanation a simulated score carries: disk await forecast against its SLO threshold. */
function explain(p: number): ScoreContribution[] {
  return [
    { series: 'disk.awaitMs', value: 5 + 40 * p, forecast: 10 + 90 * p, threshold: 80, share: 0.7 },
    { series: 'store.latencyMsP99', value: 2 + 10 * p, forecast: 3 + 20 * p, threshold: 50, share: 0.3 },
  ];
}

/** A property violation, with what the simulator knew at the time. */
export class SimViolation extends Error {}

/** One simulated cluster. */
export class SimWorld implements AgentHost {
  readonly config: SimConfig;
  readonly random: Prng;
  readonly queue = new EventQueue();
  readonly agents = new Map<string, SimAgent>();
  readonly nodeNames: string[];
  core!: CoordinatorCore;
  /** Until when the coordinator's broker connection is cut ({@link cutCoordinatorLink}). */
  private linkCutUntilMs = -1;
  now = 0;
  retainedRouting: RoutingMessage | null = null;
  /** Each node's last published state (birth or will), as the broker retains it. */
  private readonly retainedState = new Map<string, NodeStateMessage>();
  readonly incidents = new Map<string, Incident>();
  readonly acked = new Map<number, { lsn: number; writeId: number }[]>();
  /** Per shard, the highest epoch any replica was promoted at. */
  private readonly promotedEpoch = new Map<number, number>();
  readonly stats = { writesAcked: 0, writesRefused: 0, coordinatorRestarts: 0, linkCuts: 0, crashes: 0, hangs: 0, stalePromotions: 0, eventsRun: 0, scoreUpdates: 0, scoreHandleNs: 0n, routingPublished: 0 };
  private writeId = 0;
  private incarnation = 0;
  private frozen = false;

  constructor(config: Partial<SimConfig>) {
    this.config = { ...defaultSimConfig, ...config };
    this.random = new Prng(this.config.seed);
    this.nodeNames = Array.from({ length: this.config.nodes }, (_, i) => `n${String(i).padStart(4, '0')}`);
    for (const name of this.nodeNames) this.agents.set(name, new SimAgent(name, this));
    this.retainedRouting = this.config.createCluster ? null : this.initialRouting();
    this.startCoordinator();
    this.queue.push(this.config.tickMs, () => this.tick());
    for (const name of this.nodeNames) {
      this.queue.push(this.random.int(1, this.config.scoreIntervalMs), () => this.scoreLoop(name));
    }
  }

  get commandMaxAgeMs(): number {
    return this.core.options.commandMaxAgeMs;
  }

  /** The clock, for agents. */
  nowMs(): number {
    return this.now;
  }

  /** Runs until simulated time `untilMs`. */
  runUntil(untilMs: number): void {
    while (this.queue.peekTime() <= untilMs) {
      const event = this.queue.pop()!;
      this.now = event.atMs;
      event.run();
      this.stats.eventsRun++;
      if (this.config.check) this.checkOnePrimary();
    }
    this.now = untilMs;
  }

  /** From now on: no loss, no crashes, no restarts, every node up; the cluster should settle. */
  calm(): void {
    this.frozen = true;
    if ((this.config.manualRatePerS ?? 0) > 0) this.deliverToCoordinator({ kind: 'set-automation', paused: false });
    for (const agent of this.agents.values()) {
      agent.degradation = 0;
      if (agent.hung) {
        this.resumeAgent(agent);
        this.publishState(agent.name, this.birth(agent));
      }
      if (!agent.up) this.restartAgent(agent);
    }
  }

  /** What is still wrong after calm: shards whose routing does not point at a primary accepting writes. */
  unsettled(): string[] {
    const problems: string[] = [];
    // A settled cluster is also a quiet one: beyond the periodic report sweep, a few commands. A
    // livelock (an operation given up and started again, a poll answered at once) sends hundreds.
    const recent = this.recentCommands.filter((c) => c.atMs > this.now - quietWindowMs);
    if (recent.length > 10 + 5 * this.config.nodes) {
      const byType = new Map<string, number>();
      for (const c of recent) byType.set(c.type, (byType.get(c.type) ?? 0) + 1);
      problems.push(`busy: ${recent.length} commands in the last ${quietWindowMs / 1000} s (${[...byType].map(([type, n]) => `${type} ${n}`).join(', ')})`);
    }
    for (let shard = 0; shard < this.config.shards; shard++) {
      const route = this.core.routing.get(shard);
      const accepting = this.accepting(shard);
      if (!route || route.primary === null || route.writes !== 'open' || !route.available) {
        problems.push(`shard ${shard}: routing ${JSON.stringify(route)}`);
      } else if (accepting.length !== 1 || accepting[0]!.node !== route.primary || accepting[0]!.acceptEpoch !== route.epoch) {
        problems.push(`shard ${shard}: routing says ${route.primary}@${route.epoch}, accepting: ${accepting.map((r) => `${r.node}@${r.acceptEpoch}`).join(',') || 'none'}`);
      }
    }
    return problems;
  }

  /** The commands of the last {@link quietWindowMs}, for the quiet check of {@link unsettled}. */
  private recentCommands: { atMs: number; type: string }[] = [];

  private noteCommand(type: string): void {
    this.recentCommands.push({ atMs: this.now, type });
    if (this.recentCommands.length > 4096) this.recentCommands = this.recentCommands.filter((c) => c.atMs > this.now - quietWindowMs);
  }

  /**
   * Runs on to `atMs` and returns what keeps the run from counting as settled ({@link unsettled}),
   * after `graceMs` more if anything does then: slow recovery ends within it, a livelock does not.
   */
  settleBy(atMs: number, graceMs = 40_000): string[] {
    this.runUntil(atMs);
    const problems = this.unsettled();
    // Whatever is still wrong gets the grace: a recovery that began late in the calm (a restarted
    // primary found at the next report round, a big rebalance's switch with writes paused) ends
    // within it; a shard stuck for ever, or a livelock, is still there after it.
    if (problems.length === 0) return problems;
    this.runUntil(atMs + graceMs);
    return this.unsettled();
  }

  /** Restarts the coordinator now, as a crash would: it keeps only what the broker retains. */
  restartCoordinator(): void {
    this.stats.coordinatorRestarts++;
    this.startCoordinator();
  }

  /** Hangs `node` now for `forMs` (its will comes after `willDelayMs` if it is still hung then). */
  hangNode(node: string, forMs: number): void {
    this.hang(this.agents.get(node)!, forMs);
  }

  /**
   * Cuts the coordinator's broker connection now for `forMs`, as a broker restart or a network
   * partition would: nothing reaches it and none of its commands leave; it is told (`link` events).
   */
  cutCoordinatorLink(forMs: number): void {
    this.linkCutUntilMs = this.now + forMs;
    this.deliverToCoordinator({ kind: 'link', connected: false });
    this.queue.push(this.linkCutUntilMs, () => {
      this.deliverToCoordinator({ kind: 'link', connected: true });
      // The service subscribes again on every connect, and the broker sends what it retains.
      this.deliverRetained();
    });
  }

  /** Crashes `node` now; it restarts after `restartAfterMs`. */
  crashNode(node: string): void {
    this.crash(this.agents.get(node)!);
  }

  // ---- the coordinator and the network ----

  private startCoordinator(): void {
    // The incarnation doubles as the generation: the wiring reads it from the retained coordinator birth.
    this.incarnation++;
    const creation = this.config.createCluster ? { shardCount: this.config.shards } : {};
    this.core = new CoordinatorCore({ options: { shadowsPerShard: this.config.shadowsPerShard, ...creation, ...this.config.coordinator }, ids: new CounterIds(`c${this.incarnation}`), startMs: this.now, generation: this.incarnation });
    this.deliverRetained();
  }

  /** What a new subscription gets: exactly what the broker retains, routing and each node's last state. */
  private deliverRetained(): void {
    if (this.retainedRouting) this.deliverToCoordinator({ kind: 'routing', message: this.retainedRouting });
    for (const agent of this.agents.values()) {
      const message = this.retainedState.get(agent.name) ?? this.birth(agent);
      this.deliverToCoordinator({ kind: 'node-state', node: agent.name, message });
    }
  }

  /** A node's birth or will: the broker retains it as it is published, and delivers it (reliably, maybe late). */
  private publishState(node: string, message: NodeStateMessage): void {
    this.retainedState.set(node, message);
    this.send(() => this.deliverToCoordinator({ kind: 'node-state', node, message }), true);
    // A late will of an earlier session replaces a newer birth; the agent watches its own state
    // topic and publishes its birth again (src/agent/mqtt-link.ts), as a running agent does.
    const agent = this.agents.get(node)!;
    if (message.state === 'offline' && message.session !== agent.session && agent.up) {
      this.queue.push(this.now + this.config.maxDelayMs, () => {
        if (agent.up && this.retainedState.get(node) === message) this.publishState(node, this.birth(agent));
      });
    }
  }

  /** Delivers an event to the coordinator now and carries out its intents. */
  deliverToCoordinator(event: CoordinatorEvent): void {
    if (this.now < this.linkCutUntilMs && event.kind !== 'tick' && event.kind !== 'link') return;
    const started = event.kind === 'score' ? process.hrtime.bigint() : 0n;
    const intents = this.core.handle(event, this.now);
    if (event.kind === 'score') {
      this.stats.scoreHandleNs += process.hrtime.bigint() - started;
      this.stats.scoreUpdates++;
    }
    this.carryOut(intents);
  }

  private carryOut(intents: readonly CoordinatorIntent[]): void {
    for (const intent of intents) {
      if (intent.kind === 'send-command') {
        const agent = this.agents.get(intent.node)!;
        this.noteCommand(intent.command.type);
        this.config.trace?.(`${this.now} cmd ${intent.node} ${JSON.stringify(intent.command)}`);
        if (this.config.dropCommand?.(intent.node, intent.command, this.now)) continue;
        if (this.now < this.linkCutUntilMs) continue;
        this.send(() => agent.onCommand(intent.command));
      } else if (intent.kind === 'publish-routing') {
        this.retainedRouting = intent.routing; // QoS 1 to the broker: retained even if subscribers miss it
        this.stats.routingPublished++;
      } else if (intent.kind === 'publish-incident') {
        this.incidents.set(intent.incident.id, intent.incident);
      }
    }
  }

  /** Sends one message over the lossy network. */
  private send(deliver: () => void, reliable = false): void {
    const { lossRate, duplicateRate, minDelayMs, maxDelayMs } = this.config;
    if (!reliable && !this.frozen && this.random.chance(lossRate)) return;
    const copies = !this.frozen && this.random.chance(duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) this.queue.push(this.now + this.random.int(minDelayMs, this.frozen ? minDelayMs : maxDelayMs), deliver);
  }

  sendResult(node: string, message: CommandResultMessage): void {
    this.config.trace?.(`${this.now} result ${node} ${JSON.stringify(message)}`);
    this.send(() => this.deliverToCoordinator({ kind: 'cmd-result', node, message }));
  }

  private birth(agent: SimAgent) {
    return { state: 'online' as const, session: agent.session, ts: this.now, version: 'sim', profile: 'sim', dataUrl: `ws://${agent.name}` };
  }

  // ---- time ----

  private tick(): void {
    const perSecond = this.config.tickMs / 1000;
    this.deliverToCoordinator({ kind: 'tick' });
    for (const agent of this.agents.values()) agent.tick();
    this.replicate();
    this.clientWrites();
    if (!this.frozen) this.faults(perSecond);
    this.queue.push(this.now + this.config.tickMs, () => this.tick());
  }

  private faults(perSecond: number): void {
    const config = this.config;
    const linkCut = this.now < this.linkCutUntilMs;
    // A real coordinator starts deciding only once it is connected, so no restart lands inside a cut.
    if (!linkCut && this.random.chance(config.coordinatorRestartRatePerS * perSecond)) {
      this.config.trace?.(`${this.now} coordinator restart`);
      this.stats.coordinatorRestarts++;
      this.startCoordinator();
    }
    const anyDown = [...this.agents.values()].some((a) => !a.up || a.hung);
    if (!anyDown && this.random.chance(config.crashRatePerS * perSecond)) this.crash(this.random.pick([...this.agents.values()]));
    else if (!anyDown && this.random.chance(config.hangRatePerS * perSecond)) this.hang(this.random.pick([...this.agents.values()]));
    if (config.linkCutRatePerS > 0 && !linkCut && this.random.chance(config.linkCutRatePerS * perSecond)) {
      const forMs = this.random.int(200, config.linkCutMaxMs);
      this.config.trace?.(`${this.now} coordinator link cut for ${forMs} ms`);
      this.stats.linkCuts++;
      this.cutCoordinatorLink(forMs);
    }
    if (this.random.chance(config.degradeRatePerS * perSecond)) {
      const agent = this.random.pick([...this.agents.values()]);
      if (agent.degradation === 0) agent.degradation = 0.01;
    }
    if ((config.manualRatePerS ?? 0) > 0 && this.random.chance(config.manualRatePerS! * perSecond)) this.operatorCommand();
  }

  /** An operator's command, as `foreshard switch` and `pause-automation` send them; a refusal is the operator's to read. */
  private operatorCommand(): void {
    const roll = this.random.next();
    const shard = this.random.int(0, this.config.shards - 1);
    const route = this.core.routing.get(shard);
    let event: CoordinatorEvent;
    if (roll < 0.7) {
      const toNode = route && route.shadows.length > 0 && this.random.chance(0.5) ? this.random.pick(route.shadows) : undefined;
      event = { kind: 'manual-switch', shard, ...(toNode ? { toNode } : {}) };
    } else {
      event = { kind: 'set-automation', paused: roll < 0.85 };
    }
    this.config.trace?.(`${this.now} operator ${JSON.stringify(event)}`);
    try {
      this.deliverToCoordinator(event);
    } catch (error) {
      if (!(error instanceof CoordinatorError)) throw error;
    }
  }

  private crash(agent: SimAgent): void {
    this.stats.crashes++;
    this.config.trace?.(`${this.now} crash ${agent.name}`);
    agent.crash();
    const session = agent.session;
    // The broker publishes the will once the keepalive runs out; it is not lost, but may be late or doubled.
    this.queue.push(this.now + this.config.willDelayMs, () => this.publishState(agent.name, { state: 'offline', session }));
    this.queue.push(this.now + this.config.restartAfterMs, () => this.restartAgent(agent));
  }

  private hang(agent: SimAgent, hangMs = this.random.int(200, this.config.hangMaxMs)): void {
    this.stats.hangs++;
    this.config.trace?.(`${this.now} hang ${agent.name} for ${hangMs} ms`);
    agent.hung = true;
    const session = agent.session;
    const hangNumber = this.stats.hangs;
    const stillThisHang = (): boolean => agent.hung && agent.session === session && agent.hangNumber === hangNumber;
    agent.hangNumber = hangNumber;
    let willSent = false;
    // Its connection stays open, so the broker publishes its will only once the keepalive runs out.
    this.queue.push(this.now + this.config.willDelayMs, () => {
      if (!stillThisHang()) return;
      willSent = true;
      this.publishState(agent.name, { state: 'offline', session });
    });
    this.queue.push(this.now + hangMs, () => {
      if (!stillThisHang()) return;
      this.resumeAgent(agent);
      // Its client finds the connection dropped, reconnects and publishes its birth again (same session).
      if (willSent) this.publishState(agent.name, this.birth(agent));
    });
  }

  private resumeAgent(agent: SimAgent): void {
    this.config.trace?.(`${this.now} resume ${agent.name}`);
    agent.resume();
  }

  private restartAgent(agent: SimAgent): void {
    if (agent.up) return;
    agent.restart();
    this.config.trace?.(`${this.now} restart ${agent.name}`);
    agent.degradation = 0;
    this.publishState(agent.name, this.birth(agent));
  }

  private scoreLoop(name: string): void {
    const agent = this.agents.get(name)!;
    if (agent.up && !agent.hung) {
      const scripted = this.config.scoreOf?.(name, this.now) ?? null;
      if (scripted === null && agent.degradation > 0 && !this.frozen) agent.degradation = Math.min(0.97, agent.degradation + 0.12);
      const p = scripted ?? Math.min(1, agent.degradation + this.random.next() * 0.05);
      const shards: Record<string, ScoreEntry> = {};
      // Features as an agent's engine reports them (breach, anomaly, and for a shard its node's p).
      for (const shard of agent.replicas.keys()) shards[String(shard)] = { p: scripted ?? Math.min(1, p + this.random.next() * 0.02), top: explain(p), features: { breach: p, anomaly: p, node: p } };
      const message = { ts: this.now, horizonS: 60, node: { p, top: explain(p), features: { breach: p, anomaly: p } }, shards };
      const dropped = this.config.dropScore?.(name, this.now) ?? false;
      if (!dropped) this.send(() => this.deliverToCoordinator({ kind: 'score', node: name, message }));
      if (this.config.sendMetrics && !dropped) this.send(() => this.deliverToCoordinator({ kind: 'metrics', node: name, message: { ts: this.now, intervalMs: this.config.scoreIntervalMs, series: {} } }));
      if (scripted === null && agent.degradation >= 0.97 && !this.frozen && this.random.chance(0.2)) {
        if ([...this.agents.values()].every((a) => a.up && !a.hung)) this.crash(agent);
        else agent.degradation = 0;
      }
    }
    this.queue.push(this.now + this.config.scoreIntervalMs, () => this.scoreLoop(name));
  }

  // ---- the data plane ----

  replicaOn(node: string, shard: number): SimReplica | undefined {
    return this.agents.get(node)?.replicas.get(shard);
  }

  /** Shadows copy frames from the primary they follow, in lsn order, if their epoch allows it. */
  private replicate(): void {
    for (const agent of this.agents.values()) {
      if (!agent.up || agent.hung) continue;
      for (const replica of agent.replicas.values()) {
        const source = replica.source === null ? undefined : this.agents.get(replica.source);
        if (replica.role !== 'shadow' || !source?.up || source.hung) continue;
        const sourceReplica = this.replicaOn(source.name, replica.shard);
        if (!sourceReplica || sourceReplica.epoch < replica.epoch || !this.consistent(replica, sourceReplica)) continue;
        if (!this.frozen && this.random.chance(this.config.lagRate)) continue;
        // A shadow takes frames only up to the epoch it was told to follow at: a node it once followed
        // that is promoted again later cannot gain acknowledgements from it.
        const end = Math.min(sourceReplica.log.length, replica.log.length + this.config.framesPerTick);
        for (let i = replica.log.length; i < end && sourceReplica.log[i]!.epoch <= replica.epoch; i++) replica.log.push(sourceReplica.log[i]!);
      }
    }
  }

  private consistent(shadow: SimReplica, source: SimReplica): boolean {
    const length = shadow.log.length;
    if (length > source.log.length) return false;
    return length === 0 || shadow.log[length - 1]!.writeId === source.log[length - 1]!.writeId;
  }

  private clientWrites(): void {
    if (this.config.writeRate === 0) return;
    for (let shard = 0; shard < this.config.shards; shard++) {
      if (!this.random.chance(this.config.writeRate)) continue;
      for (const primary of this.accepting(shard)) this.write(primary);
    }
  }

  /** A write is acknowledged once it is in the primary's log and received by at least one shadow. */
  private write(primary: SimReplica): void {
    const entry = { lsn: primary.log.length + 1, epoch: primary.epoch, writeId: ++this.writeId };
    primary.log.push(entry);
    let received = 0;
    for (const agent of this.agents.values()) {
      const shadow = agent.replicas.get(primary.shard);
      if (!agent.up || agent.hung || !shadow || shadow.role !== 'shadow' || shadow.source !== primary.node || shadow.epoch !== primary.epoch) continue;
      if (shadow.log.length !== primary.log.length - 1 || !this.consistent(shadow, primary)) continue;
      if (!this.frozen && this.random.chance(this.config.lagRate)) continue;
      shadow.log.push(entry);
      received++;
    }
    if (received === 0) {
      this.stats.writesRefused++;
      return;
    }
    this.stats.writesAcked++;
    let list = this.acked.get(primary.shard);
    if (!list) this.acked.set(primary.shard, (list = []));
    list.push({ lsn: entry.lsn, writeId: entry.writeId });
    if (this.config.check) {
      const newest = this.newestPrimary(primary.shard);
      if (newest !== primary) this.fail(`shard ${primary.shard}: write ${entry.writeId} acknowledged by ${primary.node} at epoch ${primary.epoch}, but ${newest?.node} is primary at epoch ${newest?.epoch}`);
    }
  }

  // ---- the checker ----

  /** Every replica of `shard` that accepts writes now (on a live node). */
  accepting(shard: number): SimReplica[] {
    const result: SimReplica[] = [];
    for (const agent of this.agents.values()) {
      const replica = agent.replicas.get(shard);
      if (agent.up && !agent.hung && replica && acceptsWrites(replica)) result.push(replica);
    }
    return result;
  }

  private newestPrimary(shard: number): SimReplica | null {
    let newest: SimReplica | null = null;
    for (const replica of this.accepting(shard)) if (newest === null || replica.acceptEpoch! > newest.acceptEpoch!) newest = replica;
    return newest;
  }

  private checkOnePrimary(): void {
    for (let shard = 0; shard < this.config.shards; shard++) {
      const accepting = this.accepting(shard);
      if (accepting.length < 2) continue;
      const top = Math.max(...accepting.map((r) => r.acceptEpoch!));
      const atTop = accepting.filter((r) => r.acceptEpoch === top);
      if (atTop.length > 1) this.fail(`shard ${shard}: ${atTop.map((r) => r.node).join(' and ')} both accept writes at epoch ${top}`);
    }
  }

  onPromoted(replica: SimReplica): void {
    const newest = this.promotedEpoch.get(replica.shard) ?? 0;
    if (replica.epoch < newest) {
      // A promote that waited in a hung agent's inbox, carried out after a later epoch was promoted
      // elsewhere: this replica is not the newest primary, and no shadow takes its writes (write()
      // checks that none is acknowledged), so it need not hold every acknowledged write.
      this.stats.stalePromotions++;
      return;
    }
    this.promotedEpoch.set(replica.shard, replica.epoch);
    if (!this.config.check) return;
    for (const write of this.acked.get(replica.shard) ?? []) {
      if (replica.log[write.lsn - 1]?.writeId !== write.writeId) {
        this.fail(`shard ${replica.shard}: ${replica.node} promoted at epoch ${replica.epoch} without acknowledged write ${write.writeId} (lsn ${write.lsn})`);
      }
    }
  }

  private fail(message: string): never {
    throw new SimViolation(`seed ${this.config.seed} at ${this.now} ms: ${message}`);
  }

  // ---- the cluster at creation ----

  private initialRouting(): RoutingMessage {
    const shards: RoutingShard[] = [];
    const replicasPerShard = 1 + this.config.shadowsPerShard;
    for (let shard = 0; shard < this.config.shards; shard++) {
      const nodes = this.config.placement
        ? this.config.placement(shard, this.nodeNames)
        : Array.from({ length: replicasPerShard }, (_, i) => this.nodeNames[(shard + i) % this.nodeNames.length]!);
      const [primary, ...shadows] = nodes as [string, ...string[]];
      nodes.forEach((node, index) => {
        this.agents.get(node)!.replicas.set(shard, {
          shard, node, role: index === 0 ? 'primary' : 'shadow', epoch: 1, acceptEpoch: index === 0 ? 1 : null, source: index === 0 ? null : primary, log: [],
        });
      });
      const dataUrls = Object.fromEntries(nodes.map((n) => [n, `ws://${n}`]));
      shards.push({ id: shard, epoch: 1, primary, shadows, writes: 'open', dataUrls, available: true, extraShadows: [], recovering: [] });
    }
    return { version: 1, ts: 0, shards };
  }
}
