/**
 * Connections from the gateway to agents' data ports (DESIGN.md §5.3). One WebSocket per data URL,
 * opened on first use with `hello`/`welcome`; requests are paired with responses by `rid`.
 *
 * One write path per connection (STYLE.md): every send goes through {@link UpstreamConnection.pump},
 * which stops while more than `highWaterBytes` are written but not yet flushed to the socket
 * (tracked through `ws`'s send callbacks, its equivalent of `drain`). Requests that cannot be sent
 * wait in a queue that the in-flight limit bounds, and every request gives up after
 * `requestTimeoutMs`: TIMEOUT when it was sent (the agent may have applied it), UNAVAILABLE when
 * it never left the gateway.
 */
import WebSocket from 'ws';
import { DATA_PORT_VERSION, ProtocolError, decodeDataFrame, encodeDataFrame, maxDataFrameBytes, type ClientLimits, type DataFrame, type DataRequestFrame, type DataResponseFrame } from '../protocol/index.js';
import type { Logger } from '../common/log.js';

/** Bytes written to a data port socket but not yet flushed, above which sends wait. */
export const UPSTREAM_HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** After a failed connect, requests to that data URL fail fast for this long instead of piling up. */
export const UPSTREAM_RETRY_DELAY_MS = 250;
/** Most data port connections one gateway keeps (one per agent). */
export const MAX_UPSTREAM_CONNECTIONS = 4_096;

/** What became of one forwarded request. */
export type UpstreamOutcome =
  | { kind: 'response'; frame: DataResponseFrame }
  /** Sent, but no answer within the timeout: the agent may have applied it. */
  | { kind: 'timeout' }
  /** The connection failed; `sent` says whether the agent may have seen the request. */
  | { kind: 'lost'; sent: boolean; message: string }
  /** This connection already holds its limit of requests in flight; nothing was sent. */
  | { kind: 'overloaded' };

/** A request to forward: a data `request` frame without its `rid`. */
export type UpstreamRequest = Omit<DataRequestFrame, 'type' | 'rid'>;

/** Settings every upstream connection shares. */
export interface UpstreamSettings {
  instance: string;
  token?: string;
  limits: ClientLimits;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  maxInFlight: number;
  logger: Logger;
}

interface Pending {
  rid: number;
  bytes: Uint8Array;
  sent: boolean;
  timer: ReturnType<typeof setTimeout>;
  resolve(outcome: UpstreamOutcome): void;
}

/** One data port connection. */
export class UpstreamConnection {
  private socket: WebSocket;
  private state: 'connecting' | 'open' | 'closed' = 'connecting';
  private nextRid = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly unsent: Pending[] = [];
  private unflushedBytes = 0;
  /** Whether the TCP socket is corked until the end of this event-loop turn. */
  private corked = false;
  private closedAtMs = 0;
  private readonly connectTimer: ReturnType<typeof setTimeout>;

  constructor(
    readonly url: string,
    private readonly settings: UpstreamSettings,
  ) {
    this.socket = new WebSocket(url, { maxPayload: maxDataFrameBytes(settings.limits), perMessageDeflate: false });
    this.socket.binaryType = 'nodebuffer';
    this.connectTimer = setTimeout(() => this.fail(`no welcome from ${url} within ${settings.connectTimeoutMs} ms`), settings.connectTimeoutMs);
    this.socket.on('open', () => this.write(this.encode({ type: 'hello', version: DATA_PORT_VERSION, role: 'gateway', node: settings.instance, ...(settings.token ? { token: settings.token } : {}) })));
    this.socket.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    this.socket.on('error', (error) => this.fail(`data port ${url}: ${error.message}`));
    this.socket.on('close', (code, reason) => this.fail(`data port ${url} closed (${code} ${reason.toString()})`));
  }

  /** Whether this connection can still carry requests (or is still opening). */
  get usable(): boolean {
    return this.state !== 'closed';
  }

  /** When it closed (ms since the Unix epoch), or 0 while usable. */
  get closedAt(): number {
    return this.closedAtMs;
  }

