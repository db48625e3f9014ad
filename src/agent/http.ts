/**
 * The agent's HTTP endpoints (issue 5, "HTTP"), on node:http since they serve one scraper and one
 * health checker, not clients:
 * - `GET /metrics`: Prometheus text format 0.0.4: the sampled series, the scores, the store and
 *   replication figures, the MQTT connection state and the counters of dropped payloads.
 * - `GET /healthz`: JSON; 200 while the agent is connected to its broker and sampling on time,
 *   503 otherwise, with the reasons.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpDate } from '../common/date.js';
import { EXPOSITION_CONTENT_TYPE, METRIC_PREFIX, metricsFamilies, writeExposition, type MetricFamilyInput, type MetricsSnapshot } from '../metrics/index.js';
import type { DropCounts, Score } from '../protocol/index.js';
import { AgentError } from './errors.js';
import type { CommandCounters } from './commands.js';
import type { MqttLinkState } from './mqtt-link.js';
import type { ScorerCounters } from './scoring.js';
import type { ReplicaFigures } from './shard-host.js';

/** Connections the HTTP server holds at once; a scraper and a health checker need a few. */
export const HTTP_MAX_CONNECTIONS = 64;
/** A request must arrive whole within this time. */
export const HTTP_REQUEST_TIMEOUT_MS = 10_000;
/** The agent is unhealthy when its last sample is older than this many sample intervals. */
export const HEALTHY_SAMPLE_INTERVALS = 3;

/** Everything the endpoints show, read at request time. */
export interface AgentView {
  readonly nodeId: string;
  readonly cluster: string;
  readonly session: string;
  readonly profile: string;
  readonly dataUrl: string;
  readonly sampleIntervalMs: number;
  readonly metrics: MetricsSnapshot;
  /** Series outside the standard set (synthetic ones). */
  readonly extraSeries: Readonly<Record<string, number>>;
  readonly score: Score | undefined;
  readonly link: MqttLinkState;
  readonly drops: DropCounts;
  readonly commands: CommandCounters;
  readonly scorer: ScorerCounters | undefined;
  readonly replicas: readonly ReplicaFigures[];
  readonly hostFigures: Readonly<Record<string, number>>;
  readonly nowMs: number;
  /** The process's resident set size, read at request time. */
  readonly residentBytes?: number;
  /** Further families from parts wired beside the agent (the chaos controller's state, the process's page-out). */
  readonly extraFamilies?: readonly MetricFamilyInput[];
}

/** A handler for one extra path (`/chaos`); it answers every method itself. */
export type HttpRoute = (request: IncomingMessage, response: ServerResponse) => void;

const name = (suffix: string): string => `${METRIC_PREFIX}${suffix}`;
const snake = (camel: string): string => camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9_]/g, '_').toLowerCase();

function gauge(suffix: string, help: string, samples: MetricFamilyInput['samples']): MetricFamilyInput {
  return { name: name(suffix), help, type: 'gauge', samples };
}
function counter(suffix: string, help: string, samples: MetricFamilyInput['samples']): MetricFamilyInput {
  return { name: name(suffix), help, type: 'counter', samples };
}
const byLabel = (label: string, counts: Readonly<Record<string, number>>) => Object.entries(counts).map(([key, value]) => ({ labels: { [label]: key }, value }));

