/**
 * The coordinator's HTTP face: `GET /metrics` (Prometheus text: the core's counters, the failure
 * history, switches, failovers and incidents) and `GET /healthz` (JSON; 200 while connected to the
 * broker, 503 otherwise). Plain `node:http`: two small read-only pages need no more.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CoordinatorService } from './service.js';

/** A listening HTTP server. */
export interface CoordinatorHttp {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the server on `host:port` (0: any free port). */
export async function startCoordinatorHttp(service: CoordinatorService, host: string, port: number): Promise<CoordinatorHttp> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (request.method !== 'GET') {
      response.writeHead(405, { allow: 'GET' }).end();
    } else if (path === '/metrics') {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metricsText(service));
    } else if (path === '/healthz') {
      const health = healthOf(service);
      response.writeHead(health.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(health) + '\n');
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** `/healthz`: ok while the broker connection is up; says whether restart recovery is still running. */
export function healthOf(service: CoordinatorService): Record<string, unknown> {
  const link = service.linkState();
  const core = service.core;
  return {
    status: link.connected ? 'ok' : 'unavailable',
    phase: core.isRunning ? 'running' : 'recovering',
    generation: service.generation,
    session: service.session,
    automation: service.isAutomationPaused ? 'paused' : 'running',
    routingVersion: core.routing.version,
    shards: core.routing.size,
    nodes: core.cluster.all().map((node) => ({ id: node.name, liveness: node.liveness, failureP: node.failureP })),
    switchesInFlight: core.switchesInFlight,
    movesInFlight: core.movesInFlight,
  };
}

type Sample = [labels: Record<string, string>, value: number];

function family(lines: string[], name: string, type: 'gauge' | 'counter', help: string, samples: Sample[]): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) {
    const text = Object.entries(labels).map(([key, v]) => `${key}="${v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`).join(',');
    lines.push(`${name}${text ? `{${text}}` : ''} ${Number.isFinite(value) ? value : 'NaN'}`);
  }
}

/** The Prometheus text of `/metrics`. */
export function metricsText(service: CoordinatorService): string {
  const core = service.core;
  const lines: string[] = [];
  const gauge = (name: string, help: string, value: number): void => family(lines, name, 'gauge', help, [[{}, value]]);
  gauge('foreshard_coordinator_running', '1 once restart recovery is over and decisions run', core.isRunning ? 1 : 0);
  gauge('foreshard_coordinator_generation', 'this coordinator\'s generation', service.generation);
  gauge('foreshard_coordinator_automation_paused', '1 while an operator paused automation', service.isAutomationPaused ? 1 : 0);
  gauge('foreshard_coordinator_mqtt_connected', '1 while connected to the broker', service.linkState().connected ? 1 : 0);
  gauge('foreshard_coordinator_routing_version', 'version of the last routing table', core.routing.version);
  gauge('foreshard_coordinator_shards', 'shards in the routing table', core.routing.size);
  gauge('foreshard_coordinator_switches_in_flight', 'planned switches in flight', core.switchesInFlight);
  gauge('foreshard_coordinator_moves_in_flight', 'replica moves in flight', core.movesInFlight);
  const liveness = new Map<string, number>([['online', 0], ['suspect', 0], ['offline', 0]]);
  for (const node of core.cluster.all()) liveness.set(node.liveness, (liveness.get(node.liveness) ?? 0) + 1);
  family(lines, 'foreshard_coordinator_nodes', 'gauge', 'nodes by liveness', [...liveness].map(([state, count]) => [{ state }, count]));
  family(lines, 'foreshard_coordinator_events_total', 'counter', 'decision core counters by name (commandsSent, switchesStarted, failoversStarted, ...)',
    Object.entries(core.stats).map(([name, value]) => [{ name }, value]));
  const c = service.counters;
  family(lines, 'foreshard_coordinator_service_total', 'counter', 'what the process did, by name',
    (['ticks', 'commandsPublished', 'commandsUnsendable', 'routingPublished', 'incidentsPublished', 'incidentWriteFailures', 'historyWriteFailures', 'routingWriteFailures', 'operatorRequests', 'operatorRefusals', 'coreErrors'] as const).map((name) => [{ name }, c[name]]));
  family(lines, 'foreshard_coordinator_incidents_total', 'counter', 'closed incidents by kind and result',
    Object.entries(c.incidentsByOutcome).map(([key, value]) => {
      const [kind, result] = key.split('/') as [string, string];
      return [{ kind, result }, value];
    }));
  gauge('foreshard_coordinator_last_switch_duration_ms', 'open-to-close time of the last switch or failover (NaN before one)', c.lastSwitchDurationMs ?? NaN);
  const summary = service.history.summary();
  gauge('foreshard_failure_history_pairs', 'labelled incidents in the failure history', summary.pairs);
  gauge('foreshard_failure_history_failures', 'of them, incidents where the node failed', summary.failures);
  gauge('foreshard_failure_history_brier_score', 'mean squared error of the raw rollback scores against outcomes (NaN with no pairs)', summary.brierScore);
  const fitted = service.calibration;
  gauge('foreshard_calibration_pairs', 'labelled incidents with features the calibration was fitted on (0: the agents keep their built-in priors)', fitted?.pairs ?? 0);
  if (fitted) {
    const units = [['node', fitted.node], ['shard', fitted.shard]] as const;
    family(lines, 'foreshard_calibration_bias', 'gauge', 'bias of the fitted logistic calibration, by unit', units.map(([unit, c]) => [{ unit }, c.bias]));
    family(lines, 'foreshard_calibration_weight', 'gauge', 'weights of the fitted logistic calibration, by unit and feature',
      units.flatMap(([unit, c]) => Object.entries(c.weights).map(([feature, value]) => [{ unit, feature }, value ?? 0] as [Record<string, string>, number])));
  }
  family(lines, 'foreshard_coordinator_dropped_payloads_total', 'counter', 'payloads dropped as malformed, by reason',
    Object.entries(service.drops.counts().byReason).map(([reason, value]) => [{ reason }, value ?? 0]));
  return lines.join('\n') + '\n';
}
