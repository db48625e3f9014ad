/**
 * The client side of a data port connection (uWS is server-only, so outgoing connections use the
 * `ws` package). A link connects, sends `hello` (with a bearer token when given), waits for
 * `welcome`, then delivers decoded frames to its owner. It has one write path: `send` checks the
 * socket's buffered amount against a limit and refuses (returns false) past it rather than
 * buffering without bound; a link that does not get `welcome` in time fails. Shadows use it to
 * follow a primary; gateways use `DataPortClient` on top of it.
 */
import { createRequire } from 'node:module';
import type WebSocket from 'ws';
import {
  DATA_PORT_VERSION, decodeDataFrame, DEFAULT_CLIENT_LIMITS, encodeDataFrame, isProtocolError, maxDataFrameBytes,
  type ClientLimits, type DataFrame, type DataPortRole, type DataRequestFrame, type DataResponseFrame,
} from '../protocol/index.js';
import { ReplicationError } from './errors.js';

/** Options of a link. */
export interface DataPortLinkOptions {
  url: string;
  role: DataPortRole;
  /** This side's node id or instance name (an id, DESIGN.md §5.2). */
  node: string;
  token?: string;
  limits?: ClientLimits;
  /** Connect plus hello/welcome must finish within this. */
  connectTimeoutMs?: number;
  /** `send` refuses while the socket holds more than this many unsent bytes. */
  sendBufferLimitBytes?: number;
}

/** Callbacks of a link. `onFrame` gets every decoded frame after `welcome`; `onBadFrame` every undecodable one. */
export interface DataPortLinkHandlers {
  onFrame(frame: DataFrame, bytes: number): void;
  onBadFrame(error: Error): void;
  onClose(code: number, reason: string): void;
}

/**
 * `ws`, loaded at the first connect rather than with this module: an agent that never follows a
 * primary never needs it, and it brings node's http, https and tls clients with it
 * (docs/agent-memory.md).
 */
