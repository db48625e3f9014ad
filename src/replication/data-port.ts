/**
 * The agent's data port (DESIGN.md §5.3): a uWebSockets.js server speaking CBOR frames. A
 * connection opens with `hello` (bearer token checked when auth is on) and gets `welcome`; then a
 * gateway sends `request`s and a shadow sends `resync` and `ack`. Every frame is size-checked,
 * decoded and schema-checked before it is looked at; a bad one is counted, answered with a typed
 * `error` frame, and dropped, and the process goes on. Each connection has one write path
 * (`ConnectionWriter`).
 */
import assert from 'node:assert/strict';
import * as uWS from 'uWebSockets.js';
import {
  DATA_PORT_VERSION, decodeDataFrame, encodeDataFrame, isProtocolError, maxDataFrameBytes, verifyToken,
  type AckFrame, type DataFrame, type DataPortError, type DataRequestFrame, type HelloFrame, type ResyncFrame,
} from '../protocol/index.js';
import type { HostContext } from './context.js';
import { serveRequest, type ServedShard } from './requests.js';
import type { ShadowStream } from './stream.js';
import { ConnectionWriter } from './writer.js';

/** Bad frames one connection may send before it is closed. */
export const MAX_BAD_FRAMES_PER_CONNECTION = 64;
/** uWS's own per-connection buffer; the writer pauses producers long before it (HIGH_WATER_BYTES). */
const UWS_MAX_BACKPRESSURE_BYTES = 64 * 1024 * 1024;
/** Seconds without traffic before uWS pings, then closes, a connection. */
const IDLE_TIMEOUT_S = 120;

/** The shards of this host, as the data port needs them. */
export interface ShardLookup {
  get(shard: number): ServedShard | undefined;
}

interface Connection {
  id: number;
  remote: string;
  writer?: ConnectionWriter;
  hello?: HelloFrame;
  /** Primary → shadow streams on this connection, by shard. */
  streams: Map<number, ShadowStream>;
  requestsInFlight: number;
  badFrames: number;
  closed: boolean;
}

/** A listening data port; `close` ends every connection. */
export class DataPort {
  private listenSocket: uWS.us_listen_socket | undefined;
  private readonly sockets = new Set<uWS.WebSocket<Connection>>();
  private nextConnectionId = 1;
  port = 0;

  constructor(
    private readonly context: HostContext,
    private readonly shards: ShardLookup,
  ) {}

