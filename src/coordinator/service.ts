/**
 * `foreshard coordinator` as a process: the MQTT wiring around the decision core. It reads the
 * retained `coordinator/state` to learn the last generation, publishes its own birth (retained, with
 * a will) before it decides anything, subscribes to what the core reads, and then feeds the core one
 * event at a time (a tick every `tickMs`) and carries out its intents:
 * - `send-command` → a signed command on `node/<node>/cmd`, QoS 1;
 * - `publish-routing` → the retained `routing` table;
 * - `publish-incident` → `incident/<id>` and a JSON file under `<data-dir>/incidents/`;
 * - `record-history` → the failure history, `<data-dir>/failure-history.jsonl`;
 * - `log` → the logger.
 * Operators reach it on `coordinator/cmd` (signed requests) and hear back on `coordinator/cmd-result`.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Logger } from '../common/log.js';
import {
  clusterTopics,
  COMMAND_SKEW_MS,
  createDropCounter,
  createReplayGuard,
  decodeOrDrop,
  DEFAULT_COMMAND_MAX_AGE_MS,
  encodeMessage,
  isProtocolError,
  parseTopic,
  signCommand,
  verifyOperatorRequest,
  type ClusterTopics,
  type CoordinatorState,
  type DropCounter,
  type OperatorRequest,
  type OperatorResult,
  type ReplayGuard,
} from '../protocol/index.js';
import { writeFileAtomic } from '../store/files.js';
import { CoordinatorCore } from './coordinator.js';
import { CoordinatorError } from './errors.js';
import { FailureHistory, fitFromHistory } from './failure-history.js';
import { IncidentStore } from './incidents/store.js';
import { closeIncident, type Incident } from './incidents/incident.js';
import { CoordinatorLink, type CoordinatorMqttOptions } from './mqtt-link.js';
import { fromWireResult, fromWireRouting, toWireCommand, toWireIncident, toWireRouting } from './mqtt-codec.js';
import type { CoordinatorOptions } from './options.js';
import { PromotingOperation } from './promotion.js';
import { CounterIds, type CoordinatorEvent, type CoordinatorIntent, type FittedCalibration } from './types.js';

/** Tick period bounds: often enough for step timeouts, rarely enough to stay cheap. */
export const minTickMs = 100;
export const maxTickMs = 250;
/** How long start-up waits for the retained `coordinator/state` after subscribing. */
export const defaultRetainedWaitMs = 500;
/** The file that remembers the last generation, in case the retained state is lost with the broker. */
export const generationFile = 'coordinator.json';
/**
 * The last published routing table (its CBOR payload), so a coordinator restarted together with an
 * embedded broker, whose retained messages were lost with it, still knows where every shard lives.
 */
export const routingFile = 'routing.cbor';
/** The failure history file under the data directory. */
export const historyFile = 'failure-history.jsonl';
/** The incident directory under the data directory. */
export const incidentDir = 'incidents';

/** Everything a coordinator process needs. */
export interface CoordinatorServiceOptions {
  cluster: string;
  dataDir: string;
  clusterKey: Uint8Array;
  mqtt: CoordinatorMqttOptions;
  core: Partial<CoordinatorOptions>;
  tickMs: number;
  retainedWaitMs?: number;
  version: string;
  logger: Logger;
}

/** Counts of what the service did, for `/metrics`. */
export interface ServiceCounters {
  ticks: number;
  commandsPublished: number;
  commandsUnsendable: number;
  routingPublished: number;
  incidentsPublished: number;
  incidentWriteFailures: number;
  historyWriteFailures: number;
  routingWriteFailures: number;
  operatorRequests: number;
  operatorRefusals: number;
  coreErrors: number;
  /** Incidents by `<kind>/<result>`, counted when they close. */
  incidentsByOutcome: Record<string, number>;
  /** Duration of the last completed switch or failover, open to closed. */
  lastSwitchDurationMs: number | null;
}

