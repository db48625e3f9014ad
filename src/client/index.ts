/**
 * `foreshard/client`: the client library for the gateway's `/v1` WebSocket (DESIGN.md §5.1).
 *
 * ```ts
 * import { connect } from 'foreshard/client';
 * const client = await connect('ws://127.0.0.1:7700/v1', { token });
 * await client.put('user:42', 'hello');
 * const value = await client.getString('user:42'); // 'hello'
 * await client.close();
 * ```
 *
 * It runs in Node and in browsers: it uses the global `WebSocket` when there is one and the `ws`
 * package otherwise, and imports nothing from `node:`. It reconnects on its own (exponential
 * backoff with jitter), gives every request a timeout, and never has more than `maxInFlight`
 * requests on the wire, so it never trips the gateway's in-flight limit; further requests wait in
 * a bounded local queue.
 *
 * @module
 */
import { MAX_IN_FLIGHT_PER_CONNECTION, MAX_REQUEST_ID } from '../protocol/limits.js';
import { encodeClientRequest, parseClientResponse, type ClientErrorCode, type ClientFraming, type ClientOp, type ClientResponse } from '../protocol/client.js';
import { openSocket, type SocketLike, type WebSocketConstructor } from './socket.js';

export type { WebSocketConstructor } from './socket.js';

/** Client-side error codes: the gateway's six (§5.1), plus `DISCONNECTED` and `CLOSED`. */
export type ForeshardErrorCode = ClientErrorCode | 'DISCONNECTED' | 'CLOSED';

/**
 * A failed request. `TIMEOUT` and `DISCONNECTED` leave a write's outcome unknown (a put or del is
 * idempotent, so retrying is safe); with `UNAVAILABLE`, `retryAfterMs` says when to retry.
 */
export class ForeshardError extends Error {
  constructor(
    readonly code: ForeshardErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ForeshardError';
  }
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Bearer token (`foreshard token create`); sent as `?token=` in browsers, as a header in Node. */
  token?: string;
  /** `binary` (CBOR, values as bytes; default) or `text` (JSON, values as strings). */
  framing?: ClientFraming;
  /** A request not answered within this fails with TIMEOUT (default 10 000). */
  requestTimeoutMs?: number;
  /** How long {@link connect} keeps trying before it rejects (default 10 000). */
  connectTimeoutMs?: number;
  /** Requests on the wire at once (default and maximum: the gateway's 1024). */
  maxInFlight?: number;
  /** Requests waiting locally for a slot or a connection; past it, UNAVAILABLE at once (default 10 000). */
  maxQueued?: number;
  /** Reconnect backoff: first and longest delay (default 100 and 5 000 ms). */
  reconnectInitialDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** The WebSocket implementation, when neither the global one nor `ws` should be used. */
  WebSocket?: WebSocketConstructor;
  /** Called when the connection opens or drops, e.g. for logging. */
  onStateChange?: (state: 'open' | 'closed') => void;
}

/** A value as stored: bytes over binary framing, a string over text framing. */
export type Value = Uint8Array | string;

/** The answer to a put or del. */
export interface WriteResult {
  shard: number;
  lsn?: number;
}

interface Pending {
  id: number;
  frame: Uint8Array | string;
  timer: ReturnType<typeof setTimeout>;
  sent: boolean;
  resolve(response: ClientResponse & { ok: true }): void;
  reject(error: ForeshardError): void;
}

const DEFAULTS = { framing: 'binary' as ClientFraming, requestTimeoutMs: 10_000, connectTimeoutMs: 10_000, maxInFlight: MAX_IN_FLIGHT_PER_CONNECTION, maxQueued: 10_000, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 5_000 };

/** A connection to a gateway; see the module comment. */
export class ForeshardClient {
  private readonly settings: typeof DEFAULTS & ConnectOptions;
  private socket: SocketLike | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly waiting: Pending[] = [];
  private inFlight = 0;
  private closed = false;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  /** Use {@link connect}. */
  constructor(
    readonly url: string,
    options: ConnectOptions = {},
  ) {
    this.settings = { ...DEFAULTS, ...options };
    this.settings.maxInFlight = Math.min(Math.max(1, this.settings.maxInFlight), MAX_IN_FLIGHT_PER_CONNECTION);
  }

  /** Whether the WebSocket is open now. */
  get connected(): boolean {
    return this.socket !== undefined && this.socket.readyState === 1;
  }

  /** Reads `key`; null when it does not exist. */
  async get(key: Value): Promise<Value | null> {
    const response = await this.request('get', key);
    return response.value ?? null;
  }

  /** Reads `key` as UTF-8 text; null when it does not exist. */
  async getString(key: Value): Promise<string | null> {
    const value = await this.get(key);
    return value === null || typeof value === 'string' ? value : new TextDecoder().decode(value);
  }

  /** Writes `value` under `key`; resolves once the write is acknowledged (durable, §2). */
  async put(key: Value, value: Value): Promise<WriteResult> {
    return writeResultOf(await this.request('put', key, value));
  }

  /** Deletes `key`. */
  async del(key: Value): Promise<WriteResult> {
    return writeResultOf(await this.request('del', key));
  }

