/**
 * `foreshard gateway` (DESIGN.md §1, §5.1): a uWebSockets.js server with the client WebSocket on
 * `/v1`, Prometheus metrics on `/metrics` and a load-balancer health check on `/healthz`. It is
 * stateless: everything it routes by comes from the retained `routing` topic.
 */
import * as uWS from 'uWebSockets.js';
import { maxClientFrameBytes } from '../protocol/index.js';
import { createLogger } from '../common/log.js';
import { bearerTokenOf, credentialsOf } from './auth.js';
import { ShardBuffers } from './buffer.js';
import { CLOSE_GOING_AWAY, ClientConnection, type ConnectionContext, type SocketData } from './connection.js';
import type { ForwardContext } from './forward.js';
import { GatewayMetrics } from './metrics.js';
import { resolveGatewayOptions, type GatewayOptions, type ResolvedGatewayOptions } from './options.js';
import { primaryMoved, RoutingView, subscribeRouting, type RoutingSubscription } from './routing.js';
import { UpstreamPool } from './upstream.js';
import type { RoutingTable } from '../protocol/index.js';

/** A running gateway. */
export interface Gateway {
  /** `ws://host:port/v1` (or `wss://`). */
  readonly url: string;
  readonly port: number;
  readonly options: ResolvedGatewayOptions;
  readonly routing: RoutingView;
  readonly metrics: GatewayMetrics;
  /** Client connections open now. */
  connections(): number;
  /** Whether it can serve: connected to the broker and holding a routing table. */
  ready(): boolean;
  /** Stops listening, closes every client and data port connection and the MQTT client. */
  close(): Promise<void>;
}

