/**
 * Connections from the gateway to agents' data ports (DESIGN.md §5.3). One WebSocket per data URL,
 * opened on first use with `hello`/`welcome`; requests are paired with responses by `rid`.
 *
 * One write path per connection (STYLE.md): every send goes through {@link UpstreamConnection.write},
 * and sending stops while `ws` holds {@link UPSTREAM_HIGH_WATER_BYTES} or more not yet flushed to
 * the socket (its `bufferedAmount`). The frame that crosses the mark carries a send callback, `ws`'s
 * equivalent of `drain`, which resumes sending once that frame is flushed. Requests that cannot be
 * sent wait in a queue that the in-flight limit bounds, and every request gives up after
 * `requestTimeoutMs`: TIMEOUT when it was sent (the agent may have applied it), UNAVAILABLE when
 * it never left the gateway.
 *
 * The hot path allocates little: one deadline timer per connection rather than one per request
 * (all requests of a connection share one timeout, so the pending map, in insertion order, is also
 * in deadline order), and a request frame is encoded from parts that were validated already (the
 * client frame's key and value, the routing table's shard and epoch), without validating it again.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { DATA_PORT_VERSION, ProtocolError, decodeDataFrame, encodeCbor, encodeDataFrame, maxDataFrameBytes, type ClientLimits, type DataFrame, type DataRequestFrame, type DataResponseFrame } from '../protocol/index.js';
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

/**
 * Receives the outcome of one forwarded request, exactly once and never synchronously from
 * {@link UpstreamConnection.request}. An object rather than a callback, so forwarding a request
 * allocates no closure.
 */
export interface UpstreamListener {
  onUpstreamOutcome(outcome: UpstreamOutcome): void;
}

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
  /** The shard it is for, so a failover of that shard can end it early ({@link UpstreamConnection.supersede}). */
  shard: number;
  /** When the request gives up (`performance.now()` milliseconds). */
  deadlineMs: number;
  listener: UpstreamListener;
}

/**
 * The bytes of a data `request` frame (§5.3). Its fields are written in the order of the frame's
 * schema, so the bytes are exactly those `encodeDataFrame` writes; only the second validation is
 * left out (test/gateway/upstream-encoding.test.ts compares the two).
 */
export function encodeRequestFrame(rid: number, request: UpstreamRequest): Uint8Array {
  const frame: DataRequestFrame = { type: 'request', rid, op: request.op, shard: request.shard, epoch: request.epoch, key: request.key };
  if (request.value !== undefined) frame.value = request.value;
  return encodeCbor(frame);
}

/** What a sent request's entry holds instead of its frame. */
const SENT = new Uint8Array(0);

/** Hands `outcome` to `listener` after the current call returns. */
function deliverLater(listener: UpstreamListener, outcome: UpstreamOutcome): void {
  queueMicrotask(() => listener.onUpstreamOutcome(outcome));
}

/** One data port connection. */
export class UpstreamConnection {
  private socket: WebSocket;
  private state: 'connecting' | 'open' | 'closed' = 'connecting';
  private nextRid = 1;
  /** Requests sent or waiting to be, by rid, in insertion order, which is also deadline order. */
  private readonly pending = new Map<number, Pending>();
  private readonly unsent: Pending[] = [];
  /** Whether a sent frame's callback will resume sending (ws is over its high water). */
  private awaitingFlush = false;
  /** One timer for the oldest pending request's deadline. */
  private deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  /** Whether the TCP socket is corked until the end of this event-loop turn. */
  private corked = false;
  private readonly maxFrameBytes: number;
  private closedAtMs = 0;
  private readonly connectTimer: ReturnType<typeof setTimeout>;

