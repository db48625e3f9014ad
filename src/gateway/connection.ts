/**
 * One client connection on `/v1` (DESIGN.md §5.1): parses each frame, enforces the in-flight
 * limit, dispatches to {@link forwardRequest}, and writes responses through one write path.
 *
 * Backpressure rule (the README's): a request is *in flight* from the moment its frame is read
 * until its response is handed to the socket. The limit is `limits.maxInFlight` (1024); a request
 * over it is answered at once with UNAVAILABLE and `retryAfterMs` and is not executed. Responses
 * are written with uWS `send`, whose result is always checked: 1 sent, 0 buffered by uWS
 * (backpressure), 2 dropped. While uWS holds `socketHighWaterBytes` or more for the socket,
 * responses wait in this connection's queue until uWS reports `drain`; a socket that makes no
 * progress for `drainTimeoutMs`, or whose queue passes `maxConnectionQueueBytes` (or twice the
 * in-flight limit in frames), is closed with 1008: that client is not reading its responses. So a
 * slow client holds at most the high-water mark in uWS plus `maxConnectionQueueBytes` in this
 * queue, each plus one response, never more.
 */
import type { WebSocket } from 'uWebSockets.js';
import { encodeClientResponse, parseClientRequest, type ClientFraming, type ClientResponse } from '../protocol/index.js';
import { checkCredentials, type Credentials } from './auth.js';
import { GatewayError, failureOf, unavailable } from './errors.js';
import { forwardRequest, type ForwardContext, type Respond } from './forward.js';
import type { GatewayMetrics } from './metrics.js';
import type { ResolvedGatewayOptions } from './options.js';
import type { Logger } from '../common/log.js';

/** WebSocket close code for a client that does not read its responses (RFC 6455 §7.4.1: policy violation). */
export const CLOSE_NOT_READING = 1008;
/** WebSocket close code when the gateway shuts down (RFC 6455 §7.4.1: going away). */
export const CLOSE_GOING_AWAY = 1001;

/** The uWS user data of a client socket. */
export interface SocketData {
  credentials: Credentials;
  connection?: ClientConnection;
}

/** What a connection needs from its gateway. */
export interface ConnectionContext {
  options: ResolvedGatewayOptions;
  forward: ForwardContext;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Sums of every connection's in-flight count, for `/metrics`. */
  inFlightDelta(delta: number): void;
}

interface Queued {
  bytes: Uint8Array | string;
  binary: boolean;
  countsInFlight: boolean;
}

/** The state and write path of one client socket. */
export class ClientConnection {
  private inFlight = 0;
  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  private drainTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** Responses of the current event-loop turn, sent together by {@link flushBatch}. */
  private batch: Queued[] = [];

  /** Set at the upgrade and fixed for the connection's life (a token's expiry is checked per request). */
  private readonly credentials: Credentials;
  /** Where forwarded requests' responses go, one per framing, made once rather than per request. */
  private readonly respondBinary: Respond = (response) => this.respond(response, 'binary', true);
  private readonly respondText: Respond = (response) => this.respond(response, 'text', true);

  constructor(
    private readonly socket: WebSocket<SocketData>,
    private readonly context: ConnectionContext,
  ) {
    this.credentials = socket.getUserData().credentials;
  }

  /** Handles one frame. `message` is only valid during this call, so it is parsed before returning. */
  onMessage(message: ArrayBuffer, isBinary: boolean): void {
    const framing: ClientFraming = isBinary ? 'binary' : 'text';
    const { options, metrics } = this.context;
    const parsed = parseClientRequest(new Uint8Array(message), framing, options.limits);
    if (!parsed.ok) return this.respond(parsed.failure, framing, false);
    const request = parsed.request;
    if (this.credentials.kind !== 'anonymous') {
      try {
        checkCredentials(this.credentials, Date.now());
      } catch (error) {
        return this.respond(failureOf(request.id, error as GatewayError), framing, false);
      }
    }
    if (this.inFlight >= options.limits.maxInFlight) {
      metrics.refusedInFlight++;
      const refusal = unavailable(`more than ${options.limits.maxInFlight} requests in flight on this connection`, options.retryAfterMs);
      return this.respond(failureOf(request.id, refusal), framing, false);
    }
    this.inFlight++;
    this.context.inFlightDelta(1);
    metrics.requests[request.op]++;
    forwardRequest(this.context.forward, request, isBinary ? this.respondBinary : this.respondText);
  }

  /** uWS reported that the socket's buffer drained: write what waits, while under the high water. */
  onDrain(): void {
    this.restartDrainTimer();
    this.flush();
  }