/** The scores, the MQTT state and the dropped-payload counters. */
export function agentFamilies(view: AgentView): MetricFamilyInput[] {
  const { link, drops } = view;
  const families: MetricFamilyInput[] = [
    gauge('synthetic_series', 'Synthetic series values (--synthetic-series), by series.', byLabel('series', view.extraSeries)),
    gauge('mqtt_connected', '1 while connected to the MQTT broker.', [{ value: link.connected ? 1 : 0 }]),
    counter('mqtt_connects_total', 'Successful MQTT connections since start (the first and each reconnect).', [{ value: link.connects }]),
    counter('mqtt_disconnects_total', 'MQTT connections lost or refused since start.', [{ value: link.disconnects }]),
    counter('mqtt_births_total', 'Births published on the retained state topic.', [{ value: link.births }]),
    counter('mqtt_publish_failures_total', 'Publishes that failed (connection lost before the broker took them).', [{ value: link.publishFailures }]),
    gauge('mqtt_in_flight_publishes', 'Publishes awaiting the broker.', [{ value: link.inFlight }]),
    gauge('mqtt_offline_buffered_messages', 'Messages waiting in the offline buffer.', [{ value: link.offline.bufferedMessages }]),
    gauge('mqtt_offline_buffered_bytes', 'Bytes waiting in the offline buffer.', [{ value: link.offline.bufferedBytes }]),
    counter('mqtt_offline_dropped_total', 'Outgoing messages dropped from the full offline buffer, by kind.', byLabel('kind', link.offline.droppedByKind)),
    counter('dropped_payloads_total', 'Incoming payloads dropped as too large, malformed or off-schema, by reason.', byLabel('reason', drops.byReason as Record<string, number>)),
    counter('dropped_payloads_by_kind_total', 'Incoming payloads dropped, by message kind.', byLabel('kind', drops.byKind)),
    counter('commands_total', 'Coordinator commands by type and outcome code (ok for success).', Object.entries(view.commands.outcomes).map(([key, value]) => {
      const [type = '', code = ''] = key.split('/');
      return { labels: { type, code }, value };
    })),
    counter('commands_unanswered_refusals_total', 'Refused commands not answered because of the answer rate limit.', [{ value: view.commands.unansweredRefusals }]),
    gauge('commands_pending', 'Commands accepted and not yet answered.', [{ value: view.commands.pending }]),
  ];
  if (view.score) families.push(...scoreFamilies(view.score));
  if (view.scorer) {
    families.push(counter('prediction_observations_total', 'Samples fed to the forecasting engine.', [{ value: view.scorer.observations }]));
    families.push(counter('prediction_refused_series_total', 'Series the engine refused to track (over its limit).', [{ value: view.scorer.refusedSeries }]));
    families.push(counter('prediction_dropped_samples_total', 'Non-finite samples the engine dropped.', [{ value: view.scorer.droppedSamples }]));
    const { node, shard, pairs } = view.scorer.calibration;
    const units = [['node', node], ['shard', shard]] as const;
    families.push(gauge('prediction_calibration_pairs', 'Labelled incidents the coordinator fitted the calibrations on (0: built-in priors).', [{ value: pairs }]));
    families.push(gauge('prediction_calibration_bias', 'Bias of the logistic calibration, by unit.', units.map(([unit, c]) => ({ labels: { unit }, value: c.bias }))));
    families.push(gauge('prediction_calibration_weight', 'Weight of each feature in the logistic calibration, by unit and feature.',
      units.flatMap(([unit, c]) => Object.entries(c.weights).map(([feature, value]) => ({ labels: { unit, feature }, value: value ?? 0 })))));
  }
  if (view.residentBytes !== undefined) families.push(gauge('resident_memory_bytes', 'Resident set size of the agent process (RSS), in bytes.', [{ value: view.residentBytes }]));
  families.push(...replicaFamilies(view));
  families.push(...(view.extraFamilies ?? []));
  return families;
}

function scoreFamilies(score: Score): MetricFamilyInput[] {
  return [
    gauge('node_failure_probability', 'Calibrated probability that this node fails within the horizon.', [{ value: score.node.p }]),
    gauge('shard_rollback_score', 'Calibrated probability of an SLO breach of the shard within the horizon, by shard.', Object.entries(score.shards).map(([shard, unit]) => ({ labels: { shard }, value: unit.p }))),
    gauge('score_horizon_seconds', 'The forecast horizon of the scores.', [{ value: score.horizonS }]),
  ];
}

