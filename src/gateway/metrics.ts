/**
 * The gateway's counters and gauges, served on `/metrics` in the Prometheus text format 0.0.4.
 * Names follow DESIGN.md's words (shard, primary, buffer) with the `foreshard_gateway_` prefix.
 */
import { CLIENT_ERROR_CODES, type ClientErrorCode, type ClientOp } from '../protocol/index.js';
import { writeExposition, type MetricFamilyInput } from '../metrics/prometheus.js';

/** Distinct data port error codes counted by name; others are summed as `other`. */
const MAX_UPSTREAM_ERROR_CODES = 32;

/** The gateway's counters. Gauges are read from the live parts when `/metrics` is served. */
export class GatewayMetrics {
  readonly requests: Record<ClientOp, number> = { get: 0, put: 0, del: 0 };
  readonly errors = Object.fromEntries(CLIENT_ERROR_CODES.map((code) => [code, 0])) as Record<ClientErrorCode, number>;
  readonly upstreamErrors = new Map<string, number>();
  connectionsOpened = 0;
  connectionsClosedByGateway = 0;
  refusedInFlight = 0;

  /** Counts one data port error by code. */
  countUpstreamError(code: string): void {
    const key = this.upstreamErrors.has(code) || this.upstreamErrors.size < MAX_UPSTREAM_ERROR_CODES ? code : 'other';
    this.upstreamErrors.set(key, (this.upstreamErrors.get(key) ?? 0) + 1);
  }

  /** The exposition text, with the live gauges passed in. */
  render(gauges: { connections: number; inFlight: number; queuedResponseBytes: number; buffered: number; upstreamConnections: number; upstreamInFlight: number; routingVersion: number; bufferCounters: Record<string, number> }): string {
    const families: MetricFamilyInput[] = [
      { name: 'foreshard_gateway_requests_total', help: 'Client requests parsed, by op.', type: 'counter', samples: Object.entries(this.requests).map(([op, value]) => ({ labels: { op }, value })) },
      { name: 'foreshard_gateway_errors_total', help: 'Failure responses sent to clients, by code.', type: 'counter', samples: Object.entries(this.errors).map(([code, value]) => ({ labels: { code }, value })) },
      { name: 'foreshard_gateway_upstream_errors_total', help: 'Data port errors, timeouts and lost connections, by code.', type: 'counter', samples: [...this.upstreamErrors].map(([code, value]) => ({ labels: { code }, value })) },
      { name: 'foreshard_gateway_connections_opened_total', help: 'Client connections opened.', type: 'counter', samples: [{ value: this.connectionsOpened }] },
      { name: 'foreshard_gateway_connections_closed_by_gateway_total', help: 'Client connections the gateway closed (not reading, or over the queue limit).', type: 'counter', samples: [{ value: this.connectionsClosedByGateway }] },
      { name: 'foreshard_gateway_refused_in_flight_total', help: 'Requests refused because their connection had its limit in flight.', type: 'counter', samples: [{ value: this.refusedInFlight }] },
      { name: 'foreshard_gateway_connections', help: 'Client connections open now.', type: 'gauge', samples: [{ value: gauges.connections }] },
      { name: 'foreshard_gateway_in_flight', help: 'Client requests in flight now.', type: 'gauge', samples: [{ value: gauges.inFlight }] },
      { name: 'foreshard_gateway_queued_response_bytes', help: 'Response bytes waiting in client connections\' own queues (their sockets are backpressured) now.', type: 'gauge', samples: [{ value: gauges.queuedResponseBytes }] },
      { name: 'foreshard_gateway_buffered', help: 'Requests held for switching shards now.', type: 'gauge', samples: [{ value: gauges.buffered }] },
      { name: 'foreshard_gateway_buffer_events_total', help: 'Shard buffer events: held (requests, each once), reheld (a request held once more after it was let go: a recheck found the primary still lost, or it answered FENCED), released, rechecked (let go to try a lost primary again), refusedFull, expired.', type: 'counter', samples: Object.entries(gauges.bufferCounters).map(([event, value]) => ({ labels: { event }, value })) },
      { name: 'foreshard_gateway_upstream_connections', help: 'Data port connections open now.', type: 'gauge', samples: [{ value: gauges.upstreamConnections }] },
      { name: 'foreshard_gateway_upstream_in_flight', help: 'Requests in flight to data ports now.', type: 'gauge', samples: [{ value: gauges.upstreamInFlight }] },
      { name: 'foreshard_gateway_routing_version', help: 'Version of the adopted routing table (-1: none yet).', type: 'gauge', samples: [{ value: gauges.routingVersion }] },
    ];
    return writeExposition(families);
  }
}