  /** Requests in flight on this connection. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Forwards one request; never rejects. */
  request(request: UpstreamRequest): Promise<UpstreamOutcome> {
    if (this.state === 'closed') return Promise.resolve({ kind: 'lost', sent: false, message: `data port ${this.url} is not connected` });
    if (this.pending.size >= this.settings.maxInFlight) return Promise.resolve({ kind: 'overloaded' });
    const rid = this.nextRid++;
    let bytes: Uint8Array;
    try {
      bytes = this.encode({ type: 'request', rid, ...request });
    } catch (error) {
      // The client frame passed the same key and value limits, so this is a bug, not bad input.
      throw new Error(`cannot encode a data request: ${(error as Error).message}`, { cause: error });
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.expire(rid), this.settings.requestTimeoutMs);
      const entry: Pending = { rid, bytes, sent: false, timer, resolve };
      this.pending.set(rid, entry);
      this.unsent.push(entry);
      this.pump();
    });
  }

  /** Closes the connection; requests in flight end as `lost`. */
  close(): void {
    this.fail('gateway is closing');
  }

  private encode(frame: DataFrame): Uint8Array {
    return encodeDataFrame(frame, this.settings.limits);
  }

  /** The one write path: sends queued requests while the socket is open and below its high water. */
  private pump(): void {
    if (this.state !== 'open') return;
    while (this.unsent.length > 0 && this.unflushedBytes < UPSTREAM_HIGH_WATER_BYTES) {
      const entry = this.unsent.shift()!;
      if (!this.pending.has(entry.rid)) continue; // expired while waiting
      entry.sent = true;
      this.write(entry.bytes);
    }
  }

  private write(bytes: Uint8Array): void {
    this.corkForThisTurn();
    this.unflushedBytes += bytes.byteLength;
    this.socket.send(bytes, (error) => {
      this.unflushedBytes -= bytes.byteLength;
      if (error) this.fail(`data port ${this.url} write failed: ${error.message}`);
      else if (this.unsent.length > 0) this.pump();
    });
  }

  /**
   * Requests forwarded in the same turn of the event loop leave in one write (one syscall): the
   * underlying TCP socket is corked on the first and uncorked after the turn. `ws` exposes that
   * socket only as `_socket`; without it, each request is simply written on its own.
   */
  private corkForThisTurn(): void {
    if (this.corked) return;
    const raw = (this.socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (!raw) return;
    this.corked = true;
    raw.cork();
    setImmediate(() => {
      this.corked = false;
      raw.uncork();
    });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    let frame: DataFrame;
    try {
      if (!isBinary) throw new ProtocolError('MALFORMED', 'data port frames are binary');
      frame = decodeDataFrame(data, this.settings.limits);
    } catch (error) {
      // A peer that breaks the framing cannot be paired with any more: close, and fail what is in flight.
      this.fail(`bad frame from data port ${this.url}: ${(error as Error).message}`);
      return;
    }
    if (frame.type === 'response') return this.settle(frame.rid, { kind: 'response', frame });
    if (frame.type === 'welcome' && this.state === 'connecting') {
      clearTimeout(this.connectTimer);
      this.state = 'open';
      this.pump();
      return;
    }
    if (frame.type === 'error') return this.fail(`data port ${this.url} refused: ${frame.code} ${frame.message}`);
    this.settings.logger.debug('ignored data port frame', { url: this.url, type: frame.type });
  }

  private settle(rid: number, outcome: UpstreamOutcome): void {
    const entry = this.pending.get(rid);
    if (!entry) return; // answered after its timeout: already settled
    this.pending.delete(rid);
    clearTimeout(entry.timer);
    entry.resolve(outcome);
  }

  private expire(rid: number): void {
    const entry = this.pending.get(rid);
    if (!entry) return;
    this.settle(rid, entry.sent ? { kind: 'timeout' } : { kind: 'lost', sent: false, message: `data port ${this.url} did not take the request in time` });
  }

  private fail(message: string): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.closedAtMs = Date.now();
    clearTimeout(this.connectTimer);
    this.unsent.length = 0;
    for (const entry of [...this.pending.values()]) this.settle(entry.rid, { kind: 'lost', sent: entry.sent, message });
    this.settings.logger[wasOpen ? 'warn' : 'info']('data port connection closed', { url: this.url, reason: message });
    this.socket.removeAllListeners('close');
    this.socket.on('error', () => undefined); // a late socket error after terminate must not crash
    this.socket.terminate();
  }
}

/** The gateway's data port connections, one per URL, reopened on demand. */
export class UpstreamPool {
  private readonly connections = new Map<string, UpstreamConnection>();

  constructor(private readonly settings: UpstreamSettings) {}

  /** Forwards `request` to the data port at `url`. */
  request(url: string, request: UpstreamRequest): Promise<UpstreamOutcome> {
    return this.connection(url).request(request);
  }

  /** Requests in flight over every connection. */
  inFlight(): number {
    let total = 0;
    for (const connection of this.connections.values()) total += connection.inFlight;
    return total;
  }

  /** Open (or opening) connections. */
  size(): number {
    return [...this.connections.values()].filter((connection) => connection.usable).length;
  }

  /** Closes every connection. */
  close(): void {
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }

  private connection(url: string): UpstreamConnection {
    const existing = this.connections.get(url);
    // A connection that just failed is kept briefly, so a dead agent costs one connect per delay, not one per request.
    if (existing && (existing.usable || Date.now() - existing.closedAt < UPSTREAM_RETRY_DELAY_MS)) return existing;
    if (!existing && this.connections.size >= MAX_UPSTREAM_CONNECTIONS) this.evictClosed();
    const created = new UpstreamConnection(url, this.settings);
    this.connections.set(url, created);
    return created;
  }

  private evictClosed(): void {
    for (const [url, connection] of this.connections) if (!connection.usable) this.connections.delete(url);
    if (this.connections.size >= MAX_UPSTREAM_CONNECTIONS) throw new RangeError(`more than ${MAX_UPSTREAM_CONNECTIONS} data port connections`);
  }
}
