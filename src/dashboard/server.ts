/**
 * The dashboard's HTTP server (node:http): the page, `GET /api/state` (the whole model as JSON),
 * `GET /api/events` (Server-Sent Events) and `/healthz`.
 *
 * SSE: a new client gets one `snapshot` event, then `delta` events carrying the summary and only the
 * score points added since the previous push. Pushes are coalesced to one per
 * {@link SSE_PUSH_INTERVAL_MS} and serialised once for all clients, so a busy cluster costs the same
 * whatever the number of browsers. Clients are bounded ({@link MAX_SSE_CLIENTS}); a client that does
 * not read (more than {@link MAX_SSE_BUFFERED_BYTES} queued) is closed, and its browser's
 * EventSource reconnects and starts again from a fresh snapshot.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../common/log.js';
import { DashboardError } from './errors.js';
import { DASHBOARD_PAGE } from './page.js';
import type { DashboardSource } from './view.js';

/** Browsers following `/api/events` at once; more get 503. */
export const MAX_SSE_CLIENTS = 64;
/** Bytes queued to one SSE client before it is closed as too slow. */
export const MAX_SSE_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Shortest gap between two pushes: changes inside it go out together. */
export const SSE_PUSH_INTERVAL_MS = 250;
/** A push at least this often even without changes, so pages can see a node fall silent. */
export const SSE_KEEPALIVE_MS = 5000;
/** What EventSource waits before reconnecting. */
export const SSE_RETRY_MS = 2000;

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  view: DashboardSource;
  logger?: Logger;
}

/** A running dashboard server. */
export interface Dashboard {
  /** `http://host:port/`. */
  readonly url: string;
  readonly port: number;
  /** SSE clients connected now. */
  clients(): number;
  close(): Promise<void>;
}

/** Starts the dashboard; rejects with a `LISTEN_FAILED` DashboardError when it cannot listen. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const logger = options.logger ?? createLogger('dashboard');
  const host = options.host ?? '127.0.0.1';
  const events = new EventStream(options.view, logger);
  const server = createServer((request, response) => route(request, response, options.view, events));
  await listen(server, options.port, host);
  const port = (server.address() as AddressInfo).port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}/`;
  logger.info(`dashboard on ${url}`);
  return {
    url,
    port,
    clients: () => events.size,
    async close() {
      events.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new DashboardError('LISTEN_FAILED', `dashboard cannot listen on ${host}:${port}: ${error.code ?? error.message}`)));
    server.listen(port, host, () => resolve());
  });
}

function route(request: IncomingMessage, response: ServerResponse, view: DashboardSource, events: EventStream): void {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
    return;
  }
  if (path === '/' || path === '/index.html') send(response, 200, 'text/html; charset=utf-8', DASHBOARD_PAGE, { 'content-security-policy': "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:" });
  else if (path === '/api/state') send(response, 200, 'application/json', JSON.stringify(view.snapshot()));
  else if (path === '/api/events') events.add(request, response);
  else if (path === '/healthz') {
    const connected = view.snapshot().connected;
    send(response, connected ? 200 : 503, 'application/json', JSON.stringify({ ok: connected, brokerConnected: connected, cluster: view.cluster }));
  } else send(response, 404, 'text/plain; charset=utf-8', 'not found\n');
}

function send(response: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...headers });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}

/** The set of SSE clients and the one coalesced push loop they share. */
class EventStream {
  private readonly clients = new Set<ServerResponse>();
  private pushedRev: number;
  private timer: NodeJS.Timeout | undefined;
  private lastPushAt = 0;
  private readonly keepalive: NodeJS.Timeout;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly view: DashboardSource,
    private readonly logger: Logger,
  ) {
    this.pushedRev = view.rev;
    this.unsubscribe = view.onChange(() => this.schedule());
    this.keepalive = setInterval(() => {
      if (Date.now() - this.lastPushAt >= SSE_KEEPALIVE_MS) this.push();
    }, SSE_KEEPALIVE_MS);
    this.keepalive.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  add(request: IncomingMessage, response: ServerResponse): void {
    if (this.clients.size >= MAX_SSE_CLIENTS) {
      send(response, 503, 'text/plain; charset=utf-8', `too many dashboard clients (limit ${MAX_SSE_CLIENTS})\n`, { 'retry-after': '10' });
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    this.clients.add(response);
    request.on('close', () => this.clients.delete(response));
    this.write(response, `retry: ${SSE_RETRY_MS}\nevent: snapshot\ndata: ${JSON.stringify(this.view.snapshot())}\n\n`);
  }

  private schedule(): void {
    if (this.timer) return;
    const waitMs = Math.max(0, SSE_PUSH_INTERVAL_MS - (Date.now() - this.lastPushAt));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.push();
    }, waitMs);
  }

  private push(): void {
    this.lastPushAt = Date.now();
    const since = this.pushedRev;
    this.pushedRev = this.view.rev;
    if (this.clients.size === 0) return;
    const frame = `event: delta\ndata: ${JSON.stringify(this.view.delta(since))}\n\n`;
    for (const client of this.clients) this.write(client, frame);
  }

  /** One write path per client: a client that lets too much queue up is closed instead of growing memory. */
  private write(client: ServerResponse, frame: string): void {
    if (client.writableLength > MAX_SSE_BUFFERED_BYTES) {
      this.logger.warn('closing a slow dashboard client', { queuedBytes: client.writableLength });
      this.clients.delete(client);
      client.destroy();
      return;
    }
    client.write(frame);
  }

  close(): void {
    clearTimeout(this.timer);
    clearInterval(this.keepalive);
    this.unsubscribe();
    for (const client of this.clients) client.end();
    this.clients.clear();
  }
}