  /** Starts listening on options.host:options.port. */
  listen(): Promise<number> {
    const { options } = this.context;
    const app = options.tls ? uWS.SSLApp({ key_file_name: options.tls.keyFile, cert_file_name: options.tls.certFile }) : uWS.App();
    app.ws<Connection>('/*', {
      maxPayloadLength: maxDataFrameBytes(options.limits),
      maxBackpressure: UWS_MAX_BACKPRESSURE_BYTES,
      closeOnBackpressureLimit: false,
      idleTimeout: IDLE_TIMEOUT_S,
      sendPingsAutomatically: true,
      upgrade: (res, req, socketContext) => {
        const remote = Buffer.from(res.getRemoteAddressAsText()).toString();
        const data: Connection = { id: this.nextConnectionId++, remote, streams: new Map(), requestsInFlight: 0, badFrames: 0, closed: false };
        res.upgrade(data, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), socketContext);
      },
      open: (ws) => this.onOpen(ws),
      message: (ws, message) => this.onMessage(ws, message),
      drain: (ws) => ws.getUserData().writer!.onDrain(),
      close: (ws) => this.onClose(ws),
    });
    return new Promise((resolve, reject) => {
      app.listen(options.host, options.port, (socket) => {
        if (!socket) return reject(new Error(`data port could not listen on ${options.host}:${options.port}`));
        this.listenSocket = socket;
        this.port = uWS.us_socket_local_port(socket as unknown as uWS.us_socket);
        resolve(this.port);
      });
    });
  }

  /** Stops listening and closes every connection. */
  close(): void {
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    for (const ws of [...this.sockets]) ws.end(1001, 'data port closing');
    this.sockets.clear();
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.sockets.size;
  }

  private onOpen(ws: uWS.WebSocket<Connection>): void {
    this.sockets.add(ws);
    this.context.stats.connections++;
    const data = ws.getUserData();
    data.writer = new ConnectionWriter(ws as uWS.WebSocket<unknown>, { bufferLimitBytes: this.context.options.sendBufferLimitBytes, stallTimeoutMs: this.context.options.sendStallTimeoutMs }, (reason) => {
      this.context.stats.connectionsClosedForBackpressure++;
      this.context.log('warn', 'replication.connection_dropped', { connection: data.id, node: data.hello?.node, reason });
    });
  }

  private onClose(ws: uWS.WebSocket<Connection>): void {
    this.sockets.delete(ws);
    const data = ws.getUserData();
    data.closed = true;
    data.writer?.onClosed();
    for (const [shard, stream] of data.streams) this.shards.get(shard)?.publisher?.endStream(stream);
    data.streams.clear();
  }

  private send(data: Connection, frame: DataFrame): void {
    if (data.closed) return;
    data.writer!.send(encodeDataFrame(frame, this.context.options.limits));
  }

  private sendError(data: Connection, error: DataPortError, shard?: number): void {
    this.send(data, shard === undefined ? { type: 'error', ...error } : { type: 'error', ...error, shard });
  }

  private onMessage(ws: uWS.WebSocket<Connection>, message: ArrayBuffer): void {
    const data = ws.getUserData();
    let frame: DataFrame;
    try {
      frame = decodeDataFrame(new Uint8Array(message), this.context.options.limits);
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      this.badFrame(ws, data, { code: error.code === 'PAYLOAD_TOO_LARGE' || error.code === 'FIELD_TOO_LARGE' ? 'TOO_LARGE' : 'BAD_REQUEST', message: error.message });
      // Before hello a peer has not even shown it speaks the protocol: hang up.
      if (!data.hello && !data.closed) this.hangUp(ws, data, 1008, 'hello expected');
      return;
    }
    if (!data.hello) return this.onHello(ws, data, frame);
    switch (frame.type) {
      case 'request':
        return data.hello.role === 'shadow' ? this.badFrame(ws, data, { code: 'BAD_REQUEST', message: 'a shadow connection sends no requests' }) : this.onRequest(data, frame);
      case 'resync':
        return data.hello.role === 'shadow' ? this.onResync(data, frame) : this.badFrame(ws, data, { code: 'BAD_REQUEST', message: 'only a shadow connection sends resync' });
      case 'ack':
        return this.onAck(ws, data, frame);
      case 'error':
        this.context.log('warn', 'replication.peer_error', { connection: data.id, node: data.hello.node, code: frame.code, message: frame.message });
        return;
      default:
        return this.badFrame(ws, data, { code: 'BAD_REQUEST', message: `a ${frame.type} frame is not expected on the data port` });
    }
  }

  /** Closes a connection after sending what it was told first (the error frame that explains why). */
  private hangUp(ws: uWS.WebSocket<Connection>, data: Connection, code: number, reason: string): void {
    if (data.closed) return;
    data.writer?.flushPending();
    if (!data.closed) ws.end(code, reason);
  }

  /** Counts a bad frame, answers it with a typed error, and closes a connection that keeps sending them. */
  private badFrame(ws: uWS.WebSocket<Connection>, data: Connection, error: DataPortError, shard?: number): void {
    this.context.stats.badFrames++;
    data.badFrames++;
    this.context.log('warn', 'replication.bad_frame', { connection: data.id, remote: data.remote, node: data.hello?.node, code: error.code, message: error.message });
    this.sendError(data, error, shard);
    if (data.badFrames > MAX_BAD_FRAMES_PER_CONNECTION) this.hangUp(ws, data, 1008, 'too many bad frames');
  }

  private onHello(ws: uWS.WebSocket<Connection>, data: Connection, frame: DataFrame): void {
    if (frame.type !== 'hello') {
      this.badFrame(ws, data, { code: 'UNAUTHORIZED', message: 'the first frame must be hello' });
      this.hangUp(ws, data, 1008, 'hello expected');
      return;
    }
    const key = this.context.options.tokenKey;
    if (key) {
      try {
        if (frame.token === undefined) throw new Error('hello carries no token');
        verifyToken(key, frame.token, Date.now());
      } catch (error) {
        this.badFrame(ws, data, { code: 'UNAUTHORIZED', message: (error as Error).message });
        this.hangUp(ws, data, 1008, 'unauthorized');
        return;
      }
    }
    data.hello = frame;
    this.send(data, { type: 'welcome', version: DATA_PORT_VERSION, node: this.context.options.node });
  }

  private onRequest(data: Connection, frame: DataRequestFrame): void {
    this.context.stats.requests++;
    if (data.requestsInFlight >= this.context.options.maxRequestsInFlightPerConnection) {
      this.context.stats.requestErrors++;
      this.send(data, { type: 'response', rid: frame.rid, ok: false, error: { code: 'UNAVAILABLE', message: `over ${this.context.options.maxRequestsInFlightPerConnection} requests in flight on this connection` } });
      return;
    }
    data.requestsInFlight++;
    const startedMs = performance.now();
    void serveRequest(frame, this.shards.get(frame.shard), this.context).then((response) => {
      data.requestsInFlight--;
      if (!response.ok) this.context.stats.requestErrors++;
      this.context.options.metrics?.recordOperation(performance.now() - startedMs, response.ok);
      this.send(data, response);
    });
  }

  private onResync(data: Connection, frame: ResyncFrame): void {
    this.context.stats.resyncsServed++;
    const served = this.shards.get(frame.shard);
    const node = data.hello!.node;
    if (!served) return this.sendError(data, { code: 'UNKNOWN_SHARD', message: `node ${this.context.options.node} holds no replica of shard ${frame.shard}` }, frame.shard);
    const replica = served.replica;
    if (!served.publisher || frame.epoch > replica.epoch) {
      return this.sendError(data, { code: 'MOVED', message: `shard ${frame.shard} is ${replica.role} here at epoch ${replica.epoch}; it streams to no shadow`, epoch: replica.epoch, primary: served.primary }, frame.shard);
    }
    const previous = data.streams.get(frame.shard);
    if (previous) served.publisher.endStream(previous);
    data.streams.delete(frame.shard);
    const answer = served.publisher.resync(node, data.writer!, frame.fromLsn, frame.lastEpoch);
    this.context.log('info', 'replication.resync', { shard: frame.shard, node, fromLsn: frame.fromLsn, reason: frame.reason, answer: answer.kind });
    if (answer.kind === 'cut') {
      this.send(data, { type: 'resync', shard: frame.shard, epoch: replica.epoch, fromLsn: answer.fromLsn, reason: 'epoch' });
      return;
    }
    data.streams.set(frame.shard, answer.stream);
  }

  private onAck(ws: uWS.WebSocket<Connection>, data: Connection, frame: AckFrame): void {
    const stream = data.streams.get(frame.shard);
    const publisher = this.shards.get(frame.shard)?.publisher;
    if (!stream || !publisher) return this.badFrame(ws, data, { code: 'BAD_REQUEST', message: `ack for shard ${frame.shard} without a stream` }, frame.shard);
    this.context.stats.acksReceived++;
    assert.equal(stream.shard, frame.shard);
    publisher.onAck(stream, frame.receivedLsn, frame.appliedLsn);
  }
}