let webSocketClass: typeof WebSocket | undefined;
function loadWebSocket(): typeof WebSocket {
  return (webSocketClass ??= createRequire(import.meta.url)('ws') as typeof WebSocket);
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_SEND_BUFFER_LIMIT_BYTES = 64 * 1024 * 1024;
/**
 * How long `close` waits for the peer's close frame before it drops the connection. `ws` would wait
 * 30 s [RFC 6455 §7.1.1 leaves it to the endpoint], and a peer that is stopped (SIGSTOP) or cut off
 * keeps its TCP connection open, so whoever awaits the close, such as a shadow being promoted that
 * first stops following its hung primary, would wait that long.
 */
export const CLOSE_HANDSHAKE_TIMEOUT_MS = 500;

/** One open, welcomed data port connection. */
export class DataPortLink {
  private closed = false;

  private constructor(
    private readonly ws: WebSocket,
    private readonly limits: ClientLimits,
    private readonly sendBufferLimitBytes: number,
    /** The node id the server gave in `welcome`. */
    readonly peerNode: string,
  ) {}

  /** Connects and completes hello/welcome; rejects with a ReplicationError (BAD_URL, CLOSED) or the peer's error. */
  static connect(options: DataPortLinkOptions, handlers: DataPortLinkHandlers): Promise<DataPortLink> {
    if (!/^wss?:\/\/\S+$/.test(options.url)) return Promise.reject(new ReplicationError('BAD_URL', `not a ws:// or wss:// url: ${options.url}`));
    const limits = options.limits ?? DEFAULT_CLIENT_LIMITS;
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const ws = new (loadWebSocket())(options.url, { maxPayload: maxDataFrameBytes(limits), handshakeTimeout: timeoutMs, perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    return new Promise((resolve, reject) => {
      let link: DataPortLink | undefined;
      const fail = (error: Error): void => {
        clearTimeout(timer);
        if (!link) reject(error);
        ws.terminate();
      };
      const timer = setTimeout(() => fail(new ReplicationError('CLOSED', `no welcome from ${options.url} within ${timeoutMs} ms`)), timeoutMs);
      ws.on('error', (error) => (link ? undefined : fail(new ReplicationError('CLOSED', `cannot connect to ${options.url}: ${error.message}`))));
      ws.on('open', () => {
        const hello: DataFrame = options.token === undefined ? { type: 'hello', version: DATA_PORT_VERSION, role: options.role, node: options.node } : { type: 'hello', version: DATA_PORT_VERSION, role: options.role, node: options.node, token: options.token };
        ws.send(encodeDataFrame(hello, limits));
      });
      ws.on('close', (code, reason) => {
        clearTimeout(timer);
        if (!link) return reject(new ReplicationError('CLOSED', `${options.url} closed before welcome (${code} ${reason.toString()})`));
        link.closed = true;
        handlers.onClose(code, reason.toString());
      });
      ws.on('message', (data: Buffer) => {
        let frame: DataFrame;
        try {
          frame = decodeDataFrame(data, limits);
        } catch (error) {
          if (!isProtocolError(error)) throw error;
          return link ? handlers.onBadFrame(error) : fail(error);
        }
        if (link) return handlers.onFrame(frame, data.length);
        if (frame.type === 'welcome') {
          clearTimeout(timer);
          link = new DataPortLink(ws, limits, options.sendBufferLimitBytes ?? DEFAULT_SEND_BUFFER_LIMIT_BYTES, frame.node);
          return resolve(link);
        }
        fail(new ReplicationError('CLOSED', frame.type === 'error' ? `${options.url} refused hello: ${frame.code} ${frame.message}` : `expected welcome, got ${frame.type}`, frame.type === 'error' ? { code: frame.code } : {}));
      });
    });
  }

  get isOpen(): boolean {
    return !this.closed && this.ws.readyState === this.ws.OPEN;
  }

  /** Sends a frame; false when the link is closed or holds more than its send buffer limit. */
  send(frame: DataFrame): boolean {
    if (!this.isOpen || this.ws.bufferedAmount > this.sendBufferLimitBytes) return false;
    this.ws.send(encodeDataFrame(frame, this.limits));
    return true;
  }

  /** Closes the link (normal closure). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.close(1000);
    const timer = setTimeout(() => this.ws.terminate(), CLOSE_HANDSHAKE_TIMEOUT_MS);
    timer.unref();
    this.ws.once('close', () => clearTimeout(timer));
  }

  /** Drops the link at once (tests use it to cut a shadow off). */
  terminate(): void {
    this.closed = true;
    this.ws.terminate();
  }
}

/** A request as a gateway sends it (the client picks the `rid`). */
export type DataRequest = Omit<DataRequestFrame, 'type' | 'rid'>;

/**
 * A gateway's (or a test's) connection to one agent's data port: `request` sends a frame and
 * resolves with its response, paired by `rid`. Requests still waiting when the link closes
 * reject with CLOSED.
 */
export class DataPortClient {
  private nextRid = 1;
  private readonly waiting = new Map<number, { resolve(response: DataResponseFrame): void; reject(error: Error): void }>();
  private link!: DataPortLink;
  /** Frames that were not responses (error frames), for the owner to inspect. */
  readonly otherFrames: DataFrame[] = [];
  private static readonly MAX_OTHER_FRAMES = 256;

  private constructor() {}

  /** Connects as role `gateway` (or `cli`) and completes hello/welcome. */
  static async connect(options: Omit<DataPortLinkOptions, 'role'> & { role?: 'gateway' | 'cli' }): Promise<DataPortClient> {
    const client = new DataPortClient();
    client.link = await DataPortLink.connect({ ...options, role: options.role ?? 'gateway' }, {
      onFrame: (frame) => client.onFrame(frame),
      onBadFrame: () => {},
      onClose: () => client.failAll(new ReplicationError('CLOSED', `data port ${options.url} closed`)),
    });
    return client;
  }

  /** Sends `request` and resolves with its response; rejects with CLOSED if the link closes first or is full. */
  request(request: DataRequest): Promise<DataResponseFrame> {
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      this.waiting.set(rid, { resolve, reject });
      if (!this.link.send({ type: 'request', rid, ...request })) {
        this.waiting.delete(rid);
        reject(new ReplicationError('CLOSED', 'data port link is closed or its send buffer is full'));
      }
    });
  }

  /** Requests waiting for a response. */
  get inFlight(): number {
    return this.waiting.size;
  }

  /** Sends a raw frame (tests use it to send out-of-place frames). */
  sendFrame(frame: DataFrame): boolean {
    return this.link.send(frame);
  }

  close(): void {
    this.link.close();
    this.failAll(new ReplicationError('CLOSED', 'data port client closed'));
  }

  private onFrame(frame: DataFrame): void {
    if (frame.type === 'response') {
      const waiter = this.waiting.get(frame.rid);
      this.waiting.delete(frame.rid);
      waiter?.resolve(frame);
      return;
    }
    if (this.otherFrames.length < DataPortClient.MAX_OTHER_FRAMES) this.otherFrames.push(frame);
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}