  /** The socket closed (by either side, or the gateway ended it); it must not be used again. Idempotent. */
  onClose(): void {
    this.closed = true;
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    for (const entry of this.queue) if (entry.countsInFlight) this.releaseInFlight();
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  /** Closes the socket as the gateway shuts down. */
  end(code: number, reason: string): void {
    if (!this.closed) this.socket.end(code, reason);
  }

  /** Requests in flight on this connection. */
  get requestsInFlight(): number {
    return this.inFlight;
  }

  /** Bytes of responses waiting in this connection's own queue (uWS's buffer not included). */
  get queuedResponseBytes(): number {
    return this.queuedBytes;
  }

  private respond(response: ClientResponse, framing: ClientFraming, countsInFlight: boolean): void {
    if (!response.ok) this.context.metrics.errors[response.error.code]++;
    if (this.closed) {
      if (countsInFlight) this.releaseInFlight();
      return;
    }
    const entry: Queued = { bytes: encodeClientResponse(response, framing), binary: framing === 'binary', countsInFlight };
    if (this.queue.length === 0 && this.socket.getBufferedAmount() < this.context.options.socketHighWaterBytes) {
      // Responses that resolve in the same turn of the event loop go out in one corked write
      // (one syscall) rather than one each: the batch is flushed once, after this turn.
      this.batch.push(entry);
      if (this.batch.length === 1) setImmediate(() => this.flushBatch());
      return;
    }
    this.enqueue(entry);
  }

  /** Sends this turn's batch in one cork; what no longer fits under the high water joins the queue. */
  private flushBatch(): void {
    const batch = this.batch;
    this.batch = [];
    if (this.closed) {
      for (const entry of batch) if (entry.countsInFlight) this.releaseInFlight();
      return;
    }
    const highWater = this.context.options.socketHighWaterBytes;
    this.socket.cork(() => {
      for (const entry of batch) {
        if (!this.closed && this.queue.length === 0 && this.socket.getBufferedAmount() < highWater) this.write(entry);
        else this.enqueue(entry);
      }
    });
  }

  /**
   * Queues a response that cannot go to uWS now. The queue's limits are checked here, on every path
   * into it (a response of this turn's batch that no longer fits under the high water included).
   */
  private enqueue(entry: Queued): void {
    if (this.closed) {
      if (entry.countsInFlight) this.releaseInFlight();
      return;
    }
    this.queue.push(entry);
    this.queuedBytes += sizeOf(entry.bytes);
    const { options } = this.context;
    if (this.queuedBytes > options.maxConnectionQueueBytes || this.queue.length > 2 * options.limits.maxInFlight) {
      this.closeNotReading('response queue over its limit');
      return;
    }
    if (this.drainTimer === undefined) this.restartDrainTimer();
  }

  /** The one place that sends. Checks the uWS result (0 backpressure, 1 sent, 2 dropped). */
  private write(entry: Queued): void {
    const status = this.socket.send(entry.bytes, entry.binary, false);
    if (entry.countsInFlight) this.releaseInFlight();
    if (status === 2) {
      // uWS dropped it: the socket is over maxBackpressure, which the high-water check should prevent.
      this.closeNotReading('uWS dropped a response over its backpressure limit');
      return;
    }
    if (status === 0 && this.drainTimer === undefined) this.restartDrainTimer();
  }

  private flush(): void {
    const highWater = this.context.options.socketHighWaterBytes;
    this.socket.cork(() => {
      while (!this.closed && this.queue.length > 0 && this.socket.getBufferedAmount() < highWater) {
        const entry = this.queue.shift()!;
        this.queuedBytes -= sizeOf(entry.bytes);
        this.write(entry);
      }
    });
    if (!this.closed && this.queue.length === 0 && this.socket.getBufferedAmount() === 0 && this.drainTimer !== undefined) {
      clearTimeout(this.drainTimer);
      this.drainTimer = undefined;
    }
  }

  private restartDrainTimer(): void {
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
    const timeoutMs = this.context.options.drainTimeoutMs;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      if (this.queue.length > 0 || this.socket.getBufferedAmount() > 0) this.closeNotReading(`no progress writing responses for ${timeoutMs} ms`);
    }, timeoutMs);
  }

  private closeNotReading(reason: string): void {
    if (this.closed) return;
    this.context.metrics.connectionsClosedByGateway++;
    this.context.logger.warn('closing a client that does not read its responses', {
      reason, queuedFrames: this.queue.length, queuedBytes: this.queuedBytes, socketBufferedBytes: this.socket.getBufferedAmount(),
    });
    this.socket.end(CLOSE_NOT_READING, 'not reading responses');
    // uWS runs the close handler within end(); should it not, nothing more may be queued or sent.
    this.onClose();
  }

  private releaseInFlight(): void {
    this.inFlight--;
    this.context.inFlightDelta(-1);
  }
}

function sizeOf(bytes: Uint8Array | string): number {
  return typeof bytes === 'string' ? bytes.length * 3 : bytes.byteLength;
}