/** Starts a gateway with `overrides` merged into the defaults. */
export async function startGateway(overrides: Partial<GatewayOptions> = {}): Promise<Gateway> {
  const options = resolveGatewayOptions(overrides);
  const logger = options.logger ?? createLogger('gateway');
  const view = new RoutingView();
  const subscription = await subscribeRouting({
    brokerUrl: options.brokerUrl, cluster: options.cluster, clientId: `${options.instance}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    protocolVersion: options.brokerProtocolVersion, keepaliveS: options.brokerKeepaliveS,
    ...(options.brokerLogin === undefined ? {} : { login: options.brokerLogin }),
    logger: logger.child('routing'),
  }, view);
  const metrics = new GatewayMetrics();
  const buffers = new ShardBuffers(options);
  const upstream = new UpstreamPool({
    instance: options.instance, limits: options.limits, requestTimeoutMs: options.requestTimeoutMs, connectTimeoutMs: options.connectTimeoutMs,
    maxInFlight: options.maxUpstreamInFlight, logger: logger.child('upstream'), ...(options.dataPortToken ? { token: options.dataPortToken } : {}),
  });
  view.onChange((table) => releaseBuffers(table, view, buffers));
  // A failover that passed over a hung or dead primary: its requests still waiting on that agent are
  // sent again to the new primary now, instead of after the upstream timeout (forward.ts says why
  // that is safe).
  view.onChange((table, previous) => {
    for (const route of table.shards) {
      const before = previous.get(route.id);
      if (!before || !primaryMoved(before, route)) continue;
      const url = before.dataUrls[before.primary!];
      if (url !== undefined) upstream.supersede(url, route.id, `shard ${route.id} moved from ${before.primary} to ${route.primary} at epoch ${route.epoch}`);
    }
  });
  const forward: ForwardContext = {
    view, buffers, upstream, refreshRouting: () => subscription.refresh(),
    routingRefreshTimeoutMs: options.routingRefreshTimeoutMs, maxPauseMs: options.maxPauseMs, retryAfterMs: options.retryAfterMs, requestTimeoutMs: options.requestTimeoutMs,
    countUpstreamError: (code) => metrics.countUpstreamError(code), logger,
  };
  let inFlight = 0;
  const context: ConnectionContext = { options, forward, metrics, logger, inFlightDelta: (delta) => (inFlight += delta) };
  const sockets = new Set<ClientConnection>();
  const ready = (): boolean => subscription.connected() && view.version >= 0;
  const app = options.tlsCertFile && options.tlsKeyFile ? uWS.SSLApp({ cert_file_name: options.tlsCertFile, key_file_name: options.tlsKeyFile }) : uWS.App();
  app.ws<SocketData>('/v1', clientBehavior(options, context, sockets));
  app.get('/healthz', (res) => {
    const body = JSON.stringify({ ready: ready(), routingVersion: view.version, brokerConnected: subscription.connected() });
    res.writeStatus(ready() ? '200 OK' : '503 Service Unavailable').writeHeader('content-type', 'application/json').end(body);
  });
  app.get('/metrics', (res) => {
    const text = metrics.render({
      connections: sockets.size, inFlight, queuedResponseBytes: queuedResponseBytes(sockets), buffered: buffers.size(), upstreamConnections: upstream.size(), upstreamInFlight: upstream.inFlight(),
      routingVersion: view.version, bufferCounters: { ...buffers.counters },
    });
    res.writeHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8').end(text);
  });
  app.any('/*', (res) => void res.writeStatus('404 Not Found').end('not found: use /v1, /metrics or /healthz\n'));
  const listenSocket = await listen(app, options.host, options.port, subscription);
  const port = uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket);
  const url = `${options.tlsCertFile ? 'wss' : 'ws'}://${options.host}:${port}/v1`;
  logger.info('listening', { url, auth: options.tokenKey !== undefined, cluster: options.cluster });
  let closed = false;
  return {
    url, port, options, routing: view, metrics,
    connections: () => sockets.size,
    ready,
    close: async () => {
      // uWS frees the listen socket on close: closing it twice would touch freed memory.
      if (closed) return;
      closed = true;
      uWS.us_listen_socket_close(listenSocket);
      for (const connection of [...sockets]) connection.end(CLOSE_GOING_AWAY, 'gateway closing');
      app.close();
      buffers.closeAll();
      upstream.close();
      await subscription.close();
    },
  };
}

/** Bytes of responses waiting in every connection's own queue (read when `/metrics` is served). */
function queuedResponseBytes(sockets: Set<ClientConnection>): number {
  let total = 0;
  for (const connection of sockets) total += connection.queuedResponseBytes;
  return total;
}

/** On every routing change, releases (or refuses) each shard that holds requests. */
function releaseBuffers(table: RoutingTable, view: RoutingView, buffers: ShardBuffers): void {
  for (const shard of buffers.heldShards()) {
    const route = view.route(shard);
    if (route === undefined || route.writes === 'unavailable' || route.primary === null) {
      buffers.refuseAll(shard, `shard ${shard} has no primary that can serve`);
      continue;
    }
    buffers.update(shard, table.version, route.writes === 'open');
  }
}

function clientBehavior(options: ResolvedGatewayOptions, context: ConnectionContext, sockets: Set<ClientConnection>): uWS.WebSocketBehavior<SocketData> {
  const maxFrameBytes = maxClientFrameBytes(options.limits, false);
  return {
    // A frame over this is a framing violation uWS closes the socket for; smaller oversize frames get TOO_LARGE.
    maxPayloadLength: maxFrameBytes,
    // The connection's own queue keeps uWS under its limit; this only guards against a bug there.
    maxBackpressure: options.socketHighWaterBytes + maxFrameBytes,
    closeOnBackpressureLimit: false,
    idleTimeout: options.idleTimeoutS,
    sendPingsAutomatically: options.idleTimeoutS > 0,
    upgrade: (res, req, socketContext) => {
      if (sockets.size >= options.maxConnections) {
        res.writeStatus('503 Service Unavailable').end(`more than ${options.maxConnections} connections`);
        return;
      }
      const credentials = credentialsOf(options.tokenKey, bearerTokenOf(req.getHeader('authorization'), req.getQuery() ?? ''), Date.now());
      res.upgrade<SocketData>({ credentials }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), socketContext);
    },
    open: (ws) => {
      const connection = new ClientConnection(ws, context);
      ws.getUserData().connection = connection;
      sockets.add(connection);
      context.metrics.connectionsOpened++;
    },
    message: (ws, message, isBinary) => ws.getUserData().connection!.onMessage(message, isBinary),
    drain: (ws) => ws.getUserData().connection!.onDrain(),
    close: (ws) => {
      const connection = ws.getUserData().connection!;
      connection.onClose();
      sockets.delete(connection);
    },
  };
}

function listen(app: uWS.TemplatedApp, host: string, port: number, subscription: RoutingSubscription): Promise<uWS.us_listen_socket> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (listenSocket) => {
      if (listenSocket) return resolve(listenSocket);
      void subscription.close();
      reject(Object.assign(new Error(`cannot listen on ${host}:${port}`), { code: 'LISTEN_FAILED' }));
    });
  });
}