  /** Sends one request; resolves with the success response or rejects with a {@link ForeshardError}. */
  request(op: ClientOp, key: Value, value?: Value): Promise<ClientResponse & { ok: true }> {
    if (this.closed) return Promise.reject(new ForeshardError('CLOSED', 'the client is closed'));
    if (this.waiting.length >= this.settings.maxQueued) return Promise.reject(new ForeshardError('UNAVAILABLE', `more than ${this.settings.maxQueued} requests waiting`, this.settings.reconnectInitialDelayMs));
    const id = this.nextId;
    this.nextId = this.nextId >= MAX_REQUEST_ID ? 1 : this.nextId + 1;
    let frame: Uint8Array | string;
    try {
      frame = encodeClientRequest(value === undefined ? { id, op, key } : { id, op, key, value }, this.settings.framing);
    } catch (error) {
      return Promise.reject(new ForeshardError('BAD_REQUEST', (error as Error).message));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(id, new ForeshardError('TIMEOUT', `no answer within ${this.settings.requestTimeoutMs} ms`)), this.settings.requestTimeoutMs);
      const entry: Pending = { id, frame, timer, sent: false, resolve, reject };
      this.pending.set(id, entry);
      this.waiting.push(entry);
      this.pump();
    });
  }

  /** Closes the connection; requests still pending fail with CLOSED. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    for (const id of [...this.pending.keys()]) this.fail(id, new ForeshardError('CLOSED', 'the client was closed'));
    const socket = this.socket;
    this.socket = undefined;
    if (socket && socket.readyState <= 1) {
      await new Promise<void>((resolve) => {
        socket.onclose = () => resolve();
        socket.close(1000, 'client closed');
      });
    }
  }

  /** Opens the first connection, retrying until `connectTimeoutMs`. */
  async start(): Promise<void> {
    const deadline = Date.now() + this.settings.connectTimeoutMs;
    for (;;) {
      try {
        await this.open();
        return;
      } catch (error) {
        if (this.closed || Date.now() + this.backoffMs() > deadline) {
          this.closed = true;
          throw new ForeshardError('UNAVAILABLE', `cannot connect to ${this.url}: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, this.backoffMs()));
        this.attempt++;
      }
    }
  }

  private backoffMs(): number {
    const { reconnectInitialDelayMs: first, reconnectMaxDelayMs: longest } = this.settings;
    const base = Math.min(longest, first * 2 ** Math.min(this.attempt, 20));
    return base / 2 + Math.random() * (base / 2);
  }

  private async open(): Promise<void> {
    const socket = await openSocket(this.url, this.settings.token, this.settings.WebSocket);
    if (this.closed) {
      socket.close(1000, 'client closed');
      return;
    }
    this.socket = socket;
    this.attempt = 0;
    socket.onmessage = (event) => this.onMessage(event.data);
    socket.onclose = () => this.onDisconnect(socket);
    this.settings.onStateChange?.('open');
    this.pump();
  }

  private onDisconnect(socket: SocketLike): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.settings.onStateChange?.('closed');
    // What was on the wire may or may not have been applied: its caller decides whether to retry.
    for (const entry of [...this.pending.values()]) if (entry.sent) this.fail(entry.id, new ForeshardError('DISCONNECTED', 'the connection dropped before the answer came'));
    if (!this.closed) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.open().catch(() => {
        this.attempt++;
        if (!this.closed) this.scheduleReconnect();
      });
    }, this.backoffMs());
  }

  /** The one write path: sends waiting requests while connected and under the in-flight limit. */
  private pump(): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1) return;
    while (this.waiting.length > 0 && this.inFlight < this.settings.maxInFlight) {
      const entry = this.waiting.shift()!;
      if (!this.pending.has(entry.id)) continue; // timed out while waiting
      entry.sent = true;
      this.inFlight++;
      socket.send(entry.frame);
    }
  }

  private onMessage(data: unknown): void {
    let response: ClientResponse;
    try {
      const frame = typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer);
      response = parseClientResponse(frame, typeof data === 'string' ? 'text' : 'binary');
    } catch {
      return; // not a response this client can pair; the request it answers will time out
    }
    if (response.id === null) return;
    if (response.ok) {
      const entry = this.take(response.id);
      entry?.resolve(response);
    } else {
      const { code, message, retryAfterMs } = response.error;
      this.fail(response.id, new ForeshardError(code, message, retryAfterMs));
    }
  }

  private take(id: number): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    if (entry.sent) {
      this.inFlight--;
      this.pump();
    }
    return entry;
  }

  private fail(id: number, error: ForeshardError): void {
    this.take(id)?.reject(error);
  }
}

function writeResultOf(response: ClientResponse & { ok: true }): WriteResult {
  return response.lsn === undefined ? { shard: response.shard } : { shard: response.shard, lsn: response.lsn };
}

/** Connects to a gateway's `/v1` URL; resolves once the first connection is open. */
export async function connect(url: string, options: ConnectOptions = {}): Promise<ForeshardClient> {
  const client = new ForeshardClient(url, options);
  await client.start();
  return client;
}