/** A running coordinator. */
export class CoordinatorService {
  readonly core: CoordinatorCore;
  readonly history: FailureHistory;
  readonly incidents: IncidentStore;
  readonly topics: ClusterTopics;
  readonly session = randomBytes(8).toString('hex');
  readonly counters: ServiceCounters = {
    ticks: 0, commandsPublished: 0, commandsUnsendable: 0, routingPublished: 0, incidentsPublished: 0, incidentWriteFailures: 0,
    historyWriteFailures: 0, routingWriteFailures: 0, operatorRequests: 0, operatorRefusals: 0, coreErrors: 0, incidentsByOutcome: {}, lastSwitchDurationMs: null,
  };
  readonly drops: DropCounter;
  private link!: CoordinatorLink;
  private readonly guard: ReplayGuard = createReplayGuard({ skewMs: COMMAND_SKEW_MS });
  private timer: NodeJS.Timeout | undefined;
  private lastRouting: Uint8Array | undefined;
  /** Set while a write of `lastRouting` to `routingFile` is queued: later tables ride on it. */
  private routingSaveQueued = false;
  private writes: Promise<void> = Promise.resolve();
  private subscribed = false;
  private stopped = false;
  private readonly log: Logger;

  private constructor(
    readonly options: Readonly<CoordinatorServiceOptions>,
    readonly generation: number,
    history: FailureHistory,
    private automationPaused: boolean,
  ) {
    this.log = options.logger;
    this.topics = clusterTopics(options.cluster);
    this.history = history;
    this.incidents = new IncidentStore(join(options.dataDir, incidentDir));
    this.drops = createDropCounter({ log: (drop, count) => this.log.warn('dropped a payload', { kind: drop.kind, source: drop.source, code: drop.error.code, message: drop.error.message, count }) });
    this.core = new CoordinatorCore({ options: options.core, ids: new CounterIds(`g${generation}`), startMs: Date.now(), generation });
  }

  /** Starts a coordinator: learns its generation, publishes its birth, subscribes, then ticks. */
  static async start(options: CoordinatorServiceOptions): Promise<CoordinatorService> {
    assert.ok(options.tickMs >= minTickMs && options.tickMs <= maxTickMs, `tickMs must be ${minTickMs}..${maxTickMs}`);
    assert.ok((options.core.commandMaxAgeMs ?? DEFAULT_COMMAND_MAX_AGE_MS) >= DEFAULT_COMMAND_MAX_AGE_MS, 'commandMaxAgeMs must cover the agents\' command age limit');
    mkdirSync(options.dataDir, { recursive: true });
    const history = await FailureHistory.load(join(options.dataDir, historyFile));
    const retained = await readRetainedState(options);
    const generation = Math.max(retained?.generation ?? 0, readGenerationFile(options.dataDir)) + 1;
    writeFileAtomic(join(options.dataDir, generationFile), [Buffer.from(JSON.stringify({ generation }) + '\n')]);
    const paused = retained?.state === 'online' && retained.automation === 'paused';
    const service = new CoordinatorService(options, generation, history, paused);
    if (paused) service.feed({ kind: 'set-automation', paused: true });
    service.loadSavedRouting();
    service.refitCalibration();
    await service.connect();
    // In the write queue, behind nothing: reading up to the store's limit of files must not hold up
    // the coordinator's start.
    service.enqueue(() => service.closeOrphanedIncidents(), () => service.counters.incidentWriteFailures++);
    return service;
  }

  /**
   * Incidents a previous life opened and never closed (it stopped in the middle of a switch or a
   * failover) would read as open for ever in `foreshard incidents` and on the dashboard. They are
   * closed as abandoned; this life's restart recovery checks every shard again and opens an incident
   * of its own for whatever it does. The store keeps at most its limit of files, so this read is bounded.
   */
  private async closeOrphanedIncidents(): Promise<void> {
    for (const incident of (await this.incidents.list()).incidents) {
      if (incident.outcome.result !== 'open') continue;
      closeIncident(incident, Date.now(), 'abandoned', `the coordinator that opened it stopped before it finished; generation ${this.generation} checks the shard again`);
      this.publishIncident(incident);
    }
  }

