/**
 * The cluster view: one MQTT subscription to the topics the dashboard needs (retained routing and
 * births, scores, metrics, incidents, the coordinator's state), decoded through the protocol's one
 * decode path into a {@link ClusterModel}. A bad payload or an unknown topic is counted, logged
 * (a bounded sample) and dropped; the view goes on.
 *
 * The view only subscribes, never publishes, so it can run against any cluster's broker next to its
 * coordinator, inside `foreshard dashboard`, or for the few seconds `foreshard status` needs.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { createLogger, type Logger } from '../common/log.js';
import type { MqttLogin } from '../common/mqtt-login.js';
import { clusterTopics, createDropCounter, decodeOrDrop, dropOnError, parseTopic, type DropCounter, type DropCounts } from '../protocol/index.js';
import { DashboardError } from './errors.js';
import { ClusterModel, type DashboardDelta, type DashboardSnapshot } from './model.js';

/** What the HTTP server needs from a view: snapshots, deltas and a change signal. */
export interface DashboardSource {
  readonly cluster: string;
  /** The model revision: history points carry it, so `delta(rev)` returns only newer points. */
  readonly rev: number;
  snapshot(): DashboardSnapshot;
  /** The summary plus the history points added after revision `since`. */
  delta(since: number): DashboardDelta;
  /** Calls `listener` after every change (drops and connection changes included); returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/** Options of {@link startClusterView}. */
export interface ClusterViewOptions {
  brokerUrl: string;
  cluster: string;
  /** User name, password and TLS files; none by default. */
  login?: MqttLogin;
  /** Wait between reconnects after a lost connection; 0 never reconnects (`status`). Default 2000. */
  reconnectPeriodMs?: number;
  /** The first connection must be up (and subscribed) within this. Default 5000. */
  connectTimeoutMs?: number;
  /** Score points kept per node and shard. */
  historyPoints?: number;
  logger?: Logger;
}

/** A running cluster view. */
export interface ClusterView extends DashboardSource {
  readonly model: ClusterModel;
  /** True while connected to the broker. */
  readonly connected: boolean;
  /** Resolves once connected and subscribed; rejects with a `BROKER_UNREACHABLE` DashboardError. */
  readonly ready: Promise<void>;
  drops(): DropCounts;
  close(): Promise<void>;
}

/** Default wait between reconnects. */
export const VIEW_RECONNECT_PERIOD_MS = 2000;
/** Default limit for the first connection. */
export const VIEW_CONNECT_TIMEOUT_MS = 5000;

/** Connects to the broker and starts following the cluster; see the module comment. */
export function startClusterView(options: ClusterViewOptions): ClusterView {
  const logger = options.logger ?? createLogger('dashboard.view');
  const topics = clusterTopics(options.cluster);
  const model = new ClusterModel(options.cluster, options.historyPoints);
  const drops: DropCounter = createDropCounter({
    log: (drop, count) => logger.warn('dropped a payload', { kind: drop.kind, source: drop.source, code: drop.error.code, message: drop.error.message, count }),
  });
  const listeners = new Set<() => void>();
  const changed = (): void => {
    for (const listener of listeners) listener();
  };
  const client = connect(options);
  const filters = [topics.routing, topics.coordinatorState, topics.allNodes('state'), topics.allNodes('score'), topics.allNodes('metrics'), topics.allIncidents];
  const ready = firstConnection(client, options, filters, logger);
  ready.catch(() => undefined); // the caller may not wait for it; the failure is also logged
  client.on('connect', changed);
  client.on('close', changed);
  client.on('message', (topic, payload) => {
    // A drop moves the revision too (the drop count is on the page), so every message signals.
    dispatch(model, drops, topic, payload, Date.now());
    changed();
  });
  const dropSummary = (): DashboardSnapshot['drops'] => {
    const counts = drops.counts();
    return { total: counts.total, byReason: counts.byReason as Record<string, number>, byKind: counts.byKind };
  };
  return {
    cluster: options.cluster,
    model,
    get rev() {
      return model.rev;
    },
    get connected() {
      return client.connected;
    },
    ready,
    drops: () => drops.counts(),
    snapshot: () => ({ ...model.summary(client.connected, dropSummary()), history: model.history() }),
    delta: (since) => ({ ...model.summary(client.connected, dropSummary()), since, points: model.history(since) }),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
  };
}

function connect(options: ClusterViewOptions): MqttClient {
  const clientOptions: IClientOptions = {
    protocolVersion: 4,
    clientId: `foreshard-dashboard-${randomBytes(6).toString('hex')}`,
    clean: true,
    keepalive: 30,
    connectTimeout: options.connectTimeoutMs ?? VIEW_CONNECT_TIMEOUT_MS,
    reconnectPeriod: options.reconnectPeriodMs ?? VIEW_RECONNECT_PERIOD_MS,
    // Retained state comes again on every reconnect, so nothing needs to be remembered across one.
    resubscribe: true,
    ...options.login,
  };
  return mqtt.connect(options.brokerUrl, clientOptions);
}

/** Resolves when the first connection is up and subscribed; rejects when it fails or times out. */
function firstConnection(client: MqttClient, options: ClusterViewOptions, filters: string[], logger: Logger): Promise<void> {
  const timeoutMs = options.connectTimeoutMs ?? VIEW_CONNECT_TIMEOUT_MS;
  return new Promise<void>((resolve, reject) => {
    let lastError = 'no answer';
    const fail = (why: string): void => {
      clearTimeout(timer);
      logger.debug('cannot reach the broker', { broker: options.brokerUrl, error: why });
      reject(new DashboardError('BROKER_UNREACHABLE', `cannot reach the MQTT broker at ${options.brokerUrl}: ${why}`));
    };
    const timer = setTimeout(() => fail(`no connection within ${timeoutMs} ms (last error: ${lastError})`), timeoutMs);
    client.on('error', (error) => {
      const code = (error as NodeJS.ErrnoException).code;
      // Node's TLS errors carry a terse code and a readable message: show both.
      lastError = code === undefined || error.message.includes(code) ? error.message : `${code} (${error.message})`;
    });
    client.once('close', () => {
      if (!client.connected && (options.reconnectPeriodMs ?? VIEW_RECONNECT_PERIOD_MS) === 0) fail(lastError);
    });
    client.once('connect', () => {
      client.subscribe(filters, { qos: 1 }, (error) => {
        clearTimeout(timer);
        if (error) reject(new DashboardError('SUBSCRIBE_FAILED', `the broker at ${options.brokerUrl} refused the subscriptions: ${error.message}`));
        else resolve();
      });
    });
  });
}

/**
 * Decodes one message by its topic and applies it; true when the model changed. Unknown topics and
 * bad payloads go to the drop counter.
 */
function dispatch(model: ClusterModel, drops: DropCounter, topic: string, payload: Buffer, receivedAt: number): boolean {
  // Clearing a retained topic publishes an empty payload; that is not a bad payload.
  if (payload.length === 0) return false;
  const parsed = dropOnError('topic', topic, drops.onDrop, () => parseTopic(topic));
  if (!parsed || parsed.cluster !== model.cluster) return false;
  if (parsed.kind === 'routing') {
    const table = decodeOrDrop('routing', payload, topic, drops.onDrop);
    if (table) model.applyRouting(table);
    return table !== undefined;
  }
  if (parsed.kind === 'coordinator-state') {
    const state = decodeOrDrop('coordinator-state', payload, topic, drops.onDrop);
    if (state) model.applyCoordinatorState(state, receivedAt);
    return state !== undefined;
  }
  if (parsed.kind === 'incident') {
    const incident = decodeOrDrop('incident', payload, topic, drops.onDrop);
    if (incident) model.applyIncident(incident);
    return incident !== undefined;
  }
  // Other kinds (commands, operator requests) are not subscribed to; ignore them if a broker sends them anyway.
  if (parsed.kind !== 'node') return false;
  return dispatchNode(model, drops, topic, parsed.node, parsed.channel, payload, receivedAt);
}

function dispatchNode(model: ClusterModel, drops: DropCounter, topic: string, node: string, channel: string, payload: Buffer, receivedAt: number): boolean {
  if (channel === 'state') {
    const state = decodeOrDrop('node-state', payload, topic, drops.onDrop);
    if (state) model.applyNodeState(node, state, receivedAt);
    return state !== undefined;
  }
  if (channel === 'score') {
    const score = decodeOrDrop('score', payload, topic, drops.onDrop);
    if (score) model.applyScore(node, score, receivedAt);
    return score !== undefined;
  }
  if (channel === 'metrics') {
    const metrics = decodeOrDrop('metrics', payload, topic, drops.onDrop);
    if (metrics) model.applyMetrics(node, metrics, receivedAt);
    return metrics !== undefined;
  }
  return false;
}