  constructor(
    readonly url: string,
    private readonly settings: UpstreamSettings,
  ) {
    this.maxFrameBytes = maxDataFrameBytes(settings.limits);
    this.socket = new WebSocket(url, { maxPayload: this.maxFrameBytes, perMessageDeflate: false });
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

  /** Forwards one request; `listener` learns its outcome later (never within this call). */
  request(request: UpstreamRequest, listener: UpstreamListener): void {
    if (this.state === 'closed') return deliverLater(listener, { kind: 'lost', sent: false, message: `data port ${this.url} is not connected` });
    if (this.pending.size >= this.settings.maxInFlight) return deliverLater(listener, { kind: 'overloaded' });
    const rid = this.nextRid++;
    const bytes = encodeRequestFrame(rid, request);
    // The client frame passed the same key and value limits, so an oversize frame is a bug, not bad input.
    assert(bytes.byteLength <= this.maxFrameBytes, `a data request frame of ${bytes.byteLength} bytes is over ${this.maxFrameBytes}`);
    const entry: Pending = { rid, bytes, sent: false, shard: request.shard, deadlineMs: performance.now() + this.settings.requestTimeoutMs, listener };
    this.pending.set(rid, entry);
    if (this.deadlineTimer === undefined) this.armDeadlineTimer();
    if (this.unsent.length === 0 && this.canSend()) this.send(entry);
    else this.unsent.push(entry);
  }

  /** Closes the connection; requests in flight end as `lost`. */
  close(): void {
    this.fail('gateway is closing');
  }

  /**
   * Ends every request of `shard` still waiting on this agent as `lost`: routing has moved the shard
   * to another primary at a newer epoch, so this agent will not answer them usefully (it hung or died,
   * and was fenced out). Any answer it sends later is dropped. Returns how many ended.
   */
  supersede(shard: number, why: string): number {
    let ended = 0;
    for (const entry of [...this.pending.values()]) {
      if (entry.shard !== shard) continue;
      this.settle(entry.rid, { kind: 'lost', sent: entry.sent, message: why });
      ended++;
    }
    return ended;
  }

  private encode(frame: DataFrame): Uint8Array {
    return encodeDataFrame(frame, this.settings.limits);
  }

  /** Whether a request may be written now: the socket is open and `ws` is below its high water. */
  private canSend(): boolean {
    return this.state === 'open' && !this.awaitingFlush;
  }

  /** Sends queued requests while {@link canSend} allows. */
  private pump(): void {
    while (this.unsent.length > 0 && this.canSend()) {
      const entry = this.unsent.shift()!;
      if (this.pending.has(entry.rid)) this.send(entry); // else it expired while waiting
    }
  }

  private send(entry: Pending): void {
    entry.sent = true;
    this.write(entry.bytes);
    // From here `ws` holds the frame until it is flushed; the entry waiting for its answer need not.
    entry.bytes = SENT;
  }

  /**
   * The one write path. A frame that takes `ws` to its high water carries a callback, and nothing
   * more is sent until that frame is flushed. A failed write needs no callback: `ws` then closes
   * the socket, and its `close` event fails every pending request.
   */
  private write(bytes: Uint8Array): void {
    this.corkForThisTurn();
    if (this.socket.bufferedAmount + bytes.byteLength < UPSTREAM_HIGH_WATER_BYTES) {
      this.socket.send(bytes);
      return;
    }
    this.awaitingFlush = true;
    this.socket.send(bytes, () => {
      this.awaitingFlush = false;
      this.pump();
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
    if (this.pending.size === 0 && this.deadlineTimer !== undefined) {
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = undefined;
    }
    entry.listener.onUpstreamOutcome(outcome);
  }

  /** Arms the one deadline timer for the oldest pending request, if any. */
  private armDeadlineTimer(): void {
    const oldest = this.pending.values().next();
    if (oldest.done) return;
    const delayMs = Math.max(0, oldest.value.deadlineMs - performance.now());
    this.deadlineTimer = setTimeout(() => this.expireDue(), Math.ceil(delayMs));
  }

  /** Ends every request past its deadline, oldest first, and re-arms for the next one. */
  private expireDue(): void {
    this.deadlineTimer = undefined;
    const nowMs = performance.now();
    for (const entry of this.pending.values()) {
      if (entry.deadlineMs > nowMs) break;
      this.settle(entry.rid, entry.sent ? { kind: 'timeout' } : { kind: 'lost', sent: false, message: `data port ${this.url} did not take the request in time` });
    }
    this.armDeadlineTimer();
  }

  private fail(message: string): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.closedAtMs = Date.now();
    clearTimeout(this.connectTimer);
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
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

  /** Forwards `request` to the data port at `url`; `listener` learns its outcome later. */
  request(url: string, request: UpstreamRequest, listener: UpstreamListener): void {
    this.connection(url).request(request, listener);
  }

  /** Ends the requests of `shard` waiting on the agent at `url` (see {@link UpstreamConnection.supersede}). */
  supersede(url: string, shard: number, why: string): number {
    return this.connections.get(url)?.supersede(shard, why) ?? 0;
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