  private async connect(): Promise<void> {
    const will = encodeMessage('coordinator-state', { state: 'offline', session: this.session, generation: this.generation });
    this.link = new CoordinatorLink(
      this.options.mqtt,
      `foreshard-coordinator-${this.options.cluster}-${this.session}`.slice(0, 128),
      { topic: this.topics.coordinatorState, payload: will },
      { onConnect: () => void this.onConnect(), onDisconnect: () => this.onLinkChange(false), onMessage: (topic, payload) => this.onMessage(topic, payload) },
      this.log.child('mqtt'),
    );
    await this.link.start(15_000);
    // The first connect published the birth and subscribed (onConnect); wait for that before ticking.
    const deadline = Date.now() + 15_000;
    while (!this.subscribed && Date.now() < deadline) await sleep(20);
    if (!this.subscribed) throw new CoordinatorError('NOT_READY', 'could not subscribe to the cluster topics');
    this.timer = setInterval(() => this.feed({ kind: 'tick' }), this.options.tickMs);
    this.log.info('coordinator started', { cluster: this.options.cluster, generation: this.generation, session: this.session, broker: this.options.mqtt.url });
  }

  /** Birth first (before any decision), then the subscriptions, then the last routing table again. */
  private async onConnect(): Promise<void> {
    try {
      await this.publishBirth();
      const t = this.topics;
      await this.link.subscribe([t.routing, t.allNodes('state'), t.allNodes('score'), t.allNodes('cmd-result'), t.allNodes('metrics'), t.coordinatorCmd, t.coordinatorState]);
      this.subscribed = true;
      this.onLinkChange(true);
      if (this.lastRouting) this.link.publish(t.routing, this.lastRouting, 1, true);
    } catch (error) {
      this.log.error('could not set up the MQTT session', { error: (error as Error).message });
    }
  }

  /** Tells the core whether it can hear the nodes: it judges their silence only while it can. */
  private onLinkChange(connected: boolean): void {
    if (this.stopped || !this.timer) return;
    this.feed({ kind: 'link', connected });
  }

  private async publishBirth(): Promise<void> {
    const birth: CoordinatorState = {
      state: 'online', session: this.session, ts: Date.now(), version: this.options.version,
      automation: this.automationPaused ? 'paused' : 'running', generation: this.generation,
    };
    await this.link.publishNow(this.topics.coordinatorState, encodeMessage('coordinator-state', birth), true, 5_000);
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (this.stopped) return;
    if (topic === this.topics.coordinatorCmd) return this.onOperatorRequest(payload);
    let parsed;
    try {
      parsed = parseTopic(topic);
    } catch {
      return;
    }
    if (parsed.kind === 'routing') {
      const table = decodeOrDrop('routing', payload, topic, this.drops.onDrop);
      if (table) this.feed({ kind: 'routing', message: fromWireRouting(table) });
      return;
    }
    if (parsed.kind === 'coordinator-state') return this.onCoordinatorState(payload, topic);
    if (parsed.kind !== 'node') return;
    this.onNodeMessage(parsed.node, parsed.channel, payload, topic);
  }

  private onNodeMessage(node: string, channel: string, payload: Buffer, topic: string): void {
    const onDrop = this.drops.onDrop;
    if (channel === 'state') {
      const message = decodeOrDrop('node-state', payload, topic, onDrop);
      if (message) this.feed({ kind: 'node-state', node, message: message.state === 'online' ? message : { state: 'offline', session: message.session } });
    } else if (channel === 'score') {
      const message = decodeOrDrop('score', payload, topic, onDrop);
      if (message) this.feed({ kind: 'score', node, message });
    } else if (channel === 'metrics') {
      const message = decodeOrDrop('metrics', payload, topic, onDrop);
      if (message) this.feed({ kind: 'metrics', node, message });
    } else if (channel === 'cmd-result') {
      const message = decodeOrDrop('command-result', payload, topic, onDrop);
      if (message) this.feed({ kind: 'cmd-result', node, message: fromWireResult(message) });
    }
  }