function replicaFamilies(view: AgentView): MetricFamilyInput[] {
  const perReplica = (pick: (replica: ReplicaFigures) => number | undefined) =>
    view.replicas.flatMap((replica) => {
      const value = pick(replica);
      return value === undefined ? [] : [{ labels: { shard: String(replica.shard), role: replica.role }, value }];
    });
  const families: MetricFamilyInput[] = [
    gauge('replica_epoch', 'Epoch of each replica on this node.', perReplica((r) => r.epoch)),
    gauge('replica_received_lsn', 'Highest lsn each replica holds durably.', perReplica((r) => r.receivedLsn)),
    gauge('replica_applied_lsn', 'Highest lsn each replica has applied.', perReplica((r) => r.appliedLsn)),
    gauge('replica_replication_lag_ms', 'Replication lag of each replica, in milliseconds.', perReplica((r) => r.replicationLagMs)),
  ];
  const figureNames = new Set(view.replicas.flatMap((replica) => Object.keys(replica.figures ?? {})));
  for (const figure of figureNames) {
    families.push({ name: name(`replica_${snake(figure)}`), help: `Replica figure ${figure}, by shard.`, type: 'untyped', samples: perReplica((r) => r.figures?.[figure]) });
  }
  for (const [figure, value] of Object.entries(view.hostFigures)) {
    families.push({ name: name(`replication_${snake(figure)}`), help: `Replication figure ${figure} of this node.`, type: 'untyped', samples: [{ value }] });
  }
  return families;
}

/** The full `/metrics` text. */
export function renderMetrics(view: AgentView): string {
  return writeExposition([...metricsFamilies(view.metrics), ...agentFamilies(view)]);
}

/** The `/healthz` body and status: healthy while connected and sampling on time. */
export function health(view: AgentView): { status: 200 | 503; body: Record<string, unknown> } {
  const problems: string[] = [];
  if (!view.link.connected) problems.push(`not connected to the MQTT broker${view.link.lastError ? `: ${view.link.lastError}` : ''}`);
  const lastSampleMs = view.metrics.sample?.ts;
  const maxAgeMs = HEALTHY_SAMPLE_INTERVALS * view.sampleIntervalMs;
  if (lastSampleMs === undefined || view.nowMs - lastSampleMs > maxAgeMs) problems.push(`no sample in the last ${maxAgeMs} ms`);
  const body = {
    status: problems.length === 0 ? 'ok' : 'unhealthy',
    problems,
    node: view.nodeId,
    cluster: view.cluster,
    session: view.session,
    profile: view.profile,
    dataUrl: view.dataUrl,
    mqtt: { connected: view.link.connected, sinceMs: view.link.sinceMs, offlineBufferedMessages: view.link.offline.bufferedMessages },
    lastSampleTs: lastSampleMs ?? null,
    unavailableSources: (view.metrics.unavailableSources ?? []).map((p) => ({ source: p.source, code: p.code })),
    replicas: view.replicas.length,
  };
  return { status: problems.length === 0 ? 200 : 503, body };
}

/** A running HTTP server. */
export interface AgentHttpServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `/metrics` and `/healthz` from `view()`. Throws `AGENT_HTTP_LISTEN` when the port cannot be opened. */
export async function startHttpServer(host: string, port: number, view: () => AgentView, routes: Readonly<Record<string, HttpRoute>> = {}): Promise<AgentHttpServer> {
  const server: Server = createServer((request, response) => {
    // The header node would write, formatted here: node's own formatting starts ICU (../common/date.ts).
    response.setHeader('date', httpDate(Date.now()));
    const path = (request.url ?? '/').split('?')[0]!;
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (route) route(request, response);
    else respond(request, response, view);
  });
  server.maxConnections = HTTP_MAX_CONNECTIONS;
  server.requestTimeout = HTTP_REQUEST_TIMEOUT_MS;
  server.headersTimeout = HTTP_REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new AgentError('AGENT_HTTP_LISTEN', `cannot listen for HTTP on ${host}:${port}: ${error.code ?? error.message}`)));
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    url: `http://${shownHost}:${bound}`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function respond(request: IncomingMessage, response: ServerResponse, view: () => AgentView): void {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  if (path === '/metrics') {
    response.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE }).end(renderMetrics(view()));
    return;
  }
  if (path === '/healthz') {
    const { status, body } = health(view());
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
    return;
  }
  response.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics or /healthz\n');
}