  /** Another coordinator's birth means two are active: say so loudly (fencing by epoch keeps data safe). */
  private onCoordinatorState(payload: Buffer, topic: string): void {
    const state = decodeOrDrop('coordinator-state', payload, topic, this.drops.onDrop);
    if (!state || state.session === this.session || this.stopped) return;
    if (state.state === 'online') {
      this.log.error('another coordinator is active on this cluster; run one per cluster', { session: state.session, generation: state.generation ?? null });
      return;
    }
    // The will of an earlier life replaced our retained birth: publish it again.
    if (this.link.connected) void this.publishBirth().catch(() => undefined);
  }

  /** Runs one event through the core and carries out what it decided. Operator errors are rethrown. */
  feed(event: CoordinatorEvent): CoordinatorIntent[] {
    if (event.kind === 'tick') this.counters.ticks++;
    let intents: CoordinatorIntent[];
    try {
      intents = this.core.handle(event, Date.now());
    } catch (error) {
      if (event.kind === 'manual-switch' || event.kind === 'set-automation') throw error;
      this.counters.coreErrors++;
      this.log.error('the core refused an event', { kind: event.kind, error: (error as Error).message, code: (error as { code?: string }).code ?? null });
      return [];
    }
    for (const intent of intents) this.perform(intent);
    return intents;
  }

  private perform(intent: CoordinatorIntent): void {
    switch (intent.kind) {
      case 'send-command': return this.sendCommand(intent.node, intent.command);
      case 'publish-routing': return this.publishRouting(intent.routing);
      case 'publish-incident': return this.publishIncident(intent.incident);
      case 'record-history':
        if (this.history.add(intent.pair)) {
          this.enqueue(() => this.history.append(join(this.options.dataDir, historyFile), intent.pair), () => this.counters.historyWriteFailures++);
          this.refitCalibration();
        }
        return;
      case 'log':
        this.log[intent.level](intent.message, { code: intent.code });
        return;
    }
  }

  /** The calibrations in use cluster-wide: fitted on the history, or null while the agents keep their priors. */
  calibration: FittedCalibration | null = null;

  /**
   * Refits the calibrations on the failure history and, when there is a fit, hands it to the core,
   * which sends it to every online node and to each node that comes online later.
   */
  private refitCalibration(): void {
    let fitted: FittedCalibration | null;
    try {
      fitted = fitFromHistory(this.history.pairs());
    } catch (error) {
      this.counters.coreErrors++;
      this.log.error('cannot fit the calibration on the failure history', { error: (error as Error).message });
      return;
    }
    if (fitted === null) return;
    this.calibration = fitted;
    this.log.info('calibration fitted on the failure history', { pairs: fitted.pairs, shard: fitted.shard, node: fitted.node });
    this.feed({ kind: 'calibration', calibration: fitted });
  }

  private dataUrlOf = (node: string): string | undefined => this.core.cluster.get(node)?.dataUrl || undefined;

  private sendCommand(node: string, command: Extract<CoordinatorIntent, { kind: 'send-command' }>['command']): void {
    try {
      const body = toWireCommand(command, this.dataUrlOf);
      if (body === null) throw new CoordinatorError('UNKNOWN_NODE', `no data port known for ${String(command.args.primary)}`);
      const signed = signCommand(this.options.clusterKey, this.options.cluster, node, body);
      this.link.publish(this.topics.node(node, 'cmd'), encodeMessage('command', signed), 1, false);
      this.counters.commandsPublished++;
    } catch (error) {
      // The core times the command out and retries or moves on; losing it here is an operating error.
      this.counters.commandsUnsendable++;
      this.log.error('cannot send a command', { node, type: command.type, cmdId: command.cmdId, error: (error as Error).message });
    }
  }

  private publishRouting(routing: Extract<CoordinatorIntent, { kind: 'publish-routing' }>['routing']): void {
    try {
      const payload = encodeMessage('routing', toWireRouting(routing, this.dataUrlOf));
      this.lastRouting = payload;
      this.link.publish(this.topics.routing, payload, 1, true);
      this.counters.routingPublished++;
      this.saveRouting();
    } catch (error) {
      this.counters.coreErrors++;
      this.log.error('cannot publish the routing table', { version: routing.version, error: (error as Error).message });
    }
  }

  private publishIncident(incident: Incident): void {
    this.counters.incidentsPublished++;
    if (incident.outcome.result !== 'open' && incident.outcome.nodeFailedWithinHorizon === null) {
      const key = `${incident.kind}/${incident.outcome.result}`;
      this.counters.incidentsByOutcome[key] = (this.counters.incidentsByOutcome[key] ?? 0) + 1;
      if (incident.closedAtMs !== null && incident.kind !== 'unavailable') this.counters.lastSwitchDurationMs = incident.closedAtMs - incident.openedAtMs;
    }
    this.log.info('incident', { id: incident.id, kind: incident.kind, shard: incident.shard, result: incident.outcome.result, from: incident.fromNode, to: incident.toNode });
    try {
      this.link.publish(this.topics.incident(incident.id), encodeMessage('incident', toWireIncident(incident)), 1, false);
    } catch (error) {
      this.log.error('cannot publish an incident', { id: incident.id, error: (error as Error).message });
    }
    this.enqueue(() => this.incidents.write(incident), () => this.counters.incidentWriteFailures++);
  }

  /**
   * Keeps the newest published table in `routingFile`, one write at a time: a table published while
   * a write is queued is picked up by that write. The file may lag the broker by the tables of the
   * last moments before a crash; a restart reconciles an older table from the agents' reports, as
   * it does an older retained one.
   */
  private saveRouting(): void {
    if (this.routingSaveQueued) return;
    this.routingSaveQueued = true;
    this.enqueue(async () => {
      this.routingSaveQueued = false;
      const payload = this.lastRouting;
      if (!payload) return;
      // Written and renamed without blocking the decision loop (a table of many shards is large);
      // like an incident file, not fsynced: a lost last write is the lag described above.
      const path = join(this.options.dataDir, routingFile);
      await writeFile(`${path}.tmp`, payload);
      await rename(`${path}.tmp`, path);
    }, () => this.counters.routingWriteFailures++);
  }

  /**
   * Feeds the table saved by a previous life before anything is heard from the broker. A newer
   * retained table, if the broker still has one, replaces it (the core keeps the higher version). An
   * unreadable file is logged and ignored: the broker's copy, or the agents' reports, remain.
   */
  private loadSavedRouting(): void {
    const path = join(this.options.dataDir, routingFile);
    let payload: Buffer;
    try {
      payload = readFileSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.log.error('cannot read the saved routing table', { path, error: (error as Error).message });
      return;
    }
    const table = decodeOrDrop('routing', payload, path, this.drops.onDrop);
    if (!table) return;
    this.feed({ kind: 'routing', message: fromWireRouting(table) });
    this.log.info('routing table from the previous run', { path, version: table.version, shards: table.shards.length });
  }

  /** File writes run one after another, in intent order, off the event path. */
  private enqueue(write: () => Promise<void>, onFailure: () => void): void {
    this.writes = this.writes.then(write).catch((error: Error) => {
      onFailure();
      this.log.error('a coordinator file write failed', { error: error.message });
    });
  }

  /** Waits for every queued incident and history write (tests, clean shutdown). */
  async flushed(): Promise<void> {
    await this.writes;
  }

  // ---- operator requests -------------------------------------------------------------------

  private onOperatorRequest(payload: Buffer): void {
    const request = decodeOrDrop('operator-request', payload, this.topics.coordinatorCmd, this.drops.onDrop);
    if (!request) return;
    this.counters.operatorRequests++;
    let result: OperatorResult;
    try {
      verifyOperatorRequest(this.options.clusterKey, this.options.cluster, request);
      this.guard.admit(request.reqId, request.ts, Date.now());
      result = this.runOperatorRequest(request);
    } catch (error) {
      if (!(error instanceof CoordinatorError) && !isProtocolError(error)) throw error;
      this.counters.operatorRefusals++;
      result = { reqId: request.reqId, ok: false, ts: Date.now(), message: error.message.slice(0, 1000), code: error.code, automationPaused: this.automationPaused };
    }
    this.log.info('operator request', { reqId: request.reqId, type: request.type, ok: result.ok, code: result.code ?? null, message: result.message });
    this.link.publish(this.topics.coordinatorCmdResult, encodeMessage('operator-result', result), 1, false);
  }

  private runOperatorRequest(request: OperatorRequest): OperatorResult {
    const base = { reqId: request.reqId, ok: true, ts: Date.now() };
    if (request.type === 'switch') {
      this.feed({ kind: 'manual-switch', shard: request.shard, ...(request.toNode === undefined ? {} : { toNode: request.toNode }) });
      const operation = this.core.operationOf(request.shard);
      const incident = operation instanceof PromotingOperation ? operation.openIncident : null;
      const from = this.core.routing.get(request.shard)?.primary ?? '?';
      return { ...base, message: `switch of shard ${request.shard} from ${from} started${request.toNode ? ` (to ${request.toNode})` : ''}`, ...(incident ? { incidentId: incident.id } : {}), automationPaused: this.automationPaused };
    }
    const paused = request.type === 'pause-automation';
    this.feed({ kind: 'set-automation', paused });
    this.automationPaused = paused;
    void this.publishBirth().catch(() => undefined); // the retained birth carries it to the next life
    return { ...base, message: paused ? 'automation paused: no automatic switch, pre-replication or rebalance' : 'automation resumed', automationPaused: paused };
  }

  // ---- state and shutdown ------------------------------------------------------------------

  /** The MQTT link's state. */
  linkState(): ReturnType<CoordinatorLink['state']> {
    return this.link.state();
  }

  /** True while automation is paused by an operator. */
  get isAutomationPaused(): boolean {
    return this.automationPaused;
  }

  /** Stops ticking, finishes file writes, publishes a clean offline state and disconnects. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.writes;
    const offline = encodeMessage('coordinator-state', { state: 'offline', session: this.session, ts: Date.now(), generation: this.generation });
    await this.link.publishNow(this.topics.coordinatorState, offline, true, 2_000).catch(() => undefined);
    await this.link.stop();
    this.log.info('coordinator stopped', { generation: this.generation });
  }
}

function readGenerationFile(dataDir: string): number {
  try {
    const value = JSON.parse(readFileSync(join(dataDir, generationFile), 'utf8')) as { generation?: unknown };
    return Number.isSafeInteger(value.generation) && (value.generation as number) >= 0 ? (value.generation as number) : 0;
  } catch {
    return 0;
  }
}

/** Reads the retained `coordinator/state` with a short-lived client (its will must not be this process's). */
async function readRetainedState(options: CoordinatorServiceOptions): Promise<CoordinatorState | undefined> {
  const o = options.mqtt;
  const topic = clusterTopics(options.cluster).coordinatorState;
  const client = await mqtt.connectAsync(o.url, {
    protocolVersion: o.protocolVersion, clean: true, reconnectPeriod: 0, connectTimeout: 10_000,
    ...(o.username !== undefined ? { username: o.username } : {}), ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.ca ? { ca: o.ca } : {}), ...(o.cert ? { cert: o.cert } : {}), ...(o.key ? { key: o.key } : {}),
  });
  try {
    let state: CoordinatorState | undefined;
    client.on('message', (_topic, payload) => {
      state = decodeOrDrop('coordinator-state', payload, topic, () => undefined) ?? state;
    });
    await client.subscribeAsync(topic, { qos: 1 });
    // A broker sends retained messages right after the SUBACK [MQTT-3.3.1-6]; a short wait collects it.
    await sleep(options.retainedWaitMs ?? defaultRetainedWaitMs);
    return state;
  } finally {
    await client.endAsync().catch(() => client.end(true));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
